//! The wakeups section of the table.
use std::fmt::Write;

use super::cells::{Grid, TOP_ROWS, duration};
use crate::report::{Wakeups, quantile_bound_ns};

pub(super) fn render(s: &mut String, w: &Wakeups) {
    if w.count == 0 {
        return;
    }
    let sources: Vec<String> = w.by_source.iter().map(|x| format!("{} {}", x.source, x.count)).collect();
    let _ = writeln!(s, "\nWakeups: {} ({} followed by a run): {}", w.count, w.paired, sources.join(", "));
    let mut g = Grid::new(&["waker", "wakee", "wakeups", "avg wake-to-run", "p99 <"], 2);
    for e in w.edges.iter().take(TOP_ROWS) {
        let avg = e.latency_ns.checked_div(e.paired).map_or_else(|| "-".into(), duration);
        let p99 = quantile_bound_ns(&e.latency, 0.99).map_or_else(|| "-".into(), duration);
        g.row(vec![e.waker.clone(), format!("{}/{}", e.wakee_pid, e.wakee_tid), e.count.to_string(), avg, p99]);
    }
    let _ = writeln!(s, "{g}");
    if w.edges_folded > 0 {
        let _ =
            writeln!(s, "  ({} quieter edges not kept row by row; their wakeups are in the totals)", w.edges_folded);
    }
}
