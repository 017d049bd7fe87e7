//! Who woke whom. `sched_waking` runs in the waker's context, but "current" is the waker
//! only in task context: inside a softirq or hardirq the wakeup belongs to the interrupt
//! (NET_RX delivering a packet, the local timer firing an hrtimer), whatever task it
//! interrupted (kernel-notes.md pitfall 5). Edges waker -> wakee are counted in
//! `WAKE_EDGES`; the wakee's switch-in adds the wake-to-run latency.
#![expect(
    clippy::needless_borrows_for_generic_args,
    reason = "aya-ebpf's map methods take `impl Borrow`: a key or value passed by value is copied onto the 512-byte BPF stack, which the probes that inline these calls then exceed (page_fault_kernel, sched_switch, sys_enter); borrowed, it is not copied"
)]
use aya_ebpf::{
    bindings::BPF_NOEXIST,
    helpers::{bpf_get_current_pid_tgid, bpf_get_smp_processor_id, bpf_ktime_get_ns},
    macros::btf_tracepoint,
    programs::BtfTracePointContext,
};
use tracer_common::{
    record::{MapSlot, ThreadState, WAKER_SOFTIRQ, WAKER_TASK, WAKER_TIMER, WakeEdge, WakeKey, Waker},
    syscalls::{is_epoll_wait, log2_bucket},
};

use super::kernel::{comm_into, read, typed};
use crate::{
    globals::off,
    maps::{ENOMEM, THREADS, WAKE_EDGES, ZERO_EDGE, count_full, count_full_by, cpu_state, hit, is_target},
};

/// sched_waking(struct task_struct *p)
#[btf_tracepoint(function = "sched_waking")]
pub fn sched_waking(ctx: BtfTracePointContext) -> i32 {
    hit!("sched_waking");
    let p: u64 = ctx.arg(0);
    let Some((pid, w)) = wakee(p) else { return 0 };
    if w.pending_exec != 0 {
        return 0; // the launcher's, before the command exec'd
    }
    let waker = current_waker();
    let now = unsafe { bpf_ktime_get_ns() };
    if w.times.unrecorded != 0 && w.times.waker != waker {
        // Deferred wakeups by another waker, not followed by a switch-in: lost after all.
        lose_unrecorded(w);
    }
    if count_edge(pid, w.life, w.tgid, &waker) == Err(-ENOMEM) {
        w.times.unrecorded += 1;
    }
    super::stacks::on_wake(&ctx, w, &waker);
    super::timeline::wake(pid, w.tgid, &waker);
    w.times.waker = waker;
    w.times.waking_ts = now;
    // The first wakeup inside an epoll wait. Not gated on the wait having blocked:
    // __schedule() takes the task off the run queue before sched_switch fires, so a
    // wakeup from another CPU can land in between, before the block is seen here.
    if w.ep.waker.kind == 0 && is_epoll_wait(w.sys.nr) {
        w.ep.waker = waker;
        w.ep.t_wake = now;
    }
    0
}

/// sched_wakeup(struct task_struct *p): now runnable (on a run queue).
#[btf_tracepoint(function = "sched_wakeup")]
pub fn sched_wakeup(ctx: BtfTracePointContext) -> i32 {
    hit!("sched_wakeup");
    runnable(ctx.arg(0));
    0
}

/// sched_wakeup_new(struct task_struct *p): a new task is runnable for the first time.
#[btf_tracepoint(function = "sched_wakeup_new")]
pub fn sched_wakeup_new(ctx: BtfTracePointContext) -> i32 {
    hit!("sched_wakeup_new");
    runnable(ctx.arg(0));
    0
}

#[inline(always)]
fn runnable(p: u64) {
    if let Some((_, w)) = wakee(p) {
        w.times.wake_ts = unsafe { bpf_ktime_get_ns() };
    }
}

/// The state of the woken task `p` (typed by the tracepoint), if it is a target's: a
/// bystander's wakeup costs two loads and a bit test.
#[inline(always)]
fn wakee(p: u64) -> Option<(u32, &'static mut ThreadState)> {
    let tgid = typed::<u32>(p, off!(task_tgid))?;
    if !is_target(tgid) {
        return None;
    }
    let pid = typed::<u32>(p, off!(task_pid))?;
    // SAFETY: the wakee's map value; it is not running this code.
    THREADS.get_ptr_mut(&pid).map(|w| (pid, unsafe { &mut *w }))
}

/// The waker of a wakeup happening now on this CPU.
#[inline(always)]
fn current_waker() -> Waker {
    // SAFETY: plain helpers.
    let cpu = unsafe { bpf_get_smp_processor_id() };
    let Some(c) = cpu_state() else { return Waker::default() };
    let sock_ino =
        if c.sdr_sk != 0 && c.sdr_ctx == super::softirq::wake_context(c) { socket_inode(c.sdr_sk) } else { 0 };
    if c.hrtimer != 0 {
        // An expiring hrtimer: the timer woke it, whichever interrupt ran the expiry.
        if c.softirq != tracer_common::record::NO_SOFTIRQ {
            c.softirq_wakeups += 1;
        }
        Waker { kind: WAKER_TIMER, id: 0, extra: cpu, _pad: 0, sock_ino: 0 }
    } else if c.hardirq != 0 {
        Waker { kind: c.hardirq, id: c.hardirq_id, extra: cpu, _pad: 0, sock_ino }
    } else if c.softirq != tracer_common::record::NO_SOFTIRQ {
        c.softirq_wakeups += 1;
        Waker { kind: WAKER_SOFTIRQ, id: c.softirq, extra: cpu, _pad: 0, sock_ino }
    } else {
        let pid_tgid = bpf_get_current_pid_tgid();
        Waker { kind: WAKER_TASK, id: pid_tgid as u32, extra: (pid_tgid >> 32) as u32, _pad: 0, sock_ino }
    }
}

/// sk->sk_socket->file->f_inode->i_ino: the number /proc/PID/fd shows as socket:[ino].
#[inline(always)]
fn socket_inode(sk: u64) -> u64 {
    let file = read::<u64>(read::<u64>(sk, off!(sock_socket)).unwrap_or(0), off!(socket_file)).unwrap_or(0);
    let inode = read::<u64>(file, off!(file_inode)).unwrap_or(0);
    read::<u64>(inode, off!(inode_ino)).unwrap_or(0)
}

#[inline(always)]
fn edge_key(wakee: u32, life: u32, w: &Waker) -> WakeKey {
    let cpu = if w.kind == WAKER_TASK { 0 } else { w.extra };
    WakeKey { wakee, kind: w.kind, id: w.id, cpu, life, _pad: 0 }
}

/// Counts one wakeup on its edge, creating the edge if new. ENOMEM (a map that allocates
/// as it fills, out of ready memory in this interrupt-disabled section) is left to the
/// caller to retry later; any other failure is counted as a full map here.
#[inline(always)]
fn count_edge(wakee: u32, life: u32, wakee_tgid: u32, w: &Waker) -> Result<(), i32> {
    let Some(e) = edge(wakee, life, wakee_tgid, w)? else { return Ok(()) };
    // SAFETY: a map value; concurrent increments may race, as per-CPU maps cannot key
    // by edge (a lost increment here is a miscount of one, never a crash).
    unsafe { (*e).count += 1 };
    Ok(())
}

/// The edge's value, created if new (`None`: a full map, already counted).
#[inline(always)]
fn edge(wakee: u32, life: u32, wakee_tgid: u32, w: &Waker) -> Result<Option<*mut WakeEdge>, i32> {
    let key = edge_key(wakee, life, w);
    if let Some(e) = WAKE_EDGES.get_ptr_mut(&key) {
        return Ok(Some(e));
    }
    // EEXIST: another CPU created it first; count on it.
    let inserted = WAKE_EDGES.insert(&key, &ZERO_EDGE, u64::from(BPF_NOEXIST));
    let Some(e) = WAKE_EDGES.get_ptr_mut(&key) else {
        return match inserted {
            Err(err) if err == -ENOMEM => Err(err),
            other => {
                count_full(MapSlot::WakeEdges, other.err());
                Ok(None)
            }
        };
    };
    if inserted.is_ok() {
        // SAFETY: a map value (see `count_edge`).
        let e = unsafe { &mut *e };
        e.wakee_tgid = wakee_tgid;
        if w.kind == WAKER_TASK {
            e.waker_tgid = w.extra;
            comm_into(&mut e.waker_comm);
        }
    }
    Ok(Some(e))
}

/// Deferred wakeups that found no memory a second time (or no second chance).
#[inline(always)]
pub fn lose_unrecorded(t: &mut ThreadState) {
    count_full_by(MapSlot::WakeEdges, Some(-ENOMEM), u64::from(t.times.unrecorded));
    t.times.unrecorded = 0;
}

/// The wakee is on a CPU: close its pending wakeup with the wake-to-run latency.
#[inline(always)]
pub fn on_run(t: &mut ThreadState, tid: u32, now: u64) {
    if t.times.waking_ts == 0 {
        return;
    }
    let latency = now.saturating_sub(t.times.waking_ts);
    let e = if t.times.unrecorded == 0 {
        WAKE_EDGES.get_ptr_mut(&edge_key(tid, t.life, &t.times.waker))
    } else {
        // The second chance of wakeups that found no memory at sched_waking.
        match edge(tid, t.life, t.tgid, &t.times.waker) {
            Ok(e) => {
                if let Some(e) = e {
                    // SAFETY: a map value (see `count_edge`).
                    unsafe { (*e).count += u64::from(t.times.unrecorded) };
                }
                t.times.unrecorded = 0;
                e
            }
            Err(_) => {
                lose_unrecorded(t);
                None
            }
        }
    };
    if let Some(e) = e {
        // SAFETY: a map value (see `count_edge`).
        let e = unsafe { &mut *e };
        e.paired += 1;
        e.latency_ns += latency;
        if let Some(b) = e.latency.get_mut(log2_bucket(latency)) {
            *b += 1;
        }
    }
    t.times.waking_ts = 0;
}
