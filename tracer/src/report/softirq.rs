//! The `softirq` section: softirqs system-wide, and the part that woke the target.
use serde::{Deserialize, Serialize};

/// Softirqs, system-wide over the traced window (they serve every process), and the part
/// that woke the target.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Softirq {
    pub vectors: Vec<SoftirqRow>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SoftirqRow {
    /// HI, TIMER, NET_TX, NET_RX, BLOCK, IRQ_POLL, TASKLET, SCHED, HRTIMER, RCU.
    pub name: String,
    pub count: u64,
    pub time_ns: u64,
    /// Raise -> entry wait, summed over `raised` runs.
    pub raise_wait_ns: Option<u64>,
    pub raised: Option<u64>,
    /// Runs that woke a target thread, their time, and the wakeups they made.
    pub target_runs: u64,
    pub target_time_ns: u64,
    pub target_wakeups: u64,
    pub per_cpu: Vec<SoftirqCpu>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SoftirqCpu {
    pub cpu: u32,
    pub count: u64,
    pub time_ns: u64,
}
