//! Syscalls by name: counts, errors, bytes and latency come aggregated from the kernel's
//! per-CPU `SYSCALLS` array (one totals record per syscall number).
use std::collections::BTreeMap;

use tracer_common::{record::SyscallTotals, syscalls};

use crate::report::{LatencyBucket, SyscallRow};

#[derive(Clone, Debug, Default)]
pub struct SyscallAnalysis {
    by_nr: BTreeMap<u32, SyscallRow>,
}

impl SyscallAnalysis {
    pub fn push(&mut self, r: &SyscallTotals) {
        let s = &r.stat;
        let latency = s
            .latency
            .iter()
            .enumerate()
            .filter(|&(_, &n)| n > 0)
            .map(|(b, &count)| LatencyBucket { from_ns: if b == 0 { 0 } else { 1 << b }, count })
            .collect();
        let row = SyscallRow {
            name: syscalls::name(r.nr).into_owned(),
            nr: r.nr,
            count: s.count,
            errors: s.errors,
            bytes: s.bytes,
            ready: s.ready,
            total_ns: Some(s.total_ns),
            returned: s.returned,
            latency: Some(latency),
        };
        self.by_nr.insert(r.nr, row);
    }

    /// Busiest first; ties by number.
    pub fn rows(&self) -> Vec<SyscallRow> {
        let mut rows: Vec<SyscallRow> = self.by_nr.values().cloned().collect();
        rows.sort_by(|a, b| b.count.cmp(&a.count).then(a.nr.cmp(&b.nr)));
        rows
    }

    /// User <-> kernel transitions: two per syscall entered.
    pub fn mode_switches(&self) -> u64 {
        2 * self.by_nr.values().map(|r| r.count).sum::<u64>()
    }
}

#[cfg(test)]
mod tests {
    use tracer_common::record::SyscallStat;

    use super::*;

    fn totals(nr: u32, count: u64, lat: &[(usize, u64)]) -> SyscallTotals {
        let mut stat = SyscallStat { count, returned: count, errors: 1, bytes: 10, total_ns: 99, ..Default::default() };
        for &(b, n) in lat {
            stat.latency[b] = n;
        }
        SyscallTotals { nr, stat, ..Default::default() }
    }

    #[test]
    fn names_sorts_and_counts_mode_switches() {
        let mut a = SyscallAnalysis::default();
        a.push(&totals(0, 5, &[(10, 5)]));
        a.push(&totals(1, 9, &[]));
        a.push(&totals(499, 1, &[]));
        let rows = a.rows();
        assert_eq!(rows.iter().map(|r| r.name.as_str()).collect::<Vec<_>>(), ["write", "read", "syscall_499"]);
        assert_eq!(a.mode_switches(), 30);
        assert_eq!(rows[1].latency, Some(vec![LatencyBucket { from_ns: 1024, count: 5 }]));
    }
}
