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
    /// What this kernel could not measure, and why.
    pub notes: Vec<String>,
    /// Every syscall the target entered while traced, busiest first.
    pub syscalls: Vec<SyscallRow>,
    /// User <-> kernel mode transitions: 2 per syscall (what the classic copy tables call
    /// "context switches"; scheduler switches are in `sched`).
    pub mode_switches: u64,
    pub sched: Sched,
    pub epoll: Epoll,
    pub copies: Copies,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TargetInfo {
    pub pid: u32,
    pub command: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyscallRow {
    pub name: String,
    /// x86-64 syscall number.
    pub nr: u32,
    /// Calls entered while traced.
    pub count: u64,
    /// Calls that returned -errno.
    pub errors: u64,
    /// Bytes returned by data-moving calls (read/write/send/recv families, sendfile,
    /// splice, tee, vmsplice, copy_file_range).
    pub bytes: u64,
    /// Time inside the calls that returned while traced.
    pub total_ns: u64,
    pub returned: u64,
    /// Log2 latency histogram: calls that took [from_ns, 2 * from_ns).
    pub latency: Vec<LatencyBucket>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LatencyBucket {
    pub from_ns: u64,
    pub count: u64,
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

/// epoll_wait, epoll_pwait and epoll_pwait2 calls of the target.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Epoll {
    pub waits: u64,
    /// Waits in which the thread went to sleep.
    pub blocked_waits: u64,
    pub events_returned: u64,
    /// Waits that returned 0.
    pub timeouts: u64,
    /// Waits that returned -errno; `eintr` of them were interrupted by a signal.
    pub errors: u64,
    pub eintr: u64,
    /// Time inside the waits, and the part of it spent asleep (block -> back on CPU).
    pub wait_ns: u64,
    pub blocked_ns: u64,
    /// Waits by events returned (exact below 16, then power-of-two ranges).
    pub events_hist: Vec<EventsBucket>,
    pub by_epfd: Vec<EpollFd>,
    pub ctl: EpollCtl,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventsBucket {
    pub events_min: u64,
    pub events_max: u64,
    pub waits: u64,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EpollFd {
    pub pid: u32,
    pub epfd: i32,
    pub waits: u64,
    pub blocked_waits: u64,
    pub events_returned: u64,
    pub timeouts: u64,
}

/// epoll_ctl operations, and how many ADD/MOD asked for each flag.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EpollCtl {
    pub add: u64,
    pub modify: u64,
    pub delete: u64,
    pub edge_triggered: u64,
    pub oneshot: u64,
    pub exclusive: u64,
    pub wakeup: u64,
}

/// Bytes the CPU copied between user and kernel memory, bytes moved without that copy,
/// and per data path the textbook model beside what the kernel showed.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Copies {
    pub cpu_copy_bytes: u64,
    pub zero_copy_bytes: u64,
    /// Measured by the kernel: skb -> user bytes in socket receives.
    pub socket_copy_bytes: u64,
    /// Measured: block I/O the target issued (disk DMA), and bytes sent through real NICs.
    pub disk_read_bytes: u64,
    pub disk_write_bytes: u64,
    pub nic_tx_bytes: u64,
    pub paths: Vec<PathRow>,
    /// Where the model and this kernel disagree.
    pub notes: Vec<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PathRow {
    /// read-write, mmap-write, sendfile, splice, vmsplice, copy-file-range, recv.
    pub path: String,
    pub calls: u64,
    /// Bytes delivered (for recv: received), each payload once.
    pub bytes: u64,
    pub bytes_in: u64,
    /// Measured: 2 per call.
    pub mode_switches: u64,
    /// The textbook model, per transfer: mode switches, CPU copies, DMA copies.
    pub model_mode_switches: u64,
    pub cpu_copies: u64,
    pub dma_copies: u64,
    /// Measured: bytes the CPU copied between user and kernel memory on this path, and
    /// bytes that moved without such a copy.
    pub cpu_copied_bytes: u64,
    pub zero_copy_bytes: u64,
    pub note: String,
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
        notes: vec!["NIC DMA not measured: example".into()],
        syscalls: vec![
            SyscallRow {
                name: "write".into(),
                nr: 1,
                count: 512,
                errors: 0,
                bytes: 33_554_432,
                total_ns: 9_000_000,
                returned: 512,
                latency: vec![LatencyBucket { from_ns: 8192, count: 500 }, LatencyBucket { from_ns: 65536, count: 12 }],
            },
            SyscallRow {
                name: "epoll_wait".into(),
                nr: 232,
                count: 3,
                errors: 1,
                returned: 3,
                ..SyscallRow::default()
            },
        ],
        mode_switches: 1030,
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
        epoll: Epoll {
            waits: 3,
            blocked_waits: 2,
            events_returned: 4,
            timeouts: 1,
            errors: 1,
            eintr: 1,
            wait_ns: 3000,
            blocked_ns: 2000,
            events_hist: vec![
                EventsBucket { events_min: 0, events_max: 0, waits: 1 },
                EventsBucket { events_min: 4, events_max: 4, waits: 1 },
            ],
            by_epfd: vec![EpollFd { pid: 4242, epfd: 5, waits: 3, blocked_waits: 2, events_returned: 4, timeouts: 1 }],
            ctl: EpollCtl { add: 2, modify: 1, delete: 1, edge_triggered: 2, ..EpollCtl::default() },
        },
        copies: Copies {
            cpu_copy_bytes: 33_554_432,
            zero_copy_bytes: 0,
            socket_copy_bytes: 0,
            paths: vec![PathRow {
                path: "read-write".into(),
                calls: 1024,
                bytes: 16_777_216,
                bytes_in: 16_777_216,
                mode_switches: 2048,
                model_mode_switches: 4,
                cpu_copies: 2,
                dma_copies: 2,
                cpu_copied_bytes: 33_554_432,
                zero_copy_bytes: 0,
                note: "model note".into(),
            }],
            notes: vec!["no NIC DMA measured".into()],
            ..Copies::default()
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
        ] {
            assert!(v.pointer(ptr).is_some(), "missing {ptr}");
        }
        assert_eq!(v["sched"]["voluntary"], 305);
        let back: Report = serde_json::from_value(v).unwrap();
        assert_eq!(back, sample());
    }
}
