//! Kernel-private state: the target set, and what the kernel keeps per thread, per
//! process and per CPU (each subsystem's part in its own file).
use super::{
    copies::{MAX_MAPS, MapRange},
    envelope::Header,
    epoll::EpollState,
    faults::{PendingFault, VmaCache},
    sched::{SchedTimes, SwitchCounts},
    softirq::SOFTIRQ_VECTORS,
    syscalls::{InFlight, NO_SYSCALL},
};

/// Words of the target bitmap: one bit for every PID Linux can hand out (PID_MAX_LIMIT,
/// 4M on 64-bit), 512 KiB.
pub const TARGET_BIT_WORDS: u32 = (1 << 22) / 64;

/// The word of the target bitmap holding `tgid`, and its bit there.
#[inline(always)]
pub const fn target_bit(tgid: u32) -> (u32, u64) {
    (tgid / 64, 1 << (tgid % 64))
}

/// Per-thread state kept in the kernel's `THREADS` map (key: tid).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ThreadState {
    pub tgid: u32,
    /// When the kernel first saw this thread ([`life_stamp`]): tells a reused TID apart.
    pub life: u32,
    pub comm: [u8; 16],
    /// 1 until the command `run` launched has exec'd: what the launcher does between fork
    /// and exec (signal resets, the PATH search) is not the command's, so it is not
    /// counted (strace starts there too).
    pub pending_exec: u32,
    pub _pad: u32,
    pub switches: SwitchCounts,
    pub sys: InFlight,
    pub ep: EpollState,
    pub times: SchedTimes,
    pub fault: PendingFault,
    pub vma: VmaCache,
    pub stacks: ThreadStacks,
}

/// With `--stacks`: where the thread last blocked, and what woke it (stack hashes, 0 =
/// none), until it runs again and the off-CPU time is booked to them in `OFFCPU`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ThreadStacks {
    pub kernel: u64,
    pub user: u64,
    pub waker_kernel: u64,
    pub waker_user: u64,
    /// The waker's `WAKER_*` kind and id, of this very sleep (0: preempted, not woken).
    pub waker_kind: u32,
    pub waker_id: u32,
}

impl ThreadState {
    /// A thread first seen: no syscall in flight, nothing counted. A constant, so the
    /// kernel inserts it from read-only memory instead of building it on its stack.
    pub const FRESH: Self = {
        // SAFETY: every field is an integer (or array/struct of them); all-zero is valid.
        let mut t: Self = unsafe { core::mem::zeroed() };
        t.sys.nr = NO_SYSCALL;
        t
    };
}

/// What a CPU is doing, for attributing wakeups (per-CPU array `CPU_STATE`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CpuState {
    /// Softirq vector running, or [`NO_SOFTIRQ`].
    pub softirq: u32,
    /// A `WAKER_*` interrupt kind running (0: none) and its id.
    pub hardirq: u32,
    pub hardirq_id: u32,
    /// Target wakeups made by the running softirq.
    pub softirq_wakeups: u32,
    /// An hrtimer is expiring here (hrtimer_expire_entry/exit): its wakeups are the
    /// timer's, whichever interrupt (the local APIC timer, HPET, a softirq) runs it.
    pub hrtimer: u32,
    pub _pad: u32,
    pub softirq_t0: u64,
    /// Bumped at every softirq entry and exit and context switch: a softirq invocation's
    /// identity.
    pub seq: u64,
    /// The socket that last got data (sk_data_ready) or changed TCP state (a FIN or RST:
    /// sk_state_change wakes its waiters), and the context that ran in (see
    /// `wake_context`): a wakeup in the same context came from that socket.
    pub sdr_ctx: u64,
    pub sdr_sk: u64,
    pub raised_at: [u64; SOFTIRQ_VECTORS as usize],
}

/// Per-process state: the value of the `TARGETS` map (key: tgid).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ProcState {
    pub maps: [MapRange; MAX_MAPS],
    /// When it became a target ([`life_stamp`]).
    pub life: u32,
    pub _pad: u32,
}

/// How a process that execs joins the target set (besides being forked by a target): not
/// at all, by being in a cgroup (or below it), or by its new name.
pub const JOIN_NONE: u32 = 0;
pub const JOIN_CGROUP: u32 = 1;
pub const JOIN_COMM: u32 = 2;

pub const CLONE_THREAD: u64 = 0x0001_0000;

/// A thread's counters: `ThreadExit` or `ThreadSnapshot` (its whole state).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ThreadRecord {
    pub header: Header,
    pub state: ThreadState,
}
