//! Recordings, replay, exports and the live view, as a user meets them.
use std::process::Command;

use integration_test::{binary, scratch, tracer, tracer_as_nobody};
use serde_json::Value;

fn zerocopy_cmd() -> Vec<String> {
    let z = binary("zerocopy");
    [z.to_str().unwrap(), "--mode", "sendfile", "--size", "4M"].map(String::from).to_vec()
}

/// Records a run while printing its live report; returns (live JSON, recording path).
fn record_live(name: &str) -> (Value, std::path::PathBuf) {
    let (rec, live) = (scratch(&format!("{name}.bin")), scratch(&format!("{name}.json")));
    let mut args =
        vec!["run", "--format", "json", "--output", live.to_str().unwrap(), "--record", rec.to_str().unwrap(), "--"];
    let cmd = zerocopy_cmd();
    args.extend(cmd.iter().map(String::as_str));
    tracer(&args);
    (serde_json::from_str(&std::fs::read_to_string(&live).unwrap()).unwrap(), rec)
}

#[test]
fn a_replayed_recording_gives_the_live_report() {
    let (live, rec) = record_live("replay");
    // Replaying needs no privileges: run it as nobody.
    let out = tracer_as_nobody(&["report", rec.to_str().unwrap(), "--format", "json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let replayed: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(replayed, live, "offline and live reports must be identical");
    assert!(live["syscalls"].as_array().unwrap().len() > 10 && live["faults"]["minor"].as_u64().unwrap() > 0);
}

#[test]
fn csv_carries_the_json_numbers() {
    let (live, rec) = record_live("csv");
    let csv = String::from_utf8(tracer(&["report", rec.to_str().unwrap(), "--format", "csv"]).stdout).unwrap();
    let mut checked = 0;
    for table in csv.split("\n\n") {
        let mut reader = csv::Reader::from_reader(table.as_bytes());
        let header = reader.headers().unwrap().clone();
        for (i, row) in reader.records().enumerate() {
            let row = row.unwrap();
            if &row[0] == "summary" {
                // Dotted key -> the JSON scalar at that path.
                let ptr = format!("/{}", row[1].replace('.', "/"));
                let want = &live.pointer(&ptr).unwrap_or_else(|| panic!("{ptr} not in JSON"));
                assert_eq!(scalar(want), &row[2], "{ptr}");
            } else {
                let ptr = format!("/{}/{i}", row[0].replace('.', "/"));
                let item = live.pointer(&ptr).unwrap_or_else(|| panic!("{ptr} not in JSON"));
                for (col, cell) in header.iter().zip(row.iter()).skip(1) {
                    if let Some(v) = item.get(col).filter(|v| !v.is_array()) {
                        assert_eq!(scalar(v), cell, "{ptr}/{col}");
                    } else if item.is_string() {
                        assert_eq!(item.as_str().unwrap(), cell);
                    }
                }
            }
            checked += 1;
        }
    }
    assert!(checked > 50, "{checked}");
    // A directory gets one file per section.
    let dir = scratch("csv-dir");
    std::fs::create_dir_all(&dir).unwrap();
    tracer(&["report", rec.to_str().unwrap(), "--format", "csv", "--output", dir.to_str().unwrap()]);
    for section in ["summary", "syscalls", "sched.threads", "copies.paths", "faults.by_mapping", "softirq.vectors"] {
        assert!(dir.join(format!("{section}.csv")).is_file(), "{section}.csv");
    }
}

fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        // A figure the kernel cannot give: an empty cell.
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

#[test]
fn corrupt_truncated_and_foreign_recordings_are_refused_in_one_line() {
    let (_, rec) = record_live("corrupt");
    let good = std::fs::read(&rec).unwrap();
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("empty", vec![], "does not start with a tracer recording header"),
        ("foreign", b"%PDF-1.7 not a trace at all".to_vec(), "does not start with a tracer recording header"),
        (
            "future",
            {
                let mut v = good.clone();
                v[8] = 9;
                v
            },
            "format version 9",
        ),
        ("truncated", good[..good.len() / 2].to_vec(), "truncated"),
        ("no-trailer", good[..good.len() - 4].to_vec(), "truncated"),
        (
            "garbage-record",
            {
                let mut v = good.clone();
                v[16..20].copy_from_slice(&99u32.to_le_bytes());
                v
            },
            "corrupt",
        ),
    ];
    for (name, bytes, needle) in cases {
        let path = scratch(&format!("bad-{name}.bin"));
        std::fs::write(&path, bytes).unwrap();
        let out = Command::new(binary("tracer")).args(["report", path.to_str().unwrap()]).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{name}: accepted");
        assert_eq!(err.lines().count(), 1, "{name}: one line: {err}");
        assert!(err.contains(needle), "{name}: expected `{needle}`: {err}");
        assert!(!err.contains("panicked"), "{name}: {err}");
    }
    let out = Command::new(binary("tracer")).args(["report", "/no/such/recording"]).output().unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read /no/such/recording"));
}

#[test]
fn the_live_view_prints_a_report_per_interval() {
    // A command that lasts at least 600 ms whatever the machine's speed: 3 intervals.
    let out = tracer(&[
        "run",
        "--format",
        "json",
        "--interval",
        "200ms",
        "--output",
        scratch("live-final.json").to_str().unwrap(),
        "--",
        "sh",
        "-c",
        "dd if=/dev/zero of=/dev/null bs=4k count=1000 status=none; sleep 0.6; dd if=/dev/zero of=/dev/null bs=4k count=1000 status=none",
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let views: Vec<Value> = stdout
        .lines()
        .filter(|l| l.starts_with("{\"schema_version\""))
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(views.len() >= 2, "one JSON report per interval: {}", views.len());
    let reads = |v: &Value| {
        v["syscalls"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"] == "read")
            .map_or(0, |s| s["count"].as_u64().unwrap())
    };
    let last = &views[views.len() - 1];
    assert!(reads(last) >= reads(&views[0]), "counts only grow");
    // The sleep falls in a view: the first dd's 1000 reads are in it, the second's not.
    assert!(
        views.iter().any(|v| (1000..2000).contains(&reads(v))),
        "{:?}",
        views.iter().map(reads).collect::<Vec<_>>()
    );
    let end = integration_test::json_file(&scratch("live-final.json"));
    assert!(reads(&end) >= 2000 && reads(&end) >= reads(last), "the final report holds both: {}", reads(&end));
    assert!(views[0]["duration_ns"].as_u64().unwrap() < views[views.len() - 1]["duration_ns"].as_u64().unwrap());
}

#[test]
fn record_needs_a_target_and_writes_a_replayable_file() {
    let rec = scratch("record-cmd.bin");
    let out =
        Command::new(binary("tracer")).args(["record", "-o", rec.to_str().unwrap(), "--", "true"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("replay it with `tracer report"));
    let report: Value =
        serde_json::from_slice(&tracer(&["report", rec.to_str().unwrap(), "--format", "json"]).stdout).unwrap();
    assert_eq!(report["target"]["command"], "true");
    let out = Command::new(binary("tracer")).args(["record", "-o", rec.to_str().unwrap()]).output().unwrap();
    assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).lines().count() == 1);
}
