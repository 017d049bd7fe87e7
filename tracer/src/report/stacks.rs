//! `--stacks` in the report: off-CPU time by where threads blocked and what woke them.
use serde::{Deserialize, Serialize};

/// `--stacks`: where the target's threads were off CPU and what woke them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stacks {
    /// Off-CPU time per (thread, where it blocked, what woke it), longest first.
    pub offcpu: Vec<OffCpuRow>,
    /// Captures the kernel could not take (bpf_get_stack failed), kernel and user.
    pub failed_kernel: u64,
    pub failed_user: u64,
    /// Frames nothing could name (shown as `[unknown]`).
    pub unnamed_frames: u64,
    pub notes: Vec<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OffCpuRow {
    pub pid: u32,
    pub tid: u32,
    pub comm: String,
    /// Where it blocked (or was preempted), innermost frame first.
    pub kernel_stack: Vec<String>,
    pub user_stack: Vec<String>,
    /// What woke it, if a wakeup was seen (a preempted thread has none).
    pub waker: Option<WakerStack>,
    /// From switch-out to the next switch-in, summed over `count` times.
    pub off_ns: u64,
    pub count: u64,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WakerStack {
    /// "task", "NET_RX softirq", "timer", ... (as in `wakeups`).
    pub source: String,
    /// A task waker's TID and name.
    pub tid: u32,
    pub comm: Option<String>,
    pub kernel_stack: Vec<String>,
    /// Tasks only: an interrupt runs on no user stack of its own.
    pub user_stack: Vec<String>,
}
