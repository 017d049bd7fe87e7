//! The timeline (`--timeline`, `--perfetto`): slices and events as they happen.
use super::{envelope::Header, wakeups::Waker};

/// `clone(2)` flag: the new task is a thread of the caller's process.
/// [`RecordKind::CpuSlice`]: the header's time is the switch-out, its CPU the slice's.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CpuSlice {
    pub header: Header,
    /// The switch-in (0: the thread was on the CPU when the trace began).
    pub start_ns: u64,
    /// The syscall in flight as it left the CPU ([`USER_MODE`]: none).
    pub nr: u32,
    /// 1: it blocked (a voluntary switch); 0: it was preempted.
    pub voluntary: u32,
}

/// [`RecordKind::SyscallSlice`]: the header's time is the return.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SyscallSlice {
    pub header: Header,
    pub start_ns: u64,
    pub ret: i64,
    pub nr: u32,
    pub _pad: u32,
    /// What the call added to the copy ledger: bytes the CPU copied between user and
    /// kernel memory, and bytes moved without that copy.
    pub cpu_copied: u64,
    pub zero_copied: u64,
}

/// [`RecordKind::WakeEvent`]: the header names the wakee; its CPU is the waker's.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WakeEvent {
    pub header: Header,
    pub waker: Waker,
    /// A task waker's name (`comm`); zeros for an interrupt.
    pub comm: [u8; 16],
}

/// [`RecordKind::SoftirqSlice`]: the header's time is the exit, its CPU the run's.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SoftirqSlice {
    pub header: Header,
    pub start_ns: u64,
    pub vec: u32,
    pub _pad: u32,
}
