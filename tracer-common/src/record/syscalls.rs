//! Syscalls: the call a thread is in, the per-syscall statistics map and its totals record.
use super::envelope::Header;

/// No syscall in flight.
pub const NO_SYSCALL: u64 = u64::MAX;

/// The syscall a thread is in, from sys_enter to sys_exit.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InFlight {
    /// Syscall number, or [`NO_SYSCALL`].
    pub nr: u64,
    pub t0: u64,
    /// Arguments kept for sys_exit (only for the calls that need them: mmap, splice).
    pub args: [u64; 4],
    /// The copy-ledger [`Path`] chosen at entry.
    pub path: u32,
    /// `SPLICE_*` facts about the fds, found at entry.
    pub flags: u32,
}

impl Default for InFlight {
    fn default() -> Self {
        Self { nr: NO_SYSCALL, t0: 0, args: [0; 4], path: 0, flags: 0 }
    }
}

/// [`RecordKind::SyscallTotals`]: `index` is the syscall number.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SyscallTotals {
    pub header: Header,
    pub nr: u32,
    pub _pad: u32,
    pub stat: SyscallStat,
}

/// Per-syscall statistics (per-CPU array `SYSCALLS`, index: syscall number).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SyscallStat {
    /// Calls entered while traced.
    pub count: u64,
    /// Calls that returned -errno.
    pub errors: u64,
    /// Calls whose exit was seen (the others never returned, or the trace ended first).
    pub returned: u64,
    pub total_ns: u64,
    /// Bytes returned by data-moving calls.
    pub bytes: u64,
    /// Ready fds (events) returned by readiness calls: epoll_wait, poll, select, ...
    pub ready: u64,
    pub latency: [u64; crate::syscalls::LATENCY_BUCKETS],
}

impl Default for SyscallStat {
    fn default() -> Self {
        Self {
            count: 0,
            errors: 0,
            returned: 0,
            total_ns: 0,
            bytes: 0,
            ready: 0,
            latency: [0; crate::syscalls::LATENCY_BUCKETS],
        }
    }
}
