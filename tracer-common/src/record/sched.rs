//! Scheduling: a thread's switches and times, its counters' records, and the ends of
//! threads and processes.
use super::{envelope::Header, wakeups::Waker};

/// Context-switch counters of one thread (see [`crate::sched::classify_switch`]).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SwitchCounts {
    pub voluntary: u64,
    pub involuntary: u64,
}

/// Scheduling time accounting of one thread.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SchedTimes {
    /// Last switch-in (0: not seen on a CPU yet) and switch-out.
    pub in_ts: u64,
    pub out_ts: u64,
    /// The kernel's own counters when the thread was first seen on a CPU: task clock
    /// (`se.sum_exec_runtime`), run-queue wait and arrivals (`sched_info.run_delay`,
    /// `.pcount`). Time slices and waits are the counters' growth since: exact even when a
    /// switch event goes missing.
    pub base_exec: u64,
    pub base_delay: u64,
    pub base_pcount: u64,
    /// Runnable since (sched_wakeup / sched_wakeup_new), 0: none pending.
    pub wake_ts: u64,
    /// On-CPU time by the kernel's task clock; off-CPU is wall time off the CPU.
    pub oncpu_ns: u64,
    pub offcpu_ns: u64,
    /// Runnable but waiting for a CPU (preempted, or woken and not yet running).
    pub runq_ns: u64,
    /// Times the thread was switched in.
    pub slices: u64,
    /// The last switch-out left the thread runnable (preempted).
    pub out_runnable: u32,
    /// 1: seen from its fork, when the kernel's counters started at 0 with it, so its
    /// baselines are 0 (a wait before its first run can be booked before that run: when
    /// it is moved to another CPU's queue first).
    pub born: u32,
    /// A wakeup not yet followed by a switch-in: who, and when (sched_waking).
    pub waker: Waker,
    pub waking_ts: u64,
    /// Wakeups by `waker` whose edge the kernel had no memory for yet (a burst of new
    /// edges in one interrupt outran the per-CPU cache of a map that allocates as it
    /// fills): created at the switch-in instead, once the cache is refilled.
    pub unrecorded: u32,
    pub _pad: u32,
}

/// Context switches of target threads by the syscall they were in (per-CPU array
/// `SWITCHES`, index: syscall number, [`USER_MODE`] outside syscalls).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SwitchCount {
    pub voluntary: u64,
    pub involuntary: u64,
}

pub const USER_MODE: u32 = crate::syscalls::SLOTS - 1;

/// [`RecordKind::SwitchTotals`].
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SwitchTotals {
    pub header: Header,
    pub nr: u32,
    pub _pad: u32,
    pub counts: SwitchCount,
}

/// [`RecordKind::ProcessExit`]: process `header.tgid`, of that `life`, is gone.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ProcessExit {
    pub header: Header,
    pub life: u32,
    pub _pad: u32,
}

/// [`RecordKind::IdleThread`]: a thread that did not run in the traced window.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IdleThread {
    pub header: Header,
    pub comm: [u8; 16],
    /// Its state letter from /proc/PID/task/TID/stat (S, D, T, t, ...).
    pub state: u8,
    pub _pad: [u8; 7],
}

/// A life stamp from the monotonic clock: microseconds, wrapping every ~71 minutes. Two
/// lives of one TID or PID would need to start in the same microsecond, mod 71 minutes,
/// to share one.
pub const fn life_stamp(ktime_ns: u64) -> u32 {
    (ktime_ns / 1000) as u32
}
