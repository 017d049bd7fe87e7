//! Softirq count and time per vector and CPU (system-wide), and the part that woke the
//! target.
use std::collections::BTreeMap;

use tracer_common::record::{SOFTIRQ_NAMES, SoftirqStat, SoftirqTotals};

use crate::report::{Softirq, SoftirqCpu, SoftirqRow};

#[derive(Clone, Debug, Default)]
pub struct SoftirqAnalysis {
    by_vector: BTreeMap<u32, BTreeMap<u32, SoftirqStat>>,
}

impl SoftirqAnalysis {
    pub fn push(&mut self, r: &SoftirqTotals) {
        self.by_vector.entry(r.vector).or_default().insert(r.cpu, r.stat);
    }

    pub fn report(&self) -> Softirq {
        let vectors = self
            .by_vector
            .iter()
            .map(|(&v, cpus)| {
                let sum = |f: fn(&SoftirqStat) -> u64| cpus.values().map(f).sum::<u64>();
                SoftirqRow {
                    name: SOFTIRQ_NAMES.get(v as usize).map_or_else(|| format!("vector {v}"), |n| (*n).to_owned()),
                    count: sum(|s| s.count),
                    time_ns: sum(|s| s.time_ns),
                    raise_wait_ns: Some(sum(|s| s.raise_wait_ns)),
                    raised: Some(sum(|s| s.raised)),
                    target_runs: sum(|s| s.target_runs),
                    target_time_ns: sum(|s| s.target_ns),
                    target_wakeups: sum(|s| s.target_wakeups),
                    per_cpu: cpus
                        .iter()
                        .map(|(&cpu, s)| SoftirqCpu { cpu, count: s.count, time_ns: s.time_ns })
                        .collect(),
                }
            })
            .collect();
        Softirq { vectors }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_cpus_per_vector_in_vector_order() {
        let mut a = SoftirqAnalysis::default();
        let stat = |count, time_ns| SoftirqStat { count, time_ns, ..SoftirqStat::default() };
        a.push(&SoftirqTotals { vector: 3, cpu: 1, stat: stat(5, 50), ..Default::default() });
        a.push(&SoftirqTotals { vector: 3, cpu: 0, stat: stat(2, 20), ..Default::default() });
        a.push(&SoftirqTotals { vector: 1, cpu: 0, stat: stat(9, 90), ..Default::default() });
        let s = a.report();
        let rows: Vec<(&str, u64, u64)> = s.vectors.iter().map(|v| (v.name.as_str(), v.count, v.time_ns)).collect();
        assert_eq!(rows, [("TIMER", 9, 90), ("NET_RX", 7, 70)]);
        assert_eq!(s.vectors[1].per_cpu.iter().map(|c| c.cpu).collect::<Vec<_>>(), [0, 1]);
    }
}
