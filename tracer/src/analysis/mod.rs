//! Pure reconstruction: records in, [`Report`] out. No I/O, so every rule here is unit
//! tested on synthetic record streams, and a replayed recording gives the live numbers.
pub mod sched;

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
}

/// Folds records, one at a time, into per-subsystem state.
#[derive(Debug, Default)]
pub struct Analysis {
    sched: sched::SchedAnalysis,
}

impl Analysis {
    pub fn push(&mut self, record: &Record) {
        match record {
            Record::Thread { exited, record } => self.sched.push(*exited, record),
        }
    }

    pub fn report(&self, meta: &TraceMeta) -> Report {
        Report {
            schema_version: SCHEMA_VERSION,
            target: TargetInfo { pid: meta.pid, command: meta.command.clone() },
            duration_ns: meta.duration_ns,
            lost_events: meta.lost_events,
            complete: meta.lost_events == 0,
            sched: self.sched.report(),
        }
    }
}
