//! Context switches per thread. The kernel classifies and counts each switch
//! (`tracer_common::sched::classify_switch`); here a thread's counters arrive once, when it
//! exits, or as a snapshot of a thread still alive at the end of the trace.
use std::collections::BTreeMap;

use tracer_common::{
    record::{IdleThread, SwitchTotals, ThreadRecord, USER_MODE},
    syscalls,
};

use crate::report::{Sched, SwitchRow, ThreadRow};

/// Exited threads kept row by row; past this, a thread-churning target's exited threads
/// are folded into one total (kept exact), so a long trace keeps bounded memory.
pub const MAX_EXITED: usize = 4096;

#[derive(Clone, Debug, Default)]
pub struct SchedAnalysis {
    /// One row per thread life that ended during the trace (a TID can be reused), the
    /// first `MAX_EXITED` of them.
    exited: Vec<ThreadRow>,
    /// The rest: how many, and their counters summed.
    folded: u64,
    folded_sum: ThreadRow,
    /// Latest snapshot of threads still alive, by TID.
    live: BTreeMap<u32, ThreadRow>,
    by_syscall: BTreeMap<u32, (u64, u64)>,
}

impl SchedAnalysis {
    pub fn push(&mut self, exited: bool, r: &ThreadRecord) {
        let row = ThreadRow {
            tid: r.header.tid,
            pid: r.state.tgid,
            comm: comm_str(&r.state.comm),
            voluntary: r.state.switches.voluntary,
            involuntary: r.state.switches.involuntary,
            exited,
            idle: false,
            state: None,
            oncpu_ns: r.state.times.oncpu_ns,
            offcpu_ns: r.state.times.offcpu_ns,
            runqueue_ns: r.state.times.runq_ns,
            slices: r.state.times.slices,
        };
        if !exited {
            self.live.insert(row.tid, row);
            return;
        }
        // A thread that exits is no longer live, whatever an earlier snapshot said.
        self.live.remove(&row.tid);
        if self.exited.len() < MAX_EXITED {
            self.exited.push(row);
        } else {
            self.folded += 1;
            let f = &mut self.folded_sum;
            f.voluntary += row.voluntary;
            f.involuntary += row.involuntary;
            f.oncpu_ns += row.oncpu_ns;
            f.offcpu_ns += row.offcpu_ns;
            f.runqueue_ns += row.runqueue_ns;
            f.slices += row.slices;
        }
    }

    /// A thread that did not run in the window: a row of zeros, with its state.
    pub fn push_idle(&mut self, r: &IdleThread) {
        let state = match r.state {
            b'R' => "running",
            b'S' => "sleeping",
            b'D' => "disk sleep",
            b'T' => "stopped",
            b't' => "tracing stop",
            b'I' => "idle",
            b'Z' => "zombie",
            _ => "unknown",
        };
        let row = ThreadRow {
            tid: r.header.tid,
            pid: r.header.tgid,
            comm: comm_str(&r.comm),
            idle: true,
            state: Some(state.into()),
            ..ThreadRow::default()
        };
        self.live.entry(row.tid).or_insert(row);
    }

    pub fn push_switches(&mut self, r: &SwitchTotals) {
        self.by_syscall.insert(r.nr, (r.counts.voluntary, r.counts.involuntary));
    }

    pub fn report(&self) -> Sched {
        let mut threads: Vec<ThreadRow> = self.exited.iter().chain(self.live.values()).cloned().collect();
        threads.sort_by_key(|t| (t.pid, t.tid, !t.exited));
        let all = || threads.iter().chain(std::iter::once(&self.folded_sum));
        let mut by_syscall: Vec<SwitchRow> = self
            .by_syscall
            .iter()
            .map(|(&nr, &(voluntary, involuntary))| SwitchRow {
                syscall: if nr == USER_MODE { "user or fault".into() } else { syscalls::name(nr).into_owned() },
                voluntary,
                involuntary,
            })
            .collect();
        by_syscall.sort_by_key(|r| std::cmp::Reverse(r.voluntary + r.involuntary));
        Sched {
            voluntary: all().map(|t| t.voluntary).sum(),
            involuntary: all().map(|t| t.involuntary).sum(),
            oncpu_ns: all().map(|t| t.oncpu_ns).sum(),
            offcpu_ns: all().map(|t| t.offcpu_ns).sum(),
            runqueue_ns: all().map(|t| t.runqueue_ns).sum(),
            slices: all().map(|t| t.slices).sum(),
            threads_folded: self.folded,
            threads,
            by_syscall,
        }
    }
}

/// A kernel `comm` (NUL-padded, not always valid UTF-8) as text.
pub fn comm_str(comm: &[u8]) -> String {
    let end = comm.iter().position(|&b| b == 0).unwrap_or(comm.len());
    String::from_utf8_lossy(&comm[..end]).into_owned()
}

#[cfg(test)]
mod tests {
    use tracer_common::record::{Header, IdleThread, SwitchCounts, ThreadState};

    use super::*;

    fn rec(tid: u32, tgid: u32, comm: &str, vol: u64, invol: u64) -> ThreadRecord {
        let mut c = [0u8; 16];
        c[..comm.len()].copy_from_slice(comm.as_bytes());
        ThreadRecord {
            header: Header { kind: 0, cpu: 0, tid, tgid, ts_ns: 0 },
            state: ThreadState {
                tgid,
                comm: c,
                switches: SwitchCounts { voluntary: vol, involuntary: invol },
                ..ThreadState::default()
            },
        }
    }

    #[test]
    fn sums_exited_and_live_threads() {
        let mut a = SchedAnalysis::default();
        a.push(true, &rec(11, 10, "worker", 5, 2));
        a.push(false, &rec(10, 10, "main", 100, 1));
        let s = a.report();
        assert_eq!((s.voluntary, s.involuntary), (105, 3));
        assert_eq!(s.threads.iter().map(|t| (t.tid, t.exited)).collect::<Vec<_>>(), [(10, false), (11, true)]);
        assert_eq!(s.threads[0].comm, "main");
    }

    #[test]
    fn exit_replaces_an_earlier_snapshot_and_later_snapshots_replace_earlier_ones() {
        let mut a = SchedAnalysis::default();
        a.push(false, &rec(11, 10, "w", 1, 0));
        a.push(false, &rec(11, 10, "w", 2, 0));
        assert_eq!(a.report().voluntary, 2);
        a.push(true, &rec(11, 10, "w", 3, 1));
        let s = a.report();
        assert_eq!((s.voluntary, s.involuntary, s.threads.len()), (3, 1, 1));
    }

    #[test]
    fn a_reused_tid_is_a_second_thread() {
        let mut a = SchedAnalysis::default();
        a.push(true, &rec(11, 10, "w", 3, 0));
        a.push(true, &rec(11, 10, "w", 4, 0));
        let s = a.report();
        assert_eq!((s.voluntary, s.threads.len()), (7, 2));
    }

    #[test]
    fn times_sum_and_switches_by_syscall_name_the_call() {
        let mut a = SchedAnalysis::default();
        let mut r = rec(11, 10, "w", 1, 1);
        r.state.times.oncpu_ns = 5;
        r.state.times.runq_ns = 7;
        r.state.times.slices = 2;
        a.push(true, &r);
        a.push(false, &r);
        a.push_switches(&SwitchTotals {
            nr: 230,
            counts: tracer_common::record::SwitchCount { voluntary: 3, involuntary: 0 },
            ..Default::default()
        });
        a.push_switches(&SwitchTotals {
            nr: USER_MODE,
            counts: tracer_common::record::SwitchCount { voluntary: 0, involuntary: 9 },
            ..Default::default()
        });
        let s = a.report();
        assert_eq!((s.oncpu_ns, s.runqueue_ns, s.slices), (10, 14, 4));
        let rows: Vec<(&str, u64, u64)> =
            s.by_syscall.iter().map(|r| (r.syscall.as_str(), r.voluntary, r.involuntary)).collect();
        assert_eq!(rows, [("user or fault", 0, 9), ("clock_nanosleep", 3, 0)]);
    }

    #[test]
    fn exited_threads_past_the_cap_fold_into_exact_totals() {
        let mut a = SchedAnalysis::default();
        for tid in 0..MAX_EXITED as u32 + 10 {
            a.push(true, &rec(tid + 100, 10, "w", 2, 1));
        }
        a.push(false, &rec(10, 10, "main", 5, 0));
        let s = a.report();
        assert_eq!(s.threads.len(), MAX_EXITED + 1, "the first exited ones and the live one");
        assert_eq!(s.threads_folded, 10);
        assert_eq!((s.voluntary, s.involuntary), (2 * (MAX_EXITED as u64 + 10) + 5, MAX_EXITED as u64 + 10));
    }

    #[test]
    fn idle_threads_are_rows_of_zeros_with_their_state() {
        let mut a = SchedAnalysis::default();
        let mut idle =
            IdleThread { header: Header { tid: 12, tgid: 10, ..Header::default() }, state: b'S', ..Default::default() };
        idle.comm[..4].copy_from_slice(b"idle");
        a.push_idle(&idle);
        a.push(false, &rec(10, 10, "main", 5, 0));
        let s = a.report();
        let row = s.threads.iter().find(|t| t.tid == 12).unwrap();
        assert_eq!(
            (row.idle, row.state.as_deref(), row.voluntary, row.comm.as_str()),
            (true, Some("sleeping"), 0, "idle")
        );
        assert_eq!(s.voluntary, 5);
    }

    #[test]
    fn comm_stops_at_nul_and_tolerates_bad_utf8() {
        assert_eq!(comm_str(b"abc\0zzz"), "abc");
        assert_eq!(comm_str(&[0xff, b'a']), "\u{fffd}a");
        assert_eq!(comm_str(b"0123456789abcdef"), "0123456789abcdef");
    }
}
