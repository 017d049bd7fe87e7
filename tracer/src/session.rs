//! Loading, configuring and attaching the kernel programs, and taking them down again.
//!
//! Detaching is dropping: every link and program belongs to the [`aya::Ebpf`] held here,
//! and aya detaches and unloads them on drop (nothing is pinned), so an error path, a
//! Ctrl-C or a panic leaves nothing attached.
use std::{fs, path::Path};

use anyhow::{Context, Result, bail};
use aya::{
    Ebpf, EbpfLoader,
    maps::{HashMap, MapData, PerCpuArray, RingBuf},
    programs::TracePoint,
};
use tracer_common::{
    names::*,
    record::{Header, RecordKind, ThreadRecord, ThreadState},
};

use crate::tracefs;

/// The eBPF object, built by build.rs and embedded so the binary needs no source tree.
static OBJECT: &[u8] = aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/tracer.bpf.o"));

/// (program, tracepoint category, tracepoint name).
const TRACEPOINTS: &[(&str, &str, &str)] = &[
    (PROG_SCHED_SWITCH, "sched", "sched_switch"),
    (PROG_TASK_NEWTASK, "task", "task_newtask"),
    (PROG_PROCESS_EXIT, "sched", "sched_process_exit"),
];

pub struct Options {
    /// Processes traced from the start (`attach`).
    pub targets: Vec<u32>,
    /// The thread that will fork the command of `run` (its child becomes a target at
    /// birth), or 0.
    pub launcher_tid: u32,
    pub ring_bytes: u32,
}

/// Loaded and attached programs plus the maps user space reads.
pub struct Session {
    ebpf: Option<Ebpf>,
    /// Kept open: programs are relocated against its fd when they load.
    _targets: HashMap<MapData, u32, u32>,
    threads: HashMap<MapData, u32, ThreadState>,
    lost: PerCpuArray<MapData, u64>,
}

impl Session {
    /// Loads, configures and attaches everything; returns the session and the ring buffer
    /// its records arrive on.
    pub fn start(opts: &Options) -> Result<(Self, RingBuf<MapData>)> {
        check_privileges()?;
        let tracefs = tracefs::locate_or_mount()?;
        let offsets = tracefs::offsets(&tracefs)?;
        let mut ebpf = EbpfLoader::new()
            .override_global(GLOBAL_OFFSETS, &offsets, true)
            .override_global(GLOBAL_LAUNCHER_TID, &opts.launcher_tid, true)
            .map_max_entries(MAP_EVENTS, opts.ring_bytes)
            .load(OBJECT)
            .map_err(|e| explain_eperm(anyhow::Error::new(e).context("loading the eBPF object failed")))?;
        let mut targets: HashMap<_, u32, u32> = HashMap::try_from(take(&mut ebpf, MAP_TARGETS)?)?;
        for &pid in &opts.targets {
            targets.insert(pid, 1, 0).with_context(|| format!("adding PID {pid} to the target set"))?;
        }
        let ring = RingBuf::try_from(take(&mut ebpf, MAP_EVENTS)?)?;
        let threads = HashMap::try_from(take(&mut ebpf, MAP_THREADS)?)?;
        let lost = PerCpuArray::try_from(take(&mut ebpf, MAP_LOST)?)?;
        for &(prog, category, name) in TRACEPOINTS {
            attach(&mut ebpf, &tracefs, prog, category, name)?;
        }
        Ok((Self { ebpf: Some(ebpf), _targets: targets, threads, lost }, ring))
    }

    /// Detaches and unloads every program; the maps stay readable.
    pub fn detach(&mut self) {
        self.ebpf = None;
    }

    /// Events the kernel could not deliver, summed over CPUs.
    pub fn lost(&self) -> Result<u64> {
        Ok(self.lost.get(&0, 0)?.iter().sum())
    }

    /// Threads of `tgid` whose last switch the kernel has not seen yet.
    pub fn live_threads_of(&self, tgid: u32) -> usize {
        self.threads.iter().filter_map(Result::ok).filter(|(_, t)| t.tgid == tgid).count()
    }

    /// Counters of every thread still alive, as records (so a recording holds them too).
    pub fn thread_snapshots(&self) -> Vec<ThreadRecord> {
        self.threads
            .iter()
            .filter_map(Result::ok)
            .map(|(tid, state)| ThreadRecord {
                header: Header { kind: RecordKind::ThreadSnapshot as u32, cpu: 0, tid, tgid: state.tgid, ts_ns: 0 },
                state,
            })
            .collect()
    }
}

fn take(ebpf: &mut Ebpf, name: &str) -> Result<aya::maps::Map> {
    ebpf.take_map(name).with_context(|| format!("the eBPF object has no map {name} (build mismatch)"))
}

fn attach(ebpf: &mut Ebpf, tracefs: &Path, prog: &str, category: &str, name: &str) -> Result<()> {
    if !tracefs.join("events").join(category).join(name).is_dir() {
        bail!("tracepoint {category}:{name} is missing on this kernel: tracer needs it (kernel 6.x with tracepoints)");
    }
    let program: &mut TracePoint = ebpf
        .program_mut(prog)
        .with_context(|| format!("the eBPF object has no program {prog} (build mismatch)"))?
        .try_into()?;
    program
        .load()
        .map_err(|e| explain_eperm(anyhow::Error::new(e).context(format!("the kernel refused program {prog}"))))?;
    program
        .attach(category, name)
        .map_err(|e| explain_eperm(anyhow::Error::new(e).context(format!("attaching to {category}:{name} failed"))))?;
    Ok(())
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

fn explain_eperm(err: anyhow::Error) -> anyhow::Error {
    let denied = err.chain().any(|c| {
        c.downcast_ref::<std::io::Error>().is_some_and(|e| e.kind() == std::io::ErrorKind::PermissionDenied)
            || c.to_string().contains("Operation not permitted")
    });
    if denied { err.context(format!("permission denied: {PRIVILEGE_FIX}")) } else { err }
}
