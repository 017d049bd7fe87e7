//! Loading, configuring and attaching the kernel programs, and taking them down again.
//!
//! What to load comes from the probe plan (`plan.rs`), resolved against this kernel's
//! BTF. Detaching is dropping: every link and program belongs to the [`aya::Ebpf`] held
//! here, and aya detaches and unloads them on drop (nothing is pinned), so an error path,
//! a Ctrl-C or a panic leaves nothing attached.
use std::{
    collections::{BTreeMap, HashSet},
    fs,
    os::fd::{AsFd, AsRawFd},
};

use anyhow::{Context, Result, bail};
use aya::{
    Ebpf, EbpfLoader, VerifierLogLevel,
    maps::{Array, CgroupArray, HashMap, MapData, PerCpuArray, RingBuf},
    programs::{BtfTracePoint, ProgramError},
};
use tracer_common::{
    names::*,
    record::{
        COUNTERS, Counter, CounterTotal, FaultKey, FaultStat, FaultTotals, Header, IdleThread, JOIN_CGROUP, JOIN_COMM,
        JOIN_NONE, MapSlot, OffCpuKey, OffCpuStat, OffCpuTotals, Path as CopyPath, PathStat, PathTotals, ProcState,
        RecordKind, SOFTIRQ_VECTORS, SoftirqStat, SoftirqTotals, StackFrames, SwitchCount, SwitchTotals, SyscallStat,
        SyscallTotals, ThreadRecord, ThreadState, WakeEdge, WakeEdgeTotals, WakeKey, target_bit,
    },
    syscalls,
};

use crate::{
    btf::Btf,
    cost::{Costs, StatsMode, Summary, fdinfo_field},
    decode::{encode, snapshot_header},
    plan::{self, Plan},
    sections::Section,
};

/// The eBPF object, built by build.rs and embedded so the binary needs no source tree.
static OBJECT: &[u8] = aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/tracer.bpf.o"));

pub struct Options<'a> {
    /// Processes traced from the start (`attach`).
    pub targets: Vec<u32>,
    /// How other processes join the target set as they exec (`attach --cgroup/--comm`).
    pub join: Join,
    /// The thread that will fork the command of `run` (its child becomes a target at
    /// birth), or 0.
    pub launcher_tid: u32,
    pub settings: &'a Settings,
}

/// How a process joins the target set at its exec, besides being forked by a target.
#[derive(Debug, Default)]
pub enum Join {
    #[default]
    None,
    /// Being in this cgroup (v2) or below it: the directory, open.
    Cgroup(fs::File),
    /// Having this name (`comm`, at most 15 bytes).
    Comm(String),
}

impl Join {
    fn kind(&self) -> u32 {
        match self {
            Self::None => JOIN_NONE,
            Self::Cgroup(_) => JOIN_CGROUP,
            Self::Comm(_) => JOIN_COMM,
        }
    }

    /// The name as the kernel holds it: NUL-padded to 16 bytes.
    fn comm(&self) -> [u64; 2] {
        let mut bytes = [0u8; 16];
        if let Self::Comm(name) = self {
            let n = name.len().min(15);
            bytes[..n].copy_from_slice(&name.as_bytes()[..n]);
        }
        [u64::from_ne_bytes(bytes[..8].try_into().unwrap()), u64::from_ne_bytes(bytes[8..].try_into().unwrap())]
    }
}

/// How to trace, whatever the target.
#[derive(Clone, Debug)]
pub struct Settings {
    pub ring_bytes: u32,
    /// The report sections to trace: only their programs are attached.
    pub sections: Vec<Section>,
    /// The benchmark floor: on the same tracepoints, a filter and a per-CPU count only.
    pub floor: bool,
    /// Print the verifier's whole log when it refuses a program.
    pub verbose: bool,
    /// Sizes of the kernel's per-thread and per-process maps.
    pub max_threads: u32,
    pub max_processes: u32,
    /// When the kernel's run-time statistics of the programs are on.
    pub bpf_stats: StatsMode,
    /// Capture where threads block and what wakes them (`--stacks`), and how many
    /// distinct stacks the kernel keeps.
    pub stacks: bool,
    pub max_stacks: u32,
    /// Stream timeline events (`--perfetto`).
    pub timeline: bool,
    /// Each syscall's time (off: `--no-latency`, one program per call instead of two).
    pub latency: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            ring_bytes: 4 << 20,
            sections: Section::ALL.to_vec(),
            floor: false,
            verbose: false,
            max_threads: 32768,
            max_processes: 8192,
            bpf_stats: StatsMode::Sampled,
            stacks: false,
            max_stacks: 8192,
            timeline: false,
            latency: true,
        }
    }
}

/// Wake edges kept per thread, and fault rows per process, when sizing their maps (both
/// are allocated as they fill, so room costs nothing until used), and at least this many
/// of each: a burst of short processes books all its rows before the next sweep.
const EDGES_PER_THREAD: u32 = 4;
const FAULT_ROWS_PER_PROCESS: u32 = 32;
const MIN_ROWS: u32 = 1 << 16;
/// Why an entry of a map that allocates as it fills can be refused with room to spare.
const ALLOC_REMEDY: &str = "the kernel had no memory ready for new entries (a burst of them outran its per-CPU cache, which it refills in the background): not a size limit; rare, retrying usually does not see it";

/// Off-CPU rows per stack of `--max-stacks`: a stack is met with a few wakers.
const OFFCPU_PER_STACK: u32 = 4;

/// Loaded and attached programs plus the maps user space reads.
pub struct Session {
    ebpf: Option<Ebpf>,
    /// Kept open: programs are relocated against their fds when they load.
    _targets: HashMap<MapData, u32, ProcState>,
    _target_bits: Array<MapData, u64>,
    _launcher: Array<MapData, u32>,
    /// Kept open: the programs, loaded later, refer to it.
    _cgroup: Option<CgroupArray<MapData>>,
    threads: HashMap<MapData, u32, ThreadState>,
    lost: PerCpuArray<MapData, u64>,
    map_full: PerCpuArray<MapData, u64>,
    syscalls: PerCpuArray<MapData, SyscallStat>,
    ledger: PerCpuArray<MapData, PathStat>,
    counters: PerCpuArray<MapData, u64>,
    wake_edges: HashMap<MapData, WakeKey, WakeEdge>,
    switches: PerCpuArray<MapData, SwitchCount>,
    softirqs: PerCpuArray<MapData, SoftirqStat>,
    faults: HashMap<MapData, FaultKey, FaultStat>,
    floor: PerCpuArray<MapData, u64>,
    stacks: HashMap<MapData, u64, StackFrames>,
    offcpu: HashMap<MapData, OffCpuKey, OffCpuStat>,
    /// What this kernel can and cannot measure, and what was attached.
    pub plan: Plan,
    max_threads: u32,
    max_processes: u32,
    max_stacks: u32,
    /// The kernel's run-time statistics of the programs, sampled.
    costs: Costs,
    /// What the programs said when they were unloaded.
    final_programs: Vec<ProgramStats>,
    final_costs: Option<Summary>,
    hits: PerCpuArray<MapData, u64>,
}

impl Session {
    /// Loads, configures and attaches everything; returns the session and the ring buffer
    /// its records arrive on.
    pub fn start(opts: &Options<'_>) -> Result<(Self, RingBuf<MapData>)> {
        let settings = opts.settings;
        if settings.stacks && !settings.sections.contains(&Section::Sched) {
            bail!("--stacks captures stacks at context switches: add sched to --only");
        }
        check_privileges()?;
        let btf = Btf::from_sys_fs()?;
        let ask = plan::Ask { sections: &settings.sections, latency: settings.latency, timeline: settings.timeline };
        let plan = plan::plan(&btf, &plan::kernel_release(), &ask)?;
        // Past a quarter of the ring the kernel wakes the reader rather than wait for its
        // next poll: a small ring cannot hold a poll interval's worth of records.
        let wakeup_bytes = u64::from(settings.ring_bytes / 4);
        let stacks_on = u32::from(settings.stacks);
        let timeline_on = u32::from(settings.timeline);
        let (join, join_comm) = (opts.join.kind(), opts.join.comm());
        let mut ebpf = EbpfLoader::new()
            .override_global(GLOBAL_OFFSETS, &plan.offsets, true)
            .override_global(GLOBAL_FEATURES, &plan.features, true)
            .override_global(GLOBAL_WAKEUP_BYTES, &wakeup_bytes, true)
            .override_global(GLOBAL_STACKS, &stacks_on, true)
            .override_global(GLOBAL_TIMELINE, &timeline_on, true)
            .override_global(GLOBAL_JOIN, &join, true)
            .override_global(GLOBAL_JOIN_COMM, &join_comm, true)
            // Preallocated: room only when stacks are captured.
            .map_max_entries(MAP_STACKS, if settings.stacks { settings.max_stacks } else { 1 })
            .map_max_entries(MAP_OFFCPU, if settings.stacks { offcpu_rows(settings.max_stacks) } else { 1 })
            .map_max_entries(MAP_EVENTS, settings.ring_bytes)
            .map_max_entries(MAP_THREADS, settings.max_threads)
            .map_max_entries(MAP_WAKE_EDGES, edge_rows(settings.max_threads))
            .map_max_entries(MAP_TARGETS, settings.max_processes)
            .map_max_entries(MAP_FAULTS, fault_rows(settings.max_processes))
            .verifier_log_level(VerifierLogLevel::DEBUG)
            .load(OBJECT)
            .map_err(|e| explain_eperm(anyhow::Error::new(e).context("loading the eBPF object failed")))?;
        let mut targets: HashMap<_, u32, ProcState> = HashMap::try_from(take(&mut ebpf, MAP_TARGETS)?)?;
        // Before any program is attached: nothing else writes the bitmap yet.
        let mut bits: Array<_, u64> = Array::try_from(take(&mut ebpf, MAP_TARGET_BITS)?)?;
        for &pid in &opts.targets {
            targets
                .insert(pid, ProcState::default(), 0)
                .with_context(|| format!("adding PID {pid} to the target set"))?;
            let (word, bit) = target_bit(pid);
            let was = bits.get(&word, 0)?;
            bits.set(word, was | bit, 0).with_context(|| format!("adding PID {pid} to the target bitmap"))?;
        }
        let cgroup = match &opts.join {
            Join::Cgroup(dir) => {
                let mut cgroup = CgroupArray::try_from(take(&mut ebpf, MAP_CGROUP)?)?;
                cgroup.set(0, AsFd::as_fd(dir), 0).context("setting the cgroup to trace")?;
                Some(cgroup)
            }
            _ => None,
        };
        let mut launcher: Array<_, u32> = Array::try_from(take(&mut ebpf, MAP_LAUNCHER)?)?;
        launcher.set(0, opts.launcher_tid, 0).context("arming the launcher slot")?;
        let ring = RingBuf::try_from(take(&mut ebpf, MAP_EVENTS)?)?;
        let mut session = Self {
            _targets: targets,
            _target_bits: bits,
            _launcher: launcher,
            _cgroup: cgroup,
            threads: HashMap::try_from(take(&mut ebpf, MAP_THREADS)?)?,
            lost: PerCpuArray::try_from(take(&mut ebpf, MAP_LOST)?)?,
            map_full: PerCpuArray::try_from(take(&mut ebpf, MAP_FULL)?)?,
            syscalls: PerCpuArray::try_from(take(&mut ebpf, MAP_SYSCALLS)?)?,
            ledger: PerCpuArray::try_from(take(&mut ebpf, MAP_LEDGER)?)?,
            counters: PerCpuArray::try_from(take(&mut ebpf, MAP_COUNTERS)?)?,
            wake_edges: HashMap::try_from(take(&mut ebpf, MAP_WAKE_EDGES)?)?,
            switches: PerCpuArray::try_from(take(&mut ebpf, MAP_SWITCHES)?)?,
            softirqs: PerCpuArray::try_from(take(&mut ebpf, MAP_SOFTIRQS)?)?,
            faults: HashMap::try_from(take(&mut ebpf, MAP_FAULTS)?)?,
            floor: PerCpuArray::try_from(take(&mut ebpf, MAP_FLOOR)?)?,
            stacks: HashMap::try_from(take(&mut ebpf, MAP_STACKS)?)?,
            offcpu: HashMap::try_from(take(&mut ebpf, MAP_OFFCPU)?)?,
            ebpf: None,
            plan,
            max_threads: settings.max_threads,
            max_processes: settings.max_processes,
            max_stacks: settings.max_stacks,
            // The floor's programs do not count their runs.
            costs: Costs::new(if settings.floor { StatsMode::Off } else { settings.bpf_stats }),
            hits: PerCpuArray::try_from(take(&mut ebpf, MAP_HITS)?)?,
            final_programs: Vec::new(),
            final_costs: None,
        };
        let btf = aya::Btf::from_sys_fs().context("reading the kernel's BTF (/sys/kernel/btf/vmlinux)")?;
        for &(program, tracepoint) in &session.plan.programs {
            // Following forks and exits keeps the target set right; it is no per-event
            // cost, so the floor keeps the real programs for it.
            let floor = format!("floor_{program}");
            let lifecycle = [PROG_TASK_NEWTASK, PROG_PROCESS_EXIT, PROG_PROCESS_EXEC].contains(&program);
            let prog = if settings.floor && !lifecycle { floor.as_str() } else { program };
            attach(&mut ebpf, &btf, prog, tracepoint, &session.plan.kernel, settings.verbose)?;
        }
        let programs = ebpf
            .programs()
            .filter_map(|(name, p)| Some((name.to_owned(), p.fd().ok()?.as_fd().try_clone_to_owned().ok()?)));
        session.costs.start(programs.collect());
        session.ebpf = Some(ebpf);
        Ok((session, ring))
    }

    /// Detaches and unloads every program; the maps stay readable, and so do the
    /// programs' final statistics ([`Session::programs`], [`Session::costs`]).
    pub fn detach(&mut self) {
        self.costs.stop();
        self.final_costs = Some(self.costs.estimate(&self.hits()));
        self.final_programs = self.programs();
        self.ebpf = None;
    }

    /// Each program's runs and time over the trace (time estimated from the statistics
    /// windows) and the share of the trace the windows covered; no times if the kernel
    /// kept no statistics (`costs_unavailable` says why). None before the programs load.
    pub fn costs(&self) -> Option<Summary> {
        if self.ebpf.is_none() {
            return self.final_costs.clone();
        }
        Some(self.costs.estimate(&self.hits()))
    }

    pub fn costs_unavailable(&self) -> Option<String> {
        self.costs.unavailable()
    }

    /// Runs of each loaded program, as the programs counted them.
    fn hits(&self) -> BTreeMap<String, u64> {
        let Some(ebpf) = &self.ebpf else { return BTreeMap::new() };
        ebpf.programs()
            .filter(|(_, p)| p.fd().is_ok())
            .filter_map(|(name, _)| {
                let slot = PROGRAMS.iter().position(|p| *p == name)? as u32;
                Some((name.to_owned(), self.hits.get(&slot, 0).ok()?.iter().sum()))
            })
            .collect()
    }

    /// Each loaded program and the runs the kernel skipped: a tracepoint hit while the
    /// same program was already running on that CPU (a wakeup from an interrupt that
    /// landed inside a task-context wakeup) is not run again, only counted.
    pub fn programs(&self) -> Vec<ProgramStats> {
        let Some(ebpf) = &self.ebpf else { return self.final_programs.clone() };
        loaded(ebpf)
            .map(|(name, info)| ProgramStats { name: name.to_owned(), misses: fdinfo_field(&info, "recursion_misses") })
            .collect()
    }

    /// Hits the kernel skipped, summed over programs; None where it skips without
    /// counting. Kernels that do not count misses (before 5.12) do not skip BTF
    /// tracepoint runs either: programs then nest instead, and nothing is missed.
    pub fn missed(&self, programs: &[ProgramStats]) -> Option<u64> {
        let known = programs.iter().all(|p| p.misses.is_some());
        (known || !self.plan.kernel_skips).then(|| programs.iter().filter_map(|p| p.misses).sum())
    }

    /// Records the ring buffer had no room for, summed over CPUs.
    pub fn lost(&self) -> Result<u64> {
        Ok(self.lost.get(&0, 0)?.iter().sum())
    }

    /// Entries each map had no room for, summed over CPUs (maps that overflowed only).
    /// Entries each map could not take, with what to change: (map, count, remedy), the
    /// maps that overflowed and those whose entries the kernel could not allocate.
    pub fn map_full(&self) -> Result<Vec<(MapSlot, u64, String)>> {
        let mut out = Vec::new();
        for slot in MapSlot::ALL {
            let full: u64 = self.map_full.get(&(slot as u32), 0)?.iter().sum();
            if full > 0 {
                out.push((slot, full, self.remedy(slot)));
            }
            let alloc: u64 = self.map_full.get(&(slot as u32 + MapSlot::ALL.len() as u32), 0)?.iter().sum();
            if alloc > 0 {
                out.push((slot, alloc, ALLOC_REMEDY.to_owned()));
            }
        }
        Ok(out)
    }

    /// Takes the rows of threads and processes that are gone out of the kernel's maps
    /// (their wake edges, off-CPU stacks and fault rows) and returns them as records: over
    /// a long trace the maps then hold the living only. Wake edges and fault rows are keyed
    /// with their thread's or process's life, so a reused TID or PID never loses a count to
    /// this; off-CPU rows are keyed by TID alone, so a TID reused since is swept too, which
    /// moves its rows into the stream early, never loses them.
    pub fn sweep(&mut self, threads: &HashSet<(u32, u32)>, procs: &HashSet<(u32, u32)>) -> Result<Vec<Vec<u8>>> {
        let mut out = Vec::new();
        if !threads.is_empty() {
            take_rows(
                &mut self.wake_edges,
                |k| threads.contains(&(k.wakee, k.life)),
                |key, edge| WakeEdgeTotals { header: snapshot_header(RecordKind::WakeEdgeTotals), key, edge },
                &mut out,
            );
            let tids: HashSet<u32> = threads.iter().map(|&(tid, _)| tid).collect();
            take_rows(
                &mut self.offcpu,
                |k| tids.contains(&k.tid),
                |key, stat| OffCpuTotals { header: snapshot_header(RecordKind::OffCpuTotals), key, stat },
                &mut out,
            );
        }
        if !procs.is_empty() {
            take_rows(
                &mut self.faults,
                |k| procs.contains(&(k.tgid, k.life)),
                |key, stat| FaultTotals { header: snapshot_header(RecordKind::FaultTotals), key, stat },
                &mut out,
            );
        }
        Ok(out)
    }

    /// What to change so `map` does not overflow again.
    fn remedy(&self, map: MapSlot) -> String {
        let (threads, procs) = (self.max_threads, self.max_processes);
        match map {
            MapSlot::Threads => {
                format!("more threads of the target lived at once than --max-threads ({threads}): raise it")
            }
            MapSlot::Targets => {
                format!("the target had more processes at once than --max-processes ({procs}): raise it")
            }
            MapSlot::WakeEdges => format!(
                "more waker -> wakee pairs than {} ({EDGES_PER_THREAD} per thread of --max-threads): raise --max-threads",
                edge_rows(threads)
            ),
            MapSlot::Faults => format!(
                "faults in more (process, mapping) pairs than {} ({FAULT_ROWS_PER_PROCESS} per process of --max-processes): raise --max-processes",
                fault_rows(procs)
            ),
            MapSlot::Stacks => {
                format!("more distinct stacks than --max-stacks ({}): raise it", self.max_stacks)
            }
            MapSlot::OffCpu => format!(
                "more (thread, stack, waker stack) rows than {} ({OFFCPU_PER_STACK} per stack of --max-stacks): raise --max-stacks",
                offcpu_rows(self.max_stacks)
            ),
        }
    }

    /// The frames of stack `hash` (innermost first) and whether they are user addresses.
    pub fn stack(&self, hash: u64) -> Option<(Vec<u64>, bool)> {
        let f = self.stacks.get(&hash, 0).ok()?;
        Some((f.ips[..(f.len as usize).min(f.ips.len())].to_vec(), f.user != 0))
    }

    /// Every stack hash an off-CPU row refers to, with the process whose it is (user
    /// stacks are named in their process).
    pub fn stacks_in_use(&self) -> Vec<(u64, u32)> {
        let mut out = Vec::new();
        for (k, _) in self.offcpu.iter().filter_map(Result::ok) {
            let s = &k.stacks;
            out.extend([(s.kernel, k.tgid), (s.user, k.tgid), (s.waker_kernel, 0)]);
            // A task waker's user stack is in the waker's process, which the row does not
            // hold: its TID names it well enough for /proc.
            out.push((s.waker_user, s.waker_id));
        }
        out.retain(|(h, _)| *h != 0);
        out.sort_unstable();
        out.dedup();
        out
    }

    /// Threads of `tgid` whose last switch the kernel has not seen yet.
    pub fn live_threads_of(&self, tgid: u32) -> usize {
        self.threads.iter().filter_map(Result::ok).filter(|(_, t)| t.tgid == tgid).count()
    }

    /// What the kernel holds in maps, as records (so a recording holds them too): live
    /// threads, and the per-CPU totals summed over CPUs.
    pub fn snapshot(&self) -> Result<Vec<Vec<u8>>> {
        let mut out = Vec::new();
        let mut seen = HashSet::new();
        for (tid, mut state) in self.threads.iter().filter_map(Result::ok) {
            seen.insert(tid);
            let mut header = snapshot_header(RecordKind::ThreadSnapshot);
            (header.tid, header.tgid) = (tid, state.tgid);
            // The kernel names a thread only when it exits; a live one is named here.
            if let Some((comm, _)) = task_stat(state.tgid, tid) {
                state.comm = comm;
            }
            out.push(encode(&ThreadRecord { header, state }).to_vec());
            if let Some(fault) = last_fault(tid, &state) {
                out.push(encode(&fault).to_vec());
            }
        }
        // Threads of the target the kernel never saw run in the window: all of them are
        // the target's, idle ones too.
        for tgid in self._targets.keys().filter_map(Result::ok) {
            for tid in fs::read_dir(format!("/proc/{tgid}/task"))
                .into_iter()
                .flatten()
                .filter_map(|e| e.ok().and_then(|e| e.file_name().to_str().and_then(|n| n.parse::<u32>().ok())))
            {
                if seen.contains(&tid) {
                    continue;
                }
                if let Some((comm, state)) = task_stat(tgid, tid) {
                    let header = Header { kind: RecordKind::IdleThread as u32, tid, tgid, ..Header::default() };
                    out.push(encode(&IdleThread { header, comm, state, _pad: [0; 7] }).to_vec());
                }
            }
        }
        for (key, stat) in self.faults.iter().filter_map(Result::ok) {
            out.push(encode(&FaultTotals { header: snapshot_header(RecordKind::FaultTotals), key, stat }).to_vec());
        }
        for (key, stat) in self.offcpu.iter().filter_map(Result::ok) {
            out.push(encode(&OffCpuTotals { header: snapshot_header(RecordKind::OffCpuTotals), key, stat }).to_vec());
        }
        for nr in 0..syscalls::SLOTS {
            let stat = sum_syscalls(&self.syscalls.get(&nr, 0)?);
            if stat.count > 0 || stat.returned > 0 {
                let header = snapshot_header(RecordKind::SyscallTotals);
                out.push(encode(&SyscallTotals { header, nr, _pad: 0, stat }).to_vec());
            }
        }
        for path in CopyPath::ALL {
            let stat = sum_paths(&self.ledger.get(&(path as u32), 0)?);
            if stat != PathStat::default() {
                let header = snapshot_header(RecordKind::PathTotals);
                out.push(encode(&PathTotals { header, path: path as u32, _pad: 0, stat }).to_vec());
            }
        }
        for (key, edge) in self.wake_edges.iter().filter_map(Result::ok) {
            let header = snapshot_header(RecordKind::WakeEdgeTotals);
            out.push(encode(&WakeEdgeTotals { header, key, edge }).to_vec());
        }
        for nr in 0..syscalls::SLOTS {
            let counts = self.switches.get(&nr, 0)?.iter().fold(SwitchCount::default(), |mut a, c| {
                a.voluntary += c.voluntary;
                a.involuntary += c.involuntary;
                a
            });
            if counts != SwitchCount::default() {
                let header = snapshot_header(RecordKind::SwitchTotals);
                out.push(encode(&SwitchTotals { header, nr, _pad: 0, counts }).to_vec());
            }
        }
        // Softirqs stay per CPU: the report shows where they ran.
        for vector in 0..SOFTIRQ_VECTORS {
            for (cpu, &stat) in self.softirqs.get(&vector, 0)?.iter().enumerate() {
                if stat != SoftirqStat::default() {
                    let header = snapshot_header(RecordKind::SoftirqTotals);
                    out.push(encode(&SoftirqTotals { header, vector, cpu: cpu as u32, stat }).to_vec());
                }
            }
        }
        let floor: u64 = self.floor.get(&0, 0)?.iter().sum();
        if floor > 0 {
            let header = snapshot_header(RecordKind::CounterTotal);
            out.push(
                encode(&CounterTotal { header, index: Counter::FloorHits as u32, _pad: 0, value: floor }).to_vec(),
            );
        }
        for index in 0..COUNTERS.min(Counter::ALL.len() as u32) {
            if index == Counter::FloorHits as u32 {
                continue;
            }
            let value: u64 = self.counters.get(&index, 0)?.iter().sum();
            if value > 0 {
                let header = snapshot_header(RecordKind::CounterTotal);
                out.push(encode(&CounterTotal { header, index, _pad: 0, value }).to_vec());
            }
        }
        Ok(out)
    }
}

/// A live thread's comm and state letter, from /proc/PID/task/TID/stat.
fn task_stat(tgid: u32, tid: u32) -> Option<([u8; 16], u8)> {
    let stat = fs::read(format!("/proc/{tgid}/task/{tid}/stat")).ok()?;
    // "tid (comm) S ...": the comm may hold spaces and parentheses; it ends at the last ')'.
    let (open, close) = (stat.iter().position(|&b| b == b'(')?, stat.iter().rposition(|&b| b == b')')?);
    let name = stat.get(open + 1..close)?;
    let mut comm = [0u8; 16];
    let n = name.len().min(15);
    comm[..n].copy_from_slice(&name[..n]);
    Some((comm, *stat.get(close + 2)?))
}

/// A live thread's last fault, still open when the trace ended: its own counters in
/// /proc/PID/task/TID/stat (fields 10 and 12) say what the kernel made of it, as the
/// thread's next event would have.
fn last_fault(tid: u32, t: &ThreadState) -> Option<FaultTotals> {
    let f = &t.fault;
    if f.active == 0 {
        return None;
    }
    let stat = fs::read_to_string(format!("/proc/{}/task/{tid}/stat", t.tgid)).ok()?;
    // Fields after the ")" that ends the command name: state is field 3.
    let rest: Vec<u64> = stat.rsplit_once(')')?.1.split_whitespace().skip(1).map(|x| x.parse().unwrap_or(0)).collect();
    let (min, maj) = (*rest.get(6)?, *rest.get(8)?);
    Some(FaultTotals {
        header: snapshot_header(RecordKind::FaultTotals),
        key: f.key(t.tgid, f.life),
        stat: f.outcome(min, maj),
    })
}

/// A loaded program and the runs the kernel skipped (None before 5.12).
#[derive(Clone, Debug)]
pub struct ProgramStats {
    pub name: String,
    pub misses: Option<u64>,
}

/// Each loaded program (those of sections not traced, or the floor's, are not) and its
/// fd's /proc/self/fdinfo (aya 0.14 does not expose `recursion_misses`).
fn loaded(ebpf: &Ebpf) -> impl Iterator<Item = (&str, String)> {
    ebpf.programs().filter_map(|(name, p)| {
        let fd = p.fd().ok()?.as_fd().as_raw_fd();
        Some((name, fs::read_to_string(format!("/proc/self/fdinfo/{fd}")).unwrap_or_default()))
    })
}

fn offcpu_rows(max_stacks: u32) -> u32 {
    max_stacks.saturating_mul(OFFCPU_PER_STACK)
}

fn sum_syscalls(per_cpu: &[SyscallStat]) -> SyscallStat {
    per_cpu.iter().fold(SyscallStat::default(), |mut a, s| {
        a.count += s.count;
        a.errors += s.errors;
        a.returned += s.returned;
        a.total_ns += s.total_ns;
        a.bytes += s.bytes;
        a.ready += s.ready;
        for (x, y) in a.latency.iter_mut().zip(s.latency) {
            *x += y;
        }
        a
    })
}

fn sum_paths(per_cpu: &[PathStat]) -> PathStat {
    per_cpu.iter().fold(PathStat::default(), |mut a, s| {
        a.calls += s.calls;
        a.bytes_out += s.bytes_out;
        a.bytes_in += s.bytes_in;
        a.cpu_k2u += s.cpu_k2u;
        a.cpu_u2k += s.cpu_u2k;
        a.zero_copy += s.zero_copy;
        a
    })
}

fn take(ebpf: &mut Ebpf, name: &str) -> Result<aya::maps::Map> {
    ebpf.take_map(name).with_context(|| format!("the eBPF object has no map {name} (build mismatch)"))
}

fn attach(ebpf: &mut Ebpf, btf: &aya::Btf, prog: &str, tracepoint: &str, kernel: &str, verbose: bool) -> Result<()> {
    let program =
        ebpf.program_mut(prog).with_context(|| format!("the eBPF object has no program {prog} (build mismatch)"))?;
    let p: &mut BtfTracePoint = program.try_into()?;
    p.load(tracepoint, btf).map_err(|e| refused(e, prog, kernel, verbose))?;
    p.attach().map_err(|e| {
        explain_eperm(anyhow::Error::new(e).context(format!("attaching {prog} to tracepoint {tracepoint} failed")))
    })?;
    Ok(())
}

/// A program the kernel would not load, said in one line: which program, on which
/// kernel, and the verifier's reason (its whole log with `-v`).
fn refused(e: ProgramError, prog: &str, kernel: &str, verbose: bool) -> anyhow::Error {
    let reason = match &e {
        ProgramError::LoadError { io_error, verifier_log } => {
            verifier_reason(&verifier_log.to_string()).map(|r| (r, verifier_log.to_string(), io_error.raw_os_error()))
        }
        _ => None,
    };
    let Some((reason, log, errno)) = reason else {
        return explain_eperm(anyhow::Error::new(e).context(format!("loading program {prog} failed")));
    };
    let errno = errno.map_or_else(String::new, |n| format!(" ({})", std::io::Error::from_raw_os_error(n)));
    let mut msg = format!("the kernel's verifier refused program {prog} on Linux {kernel}{errno}: {reason}");
    if verbose {
        msg.push_str("\n--- verifier log ---\n");
        msg.push_str(log.trim_end());
    } else {
        msg.push_str(" (run with -v for the verifier's log)");
    }
    anyhow::anyhow!(msg)
}

/// The verifier's reason for refusing a program: the last line of its log that is not
/// its statistics ("processed N insns", "verification time", "stack depth"), a source
/// line or an instruction dump.
pub fn verifier_reason(log: &str) -> Option<String> {
    log.lines()
        .map(str::trim)
        .rev()
        .find(|l| {
            !l.is_empty()
                && !l.starts_with("processed ")
                && !l.starts_with("verification time")
                && !l.starts_with("stack depth")
                && !l.starts_with(';')
                && !l.starts_with("mark_precise")
                && !l.chars().next().is_some_and(|c| c.is_ascii_digit())
        })
        .map(str::to_owned)
}

/// Takes the rows of `map` whose keys `dead` picks out of the kernel's map, each as the
/// record `record` makes of it.
fn take_rows<K: aya::Pod, V: aya::Pod, R: aya::Pod>(
    map: &mut HashMap<MapData, K, V>,
    dead: impl Fn(&K) -> bool,
    record: impl Fn(K, V) -> R,
    out: &mut Vec<Vec<u8>>,
) {
    let keys: Vec<K> = map.keys().filter_map(Result::ok).filter(|k| dead(k)).collect();
    for key in keys {
        if let Ok(value) = map.get(&key, 0) {
            out.push(encode(&record(key, value)).to_vec());
        }
        let _ = map.remove(&key);
    }
}

fn edge_rows(max_threads: u32) -> u32 {
    max_threads.saturating_mul(EDGES_PER_THREAD).max(MIN_ROWS)
}

fn fault_rows(max_processes: u32) -> u32 {
    max_processes.saturating_mul(FAULT_ROWS_PER_PROCESS).max(MIN_ROWS)
}

/// Capability bits (linux/capability.h) that loading tracing programs needs.
const CAP_SYS_ADMIN: u32 = 21;
const CAP_PERFMON: u32 = 38;
const CAP_BPF: u32 = 39;
const PRIVILEGE_FIX: &str = "run tracer as root (sudo), or grant it CAP_BPF and CAP_PERFMON";

fn check_privileges() -> Result<()> {
    let status = fs::read_to_string("/proc/self/status").unwrap_or_default();
    let caps = status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .and_then(|hex| u64::from_str_radix(hex.trim(), 16).ok())
        .unwrap_or(0);
    let has = |bit: u32| caps & (1 << bit) != 0;
    if has(CAP_SYS_ADMIN) || (has(CAP_BPF) && has(CAP_PERFMON)) {
        return Ok(());
    }
    bail!("tracer needs privileges to load eBPF programs (missing CAP_BPF/CAP_PERFMON): {PRIVILEGE_FIX}")
}

/// EPERM after the privilege check passed: the privileges are there, so something else
/// (kernel lockdown, a security module) refused.
fn explain_eperm(err: anyhow::Error) -> anyhow::Error {
    let eperm =
        err.chain().any(|c| c.downcast_ref::<std::io::Error>().is_some_and(|e| e.raw_os_error() == Some(libc::EPERM)));
    if eperm {
        err.context("the kernel refused with EPERM although tracer has the privileges to load eBPF programs: kernel lockdown (/sys/kernel/security/lockdown) or a security module forbids it")
    } else {
        err
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every program, as the oldest supported verifiers will see it: one stack frame (a
    /// call to another BPF function, such as an out-of-line memset, adds a frame, and
    /// before ~6.9 frames round up to 32 bytes) of at most 480 bytes.
    #[test]
    fn every_program_fits_the_oldest_verifiers() {
        let obj = aya_obj::Object::parse(OBJECT).unwrap();
        assert!(obj.programs.len() > 30, "{} programs", obj.programs.len());
        for (name, program) in &obj.programs {
            let f = &obj.functions[&program.function_key()];
            let mut depth = 0i64;
            let mut frame_pointers = [false; 11];
            for insn in &f.instructions {
                let (code, dst, src) = (insn.code, insn.dst_reg() as usize, insn.src_reg() as usize);
                // BPF_JMP | BPF_CALL with src BPF_PSEUDO_CALL: a call to a BPF function.
                assert!(!(code == 0x85 && src == 1), "{name} calls another BPF function: a second stack frame");
                let (class, mode) = (code & 0x07, code & 0xe0);
                // Loads from and stores to [r10 - off].
                if (class == 0x01 && src == 10) || (matches!(class, 0x02 | 0x03) && dst == 10) {
                    depth = depth.max(-i64::from(insn.off));
                }
                // r = r10, then r += -N: a stack buffer's address.
                if dst <= 10 {
                    if code == 0xbf {
                        frame_pointers[dst] = src == 10;
                    } else if code == 0x07 && frame_pointers[dst] {
                        depth = depth.max(-i64::from(insn.imm));
                    } else if class == 0x07 || class == 0x04 || mode == 0 && class == 0x01 {
                        frame_pointers[dst] = false;
                    }
                }
            }
            assert!(depth <= 480, "{name} uses {depth} bytes of stack (the limit for older verifiers: 480)");
        }
    }

    #[test]
    fn the_verifier_reason_is_its_last_word_not_its_statistics() {
        let log = "0: (79) r2 = *(u64 *)(r1 +8)\nfunc 'sched_switch' arg1 has btf_id 132 type STRUCT 'task_struct'\n3: (79) r7 = *(u64 *)(r1 +24)\nfunc 'sched_switch' doesn't have 4-th argument\nprocessed 4 insns (limit 1000000) max_states_per_insn 0\n";
        assert_eq!(verifier_reason(log).as_deref(), Some("func 'sched_switch' doesn't have 4-th argument"));
        let log = "combined stack size of 2 calls is 544. Too large\nverification time 644918 usec\nstack depth 488+0\nprocessed 37343 insns (limit 1000000) max_states_per_insn 8 total_states 982\n";
        assert_eq!(verifier_reason(log).as_deref(), Some("combined stack size of 2 calls is 544. Too large"));
        assert_eq!(verifier_reason("\n  \n"), None);
    }
}
