//! Epoll wait cycles: one record per epoll_wait/epoll_pwait/epoll_pwait2 the target made,
//! folded into totals, a histogram of events returned per wait, and per-epoll-fd rows;
//! epoll_ctl operations come from kernel counters.
use std::collections::BTreeMap;

use tracer_common::{
    record::{Counter, EpollRecord},
    syscalls::{LATENCY_BUCKETS, log2_bucket},
};

use super::{
    rows::{MAX_ROWS, fold_quietest},
    wakeups::{latency_buckets, source},
};
use crate::report::{Epoll, EpollCtl, EpollFd, EventsBucket, SourceCount};

const EINTR: i64 = 4;

#[derive(Clone, Debug, Default)]
pub struct EpollAnalysis {
    totals: EpollFd,
    errors: u64,
    eintr: u64,
    wait_ns: u64,
    blocked_ns: u64,
    /// Bucket lower bound -> waits (see [`bucket`]).
    events: BTreeMap<u64, u64>,
    by_fd: BTreeMap<(u32, i32), EpollFd>,
    /// Waits on the epoll fds folded out of `by_fd` (they stay in the totals too).
    folded_waits: u64,
    ctl: EpollCtl,
    by_source: BTreeMap<String, u64>,
    by_socket: BTreeMap<u64, u64>,
    /// Wakeups by sockets folded out of `by_socket`.
    other_sockets: u64,
    harvested_several: u64,
    wake_to_run_ns: u64,
    wake_to_run: [u64; LATENCY_BUCKETS],
}

/// The row of wakeups by sockets beyond the busiest `MAX_ROWS`.
pub const OTHER_SOCKETS: &str = "other sockets";

/// Exact counts below 16 events, then power-of-two buckets.
fn bucket(n: u64) -> (u64, u64) {
    if n < 16 {
        (n, n)
    } else {
        let lo = 1 << (63 - n.leading_zeros());
        (lo, lo * 2 - 1)
    }
}

impl EpollAnalysis {
    pub fn push(&mut self, r: &EpollRecord) {
        let fd = self.by_fd.entry((r.header.tgid, r.epfd)).or_insert_with(|| EpollFd {
            pid: r.header.tgid,
            epfd: r.epfd,
            ..EpollFd::default()
        });
        for row in [&mut self.totals, fd] {
            row.waits += 1;
            row.blocked_waits += u64::from(r.blocks > 0);
            if r.ret > 0 {
                row.events_returned += r.ret as u64;
            } else if r.ret == 0 {
                row.timeouts += 1;
            }
        }
        // Trimmed in batches: a sort per push would cost O(n log n) each.
        if self.by_fd.len() >= 2 * MAX_ROWS {
            self.folded_waits += fold_quietest(&mut self.by_fd, |f| f.waits).iter().map(|(_, f)| f.waits).sum::<u64>();
        }
        if r.ret < 0 {
            self.errors += 1;
            self.eintr += u64::from(r.ret == -EINTR);
        } else {
            *self.events.entry(bucket(r.ret as u64).0).or_default() += 1;
        }
        self.wait_ns += r.header.ts_ns.saturating_sub(r.t_enter);
        if r.blocks > 0 && r.t_run >= r.t_block {
            self.blocked_ns += r.t_run - r.t_block;
        }
        if r.blocks > 0 {
            *self.by_source.entry(source(r.waker.kind, r.waker.id)).or_default() += 1;
            if r.waker.sock_ino != 0 {
                *self.by_socket.entry(r.waker.sock_ino).or_default() += 1;
                if self.by_socket.len() >= 2 * MAX_ROWS {
                    self.other_sockets +=
                        fold_quietest(&mut self.by_socket, |&c| c).iter().map(|(_, c)| c).sum::<u64>();
                }
            }
            self.harvested_several += u64::from(r.ret > 1);
            if r.t_wake != 0 && r.t_run >= r.t_wake {
                let latency = r.t_run - r.t_wake;
                self.wake_to_run_ns += latency;
                self.wake_to_run[log2_bucket(latency)] += 1;
            }
        }
    }

    pub fn push_counter(&mut self, c: Counter, value: u64) {
        let slot = match c {
            Counter::EpollCtlAdd => &mut self.ctl.add,
            Counter::EpollCtlMod => &mut self.ctl.modify,
            Counter::EpollCtlDel => &mut self.ctl.delete,
            Counter::EpollFlagEt => &mut self.ctl.edge_triggered,
            Counter::EpollFlagOneshot => &mut self.ctl.oneshot,
            Counter::EpollFlagExclusive => &mut self.ctl.exclusive,
            Counter::EpollFlagWakeup => &mut self.ctl.wakeup,
            _ => return,
        };
        *slot = value;
    }

    pub fn report(&self) -> Epoll {
        let mut fds = self.by_fd.clone();
        let folded = fold_quietest(&mut fds, |f| f.waits);
        let by_epfd_folded_waits = self.folded_waits + folded.iter().map(|(_, f)| f.waits).sum::<u64>();
        Epoll {
            waits: self.totals.waits,
            blocked_waits: self.totals.blocked_waits,
            events_returned: self.totals.events_returned,
            timeouts: self.totals.timeouts,
            errors: self.errors,
            eintr: self.eintr,
            wait_ns: self.wait_ns,
            blocked_ns: self.blocked_ns,
            events_hist: self
                .events
                .iter()
                .map(|(&lo, &waits)| EventsBucket { events_min: lo, events_max: bucket(lo).1, waits })
                .collect(),
            by_epfd: fds.into_values().collect(),
            by_epfd_folded_waits,
            ctl: self.ctl.clone(),
            wakeups_by_source: {
                let mut v: Vec<SourceCount> =
                    self.by_source.iter().map(|(s, &count)| SourceCount { source: s.clone(), count }).collect();
                v.sort_by_key(|s| std::cmp::Reverse(s.count));
                v
            },
            wakeups_by_socket: {
                let mut kept = self.by_socket.clone();
                let other = self.other_sockets + fold_quietest(&mut kept, |&c| c).iter().map(|(_, c)| c).sum::<u64>();
                let mut v: Vec<SourceCount> =
                    kept.iter().map(|(ino, &count)| SourceCount { source: format!("socket:[{ino}]"), count }).collect();
                v.sort_by_key(|s| std::cmp::Reverse(s.count));
                if other > 0 {
                    v.push(SourceCount { source: OTHER_SOCKETS.to_owned(), count: other });
                }
                Some(v)
            },
            harvested_several: self.harvested_several,
            wake_to_run_ns: self.wake_to_run_ns,
            wake_to_run: latency_buckets(&self.wake_to_run),
        }
    }
}

#[cfg(test)]
mod tests {
    use tracer_common::record::{Header, WAKER_SOFTIRQ, WAKER_TIMER, Waker};

    use super::*;

    fn cycle(tgid: u32, epfd: i32, ret: i64, blocks: u32) -> EpollRecord {
        let waker = if ret == 0 {
            Waker { kind: WAKER_TIMER, ..Waker::default() }
        } else {
            Waker { kind: WAKER_SOFTIRQ, id: 3, sock_ino: 77, ..Waker::default() }
        };
        EpollRecord {
            header: Header { tgid, ts_ns: 1_000, ..Header::default() },
            epfd,
            ret,
            blocks,
            t_enter: 100,
            t_block: if blocks > 0 { 200 } else { 0 },
            t_run: if blocks > 0 { 900 } else { 0 },
            t_wake: if blocks > 0 { 850 } else { 0 },
            waker: if blocks > 0 { waker } else { Waker::default() },
            ..EpollRecord::default()
        }
    }

    #[test]
    fn folds_cycles_into_totals_histogram_and_fds() {
        let mut a = EpollAnalysis::default();
        a.push(&cycle(7, 3, 1, 1));
        a.push(&cycle(7, 3, 3, 0));
        a.push(&cycle(7, 3, 0, 1));
        a.push(&cycle(7, 5, 40, 1));
        a.push(&cycle(7, 5, -EINTR, 1));
        a.push_counter(Counter::EpollCtlAdd, 9);
        a.push_counter(Counter::EpollFlagEt, 8);
        let e = a.report();
        assert_eq!((e.waits, e.blocked_waits, e.events_returned, e.timeouts), (5, 4, 44, 1));
        assert_eq!((e.errors, e.eintr), (1, 1));
        assert_eq!(e.wait_ns, 5 * 900);
        assert_eq!(e.blocked_ns, 4 * 700);
        let hist: Vec<(u64, u64, u64)> = e.events_hist.iter().map(|b| (b.events_min, b.events_max, b.waits)).collect();
        assert_eq!(hist, [(0, 0, 1), (1, 1, 1), (3, 3, 1), (32, 63, 1)]);
        assert_eq!(e.by_epfd.len(), 2);
        assert_eq!((e.by_epfd[1].epfd, e.by_epfd[1].waits, e.by_epfd[1].events_returned), (5, 2, 40));
        assert_eq!((e.ctl.add, e.ctl.edge_triggered, e.ctl.modify), (9, 8, 0));
        let sources: Vec<(&str, u64)> = e.wakeups_by_source.iter().map(|s| (s.source.as_str(), s.count)).collect();
        assert_eq!(sources, [("NET_RX softirq", 3), ("timer", 1)], "blocked waits only");
        assert_eq!(e.harvested_several, 1, "the wait that returned 40");
        let by_socket = e.wakeups_by_socket.unwrap();
        assert_eq!((by_socket[0].source.as_str(), by_socket[0].count), ("socket:[77]", 3));
        assert_eq!((e.wake_to_run_ns, e.wake_to_run.len()), (4 * 50, 1));
    }

    /// A server whose connections come and go: three times the sockets kept. The busy
    /// ones are listed whole, the quiet rest is one row, and the rows still add up.
    #[test]
    fn quiet_sockets_past_the_cap_fold_into_one_exact_row() {
        let mut e = EpollAnalysis::default();
        let woken_by = |ino: u64| {
            let mut r = cycle(1, 5, 1, 1);
            r.waker.sock_ino = ino;
            r
        };
        let busy = MAX_ROWS as u64 / 2;
        for ino in 1..=busy {
            for _ in 0..10 {
                e.push(&woken_by(ino));
            }
        }
        let quiet = 3 * MAX_ROWS as u64;
        for ino in busy + 1..=busy + quiet {
            e.push(&woken_by(ino));
        }
        let rows = e.report().wakeups_by_socket.unwrap();
        assert_eq!(rows.len(), MAX_ROWS + 1);
        assert!(rows[..busy as usize].iter().all(|r| r.count == 10), "every busy socket, whole");
        let last = rows.last().unwrap();
        let kept_quiet = MAX_ROWS as u64 - busy;
        assert_eq!((last.source.as_str(), last.count), (OTHER_SOCKETS, quiet - kept_quiet));
        assert_eq!(rows.iter().map(|r| r.count).sum::<u64>(), 10 * busy + quiet);
    }

    /// Processes that come and go, each with its own epoll fd: three times the rows kept.
    /// The busiest are listed, and the rest's waits are counted.
    #[test]
    fn quiet_epoll_fds_past_the_cap_are_counted_not_listed() {
        let mut e = EpollAnalysis::default();
        let n = 3 * MAX_ROWS as u32;
        for pid in 1..=n {
            // Process `pid` waits (pid % 7 + 1) times: many ties, bounded rows anyway.
            for _ in 0..pid % 7 + 1 {
                e.push(&cycle(pid, 5, 0, 0));
            }
        }
        let r = e.report();
        let all: u64 = (1..=n).map(|p| u64::from(p % 7 + 1)).sum();
        assert_eq!(r.waits, all);
        let listed: u64 = r.by_epfd.iter().map(|f| f.waits).sum();
        assert_eq!((r.by_epfd.len(), listed + r.by_epfd_folded_waits), (MAX_ROWS, all), "rows and the rest add up");
        // 1755 processes wait 7 times and 1756 wait 6 times: all listed, and 585 of the 5s.
        let busy = r.by_epfd.iter().filter(|f| f.waits >= 6).count();
        let least = r.by_epfd.iter().map(|f| f.waits).min().unwrap();
        assert_eq!((busy, least), ((1..=n).filter(|p| p % 7 >= 5).count(), 5), "the busiest");
    }
}
