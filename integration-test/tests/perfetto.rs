//! `--perfetto`: the timeline, read back by an independent reader (the trace schema's
//! official Python bindings) and checked against the report of the same trace, on the
//! bundled workloads: who wakes whom, an epoll server under load, and zero-copy sends.
use integration_test::{binary, perfetto_check, scratch, serve_with, tracer};

/// Two threads waking each other over a unix socket, then epoll timeouts: every run,
/// sleep, wakeup arrow and syscall of the report is in the trace; and `tracer report`
/// of a recording writes the same trace again, without root.
#[test]
fn the_timeline_holds_every_run_wakeup_and_call_of_the_report() {
    let (trace, report, rec) = (scratch("probe.pftrace"), scratch("probe.json"), scratch("probe.rec"));
    let probe = binary("wake-probe");
    let p = |x: &std::path::Path| x.to_str().unwrap().to_owned();
    tracer(&[
        "run",
        "--perfetto",
        &p(&trace),
        "--record",
        &p(&rec),
        "--format",
        "json",
        "--output",
        &p(&report),
        "--",
        &p(&probe),
        "200",
        "20",
    ]);
    let text = perfetto_check(&trace, Some(&report));
    assert!(text.contains("ok: flows started: "), "{text}");

    let (again, replayed) = (scratch("again.pftrace"), scratch("again.json"));
    tracer(&["report", &p(&rec), "--perfetto", &p(&again), "--format", "json", "--output", &p(&replayed)]);
    assert_eq!(std::fs::read(&again).unwrap(), std::fs::read(&trace).unwrap(), "offline == live");
}

/// The issue's own run: an epoll server under load, with stacks, a flame graph and the
/// timeline at once.
#[test]
fn an_epoll_server_under_load() {
    let (trace, svg) = (scratch("epoll.pftrace"), scratch("epoll.svg"));
    let flags = ["--stacks", "--flamegraph", svg.to_str().unwrap(), "--perfetto", trace.to_str().unwrap()];
    let (report, _) = serve_with(&flags, "epoll-lt", &["--connections", "8", "--requests", "2000", "--size", "64"]);
    assert_eq!(report["lost_events"], 0, "{}", report["lost"]);
    let path = scratch("epoll-report.json");
    std::fs::write(&path, report.to_string()).unwrap();
    let text = perfetto_check(&trace, Some(&path));
    assert!(text.contains("ok: syscall slices: "), "{text}");
    assert!(std::fs::read_to_string(&svg).unwrap().contains("do_epoll_wait"));
}

/// sendfile: the zero-copy counter ends at the bytes the workload sent.
#[test]
fn the_copy_counters_end_at_the_ledger() {
    let (trace, report) = (scratch("zc.pftrace"), scratch("zc.json"));
    let zc = binary("zerocopy");
    tracer(&[
        "run",
        "--perfetto",
        trace.to_str().unwrap(),
        "--format",
        "json",
        "--output",
        report.to_str().unwrap(),
        "--",
        zc.to_str().unwrap(),
        "--mode",
        "sendfile",
        "--size",
        "8M",
    ]);
    let text = perfetto_check(&trace, Some(&report));
    assert!(text.contains("ok: bytes moved without a CPU copy: 8388608"), "{text}");
}
