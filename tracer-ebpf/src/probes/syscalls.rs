//! Every syscall of the target, from `sys_enter`/`sys_exit` (tp_btf: typed arguments, and
//! two programs instead of hundreds of per-syscall tracepoints, which also detach in
//! milliseconds instead of tens of seconds; docs/kernel-notes.md, "What tracing costs").
//!
//! Enter: count the call and remember it in the thread's state. Exit: errors, latency
//! histogram and bytes into the per-CPU `SYSCALLS` slot of its number, then the epoll and
//! copy-ledger bookkeeping. Nothing is streamed but finished epoll waits (and, with
//! `--perfetto`, each call).
use aya_ebpf::{
    helpers::{bpf_get_current_pid_tgid, bpf_ktime_get_ns},
    macros::btf_tracepoint,
    programs::BtfTracePointContext,
};
use tracer_common::{
    record::{EXEC_PENDING, NO_SYSCALL, SyscallStat},
    syscalls::{
        DataClass, EPOLL_CTL, EXECVE, EXECVEAT, RT_SIGRETURN, data_class, is_epoll_wait, is_error, is_fork,
        is_readiness_wait, log2_bucket,
    },
};

use super::{
    copies, epoll, faults,
    kernel::{clear, typed},
    timeline,
};
use crate::maps::{current_thread, hit, is_target, launching, syscall_stat, thread_state};

#[btf_tracepoint(function = "sys_enter")]
pub fn sys_enter(ctx: BtfTracePointContext) -> i32 {
    hit!("sys_enter");
    let pid_tgid = bpf_get_current_pid_tgid();
    let tgid = (pid_tgid >> 32) as u32;
    if !is_target(tgid) {
        return 0;
    }
    let Some(t) = thread_state(pid_tgid as u32, tgid) else { return 0 };
    faults::finish(t);
    let regs: *const u64 = ctx.arg(0);
    let nr: i64 = ctx.arg(1);
    let nr = nr as u64;
    let now = unsafe { bpf_ktime_get_ns() };
    if t.pending_exec != 0 {
        // Before the launched command exec'd: only its execve is of interest, and only if
        // it succeeds (sys_exit decides).
        if nr == EXECVE || nr == EXECVEAT {
            (t.sys.nr, t.sys.t0, t.sys.flags) = (nr, now, EXEC_PENDING);
        }
        return 0;
    }
    // `args` are written (and read) only by the calls that keep them.
    (t.sys.nr, t.sys.t0) = (nr, now);
    clear(&mut t.sys.path);
    clear(&mut t.sys.flags);
    if let Some(s) = syscall_stat(nr) {
        s.count += 1;
    }
    if is_epoll_wait(nr) {
        epoll::enter(t, regs, nr);
    } else if nr == EPOLL_CTL {
        epoll::ctl(regs);
    } else {
        copies::enter(t, regs, nr);
    }
    0
}

#[btf_tracepoint(function = "sys_exit")]
pub fn sys_exit(ctx: BtfTracePointContext) -> i32 {
    hit!("sys_exit");
    let Some((tid, t)) = current_thread() else { return 0 };
    faults::finish(t);
    let nr = t.sys.nr;
    if nr == NO_SYSCALL {
        return 0; // entered before the trace started
    }
    let ret: i64 = ctx.arg(1);
    let now = unsafe { bpf_ktime_get_ns() };
    let latency = now.wrapping_sub(t.sys.t0);
    if t.sys.flags & EXEC_PENDING != 0 {
        // The launched command's exec: counted (entry included) if it succeeded; a
        // failed one was the launcher's PATH search.
        if is_error(ret) {
            t.sys.nr = NO_SYSCALL;
            return 0;
        }
        if let Some(s) = syscall_stat(nr) {
            s.count += 1;
        }
    }
    if let Some(s) = syscall_stat(nr) {
        s.total_ns += latency;
        if let Some(b) = s.latency.get_mut(log2_bucket(latency)) {
            *b += 1;
        }
        returned(s, nr, ret);
    }
    let copied = if is_epoll_wait(nr) {
        epoll::exit(t, tid, ret, now);
        (0, 0)
    } else {
        copies::exit(t, nr, ret)
    };
    timeline::syscall(tid, t.tgid, t.sys.t0, nr, ret, copied);
    t.sys.nr = NO_SYSCALL;
    0
}

/// `--no-latency` where no section needs a call's entry: one program and no clock read
/// per call instead of two and two. A call is counted when it returns (what strace -c
/// counts), the thread needs no state, and the number is the one in `regs`.
#[btf_tracepoint(function = "sys_exit")]
pub fn sys_exit_count(ctx: BtfTracePointContext) -> i32 {
    hit!("sys_exit_count");
    let pid_tgid = bpf_get_current_pid_tgid();
    // Before its exec, the command of `run` is the launcher.
    if !is_target((pid_tgid >> 32) as u32) || launching(pid_tgid as u32) {
        return 0;
    }
    let (regs, ret): (u64, i64) = (ctx.arg(0), ctx.arg(1));
    // struct pt_regs's orig_ax (word 15): the syscall number. rt_sigreturn restores the
    // interrupted registers, orig_ax = -1 among them (as a debugger skipping a call does).
    let Some(nr) = typed::<u64>(regs, 15 * 8) else { return 0 };
    let nr = if nr == u64::MAX { RT_SIGRETURN } else { nr };
    if ret == 0 && is_fork(nr) {
        return 0; // the new task, returning from its parent's call: one call, once
    }
    if let Some(s) = syscall_stat(nr) {
        s.count += 1;
        returned(s, nr, ret);
    }
    0
}

/// What a returning call adds to its number's row.
#[inline(always)]
fn returned(s: &mut SyscallStat, nr: u64, ret: i64) {
    s.returned += 1;
    if is_error(ret) {
        s.errors += 1;
    } else if data_class(nr) != DataClass::None {
        s.bytes += ret as u64;
    } else if is_readiness_wait(nr) {
        s.ready += ret as u64;
    }
}
