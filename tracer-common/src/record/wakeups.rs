//! Wakeups: who woke a thread, and the waker -> wakee edges map.
use super::envelope::Header;

/// Who woke a thread: a task, a softirq, a hardirq or the local timer (hrtimers).
/// Attributed from per-CPU interrupt state, never from "current" alone.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Waker {
    /// One of the `WAKER_*` kinds (0: nobody seen).
    pub kind: u32,
    /// Task: TID; softirq: vector; hardirq: IRQ number; timer: the vector.
    pub id: u32,
    /// Task: TGID; interrupts: the CPU they ran on.
    pub extra: u32,
    pub _pad: u32,
    /// The socket whose data arrival led to the wakeup (its inode number, as in
    /// /proc/PID/fd's `socket:[ino]`), or 0.
    pub sock_ino: u64,
}

pub const WAKER_NONE: u32 = 0;
pub const WAKER_TASK: u32 = 1;
pub const WAKER_SOFTIRQ: u32 = 2;
pub const WAKER_HARDIRQ: u32 = 3;
/// The local APIC timer interrupt: hrtimers (sleeps, epoll/poll timeouts) fire here.
pub const WAKER_TIMER: u32 = 4;
pub const WAKER_IRQ_WORK: u32 = 5;

/// Key of the `WAKE_EDGES` map: who woke which thread (the wakee's `life` tells a reused
/// TID apart, so user space can take a dead thread's edges out without racing).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct WakeKey {
    pub wakee: u32,
    pub kind: u32,
    /// `Waker::id`, and `Waker::extra` for interrupts (their CPU); 0 for tasks.
    pub id: u32,
    pub cpu: u32,
    pub life: u32,
    pub _pad: u32,
}

/// Value of the `WAKE_EDGES` map.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WakeEdge {
    /// sched_waking events.
    pub count: u64,
    /// Of those, followed by the wakee's switch-in (the others woke a thread that had
    /// not gone to sleep yet).
    pub paired: u64,
    pub latency_ns: u64,
    pub latency: [u64; crate::syscalls::LATENCY_BUCKETS],
    /// Task wakers: their TGID and comm at the first wakeup.
    pub waker_tgid: u32,
    pub wakee_tgid: u32,
    pub waker_comm: [u8; 16],
}

impl WakeEdge {
    pub const ZERO: Self = Self {
        count: 0,
        paired: 0,
        latency_ns: 0,
        latency: [0; crate::syscalls::LATENCY_BUCKETS],
        waker_tgid: 0,
        wakee_tgid: 0,
        waker_comm: [0; 16],
    };
}

impl Default for WakeEdge {
    fn default() -> Self {
        Self::ZERO
    }
}

/// [`RecordKind::WakeEdgeTotals`].
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WakeEdgeTotals {
    pub header: Header,
    pub key: WakeKey,
    pub edge: WakeEdge,
}
