//! The envelope of every record: its kind, and the header it starts with (user space
//! finds the kind at offset 0).

/// What a record is. Stored as a plain `u32` in [`Header::kind`] so that a newer kernel
/// object (or a corrupt file) can never produce an invalid enum value.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecordKind {
    /// Final counters of a thread, emitted by its last context switch.
    ThreadExit = 1,
    /// Counters of a thread still alive when the trace ended (taken from `THREADS` by user
    /// space, so a recording holds everything a report needs).
    ThreadSnapshot = 2,
    /// One finished epoll_wait/epoll_pwait/epoll_pwait2 call.
    EpollCycle = 3,
    /// Totals of one syscall number at the end of the trace (from `SYSCALLS`, summed over
    /// CPUs by user space, so a recording holds them).
    SyscallTotals = 4,
    /// Totals of one copy-ledger path (from `LEDGER`).
    PathTotals = 5,
    /// One named counter (from `COUNTERS`).
    CounterTotal = 6,
    /// One waker -> wakee edge (from `WAKE_EDGES`).
    WakeEdgeTotals = 7,
    /// Context switches taken inside one syscall (from `SWITCHES`; `nr` 511: user mode).
    SwitchTotals = 8,
    /// One softirq vector on one CPU (from `SOFTIRQS`).
    SoftirqTotals = 9,
    /// Faults of one process in one mapping (from `FAULTS`).
    FaultTotals = 10,
    /// The name of a file a target faulted in, sent by the kernel at the file's first fault.
    FileName = 11,
    /// A target process ended (its last thread exited).
    ProcessExit = 12,
    /// A thread of a target that never ran in the window (found in /proc at the end).
    IdleThread = 13,
    /// A stack the kernel kept for the first time (`--stacks`): user space reads its
    /// frames from `STACKS` and names them while the process lives.
    StackSeen = 14,
    /// Off-CPU time of one (thread, blocked stack, waker stack) (from `OFFCPU`).
    OffCpuTotals = 15,
    /// A stack's frames, named by user space (variable length: see `StackNames`).
    StackNames = 16,
    /// `--perfetto`: a target thread's time slice on a CPU, at its switch-out.
    CpuSlice = 17,
    /// `--perfetto`: a target thread's finished syscall.
    SyscallSlice = 18,
    /// `--perfetto`: a wakeup of a target thread, as it happens.
    WakeEvent = 19,
    /// `--perfetto`: one softirq run, on any CPU.
    SoftirqSlice = 20,
}

impl RecordKind {
    pub const fn from_u32(v: u32) -> Option<Self> {
        match v {
            1 => Some(Self::ThreadExit),
            2 => Some(Self::ThreadSnapshot),
            3 => Some(Self::EpollCycle),
            4 => Some(Self::SyscallTotals),
            5 => Some(Self::PathTotals),
            6 => Some(Self::CounterTotal),
            7 => Some(Self::WakeEdgeTotals),
            8 => Some(Self::SwitchTotals),
            9 => Some(Self::SoftirqTotals),
            10 => Some(Self::FaultTotals),
            11 => Some(Self::FileName),
            12 => Some(Self::ProcessExit),
            13 => Some(Self::IdleThread),
            14 => Some(Self::StackSeen),
            15 => Some(Self::OffCpuTotals),
            16 => Some(Self::StackNames),
            17 => Some(Self::CpuSlice),
            18 => Some(Self::SyscallSlice),
            19 => Some(Self::WakeEvent),
            20 => Some(Self::SoftirqSlice),
            _ => None,
        }
    }
}

/// Common header of every record: 24 bytes, 8-aligned.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Header {
    pub kind: u32,
    pub cpu: u32,
    pub tid: u32,
    pub tgid: u32,
    /// `bpf_ktime_get_ns()` (CLOCK_MONOTONIC) when the record was made.
    pub ts_ns: u64,
}
