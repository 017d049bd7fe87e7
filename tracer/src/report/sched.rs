//! The `sched` section: context switches, on/off CPU time, per thread.
use serde::{Deserialize, Serialize};

/// Scheduler context switches of the target (all threads of all its processes).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sched {
    /// The thread blocked (sleep, I/O wait, lock): `voluntary_ctxt_switches` in /proc.
    pub voluntary: u64,
    /// The thread was preempted or yielded: `nonvoluntary_ctxt_switches` in /proc.
    pub involuntary: u64,
    /// Summed over threads: on a CPU, off it, and runnable but waiting for one
    /// (/proc/PID/task/TID/schedstat fields 1 and 2), and time slices (field 3).
    pub oncpu_ns: u64,
    pub offcpu_ns: u64,
    pub runqueue_ns: u64,
    pub slices: u64,
    /// Every thread of the target (idle ones too), up to the first
    /// `analysis::sched::MAX_EXITED` that exited; the totals above count every thread.
    pub threads: Vec<ThreadRow>,
    /// Exited threads beyond that, folded into one count (their switches are in the
    /// totals).
    #[serde(default)]
    pub threads_folded: u64,
    /// Switches by the syscall the thread was in ("user or fault" outside syscalls:
    /// preempted in user code, or blocked in a page fault).
    pub by_syscall: Vec<SwitchRow>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SwitchRow {
    pub syscall: String,
    pub voluntary: u64,
    pub involuntary: u64,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ThreadRow {
    pub tid: u32,
    pub pid: u32,
    pub comm: String,
    pub voluntary: u64,
    pub involuntary: u64,
    /// The thread exited during the trace (its counters are final).
    pub exited: bool,
    /// It never ran in the traced window: all its counters are 0, and `state` says how it
    /// spent the window (`sleeping`, `disk sleep`, `stopped`, ...).
    #[serde(default)]
    pub idle: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    pub oncpu_ns: u64,
    pub offcpu_ns: u64,
    pub runqueue_ns: u64,
    pub slices: u64,
}
