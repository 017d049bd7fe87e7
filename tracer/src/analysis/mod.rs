//! Pure reconstruction: records in, [`Report`] out. No I/O, so every rule here is unit
//! tested on synthetic record streams, and a replayed recording gives the live numbers.
pub mod copies;
pub mod epoll;
pub mod faults;
pub mod rows;
pub mod sched;
pub mod softirq;
pub mod stacks;
pub mod syscalls;
pub mod timeline;
pub mod wakeups;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use tracer_common::record::Counter;

use crate::{
    decode::Record,
    report::{Lost, Overhead, Part, Report, SCHEMA_VERSION, TargetInfo},
    sections::{Coverage, Figure, Section, Status},
};

/// What the collector knows about the trace as a whole (kept in recordings, so an offline
/// report says what the live one said).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TraceMeta {
    pub pid: u32,
    pub command: String,
    /// The kernel traced (`uname -r`).
    pub kernel: String,
    pub duration_ns: u64,
    /// What the kernel could not keep: ring buffer records and map entries.
    pub lost: Lost,
    /// Tracepoint hits the kernel did not run a program for (recursion protection);
    /// None where it does not count them.
    pub missed_events: Option<u64>,
    /// Per section traced: what this kernel can give.
    pub coverage: BTreeMap<Section, Coverage>,
    /// Figures this kernel cannot give: `null` in the report.
    pub unavailable: Vec<Figure>,
    pub notes: Vec<String>,
    #[serde(default)]
    pub overhead: Overhead,
    /// Stacks were captured (`--stacks`).
    #[serde(default)]
    pub stacks: bool,
    /// Timeline events were streamed (`--perfetto`, `--timeline`).
    #[serde(default)]
    pub timeline: bool,
}

/// Folds records, one at a time, into per-subsystem state.
#[derive(Clone, Debug, Default)]
pub struct Analysis {
    sched: sched::SchedAnalysis,
    syscalls: syscalls::SyscallAnalysis,
    epoll: epoll::EpollAnalysis,
    copies: copies::CopyAnalysis,
    wakeups: wakeups::WakeupAnalysis,
    softirq: softirq::SoftirqAnalysis,
    faults: faults::FaultAnalysis,
    stacks: stacks::StacksAnalysis,
    stack_failures: (u64, u64),
    floor_hits: u64,
}

impl Analysis {
    pub fn push(&mut self, record: &Record) {
        match record {
            Record::Thread { exited, record } => self.sched.push(*exited, record),
            Record::IdleThread(r) => self.sched.push_idle(r),
            Record::Epoll(r) => self.epoll.push(r),
            Record::Syscall(r) => self.syscalls.push(r),
            Record::Path(r) => self.copies.push_path(r.path, r.stat),
            Record::WakeEdge(r) => self.wakeups.push(r),
            Record::Switches(r) => self.sched.push_switches(r),
            Record::Softirq(r) => self.softirq.push(r),
            Record::Faults(r) => self.faults.push(r),
            Record::FileName(r) => self.faults.push_name(r),
            // Only the collector needs them (to take the process's rows out of the maps, to
            // name a new stack).
            Record::ProcessExit(_) | Record::StackSeen(_) => {}
            // The timeline's alone (`timeline::Timeline`), not the report's.
            Record::CpuSlice(_) | Record::SyscallSlice(_) | Record::Wake(_) | Record::SoftirqSlice(_) => {}
            Record::OffCpu(r) => self.stacks.push_offcpu(r),
            Record::StackNames(n) => self.stacks.push_names(n),
            Record::Counter(r) => {
                if let Some(c) = Counter::from_u32(r.index) {
                    match c {
                        Counter::FloorHits => self.floor_hits = r.value,
                        Counter::StackKernelFailed => self.stack_failures.0 = r.value,
                        Counter::StackUserFailed => self.stack_failures.1 = r.value,
                        _ => {}
                    }
                    self.epoll.push_counter(c, r.value);
                    self.copies.push_counter(c, r.value);
                }
            }
        }
    }

    pub fn report(&self, meta: &TraceMeta) -> Report {
        // A section is in the report when it was traced, and `null` where this kernel
        // cannot give it.
        let part = |s: Section| -> Part<()> {
            match meta.coverage.get(&s) {
                None => Part::NotTraced,
                Some(c) if c.status == Status::Unavailable => Part::Unavailable,
                Some(_) => Part::Traced(()),
            }
        };
        fn fill<T>(p: Part<()>, f: impl FnOnce() -> T) -> Part<T> {
            match p {
                Part::Traced(()) => Part::Traced(f()),
                Part::Unavailable => Part::Unavailable,
                Part::NotTraced => Part::NotTraced,
            }
        }
        let mut lost = meta.lost.clone();
        lost.stack_captures = self.stack_failures.0 + self.stack_failures.1;
        let lost_events =
            lost.ring_buffer + lost.maps.iter().map(|m| m.entries_lost).sum::<u64>() + lost.stack_captures;
        let mut r = Report {
            schema_version: SCHEMA_VERSION,
            target: TargetInfo { pid: meta.pid, command: meta.command.clone() },
            kernel: meta.kernel.clone(),
            duration_ns: meta.duration_ns,
            lost_events,
            lost,
            missed_events: meta.missed_events,
            complete: lost_events == 0 && meta.missed_events == Some(0),
            coverage: meta.coverage.clone(),
            notes: meta.notes.clone(),
            overhead: meta.overhead.clone(),
            mode_switches: fill(part(Section::Syscalls), || self.syscalls.mode_switches()),
            syscalls: fill(part(Section::Syscalls), || self.syscalls.rows()),
            sched: fill(part(Section::Sched), || self.sched.report()),
            wakeups: fill(part(Section::Wakeups), || self.wakeups.report()),
            epoll: fill(part(Section::Epoll), || self.epoll.report()),
            copies: fill(part(Section::Copies), || self.copies.report()),
            faults: fill(part(Section::Faults), || self.faults.report()),
            softirq: fill(part(Section::Softirq), || self.softirq.report()),
            stacks: None,
            floor_hits: self.floor_hits,
        };
        if meta.stacks {
            r.stacks = Some(self.stacks_report(&r));
        }
        for figure in &meta.unavailable {
            absent(&mut r, *figure);
        }
        r
    }
}

impl Analysis {
    /// The stacks section, its threads and wakers named from the sections built already.
    fn stacks_report(&self, r: &Report) -> crate::report::Stacks {
        let mut names: std::collections::HashMap<u32, String> = std::collections::HashMap::new();
        if let Some(w) = r.wakeups.get() {
            for e in w.edges.iter().filter(|e| e.waker_tid != 0) {
                let name = e.waker.rsplit_once(" (").map_or(e.waker.as_str(), |(n, _)| n);
                names.insert(e.waker_tid, name.to_owned());
            }
        }
        if let Some(s) = r.sched.get() {
            for t in &s.threads {
                names.insert(t.tid, t.comm.clone());
            }
        }
        self.stacks.report(&|tid| names.get(&tid).cloned(), self.stack_failures)
    }
}

/// A figure this kernel cannot give becomes `null`, never a 0.
fn absent(r: &mut Report, figure: Figure) {
    match figure {
        Figure::FaultAround => {
            if let Some(f) = r.faults.get_mut() {
                (f.around_faults, f.around_pages) = (None, None);
                for m in f.by_mapping.iter_mut().flatten() {
                    (m.around_faults, m.around_pages) = (None, None);
                }
                f.notes.retain(|n| !n.starts_with("one file fault maps many pages"));
            }
        }
        Figure::FilledPages => {
            if let Some(f) = r.faults.get_mut() {
                f.filled_pages = None;
                for m in f.by_mapping.iter_mut().flatten() {
                    m.filled_pages = None;
                }
            }
        }
        Figure::DiskBytes => {
            if let Some(c) = r.copies.get_mut() {
                (c.disk_read_bytes, c.disk_write_bytes) = (None, None);
            }
            if let Some(f) = r.faults.get_mut() {
                f.disk_read_bytes = None;
                for m in f.by_mapping.iter_mut().flatten() {
                    m.disk_bytes = None;
                }
            }
        }
        Figure::NicBytes => {
            if let Some(c) = r.copies.get_mut() {
                c.nic_tx_bytes = None;
            }
        }
        Figure::SocketCopyBytes => {
            if let Some(c) = r.copies.get_mut() {
                c.socket_copy_bytes = None;
            }
        }
        Figure::RaiseWait => {
            for v in r.softirq.get_mut().map(|s| s.vectors.iter_mut()).into_iter().flatten() {
                (v.raise_wait_ns, v.raised) = (None, None);
            }
        }
        Figure::WakeupSockets => {
            if let Some(e) = r.epoll.get_mut() {
                e.wakeups_by_socket = None;
            }
        }
        Figure::FaultMappings => {
            if let Some(f) = r.faults.get_mut() {
                f.by_mapping = None;
            }
        }
        Figure::SyscallLatency => {
            for s in r.syscalls.get_mut().into_iter().flatten() {
                (s.total_ns, s.latency) = (None, None);
            }
        }
    }
}
