//! Softirqs: the vectors, and their per-CPU statistics.
use super::envelope::Header;

/// Softirq vectors (include/linux/interrupt.h).
pub const SOFTIRQ_NAMES: [&str; 10] =
    ["HI", "TIMER", "NET_TX", "NET_RX", "BLOCK", "IRQ_POLL", "TASKLET", "SCHED", "HRTIMER", "RCU"];
pub const SOFTIRQ_VECTORS: u32 = 10;
pub const NET_RX: u32 = 3;

/// Per-CPU statistics of one softirq vector (per-CPU array `SOFTIRQS`, index: vector).
/// System-wide, not only the target's.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SoftirqStat {
    pub count: u64,
    pub time_ns: u64,
    /// Raise -> entry: how long a raised softirq waited to run, over `raised` entries.
    pub raise_wait_ns: u64,
    pub raised: u64,
    /// Runs that woke a target thread, their time, and the wakeups.
    pub target_runs: u64,
    pub target_ns: u64,
    pub target_wakeups: u64,
}

/// [`RecordKind::SoftirqTotals`].
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SoftirqTotals {
    pub header: Header,
    pub vector: u32,
    pub cpu: u32,
    pub stat: SoftirqStat,
}

pub const NO_SOFTIRQ: u32 = u32::MAX;
