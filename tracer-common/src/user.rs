//! User-space only: lets aya copy these types in and out of maps.
use crate::record::{
    CounterTotal, CpuState, EpollRecord, EpollState, FaultKey, FaultStat, FaultTotals, FileNameRecord, Header,
    InFlight, MapRange, PathStat, PathTotals, PendingFault, ProcState, SchedTimes, SoftirqStat, SoftirqTotals,
    SwitchCount, SwitchCounts, SwitchTotals, SyscallStat, SyscallTotals, ThreadRecord, ThreadState, WakeEdge,
    WakeEdgeTotals, WakeKey, Waker,
};

/// Marks record types as plain old data for aya's map reads and writes.
macro_rules! pod {
    ($($t:ty),* $(,)?) => {$(
        // SAFETY: every type listed is #[repr(C)], Copy, made of integers, with no implicit
        // padding (checked by `layouts_have_no_implicit_padding`), so every bit pattern is valid.
        unsafe impl aya::Pod for $t {}
    )*};
}

pod!(
    Header,
    SwitchCounts,
    InFlight,
    EpollState,
    ThreadState,
    ThreadRecord,
    EpollRecord,
    MapRange,
    ProcState,
    SyscallStat,
    PathStat,
    crate::kernel::Offsets,
    crate::kernel::Features,
    crate::record::VmaCache,
    crate::record::ProcessExit,
    crate::record::IdleThread,
    SyscallTotals,
    PathTotals,
    CounterTotal,
    Waker,
    SchedTimes,
    WakeKey,
    WakeEdge,
    WakeEdgeTotals,
    SwitchCount,
    SwitchTotals,
    SoftirqStat,
    SoftirqTotals,
    CpuState,
    PendingFault,
    crate::record::ThreadStacks,
    crate::record::StackFrames,
    crate::record::StackSeen,
    crate::record::OffCpuKey,
    crate::record::OffCpuStat,
    crate::record::OffCpuTotals,
    crate::record::CpuSlice,
    crate::record::SyscallSlice,
    crate::record::WakeEvent,
    crate::record::SoftirqSlice,
    FaultKey,
    FaultStat,
    FaultTotals,
    FileNameRecord,
);
