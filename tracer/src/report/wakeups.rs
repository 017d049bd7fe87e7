//! The `wakeups` section: who woke the target's threads.
use serde::{Deserialize, Serialize};

use super::latency::LatencyBucket;

/// Every wakeup of a target thread, by who woke it: a task, a softirq (vector, CPU), a
/// hardirq, the local timer (hrtimers: sleeps and timeouts) or an irq_work.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Wakeups {
    /// sched_waking events for target threads.
    pub count: u64,
    /// Of those, followed by the wakee running (the rest woke a thread that had not gone
    /// to sleep yet).
    pub paired: u64,
    pub by_source: Vec<SourceCount>,
    /// Edges waker -> wakee, busiest first, the first 4096 of them.
    pub edges: Vec<WakeEdgeRow>,
    /// Quieter edges beyond those, not listed (their wakeups are in the totals above).
    #[serde(default)]
    pub edges_folded: u64,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceCount {
    pub source: String,
    pub count: u64,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WakeEdgeRow {
    /// "task", "softirq", "hardirq", "timer", "irq_work".
    pub waker_kind: String,
    /// The kind, softirqs by vector: "task", "NET_RX softirq", "timer", ...
    pub source: String,
    /// Human label: `nginx (4242)`, `NET_RX softirq on CPU 1`, `timer on CPU 0`.
    pub waker: String,
    /// Task wakers: TID and PID; interrupts: 0.
    pub waker_tid: u32,
    pub waker_pid: u32,
    /// Interrupt wakers: the CPU they ran on.
    pub cpu: u32,
    pub wakee_tid: u32,
    pub wakee_pid: u32,
    pub count: u64,
    pub paired: u64,
    /// Wake-to-run latency: total over `paired` wakeups, and its log2 histogram.
    pub latency_ns: u64,
    pub latency: Vec<LatencyBucket>,
}
