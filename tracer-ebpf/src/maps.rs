//! Maps shared by every probe, and the two ways a fact leaves the kernel: a finished
//! record through the ring buffer, or a counter user space reads at the end.
#![expect(
    clippy::needless_borrows_for_generic_args,
    reason = "aya-ebpf's map methods take `impl Borrow`: a key or value passed by value is copied onto the 512-byte BPF stack, which the probes that inline these calls then exceed (page_fault_kernel, sched_switch, sys_enter); borrowed, it is not copied"
)]
use aya_ebpf::maps::ring_buf::RingBufEntry;
use aya_ebpf::{
    bindings::{BPF_F_NO_PREALLOC, BPF_NOEXIST, BPF_RB_FORCE_WAKEUP, BPF_RB_NO_WAKEUP},
    helpers::{bpf_get_current_pid_tgid, bpf_get_smp_processor_id, bpf_ktime_get_ns},
    macros::map,
    maps::{Array, CgroupArray, HashMap, LruHashMap, PerCpuArray, RingBuf},
};
use tracer_common::{
    record::{
        COUNTERS as COUNTER_SLOTS, Counter, CpuState, FaultKey, FaultStat, Header, MapSlot, NO_SOFTIRQ, OffCpuKey,
        OffCpuStat, Path, PathStat, ProcState, SOFTIRQ_VECTORS, SoftirqStat, StackFrames, SwitchCount, SyscallStat,
        TARGET_BIT_WORDS, ThreadState, WakeEdge, WakeKey, target_bit,
    },
    syscalls,
};

/// What a BPF_NOEXIST insert returns for a key already there.
pub const EEXIST: i32 = 17;
/// What an insert returns when the kernel could not allocate the entry.
pub const ENOMEM: i32 = 12;

/// Default size; user space sets the real one with `EbpfLoader::map_max_entries`.
const RING_BYTES: u32 = 4 << 20;

#[map(name = "EVENTS")]
pub static EVENTS: RingBuf = RingBuf::with_byte_size(RING_BYTES, 0);

/// Runs of each program, per CPU (`names::MAP_HITS`).
#[map(name = "HITS")]
pub static HITS: PerCpuArray<u64> = PerCpuArray::with_max_entries(tracer_common::names::PROGRAMS.len() as u32, 0);

/// Counts one run of the program named `$name`: its first statement, before any filter,
/// so the figure is every run the kernel made of it.
macro_rules! hit {
    ($name:literal) => {
        $crate::maps::count_hit({
            const SLOT: u32 = tracer_common::names::program_slot($name);
            SLOT
        })
    };
}
pub(crate) use hit;

#[inline(always)]
pub fn count_hit(slot: u32) {
    if let Some(c) = HITS.get_ptr_mut(slot) {
        // SAFETY: per-CPU slot; programs do not migrate while running.
        unsafe { *c += 1 };
    }
}

/// Records the ring buffer had no room for.
#[map(name = "LOST")]
pub static LOST: PerCpuArray<u64> = PerCpuArray::with_max_entries(1, 0);

/// Entries a map had no room for, per `MapSlot`; then, from `MapSlot::ALL.len()` on, the
/// entries the kernel could not allocate in time (ENOMEM: a burst of new rows in a map
/// that allocates as it fills outran its per-CPU cache).
#[map(name = "MAP_FULL")]
pub static MAP_FULL: PerCpuArray<u64> = PerCpuArray::with_max_entries(2 * MapSlot::ALL.len() as u32, 0);

/// What a new entry starts as, inserted from read-only memory: built on the stack, these
/// values would take most of its 512 bytes (and an out-of-line memset call, which older
/// verifiers count as a second stack frame).
static FRESH_THREAD: ThreadState = ThreadState::FRESH;
static FRESH_PROC: ProcState =
    ProcState { maps: [tracer_common::record::MapRange { start: 0, end: 0 }; 4], life: 0, _pad: 0 };
pub static ZERO_FAULTS: FaultStat = FaultStat {
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
pub static ZERO_EDGE: WakeEdge = WakeEdge::ZERO;

#[map(name = "TARGETS")]
pub static TARGETS: HashMap<u32, ProcState> = HashMap::with_max_entries(4096, 0);

/// TARGETS as a bitmap (`names::MAP_TARGET_BITS`). Written with atomic adds (5.10 has no
/// atomic or/and): a bit is added only by the insert that created its TARGETS entry and
/// taken away only by the remove that deleted it, so it is never added or taken twice.
#[map(name = "TARGET_BITS")]
pub static TARGET_BITS: Array<u64> = Array::with_max_entries(TARGET_BIT_WORDS, 0);

/// `attach --cgroup`: the cgroup (slot 0) whose processes join the target set at exec.
#[map(name = "CGROUP")]
pub static CGROUP: CgroupArray = CgroupArray::with_max_entries(1, 0);

/// The TID whose next fork is the command of `run` (see `names::MAP_LAUNCHER`).
#[map(name = "LAUNCHER")]
pub static LAUNCHER: Array<u32> = Array::with_max_entries(2, 0);
/// LAUNCHER's slot of the launched command until its exec.
pub const LAUNCHED: u32 = 1;

/// Whether thread `tid` is the command of `run` before its exec.
#[inline(always)]
pub fn launching(tid: u32) -> bool {
    LAUNCHER.get(LAUNCHED).is_some_and(|&l| l == tid)
}

#[map(name = "THREADS")]
pub static THREADS: HashMap<u32, ThreadState> = HashMap::with_max_entries(32768, 0);

#[map(name = "SYSCALLS")]
pub static SYSCALLS: PerCpuArray<SyscallStat> = PerCpuArray::with_max_entries(syscalls::SLOTS, 0);

#[map(name = "LEDGER")]
pub static LEDGER: PerCpuArray<PathStat> = PerCpuArray::with_max_entries(Path::ALL.len() as u32, 0);

#[map(name = "COUNTERS")]
pub static COUNTERS: PerCpuArray<u64> = PerCpuArray::with_max_entries(COUNTER_SLOTS, 0);

/// Sparse and long-tailed (one entry per waker/wakee pair): entries are allocated as
/// they come (BPF_F_NO_PREALLOC), not all at load time. Inserts are rare.
#[map(name = "WAKE_EDGES")]
pub static WAKE_EDGES: HashMap<WakeKey, WakeEdge> = HashMap::with_max_entries(16384, BPF_F_NO_PREALLOC);

#[map(name = "SWITCHES")]
pub static SWITCHES: PerCpuArray<SwitchCount> = PerCpuArray::with_max_entries(syscalls::SLOTS, 0);

#[map(name = "SOFTIRQS")]
pub static SOFTIRQS: PerCpuArray<SoftirqStat> = PerCpuArray::with_max_entries(SOFTIRQ_VECTORS, 0);

/// Like WAKE_EDGES: one entry per process and mapping faulted in, allocated as they come.
#[map(name = "FAULTS")]
pub static FAULTS: HashMap<FaultKey, FaultStat> = HashMap::with_max_entries(16384, BPF_F_NO_PREALLOC);

/// Stacks by hash (`--stacks`), sized by `--max-stacks` (1 entry without `--stacks`).
/// Preallocated: a map that allocates as it fills fails a burst of new kilobyte entries
/// (ENOMEM) in the scheduler's context, where its per-CPU cache cannot be refilled.
#[map(name = "STACKS")]
pub static STACKS: HashMap<u64, StackFrames> = HashMap::with_max_entries(1, 0);

/// Where a stack is captured before it is hashed: 1 KiB, too large for the BPF stack.
#[map(name = "STACK_SCRATCH")]
pub static STACK_SCRATCH: PerCpuArray<StackFrames> = PerCpuArray::with_max_entries(1, 0);

/// Off-CPU time by (thread, blocked stacks, waker stacks) (`--stacks`); preallocated
/// like `STACKS`.
#[map(name = "OFFCPU")]
pub static OFFCPU: HashMap<OffCpuKey, OffCpuStat> = HashMap::with_max_entries(1, 0);

/// The benchmark floor's per-CPU hit count (see `probes::floor`).
#[map(name = "FLOOR")]
pub static FLOOR: PerCpuArray<u64> = PerCpuArray::with_max_entries(1, 0);

#[map(name = "CPU_STATE")]
pub static CPU_STATE: PerCpuArray<CpuState> = PerCpuArray::with_max_entries(1, 0);

/// This CPU's interrupt context. Its first use initialises it (no softirq running).
#[inline(always)]
pub fn cpu_state() -> Option<&'static mut CpuState> {
    // SAFETY: per-CPU slot; programs do not migrate while running.
    let c = unsafe { &mut *CPU_STATE.get_ptr_mut(0)? };
    if c.seq == 0 {
        c.softirq = NO_SOFTIRQ;
        c.seq = 1;
    }
    Some(c)
}

/// Files whose name was sent (key: [ino, dev]); LRU, so a full map re-sends a name
/// rather than losing one.
#[map(name = "NAMED")]
pub static NAMED: LruHashMap<[u64; 2], u8> = LruHashMap::with_max_entries(4096, 0);

/// Which call last fed a pipe (key: the pipe's inode address; value: a `Path`), so the
/// splice that drains it is booked to the vmsplice path when user pages went in.
#[map(name = "PIPE_FEEDERS")]
pub static PIPE_FEEDERS: LruHashMap<u64, u32> = LruHashMap::with_max_entries(4096, 0);

#[inline(always)]
pub fn count(counter: Counter, n: u64) {
    if let Some(c) = COUNTERS.get_ptr_mut(counter as u32) {
        // SAFETY: per-CPU slot.
        unsafe { *c += n };
    }
}

#[inline(always)]
pub fn syscall_stat(nr: u64) -> Option<&'static mut SyscallStat> {
    // SAFETY: per-CPU slot; bounds are checked by the map.
    SYSCALLS.get_ptr_mut(nr as u32).map(|p| unsafe { &mut *p })
}

#[inline(always)]
pub fn ledger(path: u32) -> Option<&'static mut PathStat> {
    // SAFETY: per-CPU slot.
    LEDGER.get_ptr_mut(path).map(|p| unsafe { &mut *p })
}

/// The per-process state of a traced TGID; `None` for everyone else.
#[inline(always)]
pub fn target_state(tgid: u32) -> Option<&'static mut ProcState> {
    if !is_target(tgid) {
        return None;
    }
    // SAFETY: a map value; only threads of that process write it.
    TARGETS.get_ptr_mut(&tgid).map(|p| unsafe { &mut *p })
}

/// The state of the calling thread, if its process is traced: the first test of every
/// hot program, so a bystander pays one bitmap load, not a hash lookup.
#[inline(always)]
pub fn current_thread() -> Option<(u32, &'static mut ThreadState)> {
    let pid_tgid = bpf_get_current_pid_tgid();
    if !is_target((pid_tgid >> 32) as u32) {
        return None;
    }
    let tid = pid_tgid as u32;
    // SAFETY: this thread's own map value.
    THREADS.get_ptr_mut(&tid).map(|t| (tid, unsafe { &mut *t }))
}

/// Counts one record the ring buffer had no room for.
#[inline(always)]
fn count_lost() {
    if let Some(n) = LOST.get_ptr_mut(0) {
        // SAFETY: per-CPU slot, programs do not migrate while running.
        unsafe { *n += 1 };
    }
}

/// Counts one entry `map` could not take; `err` is what the insert returned (ENOMEM is
/// counted apart from a full map: its remedy differs).
#[inline(always)]
pub fn count_full(map: MapSlot, err: Option<i32>) {
    count_full_by(map, err, 1);
}

#[inline(always)]
pub fn count_full_by(map: MapSlot, err: Option<i32>, entries: u64) {
    let slot = if err == Some(-ENOMEM) { map as u32 + MapSlot::ALL.len() as u32 } else { map as u32 };
    if let Some(n) = MAP_FULL.get_ptr_mut(slot) {
        // SAFETY: per-CPU slot.
        unsafe { *n += entries };
    }
}

/// Adds process `tgid` to the target set (a TGID already in it stays as it is).
#[inline(always)]
pub fn add_target(tgid: u32) {
    match TARGETS.insert(&tgid, &FRESH_PROC, u64::from(BPF_NOEXIST)) {
        Ok(()) => {
            flip_bit(tgid, false);
            if let Some(p) = target_state(tgid) {
                p.life = life_now();
            }
        }
        Err(e) if e == -EEXIST => {}
        Err(e) => count_full(MapSlot::Targets, Some(e)),
    }
}

/// Takes process `tgid` out of the target set.
#[inline(always)]
pub fn remove_target(tgid: u32) {
    if TARGETS.remove(&tgid).is_ok() {
        flip_bit(tgid, true);
    }
}

/// Sets (or clears) `tgid`'s bit, known to be clear (set), with an atomic add.
#[inline(always)]
fn flip_bit(tgid: u32, clear: bool) {
    let (word, bit) = target_bit(tgid);
    if let Some(w) = TARGET_BITS.get_ptr_mut(word) {
        let delta = if clear { bit.wrapping_neg() } else { bit };
        // SAFETY: a map value; the result is unused, so this is the plain atomic add
        // (BPF_XADD) every kernel has.
        unsafe { core::intrinsics::atomic_xadd::<u64, u64, { core::intrinsics::AtomicOrdering::Relaxed }>(w, delta) };
    }
}

/// This moment as a life stamp (see `record::life_stamp`).
#[inline(always)]
pub fn life_now() -> u32 {
    // SAFETY: plain helper.
    tracer_common::record::life_stamp(unsafe { bpf_ktime_get_ns() })
}

#[inline(always)]
pub fn is_target(tgid: u32) -> bool {
    let (word, bit) = target_bit(tgid);
    TARGET_BITS.get(word).is_some_and(|w| w & bit != 0)
}

/// The state of thread `tid` of process `tgid`, created on first sight.
#[inline(always)]
pub fn thread_state(tid: u32, tgid: u32) -> Option<&'static mut ThreadState> {
    if let Some(t) = THREADS.get_ptr_mut(&tid) {
        // SAFETY: a map value; only this thread's own events and its wakers write it.
        return Some(unsafe { &mut *t });
    }
    // EEXIST: another CPU created it first, which is as good.
    let err = THREADS.insert(&tid, &FRESH_THREAD, u64::from(BPF_NOEXIST)).err();
    let Some(t) = THREADS.get_ptr_mut(&tid) else {
        count_full(MapSlot::Threads, err);
        return None;
    };
    // SAFETY: as above.
    let t = unsafe { &mut *t };
    t.tgid = tgid;
    t.life = life_now();
    Some(t)
}

pub fn header(kind: u32, tid: u32, tgid: u32) -> Header {
    Header {
        kind,
        // SAFETY: plain helper calls.
        cpu: unsafe { bpf_get_smp_processor_id() },
        tid,
        tgid,
        ts_ns: unsafe { bpf_ktime_get_ns() },
    }
}

/// Room for one record in the ring buffer; counts it as lost when the ring is full. Large
/// records are written in place (the BPF stack is 512 bytes).
#[inline(always)]
pub fn reserve<T: 'static>() -> Option<RingBufEntry<T>> {
    let entry = EVENTS.reserve::<T>(0);
    if entry.is_none() {
        count_lost();
    }
    entry
}

/// Publishes a reserved record, waking the consumer only past the high-water mark.
#[inline(always)]
pub fn submit<T: 'static>(entry: RingBufEntry<T>) {
    entry.submit(u64::from(wakeup_flags()));
}

#[inline(always)]
fn wakeup_flags() -> u32 {
    // SAFETY: a plain static, read volatile so the loader's value is the one used.
    let high_water = unsafe { core::ptr::read_volatile(&raw const crate::globals::WAKEUP_BYTES) };
    if EVENTS.query(0 /* BPF_RB_AVAIL_DATA */) > high_water { BPF_RB_FORCE_WAKEUP } else { BPF_RB_NO_WAKEUP }
}
