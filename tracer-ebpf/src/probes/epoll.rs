//! Epoll wait cycles: enter -> (blocked?) -> back on CPU -> exit with N events. The state
//! lives in the thread's `THREADS` entry; one finished record per call goes to user space.
use aya_ebpf::helpers::bpf_probe_read_user;
use tracer_common::{
    record::{Counter, EpollRecord, RecordKind, ThreadState},
    syscalls::{
        EPOLL_CTL_ADD, EPOLL_CTL_DEL, EPOLL_CTL_MOD, EPOLL_PWAIT2, EPOLLET, EPOLLEXCLUSIVE, EPOLLONESHOT, EPOLLWAKEUP,
        is_epoll_wait,
    },
};

use super::kernel::{arg, clear};
use crate::maps::{count, header, reserve, submit};

pub fn enter(t: &mut ThreadState, regs: *const u64, nr: u64) {
    let timeout = arg(regs, 3);
    let timeout_ms = if nr == EPOLL_PWAIT2 {
        // A struct timespec pointer; NULL waits forever.
        if timeout == 0 {
            -1
        } else {
            // SAFETY: bpf_probe_read_user copes with any address.
            match unsafe { bpf_probe_read_user(timeout as *const [i64; 2]) } {
                // BPF has no signed division nor 128-bit multiply: clamp, then divide unsigned.
                Ok([sec, nsec]) if (0..2_000_000).contains(&sec) && nsec >= 0 => {
                    (sec as u64 * 1000 + nsec as u64 / 1_000_000) as i32
                }
                Ok([sec, _]) if sec >= 0 => i32::MAX,
                Ok(_) | Err(_) => -1,
            }
        }
    } else {
        timeout as i32
    };
    let ep = &mut t.ep;
    (ep.epfd, ep.maxevents, ep.timeout_ms) = (arg(regs, 0) as i32, arg(regs, 2) as i32, timeout_ms);
    clear(&mut ep.blocks);
    clear(&mut ep.t_block);
    clear(&mut ep.t_run);
    clear(&mut ep.t_wake);
    clear(&mut ep.waker.kind);
    clear(&mut ep.waker.id);
    clear(&mut ep.waker.extra);
    clear(&mut ep.waker.sock_ino);
}

/// Written in place in the ring buffer, field by field: no copy of the record on the
/// stack on this per-wait path.
pub fn exit(t: &ThreadState, tid: u32, ret: i64, now: u64) {
    let Some(mut entry) = reserve::<EpollRecord>() else { return };
    let r = entry.as_mut_ptr();
    // SAFETY: a reserved ring slot of the right size.
    unsafe {
        (*r).header = header(RecordKind::EpollCycle as u32, tid, t.tgid);
        (*r).header.ts_ns = now;
        (*r).nr = t.sys.nr as u32;
        (*r).epfd = t.ep.epfd;
        (*r).ret = ret;
        (*r).maxevents = t.ep.maxevents;
        (*r).timeout_ms = t.ep.timeout_ms;
        (*r).blocks = t.ep.blocks;
        (*r)._pad = 0;
        (*r).t_enter = t.sys.t0;
        (*r).t_block = t.ep.t_block;
        (*r).t_run = t.ep.t_run;
        (*r).t_wake = t.ep.t_wake;
        (*r).waker = t.ep.waker;
    }
    submit(entry);
}

/// The thread went to sleep: if inside an epoll wait, the wait blocked.
#[inline(always)]
pub fn on_block(t: &mut ThreadState, now: u64) {
    if is_epoll_wait(t.sys.nr) {
        t.ep.blocks += 1;
        if t.ep.t_block == 0 {
            t.ep.t_block = now;
        }
    }
}

/// The thread is back on a CPU: if its epoll wait had blocked, it now runs again.
#[inline(always)]
pub fn on_run(t: &mut ThreadState, now: u64) {
    if t.ep.blocks > 0 && is_epoll_wait(t.sys.nr) {
        t.ep.t_run = now;
    }
}

/// epoll_ctl: count the operation and, for ADD/MOD, the flags that change semantics.
pub fn ctl(regs: *const u64) {
    let op = arg(regs, 1);
    match op {
        EPOLL_CTL_ADD => count(Counter::EpollCtlAdd, 1),
        EPOLL_CTL_MOD => count(Counter::EpollCtlMod, 1),
        EPOLL_CTL_DEL => return count(Counter::EpollCtlDel, 1),
        _ => return,
    }
    // SAFETY: struct epoll_event starts with `u32 events`; probe_read_user copes with any
    // address.
    let Ok(events) = (unsafe { bpf_probe_read_user(arg(regs, 3) as *const u32) }) else { return };
    for (bit, counter) in [
        (EPOLLET, Counter::EpollFlagEt),
        (EPOLLONESHOT, Counter::EpollFlagOneshot),
        (EPOLLEXCLUSIVE, Counter::EpollFlagExclusive),
        (EPOLLWAKEUP, Counter::EpollFlagWakeup),
    ] {
        if events & bit != 0 {
            count(counter, 1);
        }
    }
}
