//! CSV: the JSON report flattened, so both always carry the same numbers. Scalars go to a
//! `summary` table (`section,key,value` with dotted keys); every array becomes its own
//! table named by its path (`sched.threads`, `syscalls`, `copies.paths`, ...), whose first
//! column is the section name. Tables are separated by a blank line. A nested array inside
//! a row (a latency histogram) is one cell: `from_ns:count` pairs joined by `;`.
use std::io::Write;

use serde_json::Value;

use crate::report::Report;

pub fn render(r: &Report, out: &mut dyn Write) -> std::io::Result<()> {
    let sections = sections(r)?;
    for (i, (_, bytes)) in sections.iter().enumerate() {
        if i > 0 {
            out.write_all(b"\n")?;
        }
        out.write_all(bytes)?;
    }
    Ok(())
}

/// Each section as its own CSV text: `summary` first, then every array of the report.
pub fn sections(r: &Report) -> std::io::Result<Vec<(String, Vec<u8>)>> {
    let json = serde_json::to_value(r).map_err(std::io::Error::other)?;
    let mut summary = Vec::new();
    let mut tables = Vec::new();
    flatten("", &json, &mut summary, &mut tables);
    let emit = |name: &str, header: Vec<String>, rows: Vec<Vec<String>>| -> std::io::Result<(String, Vec<u8>)> {
        let mut w = csv::Writer::from_writer(Vec::new());
        w.write_record(std::iter::once("section".to_owned()).chain(header))?;
        for row in rows {
            w.write_record(std::iter::once(name.to_owned()).chain(row))?;
        }
        Ok((name.to_owned(), w.into_inner().map_err(csv::IntoInnerError::into_error)?))
    };
    let rows = summary.into_iter().map(|(k, v)| vec![k, v]).collect();
    let mut out = vec![emit("summary", vec!["key".into(), "value".into()], rows)?];
    for (name, items) in tables {
        let (header, rows) = table(&items);
        out.push(emit(&name, header, rows)?);
    }
    Ok(out)
}

fn flatten(prefix: &str, v: &Value, summary: &mut Vec<(String, String)>, tables: &mut Vec<(String, Vec<Value>)>) {
    match v {
        Value::Object(map) => {
            for (k, child) in map {
                let key = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
                flatten(&key, child, summary, tables);
            }
        }
        // An empty list has neither rows nor columns to show.
        Value::Array(items) if items.is_empty() => {}
        Value::Array(items) => tables.push((prefix.to_owned(), items.clone())),
        scalar => summary.push((prefix.to_owned(), cell(scalar))),
    }
}

/// Columns: the keys of the first object (all rows of one array share a shape), or a
/// single `value` column for an array of scalars.
fn table(items: &[Value]) -> (Vec<String>, Vec<Vec<String>>) {
    match items.first() {
        Some(Value::Object(first)) => {
            let header: Vec<String> = first.keys().cloned().collect();
            let rows = items.iter().map(|item| header.iter().map(|k| cell(&item[k])).collect()).collect();
            (header, rows)
        }
        _ => (vec!["value".into()], items.iter().map(|v| vec![cell(v)]).collect()),
    }
}

fn cell(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        // A figure this kernel cannot give: an empty cell, never a 0.
        Value::Null => String::new(),
        Value::Array(items) => items
            .iter()
            .map(|i| match i {
                Value::Object(o) => o.values().map(cell).collect::<Vec<_>>().join(":"),
                other => cell(other),
            })
            .collect::<Vec<_>>()
            .join(";"),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use crate::{
        render::{Format, render},
        report::sample,
    };

    fn tables(text: &str) -> Vec<(String, Vec<csv::StringRecord>)> {
        text.split("\n\n")
            .map(|t| {
                let mut r = csv::Reader::from_reader(t.as_bytes());
                let rows: Vec<csv::StringRecord> = r.records().map(Result::unwrap).collect();
                (rows.first().map(|r| r[0].to_owned()).unwrap_or_default(), rows)
            })
            .collect()
    }

    #[test]
    fn sections_parse_back_to_the_same_numbers() {
        let mut out = Vec::new();
        render(&sample(), Format::Csv, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        let t = tables(&text);
        let names: Vec<&str> = t.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "summary",
                "notes",
                "overhead.programs",
                "syscalls",
                "sched.threads",
                "sched.by_syscall",
                "wakeups.by_source",
                "wakeups.edges",
                "epoll.events_hist",
                "epoll.by_epfd",
                "epoll.wakeups_by_source",
                "epoll.wakeups_by_socket",
                "epoll.wake_to_run",
                "copies.paths",
                "copies.notes",
                "faults.by_mapping",
                "faults.notes",
                "softirq.vectors"
            ]
        );
        let summary = &t[0].1;
        let get = |k: &str| summary.iter().find(|r| &r[1] == k).map(|r| r[2].to_owned());
        assert_eq!(get("sched.voluntary").as_deref(), Some("305"));
        assert_eq!(get("target.command").as_deref(), Some("sched-child --sleeps 3"));
        assert_eq!(get("epoll.ctl.edge_triggered").as_deref(), Some("2"));
        assert_eq!(get("copies.cpu_copy_bytes").as_deref(), Some("33554432"));
        assert_eq!(get("coverage.faults.status").as_deref(), Some("exact"));
        let threads = &t[4].1;
        assert_eq!(&threads[1][3], "spin, \"0\"", "quoting survives");
        assert_eq!((&threads[1][4], &threads[1][5], &threads[1][6]), ("5", "120", "true"));
        let syscalls = &t[3].1;
        assert_eq!(&syscalls[0][1], "write");
        assert!(syscalls[0].iter().any(|c| c == "8192:500;65536:12"), "{:?}", syscalls[0]);
        // A program without a time of its own: an empty cell, not a 0.
        let programs = &t[2].1;
        assert_eq!((&programs[2][1], &programs[2][2], &programs[2][3]), ("tcp_probe", "", "3"));
    }
}
