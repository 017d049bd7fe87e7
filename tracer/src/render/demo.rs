//! `tracer demo`'s comparison tables, as a table, JSON or CSV.
use std::fmt::Write as _;

use anyhow::{Result, bail};
use serde_json::Value;

use super::{
    Format,
    table::{Grid, bytes, duration},
};
use crate::report::demo::Demo;

/// The demo's comparison in `format`.
pub fn render(demo: &Demo, format: Format) -> Result<String> {
    Ok(match format {
        Format::Json => format!("{}\n", serde_json::to_string_pretty(demo)?),
        Format::Csv => csv(demo)?,
        Format::Table => table(demo),
        Format::Folded | Format::FoldedOffwake => {
            bail!("the demo's tables have no stacks: use --format table, json or csv")
        }
    })
}

fn table(d: &Demo) -> String {
    let mut s = String::new();
    if !d.zerocopy.is_empty() {
        let _ = writeln!(
            s,
            "Zero-copy paths: one file sent over loopback TCP by each path (model = the textbook, per transfer)"
        );
        let mut t = Grid::new(
            &[
                "mode",
                "syscalls",
                "mode switches",
                "CPU copies model/measured",
                "DMA copies model/measured",
                "CPU-copied",
                "zero-copy",
                "ctx switches",
                "faults",
                "time",
                "MiB/s",
            ],
            1,
        );
        for r in &d.zerocopy {
            t.row(vec![
                r.mode.clone(),
                r.syscalls.to_string(),
                r.mode_switches.to_string(),
                format!("{} / {:.2}", r.model_cpu_copies, r.cpu_copies_per_byte),
                format!("{} / {:.2}", r.model_dma_copies, r.dma_copies_per_byte),
                bytes(r.cpu_copied_bytes),
                bytes(r.zero_copy_bytes),
                r.context_switches.to_string(),
                r.page_faults.to_string(),
                duration(r.wall_ns),
                format!("{:.0}", r.mib_per_s),
            ]);
        }
        let _ = writeln!(s, "{t}");
    }
    if !d.epoll.is_empty() {
        let _ = writeln!(s, "\nServer models: the same echo load against epoll-server in each mode (per request)");
        let mut t = Grid::new(
            &["mode", "reactors", "requests/s", "syscalls", "ready events/wait", "wakeups", "ctx switches", "woken by"],
            1,
        );
        for r in &d.epoll {
            t.row(vec![
                r.mode.clone(),
                r.reactors.to_string(),
                format!("{:.0}", r.requests_per_s),
                format!("{:.2}", r.syscalls_per_request),
                r.ready_events_per_wait.map_or_else(|| "-".into(), |v| format!("{v:.2}")),
                format!("{:.3}", r.wakeups_per_request),
                format!("{:.3}", r.context_switches_per_request),
                r.woken_by.clone(),
            ]);
        }
        let _ = writeln!(s, "{t}");
    }
    for n in &d.notes {
        let _ = writeln!(s, "note: {n}");
    }
    s
}

fn csv(d: &Demo) -> Result<String> {
    let mut out = String::new();
    let mut section = |name: &str, rows: Vec<Value>| -> Result<()> {
        let Some(Value::Object(first)) = rows.first() else { return Ok(()) };
        let mut w = csv::Writer::from_writer(Vec::new());
        w.write_record(std::iter::once("section").chain(first.keys().map(String::as_str)))?;
        for row in &rows {
            let cells: Vec<String> = first
                .keys()
                .map(|k| match &row[k] {
                    Value::String(s) => s.clone(),
                    v => v.to_string(),
                })
                .collect();
            w.write_record(std::iter::once(name.to_owned()).chain(cells))?;
        }
        if !out.is_empty() {
            out.push('\n');
        }
        out.push_str(&String::from_utf8(w.into_inner()?)?);
        Ok(())
    };
    section("zerocopy", d.zerocopy.iter().map(serde_json::to_value).collect::<Result<_, _>>()?)?;
    section("epoll", d.epoll.iter().map(serde_json::to_value).collect::<Result<_, _>>()?)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::report::demo::{CopyRow, ServerRow};

    /// Synthetic rows (the real ones are measured live): every column, a `-` cell, and
    /// both tables with their notes.
    fn demo() -> Demo {
        let copy = |mode: &str, cpu: u64, per_byte: f64, zero: u64| CopyRow {
            mode: mode.into(),
            syscalls: 2056,
            mode_switches: 4112,
            model_cpu_copies: cpu,
            cpu_copies_per_byte: per_byte,
            model_dma_copies: 2,
            dma_copies_per_byte: 0.0,
            cpu_copied_bytes: 134_217_728,
            zero_copy_bytes: zero,
            context_switches: 776,
            page_faults: 135,
            wall_ns: 35_612_345,
            mib_per_s: 1796.4,
        };
        let server = |mode: &str, reactors: u32, ready: Option<f64>| ServerRow {
            mode: mode.into(),
            reactors,
            requests_per_s: 63_472.4,
            syscalls_per_request: 2.014,
            ready_events_per_wait: ready,
            wakeups_per_request: 0.9994,
            context_switches_per_request: 1.0649,
            woken_by: "NET_RX softirq (100%)".into(),
        };
        Demo {
            zerocopy: vec![copy("read-write", 2, 2.0, 0), copy("sendfile", 1, 0.0, 67_108_864)],
            epoll: vec![server("blocking", 1, None), server("epoll-lt", 2, Some(3.7249))],
            pictures: vec![PathBuf::from("./tracer-demo-epoll-offwake.svg")],
            notes: vec!["a note".into(), "another, with a comma".into()],
        }
    }

    #[test]
    fn the_demo_tables_render_as_pinned() {
        let d = demo();
        insta::assert_snapshot!("demo.table", render(&d, Format::Table).unwrap());
        insta::assert_snapshot!("demo.json", render(&d, Format::Json).unwrap());
        insta::assert_snapshot!("demo.csv", render(&d, Format::Csv).unwrap());
        assert!(render(&d, Format::Folded).is_err(), "the demo has no stacks");
    }
}
