//! The sections' vocabulary, shared by the probe plan, the analysis, the report and
//! `tracer check`: the report's sections, how much of each a kernel can give, and the
//! figures a kernel may be unable to give (shown as `null`, never as 0).
use serde::{Deserialize, Serialize};

use Section::*;

/// A report section: what `--only` selects and the kernel matrix checks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Section {
    Syscalls,
    Copies,
    Epoll,
    Sched,
    Wakeups,
    Softirq,
    Faults,
}

impl Section {
    pub const ALL: [Section; 7] = [Syscalls, Copies, Epoll, Sched, Wakeups, Softirq, Faults];

    pub fn name(self) -> &'static str {
        match self {
            Syscalls => "syscalls",
            Copies => "copies",
            Epoll => "epoll",
            Sched => "sched",
            Wakeups => "wakeups",
            Softirq => "softirq",
            Faults => "faults",
        }
    }
}

/// How much of a section this kernel can give.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Every figure, as exact as on the newest kernel.
    #[default]
    Exact,
    /// Some figures are missing or partial; the notes say which and why.
    Degraded,
    /// The kernel cannot give this section at all.
    Unavailable,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Coverage {
    pub status: Status,
    pub notes: Vec<String>,
}

/// Figures a kernel may be unable to give: the report shows them as `null`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Figure {
    /// faults: pages fault-around mapped (mm_filemap_map_pages).
    FaultAround,
    /// faults: page-cache pages filled during faults.
    FilledPages,
    /// copies and faults: bytes of block requests (disk DMA).
    DiskBytes,
    /// copies: bytes sent through a real network device (NIC DMA).
    NicBytes,
    /// copies: skb -> user bytes of socket receives.
    SocketCopyBytes,
    /// softirq: raise -> entry waits.
    RaiseWait,
    /// epoll: the socket that woke each blocked wait.
    WakeupSockets,
    /// faults: which mapping each fault was in.
    FaultMappings,
    /// syscalls: time in each call (not asked for: `--no-latency`).
    SyscallLatency,
}
