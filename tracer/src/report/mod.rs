//! The report: the model every renderer (`crate::render`) shows, and the JSON contract
//! (docs/report-schema.md, schema_version 1). One file per section, named as in the
//! analysis and the probes; this file holds the report's envelope.
mod copies;
pub mod demo;
mod epoll;
mod faults;
mod interval;
mod latency;
#[cfg(test)]
mod sample;
mod sched;
mod softirq;
mod stacks;
mod syscalls;
mod wakeups;

pub use copies::{Copies, PathRow};
pub use epoll::{Epoll, EpollCtl, EpollFd, EventsBucket};
pub use faults::{FaultRow, Faults};
pub use latency::{LatencyBucket, quantile_bound_ns};
#[cfg(test)]
pub(crate) use sample::sample;
pub use sched::{Sched, SwitchRow, ThreadRow};
pub use softirq::{Softirq, SoftirqCpu, SoftirqRow};
pub use stacks::{OffCpuRow, Stacks, WakerStack};
pub use syscalls::SyscallRow;
pub use wakeups::{SourceCount, WakeEdgeRow, Wakeups};

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::sections::{Coverage, Section};

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

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TargetInfo {
    pub pid: u32,
    pub command: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_has_the_contract_keys() {
        let mut out = Vec::new();
        crate::render::render(&sample(), crate::render::Format::Json, &mut out).unwrap();
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
