//! Epoll: the wait a thread is in, and the record of each finished wait.
use super::{envelope::Header, wakeups::Waker};

/// The epoll wait a thread is in.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EpollState {
    pub epfd: i32,
    pub maxevents: i32,
    /// Milliseconds; -1 waits forever.
    pub timeout_ms: i32,
    /// Times the thread went to sleep inside this call.
    pub blocks: u32,
    /// First time it went off-CPU inside the call (0: never).
    pub t_block: u64,
    /// Last time it came back on-CPU after blocking.
    pub t_run: u64,
    /// Who woke the blocked wait (the first wakeup after it blocked).
    pub waker: Waker,
    pub t_wake: u64,
}

/// A finished epoll wait ([`RecordKind::EpollCycle`]); `header.ts_ns` is the exit time.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EpollRecord {
    pub header: Header,
    /// epoll_wait, epoll_pwait or epoll_pwait2.
    pub nr: u32,
    pub epfd: i32,
    /// Ready events returned, or -errno.
    pub ret: i64,
    pub maxevents: i32,
    pub timeout_ms: i32,
    pub blocks: u32,
    pub _pad: u32,
    pub t_enter: u64,
    pub t_block: u64,
    pub t_run: u64,
    pub t_wake: u64,
    pub waker: Waker,
}
