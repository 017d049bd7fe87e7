//! The `epoll` section: every epoll wait, its events, and what woke it.
use serde::{Deserialize, Serialize};

use super::{latency::LatencyBucket, wakeups::SourceCount};

/// epoll_wait, epoll_pwait and epoll_pwait2 calls of the target.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Epoll {
    pub waits: u64,
    /// Waits in which the thread went to sleep.
    pub blocked_waits: u64,
    pub events_returned: u64,
    /// Waits that returned 0.
    pub timeouts: u64,
    /// Waits that returned -errno; `eintr` of them were interrupted by a signal.
    pub errors: u64,
    pub eintr: u64,
    /// Time inside the waits, and the part of it spent asleep (block -> back on CPU).
    pub wait_ns: u64,
    pub blocked_ns: u64,
    /// Waits by events returned (exact below 16, then power-of-two ranges).
    pub events_hist: Vec<EventsBucket>,
    pub by_epfd: Vec<EpollFd>,
    /// Waits on epoll fds beyond the 4096 busiest (of processes that came and went over a
    /// long trace), which are not listed: with the listed rows they add up to `waits`.
    #[serde(default)]
    pub by_epfd_folded_waits: u64,
    pub ctl: EpollCtl,
    /// Blocked waits by who woke them ("none": no wakeup seen, e.g. a signal).
    pub wakeups_by_source: Vec<SourceCount>,
    /// Blocked waits by the socket whose data arrival woke them (`socket:[inode]`, as
    /// /proc/PID/fd shows it), busiest first.
    pub wakeups_by_socket: Option<Vec<SourceCount>>,
    /// Blocked waits woken once that returned more than one event.
    pub harvested_several: u64,
    /// Wakeup -> back on a CPU, for blocked waits: total and log2 histogram.
    pub wake_to_run_ns: u64,
    pub wake_to_run: Vec<LatencyBucket>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventsBucket {
    pub events_min: u64,
    pub events_max: u64,
    pub waits: u64,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EpollFd {
    pub pid: u32,
    pub epfd: i32,
    pub waits: u64,
    pub blocked_waits: u64,
    pub events_returned: u64,
    pub timeouts: u64,
}

/// epoll_ctl operations, and how many ADD/MOD asked for each flag.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EpollCtl {
    pub add: u64,
    pub modify: u64,
    pub delete: u64,
    pub edge_triggered: u64,
    pub oneshot: u64,
    pub exclusive: u64,
    pub wakeup: u64,
}
