//! The panes of `tracer top`: each a summary line and rows drawn from one report (the
//! trace so far, or one interval of it: `Report::since`), with a key per cell to sort
//! by. Counts are shown whole, so the screen can be checked against the report.
use std::cmp::Ordering;

use crate::{
    render::table::cells::{bytes, duration},
    report::{Part, Report, quantile_bound_ns},
    sections::Section,
};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pane {
    Syscalls,
    Epoll,
    Copies,
    Threads,
    Softirq,
    Faults,
}

pub const PANES: [Pane; 6] = [Pane::Syscalls, Pane::Epoll, Pane::Copies, Pane::Threads, Pane::Softirq, Pane::Faults];

impl Pane {
    pub fn index(self) -> usize {
        PANES.iter().position(|&p| p == self).expect("every pane is listed")
    }

    pub fn title(self) -> &'static str {
        match self {
            Pane::Syscalls => "syscalls",
            Pane::Epoll => "epoll waits",
            Pane::Copies => "copies",
            Pane::Threads => "threads",
            Pane::Softirq => "softirqs",
            Pane::Faults => "page faults",
        }
    }

    pub fn columns(self) -> &'static [&'static str] {
        match self {
            Pane::Syscalls => &["syscall", "calls/s", "calls", "errors", "bytes", "p50 <", "p99 <"],
            Pane::Epoll => &["woken by", "wakeups", "share"],
            Pane::Copies => &["path", "calls", "bytes", "CPU-copied", "zero-copy", "CPU copies"],
            Pane::Threads => &["tid", "comm", "on-CPU", "off-CPU", "run-queue", "vol", "invol"],
            Pane::Softirq => &["vector", "runs", "time", "target runs"],
            Pane::Faults => &["mapping", "minor", "major"],
        }
    }

    /// Busiest first: calls, wakeups, ..., on-CPU time for threads.
    pub fn default_sort(self) -> usize {
        match self {
            Pane::Threads => 2,
            _ => 1,
        }
    }

    fn section(self) -> Section {
        match self {
            Pane::Syscalls => Section::Syscalls,
            Pane::Epoll => Section::Epoll,
            Pane::Copies => Section::Copies,
            Pane::Threads => Section::Sched,
            Pane::Softirq => Section::Softirq,
            Pane::Faults => Section::Faults,
        }
    }
}

/// What a cell sorts by.
#[derive(Clone, Debug, PartialEq)]
pub enum Key {
    Num(f64),
    Text(String),
}

impl Key {
    pub fn cmp(&self, other: &Key) -> Ordering {
        match (self, other) {
            (Key::Num(a), Key::Num(b)) => a.total_cmp(b),
            (Key::Text(a), Key::Text(b)) => a.cmp(b),
            (Key::Num(_), Key::Text(_)) => Ordering::Greater,
            (Key::Text(_), Key::Num(_)) => Ordering::Less,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Cell {
    pub text: String,
    pub key: Key,
}

fn count(n: u64) -> Cell {
    Cell { text: n.to_string(), key: Key::Num(n as f64) }
}

fn text(s: &str) -> Cell {
    Cell { text: s.to_owned(), key: Key::Text(s.to_owned()) }
}

fn size(n: u64) -> Cell {
    Cell { text: bytes(n), key: Key::Num(n as f64) }
}

fn time(ns: u64) -> Cell {
    Cell { text: duration(ns), key: Key::Num(ns as f64) }
}

/// A figure the report leaves out (`n/a`) sorts below every number.
fn maybe(v: Option<u64>, show: fn(u64) -> Cell) -> Cell {
    v.map_or(Cell { text: "n/a".into(), key: Key::Num(-1.0) }, show)
}

fn per_second(n: u64, secs: f64) -> Cell {
    let rate = if secs > 0.0 { n as f64 / secs } else { 0.0 };
    Cell { text: format!("{rate:.0}"), key: Key::Num(rate) }
}

fn share(part: u64, whole: u64) -> Cell {
    let s = if whole > 0 { part as f64 / whole as f64 } else { 0.0 };
    Cell { text: format!("{:.0}%", s * 100.0), key: Key::Num(s) }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    /// What `/` matches.
    pub name: String,
    pub cells: Vec<Cell>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Table {
    pub pane: Pane,
    pub summary: String,
    pub rows: Vec<Row>,
    /// Why this pane has no figures (the kernel cannot give them, or `--only`).
    pub absent: Option<String>,
}

impl Table {
    /// The rows matching `filter` (any case), ordered by `column`.
    pub fn shown(&self, filter: &str, column: usize, descending: bool) -> Vec<&Row> {
        let filter = filter.to_lowercase();
        let mut rows: Vec<&Row> = self.rows.iter().filter(|r| r.name.to_lowercase().contains(&filter)).collect();
        rows.sort_by(|a, b| {
            let o = a.cells[column].key.cmp(&b.cells[column].key);
            if descending { o.reverse() } else { o }
        });
        rows
    }
}

/// Every pane of `r`, which covers `secs` seconds.
pub fn tables(r: &Report, secs: f64) -> Vec<Table> {
    PANES.iter().map(|&p| table(p, r, secs)).collect()
}

fn table(pane: Pane, r: &Report, secs: f64) -> Table {
    let absent = |why: String| Table { pane, summary: String::new(), rows: Vec::new(), absent: Some(why) };
    let (summary, rows) = match pane {
        Pane::Syscalls => match &r.syscalls {
            Part::Traced(s) => syscalls(r, s, secs),
            part => return absent(why_absent(r, pane, part.is_not_traced())),
        },
        Pane::Epoll => match &r.epoll {
            Part::Traced(e) => epoll(e),
            part => return absent(why_absent(r, pane, part.is_not_traced())),
        },
        Pane::Copies => match &r.copies {
            Part::Traced(c) => copies(c),
            part => return absent(why_absent(r, pane, part.is_not_traced())),
        },
        Pane::Threads => match &r.sched {
            Part::Traced(s) => threads(s),
            part => return absent(why_absent(r, pane, part.is_not_traced())),
        },
        Pane::Softirq => match &r.softirq {
            Part::Traced(s) => softirq(s),
            part => return absent(why_absent(r, pane, part.is_not_traced())),
        },
        Pane::Faults => match &r.faults {
            Part::Traced(f) => faults(f),
            part => return absent(why_absent(r, pane, part.is_not_traced())),
        },
    };
    Table { pane, summary, rows, absent: None }
}

/// One line: not asked for, or what the kernel's coverage says.
fn why_absent(r: &Report, pane: Pane, not_traced: bool) -> String {
    let section = pane.section();
    if not_traced {
        return format!("not traced (--only leaves out {})", section.name());
    }
    match r.coverage.get(&section).map(|c| c.notes.join("; ")) {
        Some(why) if !why.is_empty() => format!("unavailable on this kernel: {why}"),
        _ => "unavailable on this kernel".into(),
    }
}

fn syscalls(r: &Report, rows: &[crate::report::SyscallRow], secs: f64) -> (String, Vec<Row>) {
    let calls: u64 = rows.iter().map(|s| s.count).sum();
    let errors: u64 = rows.iter().map(|s| s.errors).sum();
    let switches = r.mode_switches.get().map_or_else(String::new, |m| format!(", {m} mode switches"));
    let summary = format!("{calls} calls ({:.0}/s), {errors} errors{switches}", calls as f64 / secs.max(1e-9));
    let quantile = |s: &crate::report::SyscallRow, q| s.latency.as_deref().and_then(|l| quantile_bound_ns(l, q));
    let rows = rows
        .iter()
        .map(|s| Row {
            name: s.name.clone(),
            cells: vec![
                text(&s.name),
                per_second(s.count, secs),
                count(s.count),
                count(s.errors),
                size(s.bytes),
                maybe(quantile(s, 0.5), time),
                maybe(quantile(s, 0.99), time),
            ],
        })
        .collect();
    (summary, rows)
}

fn epoll(e: &crate::report::Epoll) -> (String, Vec<Row>) {
    let per_wait = if e.waits > 0 { e.events_returned as f64 / e.waits as f64 } else { 0.0 };
    let blocked = if e.waits > 0 { 100.0 * e.blocked_waits as f64 / e.waits as f64 } else { 0.0 };
    let summary = format!(
        "{} waits, {} blocked ({blocked:.0}%), {per_wait:.2} events/wait, {} timeouts",
        e.waits, e.blocked_waits, e.timeouts
    );
    let woken: u64 = e.wakeups_by_source.iter().map(|s| s.count).sum();
    let rows = e
        .wakeups_by_source
        .iter()
        .map(|s| Row { name: s.source.clone(), cells: vec![text(&s.source), count(s.count), share(s.count, woken)] })
        .collect();
    (summary, rows)
}

fn copies(c: &crate::report::Copies) -> (String, Vec<Row>) {
    let summary = format!("CPU-copied {}, zero-copy {}", bytes(c.cpu_copy_bytes), bytes(c.zero_copy_bytes));
    let rows = c
        .paths
        .iter()
        .map(|p| Row {
            name: p.path.clone(),
            cells: vec![
                text(&p.path),
                count(p.calls),
                size(p.bytes),
                size(p.cpu_copied_bytes),
                size(p.zero_copy_bytes),
                count(p.cpu_copies),
            ],
        })
        .collect();
    (summary, rows)
}

fn threads(s: &crate::report::Sched) -> (String, Vec<Row>) {
    let summary = format!(
        "{} voluntary, {} involuntary switches; on-CPU {}, run-queue {}",
        s.voluntary,
        s.involuntary,
        duration(s.oncpu_ns),
        duration(s.runqueue_ns)
    );
    let rows = s
        .threads
        .iter()
        .map(|t| Row {
            name: format!("{} {}", t.tid, t.comm),
            cells: vec![
                count(u64::from(t.tid)),
                text(&t.comm),
                time(t.oncpu_ns),
                time(t.offcpu_ns),
                time(t.runqueue_ns),
                count(t.voluntary),
                count(t.involuntary),
            ],
        })
        .collect();
    (summary, rows)
}

fn softirq(s: &crate::report::Softirq) -> (String, Vec<Row>) {
    let runs: u64 = s.vectors.iter().map(|v| v.count).sum();
    let ns: u64 = s.vectors.iter().map(|v| v.time_ns).sum();
    let rows = s
        .vectors
        .iter()
        .map(|v| Row {
            name: v.name.clone(),
            cells: vec![text(&v.name), count(v.count), time(v.time_ns), count(v.target_runs)],
        })
        .collect();
    (format!("{runs} runs, {} on all CPUs", duration(ns)), rows)
}

fn faults(f: &crate::report::Faults) -> (String, Vec<Row>) {
    let per_mapping = if f.by_mapping.is_some() { "" } else { " (per mapping: n/a on this kernel)" };
    let summary = format!("{} minor, {} major{per_mapping}", f.minor, f.major);
    let rows = f
        .by_mapping
        .iter()
        .flatten()
        .map(|m| Row { name: m.mapping.clone(), cells: vec![text(&m.mapping), count(m.minor), count(m.major)] })
        .collect();
    (summary, rows)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::sample;

    #[test]
    fn every_row_has_a_cell_per_column() {
        for t in tables(&sample(), 1.5) {
            for r in &t.rows {
                assert_eq!(r.cells.len(), t.pane.columns().len(), "{:?}", t.pane);
            }
        }
    }

    #[test]
    fn syscall_rows_show_the_reports_counts_and_rates() {
        let r = sample();
        let t = &tables(&r, 2.0)[0];
        let write = t.rows.iter().find(|row| row.name == "write").unwrap();
        let texts: Vec<&str> = write.cells.iter().map(|c| c.text.as_str()).collect();
        // 512 calls over 2 s; 500 of 512 under 16 us (the 8 us bucket's bound), the 99th
        // percentile in the 64 us bucket.
        assert_eq!(texts, ["write", "256", "512", "0", "32.0 MiB", "16.4 us", "131.1 us"]);
        let epoll_wait = t.rows.iter().find(|row| row.name == "epoll_wait").unwrap();
        assert_eq!(epoll_wait.cells[5].text, "n/a", "no latency: not a 0");
    }

    #[test]
    fn sorting_and_filtering() {
        let t = &tables(&sample(), 1.0)[0];
        let names = |rows: Vec<&Row>| rows.iter().map(|r| r.name.clone()).collect::<Vec<_>>();
        assert_eq!(names(t.shown("", 2, true)), ["write", "epoll_wait"]);
        assert_eq!(names(t.shown("", 2, false)), ["epoll_wait", "write"]);
        assert_eq!(names(t.shown("", 0, false)), ["epoll_wait", "write"], "by name");
        assert_eq!(names(t.shown("EPOLL", 2, true)), ["epoll_wait"]);
        assert!(t.shown("nothing", 2, true).is_empty());
    }

    #[test]
    fn a_pane_the_kernel_cannot_give_says_why() {
        let mut r = sample();
        r.faults = Part::Unavailable;
        r.coverage.get_mut(&Section::Faults).unwrap().notes = vec!["no exceptions:page_fault_user".into()];
        r.softirq = Part::NotTraced;
        let t = tables(&r, 1.0);
        assert_eq!(
            t[Pane::Faults.index()].absent.as_deref(),
            Some("unavailable on this kernel: no exceptions:page_fault_user")
        );
        assert_eq!(t[Pane::Softirq.index()].absent.as_deref(), Some("not traced (--only leaves out softirq)"));
        assert!(t[Pane::Syscalls.index()].absent.is_none());
    }
}
