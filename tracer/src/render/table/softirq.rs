//! The softirqs section of the table.
use std::fmt::Write;

use super::cells::{Grid, duration};
use crate::report::Softirq;

pub(super) fn render(s: &mut String, si: &Softirq) {
    if si.vectors.is_empty() {
        return;
    }
    let _ = writeln!(s, "\nSoftirqs (whole system, traced window):");
    let mut g = Grid::new(&["vector", "count", "time", "avg raise->run", "per CPU", "woke target", "their time"], 1);
    for v in &si.vectors {
        let wait = match (v.raise_wait_ns, v.raised) {
            (Some(ns), Some(n)) => ns.checked_div(n).map_or_else(|| "-".into(), duration),
            _ => "n/a".into(),
        };
        let cpus: Vec<String> = v.per_cpu.iter().map(|c| format!("{}:{}", c.cpu, c.count)).collect();
        g.row(vec![
            v.name.clone(),
            v.count.to_string(),
            duration(v.time_ns),
            wait,
            cpus.join(" "),
            v.target_wakeups.to_string(),
            duration(v.target_time_ns),
        ]);
    }
    let _ = writeln!(s, "{g}");
}
