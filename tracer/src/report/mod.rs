//! The report: one model (this module), three renderings (table, JSON, CSV) that show the
//! same numbers. JSON keys follow shared/DESIGN.md §5 (schema_version 1).
mod csv;
pub mod folded;
pub mod metrics;
pub mod perfetto;
mod table;

pub use table::{Grid, bytes, duration};

use std::{collections::BTreeMap, io::Write};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::plan::{Coverage, Section};

pub const SCHEMA_VERSION: u32 = 1;

/// One section of the report: traced (its figures), unavailable on this kernel (`null`
/// in JSON; `coverage` says why), or not asked for (`--only`: absent from JSON).
#[derive(Clone, Debug, Default, PartialEq)]
pub enum Part<T> {
    #[default]
    NotTraced,
    Unavailable,
    Traced(T),
}

impl<T> Part<T> {
    pub fn get(&self) -> Option<&T> {
        match self {
            Part::Traced(t) => Some(t),
            _ => None,
        }
    }

    pub fn get_mut(&mut self) -> Option<&mut T> {
        match self {
            Part::Traced(t) => Some(t),
            _ => None,
        }
    }

    pub fn is_not_traced(&self) -> bool {
        matches!(self, Part::NotTraced)
    }
}

impl<T: Serialize> Serialize for Part<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Part::Traced(t) => t.serialize(s),
            _ => s.serialize_none(),
        }
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Part<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Option::<T>::deserialize(d)?.map_or(Part::Unavailable, Part::Traced))
    }
}

/// What the kernel could not keep: records the ring buffer had no room for, and entries
/// a map had no room for (each map has its own remedy).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lost {
    pub ring_buffer: u64,
    pub maps: Vec<MapFull>,
    /// Stacks the kernel could not capture (`--stacks`).
    #[serde(default)]
    pub stack_captures: u64,
    /// Timeline events (`--timeline`) past what the tracer keeps for `--perfetto`:
    /// not in the Perfetto trace (the report's figures do not come from them).
    #[serde(default)]
    pub timeline_events: u64,
}

/// `--stacks`: where the target's threads were off CPU and what woke them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stacks {
    /// Off-CPU time per (thread, where it blocked, what woke it), longest first.
    pub offcpu: Vec<OffCpuRow>,
    /// Captures the kernel could not take (bpf_get_stack failed), kernel and user.
    pub failed_kernel: u64,
    pub failed_user: u64,
    /// Frames nothing could name (shown as `[unknown]`).
    pub unnamed_frames: u64,
    pub notes: Vec<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OffCpuRow {
    pub pid: u32,
    pub tid: u32,
    pub comm: String,
    /// Where it blocked (or was preempted), innermost frame first.
    pub kernel_stack: Vec<String>,
    pub user_stack: Vec<String>,
    /// What woke it, if a wakeup was seen (a preempted thread has none).
    pub waker: Option<WakerStack>,
    /// From switch-out to the next switch-in, summed over `count` times.
    pub off_ns: u64,
    pub count: u64,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WakerStack {
    /// "task", "NET_RX softirq", "timer", ... (as in `wakeups`).
    pub source: String,
    /// A task waker's TID and name.
    pub tid: u32,
    pub comm: Option<String>,
    pub kernel_stack: Vec<String>,
    /// Tasks only: an interrupt runs on no user stack of its own.
    pub user_stack: Vec<String>,
}

/// What tracing cost: the kernel's run-time statistics of the tracer's programs (time
/// spent in them, in the traced tasks' and every other task's context alike) and the
/// tracer process's own CPU time.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Overhead {
    /// Nanoseconds the programs ran and how many runs (every run, the target's or not):
    /// runs are the programs' own exact counts; the time is `null` where the kernel kept
    /// no statistics (`notes` says why). With
    /// `--bpf-stats sampled` the time is each program's runs times its time per run
    /// measured in the statistics windows.
    pub bpf_ns: Option<u64>,
    pub bpf_hits: Option<u64>,
    /// The share of the trace the statistics were on for: 1 = every run timed.
    pub bpf_stats_coverage: Option<f64>,
    /// The tracer process, user and system time, start-up included.
    pub user_cpu_ns: u64,
    /// Per program, costliest first.
    pub programs: Vec<ProgramCost>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProgramCost {
    pub program: String,
    /// `null`: none of its runs fell inside a statistics window.
    pub ns: Option<u64>,
    pub hits: u64,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MapFull {
    pub map: String,
    pub entries_lost: u64,
    /// What to change so it does not happen again.
    pub remedy: String,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    #[default]
    Table,
    Json,
    Csv,
    /// Off-CPU stacks, folded (with `--stacks`): for flamegraph.pl or inferno.
    Folded,
    /// Blocked stacks joined with their wakers', folded (with `--stacks`).
    FoldedOffwake,
}

impl Format {
    /// Whether this format is made of the stacks alone.
    pub fn needs_stacks(self) -> bool {
        matches!(self, Self::Folded | Self::FoldedOffwake)
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub schema_version: u32,
    pub target: TargetInfo,
    /// The kernel traced (`uname -r`).
    #[serde(default)]
    pub kernel: String,
    pub duration_ns: u64,
    /// Facts the kernel could not keep (`lost` says where), summed.
    pub lost_events: u64,
    #[serde(default)]
    pub lost: Lost,
    /// Tracepoint hits the kernel skipped because the same program was already running on
    /// that CPU (an interrupt's wakeup inside a task's): rare, counted, never silent.
    /// `null` where the kernel skips without counting.
    pub missed_events: Option<u64>,
    /// Every figure present counts every event of the window: nothing lost, nothing
    /// (known to be) missed. Figures a kernel cannot give are `null` and named in
    /// `coverage`; they do not make a report incomplete.
    pub complete: bool,
    /// Per section traced: exact, degraded or unavailable on this kernel, and why.
    #[serde(default)]
    pub coverage: BTreeMap<Section, Coverage>,
    /// What else the reader should know (programs the kernel skipped, ...).
    pub notes: Vec<String>,
    #[serde(default)]
    pub overhead: Overhead,
    /// Every syscall the target entered while traced, busiest first.
    #[serde(default, skip_serializing_if = "Part::is_not_traced")]
    pub syscalls: Part<Vec<SyscallRow>>,
    /// User <-> kernel mode transitions: 2 per syscall (what the classic copy tables call
    /// "context switches"; scheduler switches are in `sched`).
    #[serde(default, skip_serializing_if = "Part::is_not_traced")]
    pub mode_switches: Part<u64>,
    #[serde(default, skip_serializing_if = "Part::is_not_traced")]
    pub sched: Part<Sched>,
    #[serde(default, skip_serializing_if = "Part::is_not_traced")]
    pub wakeups: Part<Wakeups>,
    #[serde(default, skip_serializing_if = "Part::is_not_traced")]
    pub epoll: Part<Epoll>,
    #[serde(default, skip_serializing_if = "Part::is_not_traced")]
    pub copies: Part<Copies>,
    #[serde(default, skip_serializing_if = "Part::is_not_traced")]
    pub faults: Part<Faults>,
    #[serde(default, skip_serializing_if = "Part::is_not_traced")]
    pub softirq: Part<Softirq>,
    /// Only with `--stacks`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stacks: Option<Stacks>,
    /// Only with the benchmark's `--probes floor`: the target's tracepoint hits counted.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub floor_hits: u64,
}

fn is_zero(v: &u64) -> bool {
    *v == 0
}

/// Page faults of the target on user addresses: taken in user mode, or by the kernel
/// touching user memory (copy_from_user inside a write() from a mapping).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Faults {
    pub minor: u64,
    pub major: u64,
    /// Exceptions the kernel did not count as a fault (spurious, or retried).
    pub uncounted: u64,
    pub user_mode: u64,
    pub kernel_mode: u64,
    pub writes: u64,
    /// File faults that went through fault-around, and the pages it mapped for them.
    pub around_faults: Option<u64>,
    pub around_pages: Option<u64>,
    /// Page-cache pages the faults filled, and the disk bytes read while they waited.
    pub filled_pages: Option<u64>,
    pub disk_read_bytes: Option<u64>,
    /// File path, [heap], [stack] (the main thread's) or [anon].
    pub by_mapping: Option<Vec<FaultRow>>,
    pub notes: Vec<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaultRow {
    pub mapping: String,
    pub minor: u64,
    pub major: u64,
    pub user_mode: u64,
    pub kernel_mode: u64,
    pub writes: u64,
    pub around_faults: Option<u64>,
    pub around_pages: Option<u64>,
    pub filled_pages: Option<u64>,
    pub disk_bytes: Option<u64>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TargetInfo {
    pub pid: u32,
    pub command: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyscallRow {
    pub name: String,
    /// x86-64 syscall number.
    pub nr: u32,
    /// Calls entered while traced.
    pub count: u64,
    /// Calls that returned -errno.
    pub errors: u64,
    /// Bytes returned by data-moving calls (read/write/send/recv families, sendfile,
    /// splice, tee, vmsplice, copy_file_range).
    pub bytes: u64,
    /// Ready fds (events) returned by readiness calls (epoll_wait, poll, select, ...).
    pub ready: u64,
    /// Time inside the calls that returned while traced (null: `--no-latency`).
    pub total_ns: Option<u64>,
    pub returned: u64,
    /// Log2 latency histogram: calls that took [from_ns, 2 * from_ns) (null:
    /// `--no-latency`).
    pub latency: Option<Vec<LatencyBucket>>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LatencyBucket {
    pub from_ns: u64,
    pub count: u64,
}

/// Scheduler context switches of the target (all threads of all its processes).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sched {
    /// The thread blocked (sleep, I/O wait, lock): `voluntary_ctxt_switches` in /proc.
    pub voluntary: u64,
    /// The thread was preempted or yielded: `nonvoluntary_ctxt_switches` in /proc.
    pub involuntary: u64,
    /// Summed over threads: on a CPU, off it, and runnable but waiting for one
    /// (/proc/PID/task/TID/schedstat fields 1 and 2), and time slices (field 3).
    pub oncpu_ns: u64,
    pub offcpu_ns: u64,
    pub runqueue_ns: u64,
    pub slices: u64,
    /// Every thread of the target (idle ones too), up to the first
    /// `analysis::sched::MAX_EXITED` that exited; the totals above count every thread.
    pub threads: Vec<ThreadRow>,
    /// Exited threads beyond that, folded into one count (their switches are in the
    /// totals).
    #[serde(default)]
    pub threads_folded: u64,
    /// Switches by the syscall the thread was in ("user or fault" outside syscalls:
    /// preempted in user code, or blocked in a page fault).
    pub by_syscall: Vec<SwitchRow>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SwitchRow {
    pub syscall: String,
    pub voluntary: u64,
    pub involuntary: u64,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ThreadRow {
    pub tid: u32,
    pub pid: u32,
    pub comm: String,
    pub voluntary: u64,
    pub involuntary: u64,
    /// The thread exited during the trace (its counters are final).
    pub exited: bool,
    /// It never ran in the traced window: all its counters are 0, and `state` says how it
    /// spent the window (`sleeping`, `disk sleep`, `stopped`, ...).
    #[serde(default)]
    pub idle: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    pub oncpu_ns: u64,
    pub offcpu_ns: u64,
    pub runqueue_ns: u64,
    pub slices: u64,
}

/// Every wakeup of a target thread, by who woke it: a task, a softirq (vector, CPU), a
/// hardirq, the local timer (hrtimers: sleeps and timeouts) or an irq_work.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Wakeups {
    /// sched_waking events for target threads.
    pub count: u64,
    /// Of those, followed by the wakee running (the rest woke a thread that had not gone
    /// to sleep yet).
    pub paired: u64,
    pub by_source: Vec<SourceCount>,
    /// Edges waker -> wakee, busiest first, the first 4096 of them.
    pub edges: Vec<WakeEdgeRow>,
    /// Quieter edges beyond those, not listed (their wakeups are in the totals above).
    #[serde(default)]
    pub edges_folded: u64,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceCount {
    pub source: String,
    pub count: u64,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WakeEdgeRow {
    /// "task", "softirq", "hardirq", "timer", "irq_work".
    pub waker_kind: String,
    /// The kind, softirqs by vector: "task", "NET_RX softirq", "timer", ...
    pub source: String,
    /// Human label: `nginx (4242)`, `NET_RX softirq on CPU 1`, `timer on CPU 0`.
    pub waker: String,
    /// Task wakers: TID and PID; interrupts: 0.
    pub waker_tid: u32,
    pub waker_pid: u32,
    /// Interrupt wakers: the CPU they ran on.
    pub cpu: u32,
    pub wakee_tid: u32,
    pub wakee_pid: u32,
    pub count: u64,
    pub paired: u64,
    /// Wake-to-run latency: total over `paired` wakeups, and its log2 histogram.
    pub latency_ns: u64,
    pub latency: Vec<LatencyBucket>,
}

/// Softirqs, system-wide over the traced window (they serve every process), and the part
/// that woke the target.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Softirq {
    pub vectors: Vec<SoftirqRow>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SoftirqRow {
    /// HI, TIMER, NET_TX, NET_RX, BLOCK, IRQ_POLL, TASKLET, SCHED, HRTIMER, RCU.
    pub name: String,
    pub count: u64,
    pub time_ns: u64,
    /// Raise -> entry wait, summed over `raised` runs.
    pub raise_wait_ns: Option<u64>,
    pub raised: Option<u64>,
    /// Runs that woke a target thread, their time, and the wakeups they made.
    pub target_runs: u64,
    pub target_time_ns: u64,
    pub target_wakeups: u64,
    pub per_cpu: Vec<SoftirqCpu>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SoftirqCpu {
    pub cpu: u32,
    pub count: u64,
    pub time_ns: u64,
}

/// epoll_wait, epoll_pwait and epoll_pwait2 calls of the target.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Epoll {
    pub waits: u64,
    /// Waits in which the thread went to sleep.
    pub blocked_waits: u64,
    pub events_returned: u64,
    /// Waits that returned 0.
    pub timeouts: u64,
    /// Waits that returned -errno; `eintr` of them were interrupted by a signal.
    pub errors: u64,
    pub eintr: u64,
    /// Time inside the waits, and the part of it spent asleep (block -> back on CPU).
    pub wait_ns: u64,
    pub blocked_ns: u64,
    /// Waits by events returned (exact below 16, then power-of-two ranges).
    pub events_hist: Vec<EventsBucket>,
    pub by_epfd: Vec<EpollFd>,
    /// Waits on epoll fds beyond the 4096 busiest (of processes that came and went over a
    /// long trace), which are not listed: with the listed rows they add up to `waits`.
    #[serde(default)]
    pub by_epfd_folded_waits: u64,
    pub ctl: EpollCtl,
    /// Blocked waits by who woke them ("none": no wakeup seen, e.g. a signal).
    pub wakeups_by_source: Vec<SourceCount>,
    /// Blocked waits by the socket whose data arrival woke them (`socket:[inode]`, as
    /// /proc/PID/fd shows it), busiest first.
    pub wakeups_by_socket: Option<Vec<SourceCount>>,
    /// Blocked waits woken once that returned more than one event.
    pub harvested_several: u64,
    /// Wakeup -> back on a CPU, for blocked waits: total and log2 histogram.
    pub wake_to_run_ns: u64,
    pub wake_to_run: Vec<LatencyBucket>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventsBucket {
    pub events_min: u64,
    pub events_max: u64,
    pub waits: u64,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EpollFd {
    pub pid: u32,
    pub epfd: i32,
    pub waits: u64,
    pub blocked_waits: u64,
    pub events_returned: u64,
    pub timeouts: u64,
}

/// epoll_ctl operations, and how many ADD/MOD asked for each flag.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EpollCtl {
    pub add: u64,
    pub modify: u64,
    pub delete: u64,
    pub edge_triggered: u64,
    pub oneshot: u64,
    pub exclusive: u64,
    pub wakeup: u64,
}

/// Bytes the CPU copied between user and kernel memory, bytes moved without that copy,
/// and per data path the textbook model beside what the kernel showed.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Copies {
    pub cpu_copy_bytes: u64,
    pub zero_copy_bytes: u64,
    /// Measured by the kernel: skb -> user bytes in socket receives.
    pub socket_copy_bytes: Option<u64>,
    /// Measured: block I/O the target issued (disk DMA), and bytes sent through real NICs.
    pub disk_read_bytes: Option<u64>,
    pub disk_write_bytes: Option<u64>,
    pub nic_tx_bytes: Option<u64>,
    pub paths: Vec<PathRow>,
    /// Where the model and this kernel disagree.
    pub notes: Vec<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PathRow {
    /// read-write, mmap-write, sendfile, splice, vmsplice, copy-file-range, recv.
    pub path: String,
    pub calls: u64,
    /// Bytes delivered (for recv: received), each payload once.
    pub bytes: u64,
    pub bytes_in: u64,
    /// Measured: 2 per call.
    pub mode_switches: u64,
    /// The textbook model, per transfer: mode switches, CPU copies, DMA copies.
    pub model_mode_switches: u64,
    pub cpu_copies: u64,
    pub dma_copies: u64,
    /// Measured: bytes the CPU copied between user and kernel memory on this path, and
    /// bytes that moved without such a copy.
    pub cpu_copied_bytes: u64,
    pub zero_copy_bytes: u64,
    pub note: String,
}

/// The CSV rendering split into its sections: (name, CSV text) pairs.
pub fn csv_sections(report: &Report) -> std::io::Result<Vec<(String, Vec<u8>)>> {
    csv::sections(report)
}

pub fn render(report: &Report, format: Format, out: &mut dyn Write) -> std::io::Result<()> {
    match format {
        Format::Table => writeln!(out, "{}", table::render(report)),
        Format::Json => {
            serde_json::to_writer_pretty(&mut *out, report)?;
            writeln!(out)
        }
        Format::Csv => csv::render(report, out),
        Format::Folded | Format::FoldedOffwake => {
            let graph = if format == Format::Folded { folded::Graph::OffCpu } else { folded::Graph::OffWake };
            folded::render(report.stacks.as_ref().ok_or_else(no_stacks)?, graph, out)
        }
    }
}

/// A folded view or a flame graph of a trace taken without `--stacks`.
pub fn no_stacks() -> std::io::Error {
    std::io::Error::other("this trace has no stacks: trace with --stacks")
}

#[cfg(test)]
pub(crate) fn sample() -> Report {
    Report {
        schema_version: SCHEMA_VERSION,
        target: TargetInfo { pid: 4242, command: "sched-child --sleeps 3".into() },
        duration_ns: 1_523_000_000,
        lost_events: 0,
        missed_events: Some(0),
        complete: true,
        kernel: "6.18.0".into(),
        lost: Lost::default(),
        coverage: Section::ALL.iter().map(|&s| (s, Coverage::default())).collect(),
        notes: vec!["NIC DMA not measured: example".into()],
        stacks: None,
        overhead: Overhead {
            bpf_ns: Some(2_400_000),
            bpf_hits: Some(20_000),
            bpf_stats_coverage: Some(0.1),
            user_cpu_ns: 95_000_000,
            programs: vec![
                ProgramCost { program: "sys_enter".into(), ns: Some(1_500_000), hits: 10_000 },
                ProgramCost { program: "sys_exit".into(), ns: Some(900_000), hits: 10_000 },
                ProgramCost { program: "tcp_probe".into(), ns: None, hits: 3 },
            ],
        },
        syscalls: Part::Traced(vec![
            SyscallRow {
                name: "write".into(),
                nr: 1,
                count: 512,
                errors: 0,
                bytes: 33_554_432,
                ready: 0,
                total_ns: Some(9_000_000),
                returned: 512,
                latency: Some(vec![
                    LatencyBucket { from_ns: 8192, count: 500 },
                    LatencyBucket { from_ns: 65536, count: 12 },
                ]),
            },
            SyscallRow {
                name: "epoll_wait".into(),
                nr: 232,
                count: 3,
                errors: 1,
                returned: 3,
                ..SyscallRow::default()
            },
        ]),
        mode_switches: Part::Traced(1030),
        sched: Part::Traced(Sched {
            voluntary: 305,
            involuntary: 121,
            threads: vec![
                ThreadRow {
                    tid: 4242,
                    pid: 4242,
                    comm: "sched-child".into(),
                    voluntary: 300,
                    involuntary: 1,
                    exited: false,
                    idle: false,
                    state: None,
                    oncpu_ns: 1_000_000,
                    offcpu_ns: 2_000_000,
                    runqueue_ns: 50_000,
                    slices: 301,
                },
                ThreadRow {
                    tid: 4243,
                    pid: 4242,
                    comm: "spin, \"0\"".into(),
                    voluntary: 5,
                    involuntary: 120,
                    exited: true,
                    idle: false,
                    state: None,
                    oncpu_ns: 900_000_000,
                    offcpu_ns: 400_000_000,
                    runqueue_ns: 390_000_000,
                    slices: 125,
                },
            ],
            oncpu_ns: 901_000_000,
            offcpu_ns: 402_000_000,
            runqueue_ns: 390_050_000,
            slices: 426,
            threads_folded: 0,
            by_syscall: vec![
                SwitchRow { syscall: "clock_nanosleep".into(), voluntary: 300, involuntary: 0 },
                SwitchRow { syscall: "user or fault".into(), voluntary: 0, involuntary: 121 },
            ],
        }),
        wakeups: Part::Traced(Wakeups {
            count: 310,
            paired: 305,
            by_source: vec![
                SourceCount { source: "timer".into(), count: 300 },
                SourceCount { source: "task".into(), count: 10 },
            ],
            edges: vec![WakeEdgeRow {
                waker_kind: "timer".into(),
                source: "timer".into(),
                waker: "timer on CPU 1".into(),
                cpu: 1,
                wakee_tid: 4242,
                wakee_pid: 4242,
                count: 300,
                paired: 300,
                latency_ns: 3_000_000,
                latency: vec![LatencyBucket { from_ns: 8192, count: 300 }],
                ..WakeEdgeRow::default()
            }],
            edges_folded: 0,
        }),
        epoll: Part::Traced(Epoll {
            waits: 3,
            blocked_waits: 2,
            events_returned: 4,
            timeouts: 1,
            errors: 1,
            eintr: 1,
            wait_ns: 3000,
            blocked_ns: 2000,
            events_hist: vec![
                EventsBucket { events_min: 0, events_max: 0, waits: 1 },
                EventsBucket { events_min: 4, events_max: 4, waits: 1 },
            ],
            by_epfd: vec![EpollFd { pid: 4242, epfd: 5, waits: 3, blocked_waits: 2, events_returned: 4, timeouts: 1 }],
            by_epfd_folded_waits: 0,
            ctl: EpollCtl { add: 2, modify: 1, delete: 1, edge_triggered: 2, ..EpollCtl::default() },
            wakeups_by_source: vec![
                SourceCount { source: "NET_RX softirq".into(), count: 1 },
                SourceCount { source: "timer".into(), count: 1 },
            ],
            wakeups_by_socket: Some(vec![SourceCount { source: "socket:[4711]".into(), count: 1 }]),
            harvested_several: 1,
            wake_to_run_ns: 9000,
            wake_to_run: vec![LatencyBucket { from_ns: 4096, count: 2 }],
        }),
        copies: Part::Traced(Copies {
            cpu_copy_bytes: 33_554_432,
            zero_copy_bytes: 0,
            socket_copy_bytes: Some(0),
            paths: vec![PathRow {
                path: "read-write".into(),
                calls: 1024,
                bytes: 16_777_216,
                bytes_in: 16_777_216,
                mode_switches: 2048,
                model_mode_switches: 4,
                cpu_copies: 2,
                dma_copies: 2,
                cpu_copied_bytes: 33_554_432,
                zero_copy_bytes: 0,
                note: "model note".into(),
            }],
            notes: vec!["no NIC DMA measured".into()],
            ..Copies::default()
        }),
        faults: Part::Traced(Faults {
            minor: 260,
            major: 1,
            user_mode: 5,
            kernel_mode: 256,
            around_faults: Some(255),
            around_pages: Some(4080),
            filled_pages: Some(4096),
            disk_read_bytes: Some(16_777_216),
            by_mapping: Some(vec![FaultRow {
                mapping: "/tmp/zerocopy-1.src".into(),
                minor: 255,
                major: 1,
                kernel_mode: 256,
                around_faults: Some(255),
                around_pages: Some(4080),
                filled_pages: Some(4096),
                disk_bytes: Some(16_777_216),
                ..FaultRow::default()
            }]),
            notes: vec!["fault-around: 255 file faults".into()],
            ..Faults::default()
        }),
        softirq: Part::Traced(Softirq {
            vectors: vec![SoftirqRow {
                name: "NET_RX".into(),
                count: 100,
                time_ns: 2_000_000,
                raise_wait_ns: Some(50_000),
                raised: Some(100),
                target_runs: 40,
                target_time_ns: 900_000,
                target_wakeups: 40,
                per_cpu: vec![
                    SoftirqCpu { cpu: 0, count: 60, time_ns: 1_200_000 },
                    SoftirqCpu { cpu: 1, count: 40, time_ns: 800_000 },
                ],
            }],
        }),
        floor_hits: 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_has_the_contract_keys() {
        let mut out = Vec::new();
        render(&sample(), Format::Json, &mut out).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        for ptr in [
            "/schema_version",
            "/target/pid",
            "/target/command",
            "/duration_ns",
            "/lost_events",
            "/complete",
            "/sched/voluntary",
            "/sched/involuntary",
            "/sched/threads/0/tid",
            "/sched/threads/0/comm",
            "/sched/threads/0/voluntary",
            "/sched/threads/0/involuntary",
            "/syscalls/0/name",
            "/syscalls/0/count",
            "/syscalls/0/errors",
            "/syscalls/0/bytes",
            "/syscalls/0/total_ns",
            "/mode_switches",
            "/epoll/waits",
            "/epoll/blocked_waits",
            "/epoll/events_returned",
            "/epoll/timeouts",
            "/copies/cpu_copy_bytes",
            "/copies/zero_copy_bytes",
            "/copies/paths/0/path",
            "/copies/paths/0/calls",
            "/copies/paths/0/bytes",
            "/copies/paths/0/mode_switches",
            "/copies/paths/0/cpu_copies",
            "/copies/paths/0/dma_copies",
            "/sched/offcpu_ns",
            "/sched/runqueue_ns",
            "/epoll/wakeups_by_source/0/source",
            "/epoll/wakeups_by_source/0/count",
            "/faults/minor",
            "/faults/major",
            "/faults/by_mapping/0/mapping",
            "/faults/by_mapping/0/minor",
            "/faults/by_mapping/0/major",
            "/softirq/vectors/0/name",
            "/softirq/vectors/0/count",
            "/softirq/vectors/0/time_ns",
        ] {
            assert!(v.pointer(ptr).is_some(), "missing {ptr}");
        }
        assert_eq!(v["sched"]["voluntary"], 305);
        let back: Report = serde_json::from_value(v).unwrap();
        assert_eq!(back, sample());
    }

    #[test]
    fn sections_not_traced_are_absent_and_unavailable_ones_null() {
        let mut r = sample();
        (r.faults, r.softirq) = (Part::NotTraced, Part::Unavailable);
        r.copies.get_mut().unwrap().disk_read_bytes = None;
        let v = serde_json::to_value(&r).unwrap();
        assert!(v.get("faults").is_none(), "not asked for: absent");
        assert!(v["softirq"].is_null(), "unavailable here: null");
        assert!(v["copies"]["disk_read_bytes"].is_null() && v["copies"]["socket_copy_bytes"] == 0);
        let back: Report = serde_json::from_value(v).unwrap();
        assert_eq!(back, r, "and they read back as they were");
    }
}
