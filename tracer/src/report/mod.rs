//! The report: one model (this module), three renderings (table, JSON, CSV) that show the
//! same numbers. JSON keys follow shared/DESIGN.md §5 (schema_version 1).
mod csv;
mod table;

use std::io::Write;

use serde::{Deserialize, Serialize};

pub const SCHEMA_VERSION: u32 = 1;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    #[default]
    Table,
    Json,
    Csv,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub schema_version: u32,
    pub target: TargetInfo,
    pub duration_ns: u64,
    /// Facts the kernel could not deliver; when non-zero, `complete` is false.
    pub lost_events: u64,
    pub complete: bool,
    pub sched: Sched,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TargetInfo {
    pub pid: u32,
    pub command: String,
}

/// Scheduler context switches of the target (all threads of all its processes).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sched {
    /// The thread blocked (sleep, I/O wait, lock): `voluntary_ctxt_switches` in /proc.
    pub voluntary: u64,
    /// The thread was preempted or yielded: `nonvoluntary_ctxt_switches` in /proc.
    pub involuntary: u64,
    pub threads: Vec<ThreadRow>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ThreadRow {
    pub tid: u32,
    pub pid: u32,
    pub comm: String,
    pub voluntary: u64,
    pub involuntary: u64,
    /// The thread exited during the trace (its counters are final).
    pub exited: bool,
}

pub fn render(report: &Report, format: Format, out: &mut dyn Write) -> std::io::Result<()> {
    match format {
        Format::Table => writeln!(out, "{}", table::render(report)),
        Format::Json => {
            serde_json::to_writer_pretty(&mut *out, report)?;
            writeln!(out)
        }
        Format::Csv => csv::render(report, out),
    }
}

#[cfg(test)]
pub(crate) fn sample() -> Report {
    Report {
        schema_version: SCHEMA_VERSION,
        target: TargetInfo { pid: 4242, command: "sched-child --sleeps 3".into() },
        duration_ns: 1_523_000_000,
        lost_events: 0,
        complete: true,
        sched: Sched {
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
                },
                ThreadRow {
                    tid: 4243,
                    pid: 4242,
                    comm: "spin, \"0\"".into(),
                    voluntary: 5,
                    involuntary: 120,
                    exited: true,
                },
            ],
        },
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
        ] {
            assert!(v.pointer(ptr).is_some(), "missing {ptr}");
        }
        assert_eq!(v["sched"]["voluntary"], 305);
        let back: Report = serde_json::from_value(v).unwrap();
        assert_eq!(back, sample());
    }
}
