//! Loading, configuring and attaching the kernel programs, and taking them down again.
//!
//! Detaching is dropping: every link and program belongs to the [`aya::Ebpf`] held here,
//! and aya detaches and unloads them on drop (nothing is pinned), so an error path, a
//! Ctrl-C or a panic leaves nothing attached.
use std::{
    fs,
    os::fd::{AsFd, AsRawFd},
};

use anyhow::{Context, Result, bail};
use aya::{
    Ebpf, EbpfLoader,
    maps::{Array, HashMap, MapData, PerCpuArray, RingBuf},
    programs::BtfTracePoint,
};
use tracer_common::{
    names::*,
    record::{
        COUNTERS, Counter, CounterTotal, FaultKey, FaultStat, FaultTotals, Path as CopyPath, PathStat, PathTotals,
        ProcState, RecordKind, SOFTIRQ_VECTORS, SoftirqStat, SoftirqTotals, SwitchCount, SwitchTotals, SyscallStat,
        SyscallTotals, ThreadRecord, ThreadState, WakeEdge, WakeEdgeTotals, WakeKey,
    },
    syscalls,
};

use crate::{
    btf::Btf,
    decode::{encode, snapshot_header},
    layout,
};

/// The eBPF object, built by build.rs and embedded so the binary needs no source tree.
static OBJECT: &[u8] = aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/tracer.bpf.o"));

/// Every program: (name = its BTF tracepoint, required, group). All are tp_btf: typed
/// arguments, no perf-event plumbing per hit, no tracefs, and links that detach at once.
/// Optional ones are skipped with a note when this kernel lacks them. Exits attach before
/// their entries: an interrupt caught between the two would otherwise leave its CPU
/// marked "inside" it until the next one.
const PROBES: &[(&str, bool, Group)] = &[
    (PROG_SCHED_SWITCH, true, Group::Sched),
    (PROG_TASK_NEWTASK, true, Group::Sched),
    (PROG_SYS_ENTER, true, Group::Syscalls),
    (PROG_SYS_EXIT, true, Group::Syscalls),
    (PROG_SCHED_WAKING, true, Group::Wakeups),
    (PROG_SCHED_WAKEUP, true, Group::Wakeups),
    (PROG_SCHED_WAKEUP_NEW, true, Group::Wakeups),
    (PROG_SOFTIRQ_EXIT, true, Group::Irq),
    (PROG_SOFTIRQ_ENTRY, true, Group::Irq),
    (PROG_SOFTIRQ_RAISE, false, Group::Irq),
    (PROG_IRQ_EXIT, false, Group::Irq),
    (PROG_IRQ_ENTRY, false, Group::Irq),
    // x86 only: the local APIC timer (hrtimers) and irq_work interrupts.
    (PROG_TIMER_EXIT, false, Group::Irq),
    (PROG_TIMER_ENTRY, false, Group::Irq),
    (PROG_IRQ_WORK_EXIT, false, Group::Irq),
    (PROG_IRQ_WORK_ENTRY, false, Group::Irq),
    (PROG_SK_DATA_READY, false, Group::Irq),
    (PROG_SOCK_SET_STATE, false, Group::Irq),
    // The group_dead argument exists since 6.16; without it finished processes simply
    // stay in the target set.
    (PROG_PROCESS_EXIT, false, Group::Sched),
    (PROG_SOCK_RECV, false, Group::Copies),
    (PROG_SKB_COPY, false, Group::Copies),
    (PROG_BLOCK_ISSUE, false, Group::Copies),
    (PROG_NET_XMIT, false, Group::Copies),
    (PROG_FAULT_USER, false, Group::Faults),
    (PROG_FAULT_KERNEL, false, Group::Faults),
    (PROG_FILEMAP_FAULT, false, Group::Faults),
    (PROG_FILEMAP_MAP_PAGES, false, Group::Faults),
    (PROG_FILEMAP_ADD, false, Group::Faults),
];

/// Probe groups the benchmark switches on and off to find what costs what.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Group {
    Sched,
    Syscalls,
    Wakeups,
    Irq,
    Copies,
    Faults,
}

impl Group {
    pub const ALL: [Group; 6] =
        [Group::Sched, Group::Syscalls, Group::Wakeups, Group::Irq, Group::Copies, Group::Faults];

    pub fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "sched" => Self::Sched,
            "syscalls" => Self::Syscalls,
            "wakeups" => Self::Wakeups,
            "irq" => Self::Irq,
            "copies" => Self::Copies,
            "faults" => Self::Faults,
            _ => return None,
        })
    }
}

/// Which programs to attach.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Probes {
    /// The tracer's programs of these groups.
    Groups(Vec<Group>),
    /// The benchmark floor: on the same tracepoints, a filter and a per-CPU count only.
    Floor,
}

impl Probes {
    pub fn all() -> Self {
        Self::Groups(Group::ALL.to_vec())
    }
}

pub struct Options {
    /// Processes traced from the start (`attach`).
    pub targets: Vec<u32>,
    /// The thread that will fork the command of `run` (its child becomes a target at
    /// birth), or 0.
    pub launcher_tid: u32,
    pub ring_bytes: u32,
    pub probes: Probes,
}

/// Loaded and attached programs plus the maps user space reads.
pub struct Session {
    ebpf: Option<Ebpf>,
    /// Kept open: programs are relocated against their fds when they load.
    _targets: HashMap<MapData, u32, ProcState>,
    _launcher: Array<MapData, u32>,
    threads: HashMap<MapData, u32, ThreadState>,
    lost: PerCpuArray<MapData, u64>,
    syscalls: PerCpuArray<MapData, SyscallStat>,
    ledger: PerCpuArray<MapData, PathStat>,
    counters: PerCpuArray<MapData, u64>,
    wake_edges: HashMap<MapData, WakeKey, WakeEdge>,
    switches: PerCpuArray<MapData, SwitchCount>,
    softirqs: PerCpuArray<MapData, SoftirqStat>,
    faults: HashMap<MapData, FaultKey, FaultStat>,
    floor: PerCpuArray<MapData, u64>,
    /// What this kernel could not measure.
    pub notes: Vec<String>,
}

impl Session {
    /// Loads, configures and attaches everything; returns the session and the ring buffer
    /// its records arrive on.
    pub fn start(opts: &Options) -> Result<(Self, RingBuf<MapData>)> {
        check_privileges()?;
        let btf = Btf::from_sys_fs()?;
        let (offsets, mut notes) = layout::resolve(&btf)?;
        let mut ebpf = EbpfLoader::new()
            .override_global(GLOBAL_OFFSETS, &offsets, true)
            .map_max_entries(MAP_EVENTS, opts.ring_bytes)
            .load(OBJECT)
            .map_err(|e| explain_eperm(anyhow::Error::new(e).context("loading the eBPF object failed")))?;
        let mut targets: HashMap<_, u32, ProcState> = HashMap::try_from(take(&mut ebpf, MAP_TARGETS)?)?;
        for &pid in &opts.targets {
            targets
                .insert(pid, ProcState::default(), 0)
                .with_context(|| format!("adding PID {pid} to the target set"))?;
        }
        let mut launcher: Array<_, u32> = Array::try_from(take(&mut ebpf, MAP_LAUNCHER)?)?;
        launcher.set(0, opts.launcher_tid, 0).context("arming the launcher slot")?;
        let ring = RingBuf::try_from(take(&mut ebpf, MAP_EVENTS)?)?;
        let mut session = Self {
            _targets: targets,
            _launcher: launcher,
            threads: HashMap::try_from(take(&mut ebpf, MAP_THREADS)?)?,
            lost: PerCpuArray::try_from(take(&mut ebpf, MAP_LOST)?)?,
            syscalls: PerCpuArray::try_from(take(&mut ebpf, MAP_SYSCALLS)?)?,
            ledger: PerCpuArray::try_from(take(&mut ebpf, MAP_LEDGER)?)?,
            counters: PerCpuArray::try_from(take(&mut ebpf, MAP_COUNTERS)?)?,
            wake_edges: HashMap::try_from(take(&mut ebpf, MAP_WAKE_EDGES)?)?,
            switches: PerCpuArray::try_from(take(&mut ebpf, MAP_SWITCHES)?)?,
            softirqs: PerCpuArray::try_from(take(&mut ebpf, MAP_SOFTIRQS)?)?,
            faults: HashMap::try_from(take(&mut ebpf, MAP_FAULTS)?)?,
            floor: PerCpuArray::try_from(take(&mut ebpf, MAP_FLOOR)?)?,
            ebpf: None,
            notes: Vec::new(),
        };
        let btf = aya::Btf::from_sys_fs().context("reading the kernel's BTF (/sys/kernel/btf/vmlinux)")?;
        for &(tracepoint, required, group) in PROBES {
            let floor = format!("floor_{tracepoint}");
            let prog = match &opts.probes {
                // Following forks and exits keeps the target set right; it is no per-event
                // cost, so the floor keeps the real programs for it.
                Probes::Floor if [PROG_TASK_NEWTASK, PROG_PROCESS_EXIT].contains(&tracepoint) => tracepoint,
                Probes::Floor => floor.as_str(),
                Probes::Groups(groups) if groups.contains(&group) => tracepoint,
                Probes::Groups(_) => continue,
            };
            match attach(&mut ebpf, &btf, prog, tracepoint) {
                Ok(()) => {}
                Err(e) if !required => notes.push(format!("{prog} not attached: {e:#}")),
                Err(e) => return Err(e),
            }
        }
        session.ebpf = Some(ebpf);
        session.notes = notes;
        Ok((session, ring))
    }

    /// Detaches and unloads every program; the maps stay readable. Returns the runs the
    /// kernel skipped, per program: a tracepoint hit while the same program was already
    /// running on that CPU (a wakeup from an interrupt that landed inside a task-context
    /// wakeup) is not run again, only counted.
    pub fn detach(&mut self) -> Vec<(String, u64)> {
        let mut missed = Vec::new();
        if let Some(ebpf) = &self.ebpf {
            for (name, program) in ebpf.programs() {
                let misses = program.fd().ok().map_or(0, |fd| recursion_misses(fd.as_fd().as_raw_fd()));
                if misses > 0 {
                    missed.push((name.to_owned(), misses));
                }
            }
        }
        self.ebpf = None;
        missed
    }

    /// Events the kernel could not deliver, summed over CPUs.
    pub fn lost(&self) -> Result<u64> {
        Ok(self.lost.get(&0, 0)?.iter().sum())
    }

    /// Threads of `tgid` whose last switch the kernel has not seen yet.
    pub fn live_threads_of(&self, tgid: u32) -> usize {
        self.threads.iter().filter_map(Result::ok).filter(|(_, t)| t.tgid == tgid).count()
    }

    /// What the kernel holds in maps, as records (so a recording holds them too): live
    /// threads, and the per-CPU totals summed over CPUs.
    pub fn snapshot(&self) -> Result<Vec<Vec<u8>>> {
        let mut out = Vec::new();
        for (tid, mut state) in self.threads.iter().filter_map(Result::ok) {
            let mut header = snapshot_header(RecordKind::ThreadSnapshot);
            (header.tid, header.tgid) = (tid, state.tgid);
            // The kernel names a thread only when it exits; a live one is named here.
            if let Ok(comm) = fs::read(format!("/proc/{}/task/{tid}/comm", state.tgid)) {
                let comm = comm.strip_suffix(b"\n").unwrap_or(&comm);
                let n = comm.len().min(15);
                state.comm = [0; 16];
                state.comm[..n].copy_from_slice(&comm[..n]);
            }
            out.push(encode(&ThreadRecord { header, state }).to_vec());
            if let Some(fault) = last_fault(tid, &state) {
                out.push(encode(&fault).to_vec());
            }
        }
        for (key, stat) in self.faults.iter().filter_map(Result::ok) {
            out.push(encode(&FaultTotals { header: snapshot_header(RecordKind::FaultTotals), key, stat }).to_vec());
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
        key: f.key(t.tgid),
        stat: f.outcome(min, maj),
    })
}

/// `recursion_misses` of a BPF program, from its fd's /proc/self/fdinfo (aya 0.14 does
/// not expose it).
fn recursion_misses(fd: std::os::fd::RawFd) -> u64 {
    fs::read_to_string(format!("/proc/self/fdinfo/{fd}"))
        .ok()
        .and_then(|t| t.lines().find_map(|l| l.strip_prefix("recursion_misses:")).and_then(|v| v.trim().parse().ok()))
        .unwrap_or(0)
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

fn attach(ebpf: &mut Ebpf, btf: &aya::Btf, prog: &str, tracepoint: &str) -> Result<()> {
    let program =
        ebpf.program_mut(prog).with_context(|| format!("the eBPF object has no program {prog} (build mismatch)"))?;
    let refused = |e: aya::programs::ProgramError, what: String| explain_eperm(anyhow::Error::new(e).context(what));
    let p: &mut BtfTracePoint = program.try_into()?;
    p.load(tracepoint, btf).map_err(|e| {
        refused(
            e,
            format!(
                "tracepoint {tracepoint} is missing on this kernel or refused the program (needs Linux 6.x with BTF)"
            ),
        )
    })?;
    p.attach().map_err(|e| refused(e, format!("attaching to tracepoint {tracepoint} failed")))?;
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
