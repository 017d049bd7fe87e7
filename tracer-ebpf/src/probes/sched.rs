//! Scheduler: context switches per thread, epoll waits that block, and the target set
//! following fork. All BTF tracepoints: typed arguments, no perf-event plumbing per hit,
//! and links that detach at once (a perf-event tracepoint link takes ~75 ms to close).
//!
//! `sched_switch` runs in the context of `prev`, so `bpf_get_current_pid_tgid()` gives
//! prev's TID and TGID without reading the task. Counters are aggregated in `THREADS`; the
//! only record sent is a thread's final counters, at its last switch, after which its
//! entry is deleted (TIDs are reused, and the map must not fill up on thread churn).
#![expect(
    clippy::needless_borrows_for_generic_args,
    reason = "aya-ebpf's map methods take `impl Borrow`: a key or value passed by value is copied onto the 512-byte BPF stack, which the probes that inline these calls then exceed (page_fault_kernel, sched_switch, sys_enter); borrowed, it is not copied"
)]
use aya_ebpf::{
    helpers::{bpf_get_current_pid_tgid, bpf_ktime_get_ns, generated::bpf_get_current_comm},
    macros::btf_tracepoint,
    programs::BtfTracePointContext,
};
use tracer_common::{
    kernel::{GROUP_DEAD_FROM_ARG, STATE_FROM_ARG},
    record::{
        CLONE_THREAD, JOIN_CGROUP, JOIN_NONE, NO_SYSCALL, ProcessExit, RecordKind, SchedTimes, ThreadRecord,
        ThreadState, USER_MODE,
    },
    sched::{SwitchKind, classify_switch},
};

use super::{
    epoll,
    kernel::{comm_into, copy_in, read, typed},
    softirq, stacks, timeline, wakeups,
};
use crate::{
    globals::{join, join_comm, off, variant},
    maps::{
        CGROUP, LAUNCHED, LAUNCHER, SWITCHES, THREADS, add_target, current_thread, header, hit, is_target, launching,
        remove_target, reserve, submit, thread_state,
    },
};

/// sched_switch(bool preempt, struct task_struct *prev, struct task_struct *next
/// [, unsigned int prev_state (5.18+)])
#[btf_tracepoint(function = "sched_switch")]
pub fn sched_switch(ctx: BtfTracePointContext) -> i32 {
    hit!("sched_switch");
    let preempt: u64 = ctx.arg(0);
    let prev: u64 = ctx.arg(1);
    let next: u64 = ctx.arg(2);
    // Before 5.18 the tracepoint has no prev_state and reads prev->state itself, as here.
    let prev_state: u64 = if variant!(switch_state) == STATE_FROM_ARG {
        ctx.arg(3)
    } else {
        u64::from(typed::<u32>(prev, off!(task_state)).unwrap_or(0))
    };
    // `prev` is the current task: its IDs are read from it, not by a helper call.
    let (Some(tid), Some(tgid)) = (typed::<u32>(prev, off!(task_pid)), typed::<u32>(prev, off!(task_tgid))) else {
        return 0;
    };
    let now = unsafe { bpf_ktime_get_ns() };
    softirq::on_switch();
    match classify_switch(preempt & 0xff != 0, prev_state & 0xffff_ffff) {
        SwitchKind::Exit => on_thread_exit(tid, tgid, now, &counters(prev)),
        kind => {
            if is_target(tgid) {
                switch_out(&ctx, tid, tgid, kind, now, &counters(prev));
            }
        }
    }
    // The thread switched in, if it is one of ours: known, or a thread of a target seen
    // for the first time (it slept since before the trace began). A bystander costs two
    // loads and a bit test.
    let (Some(next_tid), Some(next_tgid)) = (typed::<u32>(next, off!(task_pid)), typed::<u32>(next, off!(task_tgid)))
    else {
        return 0;
    };
    if is_target(next_tgid) {
        if let Some(n) = thread_state(next_tid, next_tgid) {
            switch_in(n, next_tid, now, &counters(next));
        }
    }
    0
}

/// The kernel's own scheduling counters of a task, where this kernel exposes them: its
/// task clock (se.sum_exec_runtime), run-queue wait and arrivals on a CPU (sched_info).
/// At sched_switch they are up to date for `prev`, and for `next` up to its last slice.
struct Counters {
    exec: Option<u64>,
    delay: Option<u64>,
    pcount: Option<u64>,
}

#[inline(always)]
fn counters(task: u64) -> Counters {
    Counters {
        exec: typed::<u64>(task, off!(task_exec_runtime)),
        delay: typed::<u64>(task, off!(task_run_delay)),
        pcount: typed::<u64>(task, off!(task_pcount)),
    }
}

#[inline(always)]
fn switch_out(ctx: &BtfTracePointContext, tid: u32, tgid: u32, kind: SwitchKind, now: u64, k: &Counters) {
    let Some(t) = thread_state(tid, tgid) else { return };
    if t.pending_exec != 0 {
        return; // the launcher's, before the command exec'd
    }
    let voluntary = kind == SwitchKind::Voluntary;
    if voluntary {
        t.switches.voluntary += 1;
        epoll::on_block(t, now);
    } else {
        t.switches.involuntary += 1;
    }
    let nr = if t.sys.nr == NO_SYSCALL { USER_MODE } else { t.sys.nr as u32 };
    if let Some(c) = SWITCHES.get_ptr_mut(nr) {
        // SAFETY: per-CPU slot.
        let c = unsafe { &mut *c };
        if voluntary { c.voluntary += 1 } else { c.involuntary += 1 }
    }
    timeline::cpu_slice(tid, tgid, t.times.in_ts, nr, voluntary);
    let times = &mut t.times;
    close_slice(times, now, k);
    // A wakeup that came while the thread was still running means it never slept: it has
    // no wake-to-run latency. But a voluntary switch with a wakeup already pending is the
    // wakeup of this very sleep, landed from another CPU between the dequeue and this
    // tracepoint: keep it.
    if !voluntary && times.waking_ts != 0 && times.waking_ts >= times.in_ts {
        times.waking_ts = 0;
    }
    times.out_ts = now;
    times.out_runnable = u32::from(!voluntary);
    times.wake_ts = 0;
    let woken = voluntary && times.waking_ts != 0 && times.waking_ts >= times.in_ts;
    stacks::on_block(ctx, t, tid, woken);
}

/// A slice ends: on-CPU time, run-queue wait and slices become the growth of the kernel's
/// counters since the thread was first seen (what schedstat reports; the task clock
/// leaves out interrupt and steal time), so a switch event the tracer did not see costs
/// nothing. Where the kernel lacks a counter, the switch events add up instead.
#[inline(always)]
fn close_slice(times: &mut SchedTimes, now: u64, k: &Counters) {
    if times.in_ts == 0 {
        return;
    }
    match k.exec {
        Some(exec) => times.oncpu_ns = exec.saturating_sub(times.base_exec),
        None => times.oncpu_ns += now.saturating_sub(times.in_ts),
    }
    if let Some(delay) = k.delay {
        times.runq_ns = delay.saturating_sub(times.base_delay);
    }
    if let Some(pcount) = k.pcount {
        times.slices = pcount.saturating_sub(times.base_pcount);
    }
}

/// Off-CPU and run-queue time end here; a new time slice starts. At the first one the
/// kernel's counters are taken as the baseline (before this arrival is counted).
#[inline(always)]
fn switch_in(t: &mut ThreadState, tid: u32, now: u64, k: &Counters) {
    let times = &mut t.times;
    if times.in_ts == 0 && times.born == 0 {
        times.base_exec = k.exec.unwrap_or(0);
        times.base_delay = k.delay.unwrap_or(0);
        times.base_pcount = k.pcount.unwrap_or(0);
    }
    times.slices += 1;
    let off_ns = if times.out_ts != 0 { now.saturating_sub(times.out_ts) } else { 0 };
    times.offcpu_ns += off_ns;
    // Runnable since the preemption, or since the wakeup (a new thread: since its first
    // wakeup).
    let runnable_since = if times.out_runnable != 0 && times.out_ts != 0 { times.out_ts } else { times.wake_ts };
    if runnable_since != 0 {
        times.runq_ns += now.saturating_sub(runnable_since);
    }
    times.in_ts = now;
    times.wake_ts = 0;
    stacks::on_run(t, tid, off_ns);
    wakeups::on_run(t, tid, now);
    epoll::on_run(t, now);
}

/// The last switch of a thread: hand over its counters and forget it. Known threads are
/// not filtered by `TARGETS`, which may already have dropped a dying process. The record
/// is written in place: it is too large for the BPF stack.
#[inline(always)]
fn on_thread_exit(tid: u32, tgid: u32, now: u64, k: &Counters) {
    let state = match THREADS.get_ptr_mut(&tid) {
        Some(s) => s,
        // A target's thread that slept through the whole trace until its exit.
        None if is_target(tgid) => match thread_state(tid, tgid) {
            Some(s) => s,
            None => return,
        },
        None => return,
    };
    // SAFETY: the exiting thread's own map value; it runs this switch itself.
    super::faults::finish(unsafe { &mut *state });
    // SAFETY: as above.
    wakeups::lose_unrecorded(unsafe { &mut *state });
    // Its last slice: it leaves the CPU for good, in exit(2), by its own doing.
    // SAFETY: as above.
    timeline::cpu_slice(tid, tgid, unsafe { (*state).times.in_ts }, USER_MODE, true);
    // SAFETY: as above.
    close_slice(unsafe { &mut (*state).times }, now, k);
    if let Some(mut entry) = reserve::<ThreadRecord>() {
        let r = entry.as_mut_ptr();
        // SAFETY: `r` is a reserved ring slot of the right size; `state` a live map value.
        unsafe {
            (*r).header = header(RecordKind::ThreadExit as u32, tid, (*state).tgid);
            copy_in(&raw mut (*r).state, state);
            // The name is taken once, here (current is the exiting thread), not at every
            // switch; user space reads /proc for threads still alive.
            comm_into(&mut (*r).state.comm);
        }
        submit(entry);
    }
    let _ = THREADS.remove(&tid);
}

/// task_newtask(struct task_struct *task, u64 clone_flags): a new process forked by a
/// target (or the next one forked by the tracer's launcher thread) joins the target set. Threads need nothing:
/// they share their process's TGID.
#[btf_tracepoint(function = "task_newtask")]
pub fn task_newtask(ctx: BtfTracePointContext) -> i32 {
    hit!("task_newtask");
    let task: u64 = ctx.arg(0);
    let flags: u64 = ctx.arg(1);
    let pid_tgid = bpf_get_current_pid_tgid();
    let parent_tgid = (pid_tgid >> 32) as u32;
    let by_target = is_target(parent_tgid);
    let launcher = LAUNCHER.get_ptr_mut(0);
    // SAFETY: a one-slot array; a racing write is another fork of the same thread.
    let by_launcher =
        flags & CLONE_THREAD == 0 && launcher.is_some_and(|l| unsafe { *l } != 0 && unsafe { *l } == pid_tgid as u32);
    if !by_target && !by_launcher {
        return 0;
    }
    let pid = typed::<u32>(task, off!(task_pid));
    if by_launcher {
        // One-shot: the command, not whatever the tracer starts afterwards.
        if let Some(l) = launcher {
            unsafe { *l = 0 };
        }
        if let (Some(l), Some(child)) = (LAUNCHER.get_ptr_mut(LAUNCHED), pid) {
            unsafe { *l = child };
        }
    }
    let Some(pid) = pid else { return 0 };
    let tgid = if flags & CLONE_THREAD != 0 {
        parent_tgid
    } else {
        add_target(pid);
        pid
    };
    if variant!(stateless) != 0 {
        return 0; // no sched_switch would ever take its row out again
    }
    // Known from birth, so its first time slice and run-queue wait are counted too.
    if let Some(t) = thread_state(pid, tgid) {
        t.pending_exec = u32::from(by_launcher);
        t.times.born = 1;
    }
    0
}

/// sched_process_exec(struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm):
/// the command `run` launched is itself now. What its thread did since the fork was the
/// launcher's: its counters start here, at the kernel's current figures.
#[btf_tracepoint(function = "sched_process_exec")]
pub fn sched_process_exec(ctx: BtfTracePointContext) -> i32 {
    hit!("sched_process_exec");
    joins_at_exec();
    // Whether or not it has a state (`stateless`), the launched command is itself now.
    if launching(bpf_get_current_pid_tgid() as u32) {
        forget_launch();
    }
    let Some((_, t)) = current_thread() else { return 0 };
    if t.pending_exec == 0 {
        return 0;
    }
    t.pending_exec = 0;
    // `p`, the task that exec'd, is the current one.
    let (task, now): (u64, u64) = (ctx.arg(0), unsafe { bpf_ktime_get_ns() });
    let k = counters(task);
    super::kernel::clear(&mut t.switches.voluntary);
    super::kernel::clear(&mut t.switches.involuntary);
    let times = &mut t.times;
    (times.base_exec, times.base_delay, times.base_pcount) =
        (k.exec.unwrap_or(0), k.delay.unwrap_or(0), k.pcount.unwrap_or(0));
    (times.in_ts, times.out_ts, times.wake_ts, times.waking_ts) = (now, 0, 0, 0);
    super::kernel::clear(&mut times.oncpu_ns);
    super::kernel::clear(&mut times.offcpu_ns);
    super::kernel::clear(&mut times.runq_ns);
    super::kernel::clear(&mut times.slices);
    0
}

/// `attach --cgroup` / `--comm`: a process that execs in the cgroup (a service or a
/// container starting: the new process is moved into it between fork and exec), or as
/// that name, joins the target set; from here its events are traced.
#[inline(always)]
fn joins_at_exec() {
    let how = join();
    if how == JOIN_NONE {
        return;
    }
    let pid_tgid = bpf_get_current_pid_tgid();
    let tgid = (pid_tgid >> 32) as u32;
    if is_target(tgid) {
        return;
    }
    let joins = if how == JOIN_CGROUP {
        CGROUP.current_task_under_cgroup(0) == Ok(true)
    } else {
        // Uninitialised, not zeroed: a zeroed buffer is an out-of-line memset (a second stack
        // frame the older verifiers refuse); the helper writes all 16 bytes, NUL-padded.
        let mut comm = core::mem::MaybeUninit::<[u64; 2]>::uninit();
        // SAFETY: 16 bytes of stack for the helper to fill; read only after it did.
        let comm = unsafe {
            bpf_get_current_comm(comm.as_mut_ptr().cast(), 16);
            comm.assume_init()
        };
        comm[0] == join_comm(0) && comm[1] == join_comm(1)
    };
    if joins {
        add_target(tgid);
        let _ = thread_state(pid_tgid as u32, tgid);
    }
}

/// sched_process_exit(struct task_struct *p[, bool group_dead (6.16+)]): when its last
/// thread exits, the process is gone, so stop matching its TGID (a reused PID must not be
/// traced). Its threads' last switches still hand over their counters (see
/// `on_thread_exit`).
#[btf_tracepoint(function = "sched_process_exit")]
pub fn sched_process_exit(ctx: BtfTracePointContext) -> i32 {
    hit!("sched_process_exit");
    let group_dead = if variant!(group_dead) == GROUP_DEAD_FROM_ARG {
        ctx.arg::<u64>(1) & 0xff != 0
    } else {
        // do_exit() decrements signal->live before this tracepoint: 0 means the last one.
        // SAFETY: plain helper.
        let task = unsafe { aya_ebpf::helpers::generated::bpf_get_current_task() };
        read::<u64>(task, off!(task_signal)).and_then(|sig| read::<u32>(sig, off!(signal_live))) == Some(0)
    };
    if group_dead {
        let tgid = (bpf_get_current_pid_tgid() >> 32) as u32;
        // Tell user space, so it takes the process's rows out of the maps.
        if let Some(p) = crate::maps::target_state(tgid) {
            let life = p.life;
            if let Some(mut entry) = reserve::<ProcessExit>() {
                let r = entry.as_mut_ptr();
                // SAFETY: a reserved ring slot of the right size.
                unsafe {
                    (*r).header = header(RecordKind::ProcessExit as u32, tgid, tgid);
                    (*r).life = life;
                    (*r)._pad = 0;
                }
                submit(entry);
            }
        }
        remove_target(tgid);
        // A command that never exec'd.
        if launching(tgid) {
            forget_launch();
        }
    }
    0
}

/// The launched command has exec'd (or ended): its calls are its own from here.
#[inline(always)]
fn forget_launch() {
    if let Some(l) = LAUNCHER.get_ptr_mut(LAUNCHED) {
        // SAFETY: an array slot only the launched command's own events write.
        unsafe { *l = 0 };
    }
}
