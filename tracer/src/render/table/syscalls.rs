//! The syscalls section of the table.
use std::fmt::Write;

use super::cells::{Grid, TOP_ROWS, bytes, duration};
use crate::report::{Part, SyscallRow, quantile_bound_ns};

pub(super) fn render(s: &mut String, rows: &[SyscallRow], mode_switches: &Part<u64>) {
    let calls: u64 = rows.iter().map(|c| c.count).sum();
    let switches = mode_switches.get().copied().unwrap_or(2 * calls);
    let _ = writeln!(s, "\nSyscalls: {calls} calls, {switches} mode switches (user<->kernel, 2 per call)");
    if rows.is_empty() {
        return;
    }
    // Without latency (`--no-latency`) its three columns go.
    let timed = rows.iter().any(|c| c.latency.is_some());
    let headers = ["syscall", "calls", "errors", "bytes", "total time", "p50 <", "p99 <"];
    let mut g = Grid::new(&headers[..if timed { 7 } else { 4 }], 1);
    for c in rows.iter().take(TOP_ROWS) {
        let mut row = vec![
            c.name.clone(),
            c.count.to_string(),
            c.errors.to_string(),
            if c.bytes > 0 { bytes(c.bytes) } else { String::new() },
        ];
        if let (Some(total), Some(latency)) = (c.total_ns, &c.latency) {
            let q = |p: f64| quantile_bound_ns(latency, p).map_or_else(|| "-".into(), duration);
            row.extend([duration(total), q(0.5), q(0.99)]);
        }
        g.row(row);
    }
    if rows.len() > TOP_ROWS {
        g.row(vec![format!("... {} more", rows.len() - TOP_ROWS), String::new()]);
    }
    let _ = writeln!(s, "{g}");
}
