//! The context switches section of the table.
use std::fmt::Write;

use super::cells::{Grid, duration};
use crate::report::{Sched, ThreadRow};

pub(super) fn render(s: &mut String, c: &Sched) {
    let _ = writeln!(
        s,
        "\nContext switches: {} voluntary, {} involuntary; on CPU {}, off CPU {}, waiting for a CPU {}",
        c.voluntary,
        c.involuntary,
        duration(c.oncpu_ns),
        duration(c.offcpu_ns),
        duration(c.runqueue_ns)
    );
    let mut g = Grid::new(
        &["pid", "tid", "comm", "voluntary", "involuntary", "on CPU", "off CPU", "run queue", "slices", "avg slice"],
        3,
    );
    let mut row = |pid: String, tid: String, comm: String, v: u64, i: u64, on: u64, off: u64, rq: u64, slices: u64| {
        let avg = on.checked_div(slices).map_or_else(|| "-".into(), duration);
        g.row(vec![
            pid,
            tid,
            comm,
            v.to_string(),
            i.to_string(),
            duration(on),
            duration(off),
            duration(rq),
            slices.to_string(),
            avg,
        ]);
    };
    let idle: Vec<&ThreadRow> = c.threads.iter().filter(|t| t.idle).collect();
    for t in c.threads.iter().filter(|t| !t.idle) {
        let comm = if t.exited { format!("{} (exited)", t.comm) } else { t.comm.clone() };
        row(
            t.pid.to_string(),
            t.tid.to_string(),
            comm,
            t.voluntary,
            t.involuntary,
            t.oncpu_ns,
            t.offcpu_ns,
            t.runqueue_ns,
            t.slices,
        );
    }
    if !idle.is_empty() {
        let mut states: Vec<&str> = idle.iter().filter_map(|t| t.state.as_deref()).collect();
        states.dedup();
        let label = format!("{} idle (never ran: {})", idle.len(), states.join(", "));
        row(String::new(), String::new(), label, 0, 0, 0, 0, 0, 0);
    }
    if c.threads_folded > 0 {
        // Their counters are in the totals below; their rows were not kept.
        let label = format!("{} more exited", c.threads_folded);
        row(String::new(), String::new(), label, 0, 0, 0, 0, 0, 0);
    }
    let all = format!("{} threads", c.threads.len() as u64 + c.threads_folded);
    row("all".into(), String::new(), all, c.voluntary, c.involuntary, c.oncpu_ns, c.offcpu_ns, c.runqueue_ns, c.slices);
    let _ = writeln!(s, "{g}");
    if !c.by_syscall.is_empty() {
        let parts: Vec<String> =
            c.by_syscall.iter().take(8).map(|b| format!("{} {}v/{}i", b.syscall, b.voluntary, b.involuntary)).collect();
        let _ = writeln!(s, "switches by syscall: {}", parts.join(", "));
    }
}
