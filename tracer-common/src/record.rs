//! Wire records. Every record starts with [`Header`]; user space finds the kind at offset 0.

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

/// Context-switch counters of one thread (see [`crate::sched::classify_switch`]).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SwitchCounts {
    pub voluntary: u64,
    pub involuntary: u64,
}

/// No syscall in flight.
pub const NO_SYSCALL: u64 = u64::MAX;

/// Words of the target bitmap: one bit for every PID Linux can hand out (PID_MAX_LIMIT,
/// 4M on 64-bit), 512 KiB.
pub const TARGET_BIT_WORDS: u32 = (1 << 22) / 64;

/// The word of the target bitmap holding `tgid`, and its bit there.
#[inline(always)]
pub const fn target_bit(tgid: u32) -> (u32, u64) {
    (tgid / 64, 1 << (tgid % 64))
}

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

/// splice/vmsplice/tee fd facts, in [`InFlight::flags`].
pub const SPLICE_IN_PIPE: u32 = 1;
pub const SPLICE_OUT_PIPE: u32 = 2;
/// vmsplice on a pipe's write end: user pages gifted to the pipe, not copied.
pub const VMSPLICE_GIFT: u32 = 4;
/// The call received from a socket (sock:sock_recv_length fired inside it).
pub const SOCK_RECV: u32 = 8;
/// An execve of a command `run` launched, entered before it exec'd: counted only if it
/// succeeds (the failed ones are the launcher's PATH search).
pub const EXEC_PENDING: u32 = 16;

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

/// Where a faulting address lives.
pub const REGION_ANON: u32 = 0;
pub const REGION_HEAP: u32 = 1;
pub const REGION_STACK: u32 = 2;
pub const REGION_FILE: u32 = 3;

/// The fault a thread is handling: from its exception to the next event of the thread,
/// when the task's own fault counters say what it was.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PendingFault {
    /// 1 while a fault is pending.
    pub active: u32,
    pub region: u32,
    /// File faults: the file's device and inode.
    pub dev: u32,
    /// The exception's error code (bit 1: write, bit 2: user mode).
    pub error_code: u32,
    pub ino: u64,
    /// The faulting process's life (see `FaultKey`).
    pub life: u32,
    pub _pad: u32,
    /// The task's min_flt and maj_flt when the fault began.
    pub min0: u64,
    pub maj0: u64,
    /// Pages fault-around mapped, page-cache pages filled and disk bytes read for it.
    pub around_pages: u64,
    pub filled_pages: u64,
    pub disk_bytes: u64,
}

/// Page-fault error code bits (x86): a write, taken in user mode.
pub const FAULT_WRITE: u32 = 0x2;
pub const FAULT_USER: u32 = 0x4;

impl PendingFault {
    /// Where the fault was, as a `FAULTS` key.
    pub const fn key(&self, tgid: u32, life: u32) -> FaultKey {
        FaultKey { tgid, region: self.region, dev: self.dev, life, ino: self.ino }
    }

    /// What the fault was, from the task's `min_flt`/`maj_flt` after it: a major or minor
    /// fault with its details, or one the kernel did not count. Shared by the kernel
    /// (the thread's next event) and user space (a fault still open at the end).
    pub const fn outcome(&self, min_flt: u64, maj_flt: u64) -> FaultStat {
        let mut s = FaultStat {
            minor: 0,
            major: 0,
            uncounted: 0,
            user_mode: 0,
            kernel_mode: 0,
            writes: 0,
            around_faults: 0,
            around_pages: 0,
            filled_pages: 0,
            disk_bytes: 0,
        };
        if maj_flt > self.maj0 {
            s.major = 1;
        } else if min_flt > self.min0 {
            s.minor = 1;
        } else {
            s.uncounted = 1;
            return s;
        }
        if self.error_code & FAULT_USER != 0 {
            s.user_mode = 1;
        } else {
            s.kernel_mode = 1;
        }
        s.writes = (self.error_code & FAULT_WRITE != 0) as u64;
        s.around_faults = (self.around_pages > 0) as u64;
        s.around_pages = self.around_pages;
        s.filled_pages = self.filled_pages;
        s.disk_bytes = self.disk_bytes;
        s
    }
}

/// Key of the `FAULTS` map: one process's faults in one kind of region (one file). The
/// process's `life` tells a reused PID apart, so user space can take a dead process's
/// rows out of the map without racing its successor.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FaultKey {
    pub tgid: u32,
    pub region: u32,
    pub dev: u32,
    pub life: u32,
    pub ino: u64,
}

#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FaultStat {
    pub minor: u64,
    pub major: u64,
    /// Exceptions the kernel did not count as a fault (spurious, or retried).
    pub uncounted: u64,
    /// Taken in user mode, or by the kernel on a user address (copy_from_user in write).
    pub user_mode: u64,
    pub kernel_mode: u64,
    pub writes: u64,
    /// Faults that went through fault-around, and the pages it mapped.
    pub around_faults: u64,
    pub around_pages: u64,
    pub filled_pages: u64,
    pub disk_bytes: u64,
}

impl FaultStat {
    pub fn add(&mut self, o: &FaultStat) {
        self.minor += o.minor;
        self.major += o.major;
        self.uncounted += o.uncounted;
        self.user_mode += o.user_mode;
        self.kernel_mode += o.kernel_mode;
        self.writes += o.writes;
        self.around_faults += o.around_faults;
        self.around_pages += o.around_pages;
        self.filled_pages += o.filled_pages;
        self.disk_bytes += o.disk_bytes;
    }
}

/// [`RecordKind::FaultTotals`].
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FaultTotals {
    pub header: Header,
    pub key: FaultKey,
    pub stat: FaultStat,
}

/// [`RecordKind::FileName`]: the name of file (dev, ino). The kernel names a file at its
/// first fault from the dentry tree, so the tracer never reads the target's
/// /proc/PID/maps or map_files during a trace: both take the target's mmap lock and stall
/// it (the tracer showed up as its waker). In kernel form ([`NAME_KERNEL_FORM`]) `path`
/// holds the dentry names leaf first, each NUL-terminated, up to the root of the file's
/// filesystem; user space turns that into the absolute path (adding the mount point) and
/// keeps that form in recordings.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileNameRecord {
    pub header: Header,
    pub ino: u64,
    pub dev: u32,
    /// `NAME_*` bits.
    pub flags: u32,
    pub path: [u8; FILE_NAME_BYTES],
}

pub const FILE_NAME_BYTES: usize = 1024;
/// `path` is dentry names, leaf first, as the kernel walked them.
pub const NAME_KERNEL_FORM: u32 = 1;
/// The file was unlinked (its dentry is unhashed): /proc says " (deleted)".
pub const NAME_DELETED: u32 = 2;
/// The walk stopped before the filesystem's root (a very deep or long path).
pub const NAME_TRUNCATED: u32 = 4;

impl Default for FileNameRecord {
    fn default() -> Self {
        Self { header: Header::default(), ino: 0, dev: 0, flags: 0, path: [0; FILE_NAME_BYTES] }
    }
}

/// Scheduling time accounting of one thread.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SchedTimes {
    /// Last switch-in (0: not seen on a CPU yet) and switch-out.
    pub in_ts: u64,
    pub out_ts: u64,
    /// The kernel's own counters when the thread was first seen on a CPU: task clock
    /// (`se.sum_exec_runtime`), run-queue wait and arrivals (`sched_info.run_delay`,
    /// `.pcount`). Time slices and waits are the counters' growth since: exact even when a
    /// switch event goes missing.
    pub base_exec: u64,
    pub base_delay: u64,
    pub base_pcount: u64,
    /// Runnable since (sched_wakeup / sched_wakeup_new), 0: none pending.
    pub wake_ts: u64,
    /// On-CPU time by the kernel's task clock; off-CPU is wall time off the CPU.
    pub oncpu_ns: u64,
    pub offcpu_ns: u64,
    /// Runnable but waiting for a CPU (preempted, or woken and not yet running).
    pub runq_ns: u64,
    /// Times the thread was switched in.
    pub slices: u64,
    /// The last switch-out left the thread runnable (preempted).
    pub out_runnable: u32,
    /// 1: seen from its fork, when the kernel's counters started at 0 with it, so its
    /// baselines are 0 (a wait before its first run can be booked before that run: when
    /// it is moved to another CPU's queue first).
    pub born: u32,
    /// A wakeup not yet followed by a switch-in: who, and when (sched_waking).
    pub waker: Waker,
    pub waking_ts: u64,
    /// Wakeups by `waker` whose edge the kernel had no memory for yet (a burst of new
    /// edges in one interrupt outran the per-CPU cache of a map that allocates as it
    /// fills): created at the switch-in instead, once the cache is refilled.
    pub unrecorded: u32,
    pub _pad: u32,
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

/// A thread's counters: [`RecordKind::ThreadExit`] or [`RecordKind::ThreadSnapshot`].
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ThreadRecord {
    pub header: Header,
    pub state: ThreadState,
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

/// [`RecordKind::SyscallTotals`]: `index` is the syscall number.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SyscallTotals {
    pub header: Header,
    pub nr: u32,
    pub _pad: u32,
    pub stat: SyscallStat,
}

/// [`RecordKind::PathTotals`]: `path` is a [`Path`] index.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PathTotals {
    pub header: Header,
    pub path: u32,
    pub _pad: u32,
    pub stat: PathStat,
}

/// [`RecordKind::CounterTotal`]: `index` is a [`Counter`].
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CounterTotal {
    pub header: Header,
    pub index: u32,
    pub _pad: u32,
    pub value: u64,
}

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

/// Context switches of target threads by the syscall they were in (per-CPU array
/// `SWITCHES`, index: syscall number, [`USER_MODE`] outside syscalls).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SwitchCount {
    pub voluntary: u64,
    pub involuntary: u64,
}

pub const USER_MODE: u32 = crate::syscalls::SLOTS - 1;

/// [`RecordKind::SwitchTotals`].
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SwitchTotals {
    pub header: Header,
    pub nr: u32,
    pub _pad: u32,
    pub counts: SwitchCount,
}

/// Softirq vectors (include/linux/interrupt.h).
pub const SOFTIRQ_NAMES: [&str; 10] =
    ["HI", "TIMER", "NET_TX", "NET_RX", "BLOCK", "IRQ_POLL", "TASKLET", "SCHED", "HRTIMER", "RCU"];
pub const SOFTIRQ_VECTORS: u32 = 10;
pub const NET_RX: u32 = 3;

/// Per-CPU statistics of one softirq vector (per-CPU array `SOFTIRQS`, index: vector).
/// System-wide, not only the target's.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SoftirqStat {
    pub count: u64,
    pub time_ns: u64,
    /// Raise -> entry: how long a raised softirq waited to run, over `raised` entries.
    pub raise_wait_ns: u64,
    pub raised: u64,
    /// Runs that woke a target thread, their time, and the wakeups.
    pub target_runs: u64,
    pub target_ns: u64,
    pub target_wakeups: u64,
}

/// [`RecordKind::SoftirqTotals`].
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SoftirqTotals {
    pub header: Header,
    pub vector: u32,
    pub cpu: u32,
    pub stat: SoftirqStat,
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

pub const NO_SOFTIRQ: u32 = u32::MAX;

/// File mappings a process made while traced, for telling mmap+write from read+write.
pub const MAX_MAPS: usize = 4;

#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MapRange {
    pub start: u64,
    pub end: u64,
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

/// [`RecordKind::ProcessExit`]: process `header.tgid`, of that `life`, is gone.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ProcessExit {
    pub header: Header,
    pub life: u32,
    pub _pad: u32,
}

/// [`RecordKind::IdleThread`]: a thread that did not run in the traced window.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IdleThread {
    pub header: Header,
    pub comm: [u8; 16],
    /// Its state letter from /proc/PID/task/TID/stat (S, D, T, t, ...).
    pub state: u8,
    pub _pad: [u8; 7],
}

/// A life stamp from the monotonic clock: microseconds, wrapping every ~71 minutes. Two
/// lives of one TID or PID would need to start in the same microsecond, mod 71 minutes,
/// to share one.
pub const fn life_stamp(ktime_ns: u64) -> u32 {
    (ktime_ns / 1000) as u32
}

/// The VMA a thread's last fault was in and what it is, so the next fault in it needs no
/// tree walk: good while the mm's lock sequence (`mm_lock_seq`, bumped by every change to
/// its VMAs) has not moved. Kernels without one walk at every fault: a VMA's struct, its
/// file's and its inode's can all be freed and reused, so no pointer proves it current.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VmaCache {
    /// 1: holds a VMA, looked up at sequence `seq`.
    pub valid: u32,
    pub seq: u32,
    pub start: u64,
    pub end: u64,
    pub ino: u64,
    /// `REGION_*`, and for files their device.
    pub region: u32,
    pub dev: u32,
    pub _pad: u64,
}

/// Maps whose fullness is counted (per-CPU array `MAP_FULL`, index: slot): an entry the
/// kernel could not create is a fact lost, and the remedy depends on the map.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MapSlot {
    Threads = 0,
    Targets = 1,
    WakeEdges = 2,
    Faults = 3,
    Stacks = 4,
    OffCpu = 5,
}

impl MapSlot {
    pub const ALL: [MapSlot; 6] =
        [MapSlot::Threads, MapSlot::Targets, MapSlot::WakeEdges, MapSlot::Faults, MapSlot::Stacks, MapSlot::OffCpu];

    /// The map's name, as `names.rs` has it.
    pub const fn map(self) -> &'static str {
        match self {
            MapSlot::Threads => crate::names::MAP_THREADS,
            MapSlot::Targets => crate::names::MAP_TARGETS,
            MapSlot::WakeEdges => crate::names::MAP_WAKE_EDGES,
            MapSlot::Faults => crate::names::MAP_FAULTS,
            MapSlot::Stacks => crate::names::MAP_STACKS,
            MapSlot::OffCpu => crate::names::MAP_OFFCPU,
        }
    }
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

/// Copy-ledger paths (index of the per-CPU array `LEDGER`); names match `zerocopy --mode`.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Path {
    ReadWrite = 0,
    MmapWrite = 1,
    Sendfile = 2,
    Splice = 3,
    Vmsplice = 4,
    CopyFileRange = 5,
    /// Socket receives: the one CPU copy (skb -> user) every receiver makes.
    Recv = 6,
}

impl Path {
    pub const ALL: [Path; 7] = [
        Path::ReadWrite,
        Path::MmapWrite,
        Path::Sendfile,
        Path::Splice,
        Path::Vmsplice,
        Path::CopyFileRange,
        Path::Recv,
    ];

    pub const fn name(self) -> &'static str {
        match self {
            Path::ReadWrite => "read-write",
            Path::MmapWrite => "mmap-write",
            Path::Sendfile => "sendfile",
            Path::Splice => "splice",
            Path::Vmsplice => "vmsplice",
            Path::CopyFileRange => "copy-file-range",
            Path::Recv => "recv",
        }
    }
}

/// What one path moved (see the kernel's `copies` probe for the rules).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PathStat {
    pub calls: u64,
    /// Bytes delivered to their destination (counted once per payload).
    pub bytes_out: u64,
    /// Bytes brought into user memory.
    pub bytes_in: u64,
    /// Bytes the CPU copied kernel -> user and user -> kernel.
    pub cpu_k2u: u64,
    pub cpu_u2k: u64,
    /// Bytes moved without a user-space copy.
    pub zero_copy: u64,
}

/// Named slots of the per-CPU counter array `COUNTERS`.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Counter {
    /// skb -> user bytes copied in the target's socket receives (skb_copy_datagram_iovec).
    SockCopyBytes = 0,
    /// Block requests the target issued: bytes read / written (disk DMA).
    DiskReadBytes = 1,
    DiskWriteBytes = 2,
    /// Bytes the target handed to a real (non-loopback) network device (NIC DMA).
    NicTxBytes = 3,
    EpollCtlAdd = 4,
    EpollCtlMod = 5,
    EpollCtlDel = 6,
    /// Flags seen in epoll_ctl ADD/MOD.
    EpollFlagEt = 7,
    EpollFlagOneshot = 8,
    EpollFlagExclusive = 9,
    EpollFlagWakeup = 10,
    /// Tracepoint hits of the target counted by the benchmark floor's programs.
    FloorHits = 11,
    /// Stacks the kernel could not capture (`bpf_get_stack` failed: a user stack that
    /// could not be read, e.g. paged out).
    StackKernelFailed = 12,
    StackUserFailed = 13,
}

pub const COUNTERS: u32 = 16;

impl Counter {
    pub const ALL: [Counter; 14] = [
        Counter::SockCopyBytes,
        Counter::DiskReadBytes,
        Counter::DiskWriteBytes,
        Counter::NicTxBytes,
        Counter::EpollCtlAdd,
        Counter::EpollCtlMod,
        Counter::EpollCtlDel,
        Counter::EpollFlagEt,
        Counter::EpollFlagOneshot,
        Counter::EpollFlagExclusive,
        Counter::EpollFlagWakeup,
        Counter::FloorHits,
        Counter::StackKernelFailed,
        Counter::StackUserFailed,
    ];

    pub const fn from_u32(v: u32) -> Option<Self> {
        if (v as usize) < Self::ALL.len() { Some(Self::ALL[v as usize]) } else { None }
    }
}

/// Frames a stack keeps at most (the kernel's PERF_MAX_STACK_DEPTH).
pub const STACK_DEPTH: usize = 127;

/// One stack in `STACKS` (key: its hash, [`stack_hash`]): `len` frames, innermost first.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StackFrames {
    pub len: u32,
    /// 1: user-space addresses.
    pub user: u32,
    pub ips: [u64; STACK_DEPTH],
}

/// FNV-1a over the frames, with the user flag folded in (a kernel and a user stack with
/// the same addresses are different stacks). Never 0: 0 means "no stack".
#[inline(always)]
pub const fn stack_hash_step(h: u64, ip: u64) -> u64 {
    (h ^ ip).wrapping_mul(0x0000_0100_0000_01b3)
}
pub const STACK_HASH_SEED: u64 = 0xcbf2_9ce4_8422_2325;

/// The hash of `ips` as the kernel computes it (user space checks records with it).
pub fn stack_hash(ips: &[u64], user: bool) -> u64 {
    let mut h = stack_hash_step(STACK_HASH_SEED, u64::from(user));
    for &ip in ips {
        h = stack_hash_step(h, ip);
    }
    h.max(1)
}

/// [`RecordKind::StackSeen`]: a new stack in `STACKS`, first captured in process
/// `header.tgid`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StackSeen {
    pub header: Header,
    pub hash: u64,
}

/// Key of `OFFCPU`: a thread, the stacks it blocked in, and the stacks of what woke it
/// (hashes; 0 = not captured), with the waker's kind and id (a task's TID, a softirq's
/// vector, an IRQ number: as in [`Waker`]).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct OffCpuKey {
    pub tgid: u32,
    pub tid: u32,
    pub stacks: ThreadStacks,
}

#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OffCpuStat {
    /// From the switch-out to the next switch-in.
    pub ns: u64,
    pub count: u64,
}

/// [`RecordKind::OffCpuTotals`].
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OffCpuTotals {
    pub header: Header,
    pub key: OffCpuKey,
    pub stat: OffCpuStat,
}

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

/// How a process that execs joins the target set (besides being forked by a target): not
/// at all, by being in a cgroup (or below it), or by its new name.
pub const JOIN_NONE: u32 = 0;
pub const JOIN_CGROUP: u32 = 1;
pub const JOIN_COMM: u32 = 2;

pub const CLONE_THREAD: u64 = 0x0001_0000;

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
