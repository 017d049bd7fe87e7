//! How to trace, whatever the target: the settings a command line makes, what the kernel
//! is told about the target, and the sizes of the kernel's maps that follow from them.
use std::fs;

use tracer_common::record::{JOIN_CGROUP, JOIN_COMM, JOIN_NONE};

use crate::{cost::StatsMode, sections::Section};

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
    pub(super) fn kind(&self) -> u32 {
        match self {
            Self::None => JOIN_NONE,
            Self::Cgroup(_) => JOIN_CGROUP,
            Self::Comm(_) => JOIN_COMM,
        }
    }

    /// The name as the kernel holds it: NUL-padded to 16 bytes.
    pub(super) fn comm(&self) -> [u64; 2] {
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
pub(super) const EDGES_PER_THREAD: u32 = 4;
pub(super) const FAULT_ROWS_PER_PROCESS: u32 = 32;
const MIN_ROWS: u32 = 1 << 16;
/// Why an entry of a map that allocates as it fills can be refused with room to spare.
pub(super) const ALLOC_REMEDY: &str = "the kernel had no memory ready for new entries (a burst of them outran its per-CPU cache, which it refills in the background): not a size limit; rare, retrying usually does not see it";

/// Off-CPU rows per stack of `--max-stacks`: a stack is met with a few wakers.
pub(super) const OFFCPU_PER_STACK: u32 = 4;

pub(super) fn edge_rows(max_threads: u32) -> u32 {
    max_threads.saturating_mul(EDGES_PER_THREAD).max(MIN_ROWS)
}

pub(super) fn fault_rows(max_processes: u32) -> u32 {
    max_processes.saturating_mul(FAULT_ROWS_PER_PROCESS).max(MIN_ROWS)
}

pub(super) fn offcpu_rows(max_stacks: u32) -> u32 {
    max_stacks.saturating_mul(OFFCPU_PER_STACK)
}
