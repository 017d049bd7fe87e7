//! Pure reconstruction: records in, [`Report`] out. No I/O, so every rule here is unit
//! tested on synthetic record streams, and a replayed recording gives the live numbers.
pub mod copies;
pub mod epoll;
pub mod faults;
pub mod sched;
pub mod softirq;
pub mod syscalls;
pub mod wakeups;

use tracer_common::record::Counter;

use crate::{
    decode::Record,
    report::{Report, SCHEMA_VERSION, TargetInfo},
};

/// What the collector knows about the trace as a whole.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TraceMeta {
    pub pid: u32,
    pub command: String,
    pub duration_ns: u64,
    /// Facts the kernel could not deliver (ring buffer or map full), summed over CPUs.
    pub lost_events: u64,
    /// Tracepoint hits the kernel did not run a program for (recursion protection).
    pub missed_events: u64,
    /// What this kernel could not measure.
    pub notes: Vec<String>,
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
    floor_hits: u64,
}

impl Analysis {
    pub fn push(&mut self, record: &Record) {
        match record {
            Record::Thread { exited, record } => self.sched.push(*exited, record),
            Record::Epoll(r) => self.epoll.push(r),
            Record::Syscall(r) => self.syscalls.push(r),
            Record::Path(r) => self.copies.push_path(r.path, r.stat),
            Record::WakeEdge(r) => self.wakeups.push(r),
            Record::Switches(r) => self.sched.push_switches(r),
            Record::Softirq(r) => self.softirq.push(r),
            Record::Faults(r) => self.faults.push(r),
            Record::FileName(r) => self.faults.push_name(r),
            Record::Counter(r) => {
                if let Some(c) = Counter::from_u32(r.index) {
                    if c == Counter::FloorHits {
                        self.floor_hits = r.value;
                    }
                    self.epoll.push_counter(c, r.value);
                    self.copies.push_counter(c, r.value);
                }
            }
        }
    }

    pub fn report(&self, meta: &TraceMeta) -> Report {
        Report {
            schema_version: SCHEMA_VERSION,
            target: TargetInfo { pid: meta.pid, command: meta.command.clone() },
            duration_ns: meta.duration_ns,
            lost_events: meta.lost_events,
            missed_events: meta.missed_events,
            complete: meta.lost_events == 0 && meta.missed_events == 0,
            notes: meta.notes.clone(),
            mode_switches: self.syscalls.mode_switches(),
            syscalls: self.syscalls.rows(),
            sched: self.sched.report(),
            wakeups: self.wakeups.report(),
            epoll: self.epoll.report(),
            copies: self.copies.report(),
            faults: self.faults.report(),
            softirq: self.softirq.report(),
            floor_hits: self.floor_hits,
        }
    }
}
