//! `--perfetto`: the events of a timeline, streamed as they happen (the other sections
//! aggregate in the kernel; a timeline cannot): each time slice of a target thread on a
//! CPU, each of its syscalls, each wakeup of it, and every softirq run. Off unless asked:
//! one ring record per event is far dearer than the counters.
use aya_ebpf::helpers::generated::bpf_get_current_comm;
use tracer_common::record::{CpuSlice, RecordKind, SoftirqSlice, SyscallSlice, WAKER_TASK, WakeEvent, Waker};

use crate::{
    globals::timeline_on,
    maps::{header, reserve, submit},
};

/// One timeline record, if the timeline is on: reserved, filled in place by `fill` (the
/// slot is the record's size), submitted. A full ring counts it as lost.
#[inline(always)]
fn emit<T: 'static>(fill: impl FnOnce(*mut T)) {
    if !timeline_on() {
        return;
    }
    let Some(mut entry) = reserve::<T>() else { return };
    fill(entry.as_mut_ptr());
    submit(entry);
}

/// Thread `tid` leaves the CPU it ran on since `start_ns`, in syscall `nr`.
#[inline(always)]
pub fn cpu_slice(tid: u32, tgid: u32, start_ns: u64, nr: u32, voluntary: bool) {
    // SAFETY: a reserved ring slot of the right size.
    emit(|r: *mut CpuSlice| unsafe {
        (*r).header = header(RecordKind::CpuSlice as u32, tid, tgid);
        (*r).start_ns = start_ns;
        (*r).nr = nr;
        (*r).voluntary = u32::from(voluntary);
    });
}

/// Thread `tid` returns `ret` from syscall `nr`, entered at `start_ns`, having added
/// `(cpu, zero)` bytes to the copy ledger.
#[inline(always)]
pub fn syscall(tid: u32, tgid: u32, start_ns: u64, nr: u64, ret: i64, copied: (u64, u64)) {
    // SAFETY: as above.
    emit(|r: *mut SyscallSlice| unsafe {
        (*r).header = header(RecordKind::SyscallSlice as u32, tid, tgid);
        (*r).start_ns = start_ns;
        (*r).ret = ret;
        (*r).nr = nr as u32;
        (*r)._pad = 0;
        (*r).cpu_copied = copied.0;
        (*r).zero_copied = copied.1;
    });
}

/// `waker` wakes target thread `tid` now (a task waker is the current task).
#[inline(always)]
pub fn wake(tid: u32, tgid: u32, waker: &Waker) {
    // SAFETY: as above; the helper writes 16 bytes (zero-padded) into the slot's name,
    // which is 8-aligned at offset 48. Zeroed word by word, volatile: a plain `[0; 16]`
    // becomes an out-of-line memset, a second stack frame the older verifiers refuse.
    emit(|r: *mut WakeEvent| unsafe {
        (*r).header = header(RecordKind::WakeEvent as u32, tid, tgid);
        (*r).waker = *waker;
        let comm = (*r).comm.as_mut_ptr();
        if waker.kind == WAKER_TASK {
            bpf_get_current_comm(comm.cast(), 16);
        } else {
            core::ptr::write_volatile(comm.cast::<u64>(), 0);
            core::ptr::write_volatile(comm.cast::<u64>().add(1), 0);
        }
    });
}

/// Softirq `vec` ends on this CPU, run since `start_ns`.
#[inline(always)]
pub fn softirq(start_ns: u64, vec: u32) {
    // SAFETY: as above.
    emit(|r: *mut SoftirqSlice| unsafe {
        (*r).header = header(RecordKind::SoftirqSlice as u32, 0, 0);
        (*r).start_ns = start_ns;
        (*r).vec = vec;
        (*r)._pad = 0;
    });
}
