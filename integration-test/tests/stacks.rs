//! `--stacks`: where the bundled workloads block and what wakes them, the folded stacks
//! against the report's own off-CPU times, flame graphs, and a replay without root.
use std::collections::HashMap;

use integration_test::{binary, last_json_line, scratch, serve_with, traced_with, tracer, tracer_as_nobody};
use serde_json::Value;

fn n(v: &Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("not a number: {v}"))
}

fn rows(report: &Value) -> &Vec<Value> {
    report["stacks"]["offcpu"].as_array().unwrap_or_else(|| panic!("no stacks in {report}"))
}

/// A stack's frames; none where there is no stack (a row nobody woke has no waker).
fn frames(v: &Value) -> Vec<&str> {
    v.as_array().map_or(vec![], |a| a.iter().map(|f| f.as_str().unwrap()).collect())
}

fn has(stack: &[&str], name: &str) -> bool {
    stack.iter().any(|f| f.contains(name))
}

/// The bundled epoll server's reactor blocks in epoll_wait, and what wakes it is the
/// NET_RX softirq delivering a segment (its kernel stack goes through ep_poll_callback).
/// Its blocked stacks hold most of its off-CPU time.
#[test]
fn the_epoll_server_blocks_in_epoll_wait_and_net_rx_wakes_it() {
    let (report, _) =
        serve_with(&["--stacks"], "epoll-lt", &["--connections", "8", "--requests", "3000", "--size", "64"]);
    assert_eq!(n(&report["lost"]["stack_captures"]), 0, "{}", report["lost"]);
    let mut in_epoll = 0;
    let mut by_net_rx = 0;
    for r in rows(&report) {
        let k = frames(&r["kernel_stack"]);
        if !has(&k, "epoll_wait") {
            continue;
        }
        assert!(has(&k, "schedule"), "a blocked stack goes through schedule: {k:?}");
        in_epoll += n(&r["off_ns"]);
        if r["waker"]["source"] == "NET_RX softirq" {
            assert!(has(&frames(&r["waker"]["kernel_stack"]), "ep_poll_callback"), "{}", r["waker"]);
            by_net_rx += n(&r["off_ns"]);
        }
    }
    assert!(in_epoll > 0, "no stack blocked in epoll_wait: {}", report["stacks"]);
    assert!(by_net_rx * 2 > in_epoll, "NET_RX woke it for most of its epoll waits: {by_net_rx} of {in_epoll} ns");
}

/// The thread-per-connection server blocks in the socket receive path.
#[test]
fn the_blocking_server_blocks_in_the_receive_path() {
    let (report, _) =
        serve_with(&["--stacks"], "blocking", &["--connections", "4", "--requests", "2000", "--size", "64"]);
    let receive: u64 = rows(&report)
        .iter()
        .filter(|r| {
            let k = frames(&r["kernel_stack"]);
            has(&k, "tcp_recvmsg") || has(&k, "sk_wait_data")
        })
        .map(|r| n(&r["count"]))
        .sum();
    assert!(receive >= 1000, "blocked receives: {receive}: {}", report["stacks"]);
}

/// Every off-CPU nanosecond the report gives a thread is in its stack rows, and the
/// folded lines (and the flame graph, and a replay without root) carry the same totals.
#[test]
fn folded_stacks_add_up_to_the_reports_off_cpu_time() {
    let rec = scratch("stacks.rec");
    let probe = binary("wake-probe");
    let (report, out) =
        traced_with(&["--stacks", "--record", rec.to_str().unwrap()], &[probe.to_str().unwrap(), "200", "20"]);
    let truth = last_json_line(&out.stdout);
    assert_eq!(n(&report["lost"]["stack_captures"]), 0, "{}", report["lost"]);
    let mut by_tid: HashMap<u64, u64> = HashMap::new();
    for r in rows(&report) {
        *by_tid.entry(n(&r["tid"])).or_default() += n(&r["off_ns"]);
    }
    let threads = report["sched"]["threads"].as_array().unwrap();
    let mut total = 0;
    for t in threads.iter().filter(|t| n(&t["offcpu_ns"]) > 0) {
        let (tid, off) = (n(&t["tid"]), n(&t["offcpu_ns"]));
        assert_eq!(by_tid.get(&tid).copied().unwrap_or(0), off, "thread {tid}: stack rows vs its off-CPU time");
        total += off;
    }
    // The peer thread writes the byte that wakes the main thread: a task waker, with its
    // own user stack: in write(2), from a spawned thread (the main thread's stacks start
    // in __libc_start_call_main instead).
    let main = n(&truth["main_tid"]);
    let woken_by_peer = rows(&report).iter().any(|r| {
        let user = frames(&r["waker"]["user_stack"]);
        n(&r["tid"]) == main
            && r["waker"]["tid"] == truth["peer_tid"]
            && has(&user, "write")
            && has(&user, "start_thread")
            && !has(&user, "__libc_start_call_main")
    });
    assert!(woken_by_peer, "the peer's user stack wakes the main thread: {}", report["stacks"]);

    // Offline, as nobody: the same report, the same folded totals, a flame graph.
    let replay = tracer_as_nobody(&["report", rec.to_str().unwrap(), "--format", "json"]);
    assert!(replay.status.success(), "{}", String::from_utf8_lossy(&replay.stderr));
    assert_eq!(serde_json::from_slice::<Value>(&replay.stdout).unwrap(), report, "offline == live, stacks included");
    let (svg, offwake) = (scratch("off.svg"), scratch("offwake.svg"));
    let folded = tracer(&[
        "report",
        rec.to_str().unwrap(),
        "--format",
        "folded",
        "--flamegraph",
        svg.to_str().unwrap(),
        "--offwake",
        offwake.to_str().unwrap(),
    ]);
    let folded = String::from_utf8(folded.stdout).unwrap();
    let sum: u64 = folded.lines().map(|l| l.rsplit_once(' ').unwrap().1.parse::<u64>().unwrap()).sum();
    assert_eq!(sum, total, "folded lines vs the threads' off-CPU time");
    assert!(folded.lines().all(|l| l.starts_with("wake-probe;")), "every line starts at its thread's name");
    for (path, frame) in [(&svg, "epoll_wait"), (&offwake, "--")] {
        let text = std::fs::read_to_string(path).unwrap();
        well_formed(&text);
        assert!(text.contains(frame) && text.contains("start_thread"), "{} lacks {frame}", path.display());
    }
}

/// Parses the whole document: an SVG a browser opens.
fn well_formed(xml: &str) {
    let mut reader = quick_xml::Reader::from_str(xml);
    let mut depth = 0i32;
    loop {
        match reader.read_event().unwrap_or_else(|e| panic!("not well-formed XML: {e}")) {
            quick_xml::events::Event::Start(_) => depth += 1,
            quick_xml::events::Event::End(_) => depth -= 1,
            quick_xml::events::Event::Eof => break,
            _ => {}
        }
    }
    assert_eq!(depth, 0, "unbalanced elements");
}

/// Without `--stacks` there is nothing to draw: one line says so, nothing is traced.
#[test]
fn pictures_need_stacks() {
    let out = std::process::Command::new(binary("tracer"))
        .args(["run", "--flamegraph", scratch("x.svg").to_str().unwrap(), "--", "true"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("add --stacks"), "{err}");
}

/// Code with no file behind it is named by the perf map its JIT writes: every sleep of
/// the stand-in blocks in nanosleep called from its generated code.
#[test]
fn jit_frames_are_named_by_the_perf_map() {
    let (probe, path) = (binary("jit-probe"), scratch("jit.json"));
    let out = tracer(&[
        "run",
        "--stacks",
        "--format",
        "json",
        "--output",
        path.to_str().unwrap(),
        "--",
        probe.to_str().unwrap(),
        "20",
    ]);
    let report = integration_test::json_file(&path);
    let truth = last_json_line(&out.stdout);
    // Nothing lost but stack captures the kernel could not take (counted; one seen under
    // qemu's TCG): a sleep whose capture failed is in no row.
    let failed = n(&report["stacks"]["failed_kernel"]) + n(&report["stacks"]["failed_user"]);
    assert_eq!(n(&report["lost_events"]), failed, "{}", report["lost"]);
    let symbol = truth["symbol"].as_str().unwrap();
    // A sleep ends with its timer's wakeup. A stretch in the same path with no waker was
    // a preemption there (runnable, its CPU given to another task), not a sleep: one such
    // 20 µs stretch beside the 20 sleeps in a host run.
    let sleeps: u64 = rows(&report)
        .iter()
        .filter(|r| has(&frames(&r["kernel_stack"]), "nanosleep") && r["waker"].is_object())
        .filter(|r| frames(&r["user_stack"]).first() == Some(&symbol))
        .map(|r| n(&r["count"]))
        .sum();
    let all = n(&truth["sleeps"]);
    assert!(
        sleeps <= all && sleeps + failed >= all,
        "{sleeps} of {all} sleeps blocked in {symbol}: {}",
        report["stacks"]
    );
}

/// Processes that end while the trace goes on: their stack rows leave the kernel's map a
/// second after (so a trace of days does not fill it), into the report, where every
/// thread's rows still add up to its off-CPU time.
#[test]
fn stacks_of_ended_threads_are_kept_when_swept_from_the_kernel() {
    let (report, _) = traced_with(&["--stacks"], &["sh", "-c", "for i in $(seq 30); do sleep 0.1; done"]);
    assert_eq!(n(&report["lost"]["stack_captures"]), 0, "{}", report["lost"]);
    let mut by_tid: HashMap<u64, u64> = HashMap::new();
    for r in rows(&report) {
        *by_tid.entry(n(&r["tid"])).or_default() += n(&r["off_ns"]);
    }
    let threads = report["sched"]["threads"].as_array().unwrap();
    let ended: Vec<&Value> = threads.iter().filter(|t| t["exited"] == true && n(&t["offcpu_ns"]) > 0).collect();
    assert!(ended.len() >= 30, "the shell's 30 sleeps: {} ended threads", ended.len());
    for t in threads {
        let (tid, off) = (n(&t["tid"]), n(&t["offcpu_ns"]));
        assert_eq!(by_tid.get(&tid).copied().unwrap_or(0), off, "thread {tid}: stack rows vs its off-CPU time");
    }
}
