//! Human rendering with comfy-table.
use std::fmt::Write;

use comfy_table::{CellAlignment, ContentArrangement, Table, presets::UTF8_FULL_CONDENSED};

use super::Report;

/// A comfy-table with the house preset and numeric columns right-aligned.
struct Grid(Table);

impl Grid {
    fn new(header: &[&str], numeric_from: usize) -> Self {
        let mut t = Table::new();
        t.load_preset(UTF8_FULL_CONDENSED).set_content_arrangement(ContentArrangement::Disabled).set_header(header);
        for i in numeric_from..header.len() {
            if let Some(c) = t.column_mut(i) {
                c.set_cell_alignment(CellAlignment::Right);
            }
        }
        Self(t)
    }

    fn row(&mut self, cells: Vec<String>) {
        self.0.add_row(cells);
    }
}

pub fn render(r: &Report) -> String {
    let mut s = String::new();
    let completeness =
        if r.complete { "complete".to_owned() } else { format!("INCOMPLETE: {} events lost", r.lost_events) };
    let _ = writeln!(
        s,
        "tracer: pid {} ({}), traced {}, {} lost events ({completeness})",
        r.target.pid,
        r.target.command,
        seconds(r.duration_ns),
        r.lost_events
    );
    let _ = writeln!(s, "\nContext switches: {} voluntary, {} involuntary", r.sched.voluntary, r.sched.involuntary);
    let mut g = Grid::new(&["pid", "tid", "comm", "voluntary", "involuntary"], 3);
    for t in &r.sched.threads {
        let comm = if t.exited { format!("{} (exited)", t.comm) } else { t.comm.clone() };
        g.row(vec![t.pid.to_string(), t.tid.to_string(), comm, t.voluntary.to_string(), t.involuntary.to_string()]);
    }
    g.row(vec![
        "all".into(),
        String::new(),
        format!("{} threads", r.sched.threads.len()),
        r.sched.voluntary.to_string(),
        r.sched.involuntary.to_string(),
    ]);
    let _ = write!(s, "{}", g.0);
    s
}

fn seconds(ns: u64) -> String {
    format!("{:.3} s", ns as f64 / 1e9)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shows_summary_threads_and_totals() {
        let text = render(&crate::report::sample());
        assert!(
            text.starts_with("tracer: pid 4242 (sched-child --sleeps 3), traced 1.523 s, 0 lost events (complete)")
        );
        assert!(text.contains("Context switches: 305 voluntary, 121 involuntary"));
        let line = |needle: &str| text.lines().find(|l| l.contains(needle)).unwrap().to_owned();
        let main = line("4242 ┆ sched-child");
        assert!(main.contains("300") && main.contains("┆           1 │"), "{main}");
        assert!(line("(exited)").contains("120"));
        assert!(line("2 threads").contains("305"));
    }

    #[test]
    fn flags_an_incomplete_trace() {
        let mut r = crate::report::sample();
        r.lost_events = 7;
        r.complete = false;
        assert!(render(&r).lines().next().unwrap().ends_with("(INCOMPLETE: 7 events lost)"));
    }
}
