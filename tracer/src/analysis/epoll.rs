//! Epoll wait cycles: one record per epoll_wait/epoll_pwait/epoll_pwait2 the target made,
//! folded into totals, a histogram of events returned per wait, and per-epoll-fd rows;
//! epoll_ctl operations come from kernel counters.
use std::collections::BTreeMap;

use tracer_common::{
    record::{Counter, EpollRecord},
    syscalls::{LATENCY_BUCKETS, log2_bucket},
};

use super::wakeups::{latency_buckets, source};
use crate::report::{Epoll, EpollCtl, EpollFd, EventsBucket, SourceCount};

const EINTR: i64 = 4;

/// Sockets kept one by one: a server's connections come and go for as long as it is
/// traced; past this the quietest are folded into one "other sockets" row (kept exact).
pub const MAX_SOCKETS: usize = 4096;

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
    ctl: EpollCtl,
    by_source: BTreeMap<String, u64>,
    by_socket: BTreeMap<u64, u64>,
    /// Wakeups by sockets folded out of `by_socket`.
    other_sockets: u64,
    harvested_several: u64,
    wake_to_run_ns: u64,
    wake_to_run: [u64; LATENCY_BUCKETS],
}

/// The row of wakeups by sockets beyond the busiest `MAX_SOCKETS`.
pub const OTHER_SOCKETS: &str = "other sockets";

/// Keeps the busiest `MAX_SOCKETS` sockets; returns the wakeups of those taken out.
fn fold_quietest(by_socket: &mut BTreeMap<u64, u64>) -> u64 {
    if by_socket.len() <= MAX_SOCKETS {
        return 0;
    }
    let mut counts: Vec<u64> = by_socket.values().copied().collect();
    let (_, &mut floor, _) = counts.select_nth_unstable_by(MAX_SOCKETS - 1, |a, b| b.cmp(a));
    // Ties at the floor: keep only as many as fit, so the row count is bounded exactly.
    let mut room_at_floor = counts[..MAX_SOCKETS].iter().filter(|&&c| c == floor).count();
    let mut folded = 0;
    by_socket.retain(|_, &mut c| {
        let keep = c > floor || (c == floor && room_at_floor > 0);
        if c == floor && keep {
            room_at_floor -= 1;
        }
        if !keep {
            folded += c;
        }
        keep
    });
    folded
}

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
                if self.by_socket.len() >= 2 * MAX_SOCKETS {
                    self.other_sockets += fold_quietest(&mut self.by_socket);
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
            by_epfd: self.by_fd.values().cloned().collect(),
            ctl: self.ctl.clone(),
            wakeups_by_source: {
                let mut v: Vec<SourceCount> =
                    self.by_source.iter().map(|(s, &count)| SourceCount { source: s.clone(), count }).collect();
                v.sort_by_key(|s| std::cmp::Reverse(s.count));
                v
            },
            wakeups_by_socket: {
                let mut kept = self.by_socket.clone();
                let other = self.other_sockets + fold_quietest(&mut kept);
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
        let busy = MAX_SOCKETS as u64 / 2;
        for ino in 1..=busy {
            for _ in 0..10 {
                e.push(&woken_by(ino));
            }
        }
        let quiet = 3 * MAX_SOCKETS as u64;
        for ino in busy + 1..=busy + quiet {
            e.push(&woken_by(ino));
        }
        let rows = e.report().wakeups_by_socket.unwrap();
        assert_eq!(rows.len(), MAX_SOCKETS + 1);
        assert!(rows[..busy as usize].iter().all(|r| r.count == 10), "every busy socket, whole");
        let last = rows.last().unwrap();
        let kept_quiet = MAX_SOCKETS as u64 - busy;
        assert_eq!((last.source.as_str(), last.count), (OTHER_SOCKETS, quiet - kept_quiet));
        assert_eq!(rows.iter().map(|r| r.count).sum::<u64>(), 10 * busy + quiet);
    }
}
