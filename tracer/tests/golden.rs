//! Golden test: real recorded streams (tests/fixtures/*.rec, recorded by `tracer record`
//! on Linux 6.18; how in tests/fixtures/README.md) rendered by every renderer, compared
//! byte for byte with what the tracer rendered when they were recorded
//! (tests/snapshots/). A refactor that changes one figure, one column or one byte of any
//! output fails here. No root needed: `tracer report FILE` is offline.
//!
//! Text goes through insta (`cargo insta review` shows a change); the Perfetto trace is
//! binary and is compared as bytes (a mismatch leaves `NAME.pftrace.new` beside it).
use std::{
    path::{Path, PathBuf},
    process::Command,
};

use tracer::{render::metrics, report::Report};

const TRACER: &str = env!("CARGO_BIN_EXE_tracer");

fn tests_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests")
}

fn fixture(name: &str) -> PathBuf {
    tests_dir().join("fixtures").join(format!("{name}.rec"))
}

/// A scratch directory of this test's own.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tracer-golden-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// `tracer report REC ARGS...`, which must succeed; its standard output.
fn report(rec: &Path, args: &[&str]) -> Vec<u8> {
    let out = Command::new(TRACER).arg("report").arg(rec).args(args).output().unwrap();
    assert!(out.status.success(), "tracer report {} {args:?}: {}", rec.display(), String::from_utf8_lossy(&out.stderr));
    out.stdout
}

fn text(bytes: Vec<u8>) -> String {
    String::from_utf8(bytes).expect("text output")
}

/// Every rendering of a recording: (name, text) pairs, and the Perfetto trace if the
/// recording has a timeline.
struct Rendered {
    texts: Vec<(&'static str, String)>,
    perfetto: Option<Vec<u8>>,
}

fn render_all(name: &str) -> Rendered {
    let rec = fixture(name);
    let dir = scratch(name);
    let path = |f: &str| dir.join(f).to_str().unwrap().to_owned();
    let json = text(report(&rec, &["--format", "json"]));
    let parsed: Report = serde_json::from_str(&json).unwrap();
    let mut texts = vec![
        ("table", text(report(&rec, &[]))),
        ("csv", text(report(&rec, &["--format", "csv"]))),
        // The metrics `tracer serve` answers a scrape with, of the same report.
        ("metrics", metrics::render(&parsed)),
    ];
    // CSV into a directory: one file per section, shown in name order.
    let csv_dir = dir.join("csv");
    std::fs::create_dir(&csv_dir).unwrap();
    report(&rec, &["--format", "csv", "--output", csv_dir.to_str().unwrap()]);
    let mut files: Vec<_> = std::fs::read_dir(&csv_dir).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    assert!(files.len() > 3, "{} CSV files", files.len());
    let joined = files
        .iter()
        .map(|f| format!("== {} ==\n{}", f.file_name().unwrap().to_string_lossy(), std::fs::read_to_string(f).unwrap()))
        .collect::<String>();
    texts.push(("csv-dir", joined));
    if parsed.stacks.is_some() {
        texts.push(("folded", text(report(&rec, &["--format", "folded"]))));
        texts.push(("folded-offwake", text(report(&rec, &["--format", "folded-offwake"]))));
        report(&rec, &["--format", "json", "--output", "/dev/null", "--flamegraph", &path("off.svg")]);
        report(&rec, &["--format", "json", "--output", "/dev/null", "--offwake", &path("wake.svg")]);
        texts.push(("flamegraph-svg", std::fs::read_to_string(path("off.svg")).unwrap()));
        texts.push(("offwake-svg", std::fs::read_to_string(path("wake.svg")).unwrap()));
    }
    let perfetto = timeline_of(&rec).then(|| {
        report(&rec, &["--format", "json", "--output", "/dev/null", "--perfetto", &path("trace.pftrace")]);
        std::fs::read(path("trace.pftrace")).unwrap()
    });
    texts.insert(0, ("json", json));
    std::fs::remove_dir_all(&dir).unwrap();
    Rendered { texts, perfetto }
}

/// Whether the recording was made with `--timeline` (`--perfetto` refuses one without).
fn timeline_of(rec: &Path) -> bool {
    let out = Command::new(TRACER)
        .arg("report")
        .arg(rec)
        .args(["--output", "/dev/null", "--perfetto", "/dev/null"])
        .output()
        .unwrap();
    out.status.success()
}

fn check(name: &str) {
    let first = render_all(name);
    // The outputs are a function of the recording alone: rendered twice, the same bytes
    // (else a snapshot could not pin them).
    let again = render_all(name);
    assert_eq!(first.texts, again.texts, "{name}: rendering is not deterministic");
    assert_eq!(first.perfetto, again.perfetto, "{name}: the Perfetto trace is not deterministic");
    let mut settings = insta::Settings::clone_current();
    settings.set_prepend_module_to_snapshot(false);
    settings.set_snapshot_path(tests_dir().join("snapshots"));
    settings.bind(|| {
        for (kind, text) in &first.texts {
            insta::assert_snapshot!(format!("{name}.{kind}"), text);
        }
    });
    if let Some(bytes) = &first.perfetto {
        let pinned = tests_dir().join("snapshots").join(format!("{name}.pftrace"));
        let want = std::fs::read(&pinned).unwrap_or_default();
        if want != *bytes {
            let new = pinned.with_extension("pftrace.new");
            std::fs::write(&new, bytes).unwrap();
            panic!("{name}: the Perfetto trace differs from {} (new one in {})", pinned.display(), new.display());
        }
    }
}

#[test]
fn epoll_server_with_stacks_and_timeline() {
    check("epoll-lt");
}

#[test]
fn sendfile() {
    check("sendfile");
}

#[test]
fn faults_and_softirqs() {
    check("mmap-write");
}

#[test]
fn a_comm_target() {
    check("comm");
}

/// The fixtures exercise every section and every renderer: a golden test over empty
/// sections would pin nothing.
#[test]
fn the_fixtures_cover_every_section() {
    let reports: Vec<Report> = ["epoll-lt", "sendfile", "mmap-write", "comm"]
        .iter()
        .map(|n| serde_json::from_slice(&report(&fixture(n), &["--format", "json"])).unwrap())
        .collect();
    let any = |f: &dyn Fn(&Report) -> bool| reports.iter().any(f);
    assert!(any(&|r| r.syscalls.get().is_some_and(|s| s.len() > 10)));
    assert!(any(&|r| r.epoll.get().is_some_and(|e| e.blocked_waits > 0 && e.wakeups_by_socket.is_some())));
    assert!(any(&|r| r.copies.get().is_some_and(|c| c.zero_copy_bytes > 0)));
    assert!(any(&|r| r.copies.get().is_some_and(|c| c.cpu_copy_bytes > 0)));
    assert!(any(&|r| r
        .faults
        .get()
        .is_some_and(|f| f.minor > 0 && f.by_mapping.as_ref().is_some_and(|m| !m.is_empty()))));
    assert!(any(&|r| r.softirq.get().is_some_and(|s| !s.vectors.is_empty())));
    assert!(any(&|r| r.wakeups.get().is_some_and(|w| !w.edges.is_empty())));
    assert!(any(&|r| r.sched.get().is_some_and(|s| s.threads.len() > 1 && !s.by_syscall.is_empty())));
    assert!(any(&|r| r.stacks.as_ref().is_some_and(|s| s.offcpu.iter().any(|o| o.waker.is_some()))));
    assert!(any(&|r| r.target.command.starts_with("comm ")));
    assert!(timeline_of(&fixture("epoll-lt")));
}
