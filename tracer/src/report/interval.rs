//! One interval of a live trace: a later report minus an earlier one of the same trace
//! (reports so far are running totals). `tracer top`'s "last interval" view is this.
//! Counters, latency buckets and per-row figures are subtracted by row name; a row the
//! tables folded away in between (`analysis/rows.rs`) counts from 0, never below it.
use std::collections::HashMap;

use super::{Copies, Epoll, Faults, LatencyBucket, Part, Report, Sched, Softirq, SourceCount, SyscallRow, ThreadRow};

impl Report {
    /// What happened between `earlier` and `self`. Sections and rows are `self`'s; only
    /// rows with something in the interval are kept (threads are all kept: an idle thread
    /// is news too).
    pub fn since(&self, earlier: &Report) -> Report {
        let mut out = self.clone();
        out.duration_ns = self.duration_ns.saturating_sub(earlier.duration_ns);
        out.lost_events = self.lost_events.saturating_sub(earlier.lost_events);
        out.missed_events = self.missed_events.map(|m| m.saturating_sub(earlier.missed_events.unwrap_or(0)));
        out.overhead.bpf_ns = sub_opt(self.overhead.bpf_ns, earlier.overhead.bpf_ns);
        out.overhead.bpf_hits = sub_opt(self.overhead.bpf_hits, earlier.overhead.bpf_hits);
        out.overhead.user_cpu_ns = self.overhead.user_cpu_ns.saturating_sub(earlier.overhead.user_cpu_ns);
        out.syscalls = both(&self.syscalls, &earlier.syscalls, |l, e| syscalls(l, e));
        out.mode_switches = both(&self.mode_switches, &earlier.mode_switches, |a, b| a.saturating_sub(*b));
        out.sched = both(&self.sched, &earlier.sched, sched);
        out.epoll = both(&self.epoll, &earlier.epoll, epoll);
        out.copies = both(&self.copies, &earlier.copies, copies);
        out.softirq = both(&self.softirq, &earlier.softirq, softirq);
        out.faults = both(&self.faults, &earlier.faults, faults);
        out
    }
}

fn sub_opt(a: Option<u64>, b: Option<u64>) -> Option<u64> {
    a.map(|a| a.saturating_sub(b.unwrap_or(0)))
}

/// `f(later, earlier)` where the later report traced the section; an earlier report
/// without it counts as empty.
fn both<T: Default>(later: &Part<T>, earlier: &Part<T>, f: impl Fn(&T, &T) -> T) -> Part<T> {
    match later {
        Part::Traced(l) => Part::Traced(f(l, earlier.get().unwrap_or(&T::default()))),
        Part::Unavailable => Part::Unavailable,
        Part::NotTraced => Part::NotTraced,
    }
}

/// The earlier rows by key.
fn by<T, K: std::hash::Hash + Eq>(rows: &[T], key: impl Fn(&T) -> K) -> HashMap<K, &T> {
    rows.iter().map(|r| (key(r), r)).collect()
}

fn buckets(later: &[LatencyBucket], earlier: &[LatencyBucket]) -> Vec<LatencyBucket> {
    let before = by(earlier, |b| b.from_ns);
    later
        .iter()
        .map(|b| LatencyBucket {
            from_ns: b.from_ns,
            count: b.count.saturating_sub(before.get(&b.from_ns).map_or(0, |e| e.count)),
        })
        .filter(|b| b.count > 0)
        .collect()
}

fn syscalls(later: &[SyscallRow], earlier: &[SyscallRow]) -> Vec<SyscallRow> {
    let before = by(earlier, |r| r.name.clone());
    let empty = SyscallRow::default();
    let mut rows: Vec<SyscallRow> = later
        .iter()
        .map(|r| {
            let e = before.get(&r.name).copied().unwrap_or(&empty);
            SyscallRow {
                count: r.count.saturating_sub(e.count),
                errors: r.errors.saturating_sub(e.errors),
                bytes: r.bytes.saturating_sub(e.bytes),
                ready: r.ready.saturating_sub(e.ready),
                returned: r.returned.saturating_sub(e.returned),
                total_ns: sub_opt(r.total_ns, e.total_ns),
                latency: r.latency.as_ref().map(|l| buckets(l, e.latency.as_deref().unwrap_or(&[]))),
                ..r.clone()
            }
        })
        .filter(|r| r.count > 0)
        .collect();
    rows.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.name.cmp(&b.name)));
    rows
}

fn sched(later: &Sched, earlier: &Sched) -> Sched {
    let before = by(&earlier.threads, |t| t.tid);
    let threads = later
        .threads
        .iter()
        .map(|t| {
            let e = before.get(&t.tid).copied().cloned().unwrap_or_default();
            ThreadRow {
                voluntary: t.voluntary.saturating_sub(e.voluntary),
                involuntary: t.involuntary.saturating_sub(e.involuntary),
                oncpu_ns: t.oncpu_ns.saturating_sub(e.oncpu_ns),
                offcpu_ns: t.offcpu_ns.saturating_sub(e.offcpu_ns),
                runqueue_ns: t.runqueue_ns.saturating_sub(e.runqueue_ns),
                slices: t.slices.saturating_sub(e.slices),
                ..t.clone()
            }
        })
        .collect();
    Sched {
        voluntary: later.voluntary.saturating_sub(earlier.voluntary),
        involuntary: later.involuntary.saturating_sub(earlier.involuntary),
        oncpu_ns: later.oncpu_ns.saturating_sub(earlier.oncpu_ns),
        offcpu_ns: later.offcpu_ns.saturating_sub(earlier.offcpu_ns),
        runqueue_ns: later.runqueue_ns.saturating_sub(earlier.runqueue_ns),
        slices: later.slices.saturating_sub(earlier.slices),
        threads,
        ..later.clone()
    }
}

fn sources(later: &[SourceCount], earlier: &[SourceCount]) -> Vec<SourceCount> {
    let before = by(earlier, |s| s.source.clone());
    later
        .iter()
        .map(|s| SourceCount {
            source: s.source.clone(),
            count: s.count.saturating_sub(before.get(&s.source).map_or(0, |e| e.count)),
        })
        .filter(|s| s.count > 0)
        .collect()
}

fn epoll(later: &Epoll, earlier: &Epoll) -> Epoll {
    Epoll {
        waits: later.waits.saturating_sub(earlier.waits),
        blocked_waits: later.blocked_waits.saturating_sub(earlier.blocked_waits),
        events_returned: later.events_returned.saturating_sub(earlier.events_returned),
        timeouts: later.timeouts.saturating_sub(earlier.timeouts),
        errors: later.errors.saturating_sub(earlier.errors),
        eintr: later.eintr.saturating_sub(earlier.eintr),
        wait_ns: later.wait_ns.saturating_sub(earlier.wait_ns),
        blocked_ns: later.blocked_ns.saturating_sub(earlier.blocked_ns),
        wakeups_by_source: sources(&later.wakeups_by_source, &earlier.wakeups_by_source),
        ..later.clone()
    }
}

fn copies(later: &Copies, earlier: &Copies) -> Copies {
    let before = by(&earlier.paths, |p| p.path.clone());
    let paths = later
        .paths
        .iter()
        .map(|p| {
            let e = before.get(&p.path).copied().cloned().unwrap_or_default();
            super::PathRow {
                calls: p.calls.saturating_sub(e.calls),
                bytes: p.bytes.saturating_sub(e.bytes),
                bytes_in: p.bytes_in.saturating_sub(e.bytes_in),
                mode_switches: p.mode_switches.saturating_sub(e.mode_switches),
                cpu_copied_bytes: p.cpu_copied_bytes.saturating_sub(e.cpu_copied_bytes),
                zero_copy_bytes: p.zero_copy_bytes.saturating_sub(e.zero_copy_bytes),
                ..p.clone()
            }
        })
        .filter(|p| p.calls > 0)
        .collect();
    Copies {
        cpu_copy_bytes: later.cpu_copy_bytes.saturating_sub(earlier.cpu_copy_bytes),
        zero_copy_bytes: later.zero_copy_bytes.saturating_sub(earlier.zero_copy_bytes),
        socket_copy_bytes: sub_opt(later.socket_copy_bytes, earlier.socket_copy_bytes),
        paths,
        ..later.clone()
    }
}

fn softirq(later: &Softirq, earlier: &Softirq) -> Softirq {
    let before = by(&earlier.vectors, |v| v.name.clone());
    let vectors = later
        .vectors
        .iter()
        .map(|v| {
            let e = before.get(&v.name).copied().cloned().unwrap_or_default();
            super::SoftirqRow {
                count: v.count.saturating_sub(e.count),
                time_ns: v.time_ns.saturating_sub(e.time_ns),
                target_runs: v.target_runs.saturating_sub(e.target_runs),
                target_time_ns: v.target_time_ns.saturating_sub(e.target_time_ns),
                target_wakeups: v.target_wakeups.saturating_sub(e.target_wakeups),
                ..v.clone()
            }
        })
        .filter(|v| v.count > 0)
        .collect();
    Softirq { vectors }
}

fn faults(later: &Faults, earlier: &Faults) -> Faults {
    let rows = later.by_mapping.as_ref().map(|rows| {
        let before = by(earlier.by_mapping.as_deref().unwrap_or(&[]), |r| r.mapping.clone());
        rows.iter()
            .map(|r| {
                let e = before.get(&r.mapping).copied().cloned().unwrap_or_default();
                super::FaultRow {
                    minor: r.minor.saturating_sub(e.minor),
                    major: r.major.saturating_sub(e.major),
                    user_mode: r.user_mode.saturating_sub(e.user_mode),
                    kernel_mode: r.kernel_mode.saturating_sub(e.kernel_mode),
                    writes: r.writes.saturating_sub(e.writes),
                    ..r.clone()
                }
            })
            .filter(|r| r.minor + r.major > 0)
            .collect()
    });
    Faults {
        minor: later.minor.saturating_sub(earlier.minor),
        major: later.major.saturating_sub(earlier.major),
        user_mode: later.user_mode.saturating_sub(earlier.user_mode),
        kernel_mode: later.kernel_mode.saturating_sub(earlier.kernel_mode),
        writes: later.writes.saturating_sub(earlier.writes),
        by_mapping: rows,
        ..later.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::super::{quantile_bound_ns, sample};
    use super::*;

    /// A later report: `sample()` with more of everything on some rows.
    fn later() -> Report {
        let mut r = sample();
        r.duration_ns += 1_000_000_000;
        let calls = r.syscalls.get_mut().unwrap();
        calls[0].count += 100;
        calls[0].bytes += 4096;
        calls[0].latency.as_mut().unwrap()[1].count += 100;
        calls.push(SyscallRow { name: "read".into(), count: 7, errors: 2, ..SyscallRow::default() });
        let sched = r.sched.get_mut().unwrap();
        sched.voluntary += 10;
        sched.threads[0].voluntary += 10;
        sched.threads[0].oncpu_ns += 500;
        r.epoll.get_mut().unwrap().waits += 3;
        r.overhead.user_cpu_ns += 1_000;
        r
    }

    #[test]
    fn an_interval_is_the_later_totals_minus_the_earlier() {
        let d = later().since(&sample());
        assert_eq!(d.duration_ns, 1_000_000_000);
        assert_eq!(d.overhead.user_cpu_ns, 1_000);
        let calls = d.syscalls.get().unwrap();
        // epoll_wait did nothing in the interval: gone; read is new: all of it.
        let names: Vec<&str> = calls.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["write", "read"]);
        assert_eq!((calls[0].count, calls[0].bytes), (100, 4096));
        assert_eq!((calls[1].count, calls[1].errors), (7, 2));
        // All 100 new calls in the 64 us bucket: the interval's p50 is its bound, whereas
        // since the start most calls were in the 8 us bucket.
        assert_eq!(quantile_bound_ns(calls[0].latency.as_ref().unwrap(), 0.5), Some(131_072));
        let sched = d.sched.get().unwrap();
        assert_eq!((sched.voluntary, sched.threads[0].voluntary, sched.threads[0].oncpu_ns), (10, 10, 500));
        assert_eq!(sched.threads.len(), 2, "idle threads stay");
        assert_eq!(d.epoll.get().unwrap().waits, 3);
    }

    #[test]
    fn a_report_since_itself_is_empty_and_sections_keep_their_status() {
        let mut r = sample();
        r.faults = Part::Unavailable;
        let d = r.since(&r);
        assert!(d.syscalls.get().unwrap().is_empty());
        assert_eq!(d.faults, Part::Unavailable);
        assert_eq!(d.duration_ns, 0);
        // A row folded away since (smaller later) never goes below 0.
        let mut shrunk = r.clone();
        shrunk.sched.get_mut().unwrap().voluntary = 0;
        assert_eq!(shrunk.since(&r).sched.get().unwrap().voluntary, 0);
    }
}
