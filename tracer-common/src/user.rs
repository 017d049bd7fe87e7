//! User-space only: lets aya copy these types in and out of maps.
use crate::record::{
    CounterTotal, CpuState, EpollRecord, EpollState, FaultKey, FaultStat, FaultTotals, FileNameRecord, Header,
    InFlight, MapRange, PathStat, PathTotals, PendingFault, ProcState, SchedTimes, SoftirqStat, SoftirqTotals,
    SwitchCount, SwitchCounts, SwitchTotals, SyscallStat, SyscallTotals, ThreadRecord, ThreadState, WakeEdge,
    WakeEdgeTotals, WakeKey, Waker,
};

// SAFETY: all are #[repr(C)], Copy, made of integers, with no implicit padding (checked by
// `layouts_have_no_implicit_padding`), so every bit pattern is valid.
unsafe impl aya::Pod for Header {}
unsafe impl aya::Pod for SwitchCounts {}
unsafe impl aya::Pod for InFlight {}
unsafe impl aya::Pod for EpollState {}
unsafe impl aya::Pod for ThreadState {}
unsafe impl aya::Pod for ThreadRecord {}
unsafe impl aya::Pod for EpollRecord {}
unsafe impl aya::Pod for MapRange {}
unsafe impl aya::Pod for ProcState {}
unsafe impl aya::Pod for SyscallStat {}
unsafe impl aya::Pod for PathStat {}
unsafe impl aya::Pod for crate::kernel::Offsets {}
unsafe impl aya::Pod for crate::kernel::Features {}
unsafe impl aya::Pod for crate::record::VmaCache {}
unsafe impl aya::Pod for crate::record::ProcessExit {}
unsafe impl aya::Pod for crate::record::IdleThread {}
unsafe impl aya::Pod for SyscallTotals {}
unsafe impl aya::Pod for PathTotals {}
unsafe impl aya::Pod for CounterTotal {}
unsafe impl aya::Pod for Waker {}
unsafe impl aya::Pod for SchedTimes {}
unsafe impl aya::Pod for WakeKey {}
unsafe impl aya::Pod for WakeEdge {}
unsafe impl aya::Pod for WakeEdgeTotals {}
unsafe impl aya::Pod for SwitchCount {}
unsafe impl aya::Pod for SwitchTotals {}
unsafe impl aya::Pod for SoftirqStat {}
unsafe impl aya::Pod for SoftirqTotals {}
unsafe impl aya::Pod for CpuState {}
unsafe impl aya::Pod for PendingFault {}
unsafe impl aya::Pod for crate::record::ThreadStacks {}
unsafe impl aya::Pod for crate::record::StackFrames {}
unsafe impl aya::Pod for crate::record::StackSeen {}
unsafe impl aya::Pod for crate::record::OffCpuKey {}
unsafe impl aya::Pod for crate::record::OffCpuStat {}
unsafe impl aya::Pod for crate::record::OffCpuTotals {}
unsafe impl aya::Pod for crate::record::CpuSlice {}
unsafe impl aya::Pod for crate::record::SyscallSlice {}
unsafe impl aya::Pod for crate::record::WakeEvent {}
unsafe impl aya::Pod for crate::record::SoftirqSlice {}
unsafe impl aya::Pod for FaultKey {}
unsafe impl aya::Pod for FaultStat {}
unsafe impl aya::Pod for FaultTotals {}
unsafe impl aya::Pod for FileNameRecord {}
