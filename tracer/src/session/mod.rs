//! The kernel side of a trace: loading, configuring and attaching the programs
//! ([`load`]), reading the maps they fill ([`maps`]), and taking them down again; how to
//! trace comes from [`settings`].
//!
//! What to load comes from the probe plan (`plan.rs`), resolved against this kernel's
//! BTF. Detaching is dropping: every link and program belongs to the [`aya::Ebpf`] held
//! here, and aya detaches and unloads them on drop (nothing is pinned), so an error path,
//! a Ctrl-C or a panic leaves nothing attached.
mod load;
mod maps;
mod settings;

pub use settings::{Join, Options, Settings};

use std::{collections::BTreeMap, os::fd::AsFd};

use anyhow::{Context, Result, bail};
use aya::{
    Ebpf, EbpfLoader, VerifierLogLevel,
    maps::{Array, CgroupArray, HashMap, MapData, PerCpuArray, RingBuf},
};
use tracer_common::{
    names::*,
    record::{
        FaultKey, FaultStat, OffCpuKey, OffCpuStat, PathStat, ProcState, SoftirqStat, StackFrames, SwitchCount,
        SyscallStat, ThreadState, WakeEdge, WakeKey, target_bit,
    },
};

use crate::{
    btf::Btf,
    cost::{Costs, StatsMode, Summary},
    plan::{self, Plan},
    procfs,
    sections::Section,
};
use settings::{edge_rows, fault_rows, offcpu_rows};

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
        load::check_privileges()?;
        let btf = Btf::from_sys_fs()?;
        let ask = plan::Ask { sections: &settings.sections, latency: settings.latency, timeline: settings.timeline };
        let plan = plan::plan(&btf, &procfs::kernel_release(), &ask)?;
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
            .load(load::OBJECT)
            .map_err(|e| load::explain_eperm(anyhow::Error::new(e).context("loading the eBPF object failed")))?;
        let mut targets: HashMap<_, u32, ProcState> = HashMap::try_from(load::take(&mut ebpf, MAP_TARGETS)?)?;
        // Before any program is attached: nothing else writes the bitmap yet.
        let mut bits: Array<_, u64> = Array::try_from(load::take(&mut ebpf, MAP_TARGET_BITS)?)?;
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
                let mut cgroup = CgroupArray::try_from(load::take(&mut ebpf, MAP_CGROUP)?)?;
                cgroup.set(0, AsFd::as_fd(dir), 0).context("setting the cgroup to trace")?;
                Some(cgroup)
            }
            _ => None,
        };
        let mut launcher: Array<_, u32> = Array::try_from(load::take(&mut ebpf, MAP_LAUNCHER)?)?;
        launcher.set(0, opts.launcher_tid, 0).context("arming the launcher slot")?;
        let ring = RingBuf::try_from(load::take(&mut ebpf, MAP_EVENTS)?)?;
        let mut session = Self {
            _targets: targets,
            _target_bits: bits,
            _launcher: launcher,
            _cgroup: cgroup,
            threads: HashMap::try_from(load::take(&mut ebpf, MAP_THREADS)?)?,
            lost: PerCpuArray::try_from(load::take(&mut ebpf, MAP_LOST)?)?,
            map_full: PerCpuArray::try_from(load::take(&mut ebpf, MAP_FULL)?)?,
            syscalls: PerCpuArray::try_from(load::take(&mut ebpf, MAP_SYSCALLS)?)?,
            ledger: PerCpuArray::try_from(load::take(&mut ebpf, MAP_LEDGER)?)?,
            counters: PerCpuArray::try_from(load::take(&mut ebpf, MAP_COUNTERS)?)?,
            wake_edges: HashMap::try_from(load::take(&mut ebpf, MAP_WAKE_EDGES)?)?,
            switches: PerCpuArray::try_from(load::take(&mut ebpf, MAP_SWITCHES)?)?,
            softirqs: PerCpuArray::try_from(load::take(&mut ebpf, MAP_SOFTIRQS)?)?,
            faults: HashMap::try_from(load::take(&mut ebpf, MAP_FAULTS)?)?,
            floor: PerCpuArray::try_from(load::take(&mut ebpf, MAP_FLOOR)?)?,
            stacks: HashMap::try_from(load::take(&mut ebpf, MAP_STACKS)?)?,
            offcpu: HashMap::try_from(load::take(&mut ebpf, MAP_OFFCPU)?)?,
            ebpf: None,
            plan,
            max_threads: settings.max_threads,
            max_processes: settings.max_processes,
            max_stacks: settings.max_stacks,
            // The floor's programs do not count their runs.
            costs: Costs::new(if settings.floor { StatsMode::Off } else { settings.bpf_stats }),
            hits: PerCpuArray::try_from(load::take(&mut ebpf, MAP_HITS)?)?,
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
            load::attach(&mut ebpf, &btf, prog, tracepoint, &session.plan.kernel, settings.verbose)?;
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
        load::loaded(ebpf)
            .map(|(name, info)| ProgramStats { name: name.to_owned(), misses: info.get("recursion_misses").copied() })
            .collect()
    }

    /// Hits the kernel skipped, summed over programs; None where it skips without
    /// counting. Kernels that do not count misses (before 5.12) do not skip BTF
    /// tracepoint runs either: programs then nest instead, and nothing is missed.
    pub fn missed(&self, programs: &[ProgramStats]) -> Option<u64> {
        let known = programs.iter().all(|p| p.misses.is_some());
        (known || !self.plan.kernel_skips).then(|| programs.iter().filter_map(|p| p.misses).sum())
    }
}

/// A loaded program and the runs the kernel skipped (None before 5.12).
#[derive(Clone, Debug)]
pub struct ProgramStats {
    pub name: String,
    pub misses: Option<u64>,
}
