//! Scheduler: context switches per thread, and the target set following fork.
//!
//! `sched:sched_switch` runs in the context of `prev`, so `bpf_get_current_pid_tgid()` gives
//! prev's TGID without reading the task. Counters are aggregated in `THREADS`; the only
//! record sent is a thread's final counters, at its last switch, after which its entry is
//! deleted (TIDs are reused, and the map must not fill up on thread churn).
use aya_ebpf::{
    helpers::{bpf_get_current_comm, bpf_get_current_pid_tgid},
    macros::tracepoint,
    programs::TracePointContext,
};
use tracer_common::{
    record::{CLONE_THREAD, RecordKind, ThreadRecord},
    sched::{SwitchKind, classify_switch},
};

use crate::{
    globals::{launcher_tid, offsets},
    maps::{TARGETS, THREADS, count_lost, emit, header, is_target, thread_state},
};

#[tracepoint]
pub fn sched_switch(ctx: TracePointContext) -> u32 {
    let off = offsets();
    // SAFETY: offsets come from this kernel's format file for sched:sched_switch.
    let (Ok(prev_pid), Ok(prev_state)) = (unsafe { ctx.read_at::<i32>(off.switch_prev_pid as usize) }, unsafe {
        ctx.read_at::<i64>(off.switch_prev_state as usize)
    }) else {
        return 0;
    };
    let tid = prev_pid as u32;
    match classify_switch(prev_state as u64) {
        SwitchKind::Exit => on_thread_exit(tid),
        kind => {
            let tgid = (bpf_get_current_pid_tgid() >> 32) as u32;
            if is_target(tgid) {
                count_switch(tid, tgid, kind);
            }
        }
    }
    0
}

#[inline(always)]
fn count_switch(tid: u32, tgid: u32, kind: SwitchKind) {
    let Some(t) = thread_state(tid, tgid) else { return };
    // SAFETY: a map value of this thread; only this thread's switches write it.
    let t = unsafe { &mut *t };
    if kind == SwitchKind::Voluntary {
        t.switches.voluntary += 1;
    } else {
        t.switches.involuntary += 1;
    }
    if let Ok(comm) = bpf_get_current_comm() {
        t.comm = comm;
    }
}

/// The last switch of a thread: hand over its counters and forget it. Not filtered by
/// `TARGETS`, which may already have dropped a dying process.
#[inline(always)]
fn on_thread_exit(tid: u32) {
    // SAFETY: copied out before the entry is deleted.
    let Some(state) = (unsafe { THREADS.get(&tid) }).copied() else { return };
    let record = ThreadRecord { header: header(RecordKind::ThreadExit as u32, tid, state.tgid), state };
    emit(&record);
    let _ = THREADS.remove(&tid);
}

/// A new task: a new process forked by a target (or by the tracer's launcher thread)
/// joins the target set. Threads need nothing: they share their process's TGID.
#[tracepoint]
pub fn task_newtask(ctx: TracePointContext) -> u32 {
    let off = offsets();
    // SAFETY: offsets from the format file of task:task_newtask.
    let (Ok(pid), Ok(flags)) = (unsafe { ctx.read_at::<i32>(off.newtask_pid as usize) }, unsafe {
        ctx.read_at::<u64>(off.newtask_clone_flags as usize)
    }) else {
        return 0;
    };
    if flags & CLONE_THREAD != 0 {
        return 0;
    }
    let pid_tgid = bpf_get_current_pid_tgid();
    let parent_is_target = is_target((pid_tgid >> 32) as u32);
    let launcher = launcher_tid();
    if parent_is_target || (launcher != 0 && pid_tgid as u32 == launcher) {
        if TARGETS.insert(&(pid as u32), &1, 0).is_err() {
            count_lost();
        }
    }
    0
}

/// The whole process is gone: stop matching its TGID (a reused PID must not be traced).
/// Its threads' last switches still hand over their counters (see `on_thread_exit`).
#[tracepoint]
pub fn sched_process_exit(ctx: TracePointContext) -> u32 {
    let off = offsets();
    if off.exit_group_dead == tracer_common::record::Offsets::ABSENT {
        return 0;
    }
    // SAFETY: offset from the format file of sched:sched_process_exit.
    let Ok(group_dead) = (unsafe { ctx.read_at::<u8>(off.exit_group_dead as usize) }) else {
        return 0;
    };
    if group_dead != 0 {
        let tgid = (bpf_get_current_pid_tgid() >> 32) as u32;
        let _ = TARGETS.remove(&tgid);
    }
    0
}
