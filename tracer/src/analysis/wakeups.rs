//! Who woke the target's threads: edges waker -> wakee, from the kernel's `WAKE_EDGES`.
use std::collections::BTreeMap;

use tracer_common::record::{
    SOFTIRQ_NAMES, WAKER_HARDIRQ, WAKER_IRQ_WORK, WAKER_NONE, WAKER_SOFTIRQ, WAKER_TASK, WAKER_TIMER, WakeEdgeTotals,
};

use super::{rows::MAX_ROWS, sched::comm_str};
use crate::report::{LatencyBucket, SourceCount, WakeEdgeRow, Wakeups};

/// The kind of waker, as the report names it.
pub fn kind_name(kind: u32) -> &'static str {
    match kind {
        WAKER_TASK => "task",
        WAKER_SOFTIRQ => "softirq",
        WAKER_HARDIRQ => "hardirq",
        WAKER_TIMER => "timer",
        WAKER_IRQ_WORK => "irq_work",
        _ => "none",
    }
}

/// A waker as a source: softirqs by vector ("NET_RX softirq"), the rest by kind.
pub fn source(kind: u32, id: u32) -> String {
    match kind {
        WAKER_SOFTIRQ => format!("{} softirq", SOFTIRQ_NAMES.get(id as usize).copied().unwrap_or("unknown")),
        WAKER_NONE => "none".to_owned(),
        k => kind_name(k).to_owned(),
    }
}

pub fn latency_buckets(hist: &[u64]) -> Vec<LatencyBucket> {
    hist.iter()
        .enumerate()
        .filter(|&(_, &n)| n > 0)
        .map(|(b, &count)| LatencyBucket { from_ns: if b == 0 { 0 } else { 1 << b }, count })
        .collect()
}

#[derive(Clone, Debug, Default)]
pub struct WakeupAnalysis {
    edges: Vec<WakeEdgeRow>,
    /// Totals over every edge, the folded ones included.
    count: u64,
    paired: u64,
    by_source: BTreeMap<String, u64>,
    folded: u64,
}

impl WakeupAnalysis {
    pub fn push(&mut self, r: &WakeEdgeTotals) {
        let (k, e) = (&r.key, &r.edge);
        self.count += e.count;
        self.paired += e.paired;
        *self.by_source.entry(source(k.kind, k.id)).or_default() += e.count;
        let task = k.kind == WAKER_TASK;
        let waker = if task {
            format!("{} ({})", comm_str(&e.waker_comm), k.id)
        } else {
            format!("{} on CPU {}", source(k.kind, k.id), k.cpu)
        };
        self.edges.push(WakeEdgeRow {
            waker_kind: kind_name(k.kind).to_owned(),
            source: source(k.kind, k.id),
            waker,
            waker_tid: if task { k.id } else { 0 },
            waker_pid: if task { e.waker_tgid } else { 0 },
            cpu: if task { 0 } else { k.cpu },
            wakee_tid: k.wakee,
            wakee_pid: e.wakee_tgid,
            count: e.count,
            paired: e.paired,
            latency_ns: e.latency_ns,
            latency: latency_buckets(&e.latency),
        });
        // Trimmed in batches: a sort per push would cost O(n log n) each.
        if self.edges.len() >= 2 * MAX_ROWS {
            self.folded += busiest(&mut self.edges) as u64;
        }
    }

    pub fn report(&self) -> Wakeups {
        let mut edges = self.edges.clone();
        let folded = self.folded + busiest(&mut edges) as u64;
        let mut by_source: Vec<SourceCount> =
            self.by_source.iter().map(|(source, &count)| SourceCount { source: source.clone(), count }).collect();
        by_source.sort_by_key(|s| std::cmp::Reverse(s.count));
        Wakeups { count: self.count, paired: self.paired, by_source, edges, edges_folded: folded }
    }
}

/// Sorts `edges` busiest first and keeps the first `MAX_ROWS`; returns how many went.
fn busiest(edges: &mut Vec<WakeEdgeRow>) -> usize {
    edges.sort_by(|a, b| b.count.cmp(&a.count).then(a.wakee_tid.cmp(&b.wakee_tid)));
    let gone = edges.len().saturating_sub(MAX_ROWS);
    edges.truncate(MAX_ROWS);
    gone
}

#[cfg(test)]
mod tests {
    use tracer_common::record::{WakeEdge, WakeKey};

    use super::*;

    fn edge(kind: u32, id: u32, cpu: u32, wakee: u32, count: u64) -> WakeEdgeTotals {
        let mut e = WakeEdge { count, paired: count, latency_ns: count * 1000, wakee_tgid: 7, ..WakeEdge::default() };
        e.latency[10] = count;
        if kind == WAKER_TASK {
            e.waker_comm[..5].copy_from_slice(b"nginx");
            e.waker_tgid = 40;
        }
        WakeEdgeTotals { key: WakeKey { wakee, kind, id, cpu, life: 1, _pad: 0 }, edge: e, ..Default::default() }
    }

    #[test]
    fn labels_edges_and_sums_sources() {
        let mut a = WakeupAnalysis::default();
        a.push(&edge(WAKER_SOFTIRQ, 3, 1, 8, 5));
        a.push(&edge(WAKER_SOFTIRQ, 3, 0, 8, 2));
        a.push(&edge(WAKER_TASK, 41, 0, 8, 3));
        a.push(&edge(WAKER_TIMER, 236, 0, 9, 1));
        let w = a.report();
        assert_eq!((w.count, w.paired), (11, 11));
        let labels: Vec<&str> = w.edges.iter().map(|e| e.waker.as_str()).collect();
        assert_eq!(labels, ["NET_RX softirq on CPU 1", "nginx (41)", "NET_RX softirq on CPU 0", "timer on CPU 0"]);
        assert_eq!((w.edges[1].waker_tid, w.edges[1].waker_pid), (41, 40));
        let sources: Vec<(&str, u64)> = w.by_source.iter().map(|s| (s.source.as_str(), s.count)).collect();
        assert_eq!(sources, [("NET_RX softirq", 7), ("task", 3), ("timer", 1)]);
        assert_eq!(w.edges[0].latency, [LatencyBucket { from_ns: 1024, count: 5 }]);
    }

    /// A thread-churning target: three times the rows kept. The busiest are listed, the
    /// rest only counted, and every total still covers all of them.
    #[test]
    fn quiet_edges_past_the_cap_fold_into_exact_totals() {
        let mut a = WakeupAnalysis::default();
        let n = 3 * MAX_ROWS as u32;
        // Counts 1..=n in a scrambled order, half by timers, half by softirqs.
        for i in 0..n {
            let count = u64::from((i * 7919) % n + 1);
            let kind = if i % 2 == 0 { WAKER_TIMER } else { WAKER_SOFTIRQ };
            a.push(&edge(kind, 3, 0, i, count));
        }
        let w = a.report();
        let all = u64::from(n) * u64::from(n + 1) / 2;
        assert_eq!((w.count, w.paired), (all, all));
        assert_eq!(w.by_source.iter().map(|s| s.count).sum::<u64>(), all);
        assert_eq!((w.edges.len(), w.edges_folded), (MAX_ROWS, 2 * MAX_ROWS as u64));
        let counts: Vec<u64> = w.edges.iter().map(|e| e.count).collect();
        let busiest: Vec<u64> = (0..MAX_ROWS as u64).map(|k| u64::from(n) - k).collect();
        assert_eq!(counts, busiest, "the busiest edges, busiest first");
    }
}
