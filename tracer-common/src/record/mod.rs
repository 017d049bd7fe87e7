//! Wire records and the kernel's map rows, shared by the eBPF programs and user space:
//! one file per subsystem (the names of `tracer-ebpf/src/probes/` and
//! `tracer/src/analysis/`), the envelope every record starts with, the kernel-private
//! state, and the named slots of the per-CPU arrays.
mod copies;
mod counters;
mod envelope;
mod epoll;
mod faults;
mod names;
mod sched;
mod softirq;
mod stacks;
mod state;
mod syscalls;
mod timeline;
mod wakeups;

pub use copies::{
    EXEC_PENDING, MAX_MAPS, MapRange, Path, PathStat, PathTotals, SOCK_RECV, SPLICE_IN_PIPE, SPLICE_OUT_PIPE,
    VMSPLICE_GIFT,
};
pub use counters::{COUNTERS, Counter, CounterTotal, MapSlot};
pub use envelope::{Header, RecordKind};
pub use epoll::{EpollRecord, EpollState};
pub use faults::{
    FAULT_USER, FAULT_WRITE, FaultKey, FaultStat, FaultTotals, PendingFault, REGION_ANON, REGION_FILE, REGION_HEAP,
    REGION_STACK, VmaCache,
};
pub use names::{FILE_NAME_BYTES, FileNameRecord, NAME_DELETED, NAME_KERNEL_FORM, NAME_TRUNCATED};
pub use sched::{IdleThread, ProcessExit, SchedTimes, SwitchCount, SwitchCounts, SwitchTotals, USER_MODE, life_stamp};
pub use softirq::{NET_RX, NO_SOFTIRQ, SOFTIRQ_NAMES, SOFTIRQ_VECTORS, SoftirqStat, SoftirqTotals};
pub use stacks::{
    OffCpuKey, OffCpuStat, OffCpuTotals, STACK_DEPTH, STACK_HASH_SEED, StackFrames, StackSeen, stack_hash,
    stack_hash_step,
};
pub use state::{
    CLONE_THREAD, CpuState, JOIN_CGROUP, JOIN_COMM, JOIN_NONE, ProcState, TARGET_BIT_WORDS, ThreadRecord, ThreadStacks,
    ThreadState, target_bit,
};
pub use syscalls::{InFlight, NO_SYSCALL, SyscallStat, SyscallTotals};
pub use timeline::{CpuSlice, SoftirqSlice, SyscallSlice, WakeEvent};
pub use wakeups::{
    WAKER_HARDIRQ, WAKER_IRQ_WORK, WAKER_NONE, WAKER_SOFTIRQ, WAKER_TASK, WAKER_TIMER, WakeEdge, WakeEdgeTotals,
    WakeKey, Waker,
};

#[cfg(test)]
mod tests {
    use core::mem::{align_of, size_of};

    use super::*;

    #[test]
    fn layouts_have_no_implicit_padding() {
        assert_eq!(size_of::<Header>(), 24);
        assert_eq!(size_of::<SwitchCounts>(), 16);
        assert_eq!(size_of::<InFlight>(), 8 + 8 + 32 + 4 + 4);
        assert_eq!(size_of::<Waker>(), 24);
        assert_eq!(size_of::<EpollState>(), 4 * 4 + 16 + 24 + 8);
        assert_eq!(size_of::<SchedTimes>(), 10 * 8 + 8 + 24 + 8 + 8);
        assert_eq!(size_of::<ThreadStacks>(), 4 * 8 + 2 * 4);
        assert_eq!(size_of::<ThreadState>(), 4 + 4 + 16 + 8 + 16 + 56 + 64 + 128 + 72 + 48 + 40);
        assert_eq!(size_of::<StackFrames>(), 8 + STACK_DEPTH * 8);
        assert_eq!(size_of::<StackSeen>(), 24 + 8);
        assert_eq!(size_of::<OffCpuKey>(), 8 + 40);
        assert_eq!(size_of::<OffCpuTotals>(), 24 + 48 + 16);
        assert_eq!(size_of::<CpuSlice>(), 24 + 16);
        assert_eq!(size_of::<SyscallSlice>(), 24 + 40);
        assert_eq!(size_of::<WakeEvent>(), 24 + 24 + 16);
        assert_eq!(size_of::<SoftirqSlice>(), 24 + 16);
        assert_eq!(size_of::<VmaCache>(), 48);
        assert_eq!(size_of::<FileNameRecord>(), 24 + 16 + 1024);
        assert_eq!(size_of::<WakeKey>(), 24);
        assert_eq!(size_of::<WakeEdge>(), 3 * 8 + 32 * 8 + 8 + 16);
        assert_eq!(size_of::<WakeEdgeTotals>(), 24 + 24 + size_of::<WakeEdge>());
        assert_eq!(size_of::<SwitchTotals>(), 24 + 8 + 16);
        assert_eq!(size_of::<SoftirqStat>(), 7 * 8);
        assert_eq!(size_of::<SoftirqTotals>(), 24 + 8 + 56);
        assert_eq!(size_of::<CpuState>(), 24 + 8 * 4 + 80);
        assert_eq!(size_of::<ThreadRecord>(), 24 + size_of::<ThreadState>());
        assert_eq!(size_of::<EpollRecord>(), 24 + 4 + 4 + 8 + 4 + 4 + 4 + 4 + 32 + 24);
        assert_eq!(size_of::<SyscallStat>(), 6 * 8 + 32 * 8);
        assert_eq!(size_of::<PathStat>(), 6 * 8);
        assert_eq!(size_of::<ProcState>(), MAX_MAPS * 16 + 8);
        assert_eq!(size_of::<ProcessExit>(), 32);
        assert_eq!(size_of::<IdleThread>(), 48);
        assert_eq!(size_of::<PendingFault>(), 16 + 8 * 7);
        assert_eq!(size_of::<FaultKey>(), 24);
        assert_eq!(size_of::<FaultStat>(), 10 * 8);
        assert_eq!(size_of::<FaultTotals>(), 24 + 24 + 80);
        assert_eq!(size_of::<FileNameRecord>(), 24 + 16 + FILE_NAME_BYTES);
        assert_eq!(size_of::<SyscallTotals>(), 32 + size_of::<SyscallStat>());
        assert_eq!(size_of::<PathTotals>(), 32 + size_of::<PathStat>());
        assert_eq!(size_of::<CounterTotal>(), 40);
        // Ring-buffer records must be at most 8-aligned.
        assert!(align_of::<ThreadRecord>() <= 8 && align_of::<EpollRecord>() <= 8);
    }

    #[test]
    fn path_names_are_the_zerocopy_modes() {
        let names: [&str; 7] = Path::ALL.map(Path::name);
        assert_eq!(names, ["read-write", "mmap-write", "sendfile", "splice", "vmsplice", "copy-file-range", "recv"]);
        for (i, p) in Path::ALL.iter().enumerate() {
            assert_eq!(*p as usize, i);
        }
    }

    #[test]
    fn a_fault_is_what_the_task_counters_say() {
        let f = PendingFault {
            error_code: FAULT_USER | FAULT_WRITE,
            min0: 10,
            maj0: 2,
            around_pages: 16,
            filled_pages: 4,
            ..Default::default()
        };
        let major = f.outcome(11, 3);
        assert_eq!((major.major, major.minor, major.user_mode, major.writes, major.around_faults), (1, 0, 1, 1, 1));
        assert_eq!((major.around_pages, major.filled_pages), (16, 4));
        let minor = f.outcome(11, 2);
        assert_eq!((minor.minor, minor.major), (1, 0));
        let kernel = PendingFault { error_code: 0, ..f }.outcome(11, 2);
        assert_eq!((kernel.kernel_mode, kernel.user_mode, kernel.writes), (1, 0, 0));
        assert_eq!(f.outcome(10, 2), FaultStat { uncounted: 1, ..FaultStat::default() }, "spurious or retried");
        let mut total = FaultStat::default();
        total.add(&major);
        total.add(&minor);
        assert_eq!((total.major, total.minor, total.around_pages), (1, 1, 32));
    }

    #[test]
    fn kinds_round_trip() {
        for k in [
            RecordKind::ThreadExit,
            RecordKind::ThreadSnapshot,
            RecordKind::EpollCycle,
            RecordKind::SyscallTotals,
            RecordKind::PathTotals,
            RecordKind::CounterTotal,
            RecordKind::WakeEdgeTotals,
            RecordKind::SwitchTotals,
            RecordKind::SoftirqTotals,
            RecordKind::FaultTotals,
            RecordKind::FileName,
            RecordKind::ProcessExit,
            RecordKind::IdleThread,
        ] {
            assert_eq!(RecordKind::from_u32(k as u32), Some(k));
        }
        assert_eq!(RecordKind::from_u32(0), None);
        assert_eq!(RecordKind::from_u32(999), None);
    }
}
