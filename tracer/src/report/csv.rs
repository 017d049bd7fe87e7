//! CSV: one table per section, separated by a blank line. Every table's first column is
//! `section`, so `grep '^sched.threads,'` or a split on blank lines recovers a table.
use std::io::Write;

use super::Report;

pub fn render(r: &Report, out: &mut dyn Write) -> std::io::Result<()> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let summary = [
        ("schema_version", r.schema_version.to_string()),
        ("target.pid", r.target.pid.to_string()),
        ("target.command", r.target.command.clone()),
        ("duration_ns", r.duration_ns.to_string()),
        ("lost_events", r.lost_events.to_string()),
        ("complete", r.complete.to_string()),
        ("sched.voluntary", r.sched.voluntary.to_string()),
        ("sched.involuntary", r.sched.involuntary.to_string()),
    ];
    w.write_record(["section", "key", "value"])?;
    for (k, v) in summary {
        w.write_record(["summary", k, &v])?;
    }
    let mut text = w.into_inner().map_err(|e| e.into_error())?;
    text.push(b'\n');

    let mut w = csv::Writer::from_writer(text);
    w.write_record(["section", "pid", "tid", "comm", "voluntary", "involuntary", "exited"])?;
    for t in &r.sched.threads {
        let exited = t.exited.to_string();
        let (pid, tid, vol, invol) =
            (t.pid.to_string(), t.tid.to_string(), t.voluntary.to_string(), t.involuntary.to_string());
        w.write_record(["sched.threads", &pid, &tid, &t.comm, &vol, &invol, &exited])?;
    }
    out.write_all(&w.into_inner().map_err(|e| e.into_error())?)
}

#[cfg(test)]
mod tests {
    use crate::report::{Format, render, sample};

    #[test]
    fn sections_parse_back_to_the_same_numbers() {
        let mut out = Vec::new();
        render(&sample(), Format::Csv, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        let tables: Vec<&str> = text.split("\n\n").collect();
        assert_eq!(tables.len(), 2);
        let mut summary = csv::Reader::from_reader(tables[0].as_bytes());
        let kv: Vec<(String, String)> = summary
            .records()
            .map(|r| {
                let r = r.unwrap();
                (r[1].to_owned(), r[2].to_owned())
            })
            .collect();
        assert!(kv.contains(&("sched.voluntary".into(), "305".into())));
        assert!(kv.contains(&("target.command".into(), "sched-child --sleeps 3".into())));
        let mut threads = csv::Reader::from_reader(tables[1].as_bytes());
        let rows: Vec<csv::StringRecord> = threads.records().map(Result::unwrap).collect();
        assert_eq!(rows.len(), 2);
        assert_eq!(&rows[1][3], "spin, \"0\"", "quoting survives");
        assert_eq!((&rows[1][4], &rows[1][5], &rows[1][6]), ("5", "120", "true"));
    }
}
