//! `epoll-server` and `epoll-client` in every mode: every byte echoed and verified, and
//! the two programs' accounts agree.
mod common;

use common::{MANY, Server, bin, calls, echo, fails_with_one_line, field, n, ok, with_many_fds};
use serde_json::Value;

#[test]
fn every_mode_serves_64_connections() {
    for (mode, threads) in [
        ("epoll-lt", "1"),
        ("epoll-lt", "4"),
        ("epoll-et", "1"),
        ("epoll-et", "4"),
        ("poll", "1"),
        ("poll", "4"),
        ("select", "1"),
        ("select", "4"),
        ("blocking", "1"),
    ] {
        let (srv, client) = echo(&["--mode", mode, "--threads", threads], MANY);
        assert_eq!(n(&client["requests"]), 20_000, "{mode}");
        assert_eq!(srv["mode"], mode);
        let sys = &srv["syscalls"];
        let wait = match mode {
            "epoll-lt" | "epoll-et" => "epoll_wait",
            "poll" => "poll",
            "select" => "select",
            _ => "",
        };
        if wait.is_empty() {
            assert_eq!(n(&srv["waits"]), 0);
            assert_eq!(calls(sys, "read"), n(&srv["requests"]) + 64, "blocking: one read per request, one EOF each");
        } else {
            // Every wait that did not time out reported at least one ready fd.
            assert!(n(&srv["events_returned"]) >= n(&srv["waits"]) - n(&srv["timeouts"]), "{mode}");
        }
        if threads == "4" {
            // One accept4 per connection in the acceptor; one eventfd read per handoff batch.
            assert_eq!(calls(sys, "accept4") - field(sys, "accept4", "errors"), 64, "{mode}");
            assert_eq!(calls(sys, "eventfd2"), 5, "{mode}: one per reactor plus the stop fd");
        }
    }
}

/// The server's own counts (the ground truth of the tracer's epoll tests) against strace,
/// in every waiting mode: waits and the ready fds they returned, reads and writes with
/// their bytes and EAGAINs, accepts and epoll_ctl calls, exactly. What ld.so reads before
/// main is measured on a run that serves nobody.
#[test]
fn the_servers_counts_are_what_strace_sees() {
    let exe = env!("CARGO_BIN_EXE_epoll-server");
    let idle = [exe, "--duration", "1ms"];
    let (idle_seen, idle_out) = integration_test::strace(&idle);
    let idle_own = common::summary(&idle_out);
    // (calls, errors, bytes or ready fds) of `name` the program itself counted.
    let own = |sys: &Value, name: &str| {
        let sum = if integration_test::READY_SYSCALLS.contains(&name) { "ready" } else { "bytes" };
        (calls(sys, name), field(sys, name, "errors") + field(sys, name, "eagain"), field(sys, name, sum))
    };
    // What the runtime does before main (ld.so's reads, std's poll of fds 0-2): the idle
    // run's strace minus its own count, and its summary's write.
    let runtime = |name: &str| {
        let (c, e, b) = idle_seen.get(name).copied().unwrap_or_default();
        let (oc, oe, ob) = own(&idle_own["syscalls"], name);
        let line = if name == "write" {
            String::from_utf8_lossy(&idle_out.stdout).lines().last().unwrap().len() as u64 + 1
        } else {
            0
        };
        (c - oc - u64::from(name == "write"), e - oe, b - ob - line)
    };
    for (mode, wait) in [("epoll-lt", "epoll_wait"), ("epoll-et", "epoll_wait"), ("poll", "poll"), ("select", "select")]
    {
        let cmd = [exe, "--mode", mode, "--duration", "2s"];
        let mut traced = integration_test::strace_spawn(&cmd);
        let mut first = String::new();
        std::io::BufRead::read_line(&mut std::io::BufReader::new(traced.stdout.as_mut().unwrap()), &mut first).unwrap();
        let port = first.split(':').nth(1).and_then(|p| p.split_whitespace().next()).unwrap().to_owned();
        ok(bin("epoll-client").args(["--port", &port, "--connections", "8", "--requests", "3000"]));
        let out = traced.wait_with_output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let seen = integration_test::take_strace_log(&cmd);
        let srv = common::summary(&out);
        let sys = &srv["syscalls"];
        let line = String::from_utf8_lossy(&out.stdout).lines().last().unwrap().len() as u64 + 1;
        for name in [wait, "read", "write", "accept4", "epoll_ctl"] {
            let (c, e, b) = seen.get(name).copied().unwrap_or_default();
            let (rc, re, rb) = runtime(name);
            let summary_write = u64::from(name == "write");
            let want = (c - rc - summary_write, e - re, b - rb - summary_write * line);
            let mut got = own(sys, name);
            if name == "accept4" || name == "epoll_ctl" {
                got.2 = want.2; // fds and 0s, not counts
            }
            assert_eq!(got, want, "{mode}: {name} (calls, errors, bytes or ready fds): its own count vs strace");
        }
        assert_eq!((n(&srv["waits"]), n(&srv["events_returned"])), (own(sys, wait).0, own(sys, wait).2), "{mode}");
    }
}

/// Edge-triggered reads until EAGAIN; level-triggered reads once per readiness and so
/// never meets EAGAIN, but sees the same socket ready again and again.
#[test]
fn edge_triggered_drains_and_level_triggered_is_reminded() {
    let small = ["--connections", "8", "--size", "1", "--pipeline", "64", "--requests", "50000"];
    let (et, _) = echo(&["--mode", "epoll-et"], &small);
    let (lt, _) = echo(&["--mode", "epoll-lt"], &small);
    let et_reads = &et["syscalls"]["read"];
    assert!(n(&et_reads["eagain"]) > 0, "ET drains to EAGAIN: {et_reads}");
    assert_eq!(n(&lt["syscalls"]["read"]["eagain"]), 0, "LT reads only what epoll reported ready");
    // LT: every event is one accept (listening socket), one read (a connection), or the
    // final stop.
    let (lt_reads, lt_accepts) = (calls(&lt["syscalls"], "read"), calls(&lt["syscalls"], "accept4"));
    assert_eq!(lt_reads + lt_accepts + 1, n(&lt["events_returned"]), "LT: one read per readiness");
    assert_eq!(lt_accepts, 8);
}

#[test]
fn large_messages_survive_backpressure_in_both_triggers() {
    let large = ["--connections", "4", "--size", "4M", "--pipeline", "2", "--requests", "16"];
    for mode in ["epoll-et", "epoll-lt", "poll", "select", "blocking"] {
        let (srv, client) = echo(&["--mode", mode], &large);
        assert_eq!(n(&client["bytes_received"]), 64 << 20, "{mode}");
        if mode != "blocking" {
            assert!(field(&srv["syscalls"], "write", "eagain") > 0, "{mode}: the client's window filled up");
        }
    }
}

/// With fds 3..=1020 taken, the listening socket is 1021 and the stop eventfd 1022: the
/// first connection (fd 1023) fits in an fd_set, the second (1024) must be refused.
#[test]
fn select_refuses_fds_beyond_fd_setsize_with_a_clear_error() {
    let server = Server::start_with(with_many_fds(bin("epoll-server").args(["--mode", "select"]), 1020));
    let port = server.port.to_string();
    let out = bin("epoll-client").args(["--port", &port, "--connections", "2", "--requests", "2"]).output().unwrap();
    assert!(!out.status.success(), "the client of the refused connection notices");
    let (srv, stderr) = server.stop();
    assert_eq!((n(&srv["connections"]), n(&srv["refused"])), (1, 1), "{srv}");
    assert!(stderr.contains("select cannot watch fd 1024 (FD_SETSIZE is 1024)"), "{stderr}");
    // If even the server's own fds are out of reach, it refuses to start.
    let out = with_many_fds(bin("epoll-server").args(["--mode", "select"]), 1030).output().unwrap();
    fails_with_one_line(&out, "select cannot watch the server's own fd");
}

#[test]
fn runs_are_bounded_by_duration() {
    let server = Server::start(&["--duration", "300ms"]);
    let out = server.child.wait_with_output().unwrap();
    assert!(out.status.success());
    let s = common::summary(&out);
    assert_eq!(s["ended"], "duration");
    assert!(n(&s["duration_ns"]) >= 300_000_000);
    let server = Server::start(&[]);
    let port = server.port.to_string();
    let c = ok(bin("epoll-client").args(["--port", &port, "--duration", "300ms", "--connections", "2"]));
    assert!(n(&c["requests"]) > 0 && n(&c["duration_ns"]) >= 300_000_000);
    let (srv, _) = server.stop();
    assert_eq!(srv["ended"], "SIGINT");
}

#[test]
fn bad_input_gets_one_line() {
    let server = Server::start(&[]);
    let port = server.port.to_string();
    let busy = bin("epoll-server").args(["--port", &port, "--duration", "1s"]).output().unwrap();
    fails_with_one_line(&busy, "is the port in use?");
    server.stop();
    // Nothing listens on the port any more.
    fails_with_one_line(&bin("epoll-client").args(["--port", &port]).output().unwrap(), "Connection refused");
    fails_with_one_line(&bin("epoll-server").args(["--mode", "kqueue"]).output().unwrap(), "invalid value 'kqueue'");
    fails_with_one_line(
        &bin("epoll-server").args(["--mode", "blocking", "--threads", "2"]).output().unwrap(),
        "one thread per connection",
    );
    fails_with_one_line(
        &bin("epoll-client").args(["--port", "1", "--requests", "5", "--duration", "1s"]).output().unwrap(),
        "cannot be used with",
    );
    fails_with_one_line(&bin("epoll-client").args(["--size", "1M"]).output().unwrap(), "--port <PORT>");
}
