//! Epoll wait cycles: enter -> (blocked?) -> back on CPU -> exit with N events. The state
//! lives in the thread's `THREADS` entry; one finished record per call goes to user space.
use aya_ebpf::helpers::bpf_probe_read_user;
use tracer_common::{
    record::{Counter, EpollRecord, EpollState, RecordKind, ThreadState},
    syscalls::{
        EPOLL_CTL_ADD, EPOLL_CTL_DEL, EPOLL_CTL_MOD, EPOLL_PWAIT2, EPOLLET, EPOLLEXCLUSIVE, EPOLLONESHOT, EPOLLWAKEUP,
        is_epoll_wait,
    },
};

use super::arg;
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
    t.ep =
        EpollState { epfd: arg(regs, 0) as i32, maxevents: arg(regs, 2) as i32, timeout_ms, ..EpollState::default() };
}

/// Written in place in the ring buffer: no stack copy on this per-wait path.
pub fn exit(t: &ThreadState, tid: u32, ret: i64, now: u64) {
    let Some(mut entry) = reserve::<EpollRecord>() else { return };
    let mut h = header(RecordKind::EpollCycle as u32, tid, t.tgid);
    h.ts_ns = now;
    entry.write(EpollRecord {
        header: h,
        nr: t.sys.nr as u32,
        epfd: t.ep.epfd,
        ret,
        maxevents: t.ep.maxevents,
        timeout_ms: t.ep.timeout_ms,
        blocks: t.ep.blocks,
        _pad: 0,
        t_enter: t.sys.t0,
        t_block: t.ep.t_block,
        t_run: t.ep.t_run,
        t_wake: t.ep.t_wake,
        waker: t.ep.waker,
    });
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
