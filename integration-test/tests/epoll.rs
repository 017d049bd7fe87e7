//! Epoll cycles and syscalls against `epoll-server`'s own counters (exact), under load
//! from an untraced `epoll-client`.
use integration_test::serve;
use serde_json::Value;

fn n(v: &Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("not a count: {v}"))
}

fn syscall<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["syscalls"].as_array().unwrap().iter().find(|s| s["name"] == name).unwrap_or_else(|| panic!("no {name}"))
}

const LOAD: &[&str] = &["--connections", "16", "--size", "100", "--pipeline", "4", "--requests", "20000"];

/// What both triggers must agree on exactly with the server's own counters.
fn agree(mode: &str, report: &Value, server: &Value) {
    let connections = n(&server["connections"]);
    let e = &report["epoll"];
    assert_eq!(report["lost_events"], 0);
    assert_eq!(n(&e["waits"]), n(&server["waits"]), "{mode}: waits");
    assert_eq!(n(&e["events_returned"]), n(&server["events_returned"]), "{mode}: events returned");
    assert_eq!(n(&e["timeouts"]), n(&server["timeouts"]), "{mode}: timeouts");
    assert_eq!(n(&e["errors"]), 0);
    assert_eq!(n(&syscall(report, "epoll_wait")["count"]), n(&server["waits"]));
    assert!(n(&e["blocked_waits"]) > 0 && n(&e["blocked_waits"]) <= n(&e["waits"]), "{mode}: {e}");
    let hist_waits: u64 = e["events_hist"].as_array().unwrap().iter().map(|b| n(&b["waits"])).sum();
    assert_eq!(hist_waits, n(&e["waits"]), "{mode}: every wait is in the histogram");
    let by_fd = e["by_epfd"].as_array().unwrap();
    assert_eq!(by_fd.len(), 1, "one reactor, one epoll fd");
    assert_eq!(n(&by_fd[0]["waits"]), n(&server["waits"]));
    let ctl = &e["ctl"];
    let ops = n(&ctl["add"]) + n(&ctl["modify"]) + n(&ctl["delete"]);
    assert_eq!(ops, n(&server["syscalls"]["epoll_ctl"]["calls"]), "{mode}: epoll_ctl operations");
    assert_eq!(n(&ctl["delete"]), connections, "{mode}: one DEL per closed connection");
    // Reads the tracer saw failing are the server's EAGAINs and errors.
    let reads = &server["syscalls"]["read"];
    assert_eq!(
        n(&syscall(report, "read")["errors"]),
        n(&reads["eagain"]) + n(&reads["errors"]),
        "{mode}: failed reads"
    );
    // Every byte the server received was copied to it from a socket buffer, and nothing
    // else was: the kernel's skb copies are exactly the server's received bytes.
    assert_eq!(n(&report["copies"]["socket_copy_bytes"]), n(&server["bytes_received"]), "{mode}: skb copies");
}

#[test]
fn edge_triggered_waits_events_and_eagain_reads() {
    let (report, server) = serve("epoll-et", LOAD);
    agree("epoll-et", &report, &server);
    let ctl = &report["epoll"]["ctl"];
    // Every ADD/MOD asks for EPOLLET except the server's level-triggered stop eventfd.
    assert_eq!(n(&ctl["edge_triggered"]), n(&ctl["add"]) + n(&ctl["modify"]) - 1);
    assert!(n(&server["syscalls"]["read"]["eagain"]) > 0, "ET drains to EAGAIN");
}

#[test]
fn level_triggered_reads_once_per_readiness() {
    // 256 KiB messages: more than one 64 KiB read, so a socket stays ready across waits.
    let (report, server) =
        serve("epoll-lt", &["--connections", "4", "--size", "256k", "--pipeline", "2", "--requests", "64"]);
    agree("epoll-lt", &report, &server);
    assert_eq!(n(&report["epoll"]["ctl"]["edge_triggered"]), 0);
    assert_eq!(n(&syscall(&report, "read")["errors"]), 0, "LT never reads a socket that is not ready");
    // Each event is one read (or one accept, or the final stop): readiness is reported
    // again and again until the data is gone.
    let events = n(&report["epoll"]["events_returned"]);
    let (reads, accepts) = (n(&server["syscalls"]["read"]["calls"]), n(&server["syscalls"]["accept4"]["calls"]));
    assert_eq!(events, reads + accepts + 1);
    assert!(reads > n(&server["requests"]) / 2, "many reads per message: {reads} for {} requests", server["requests"]);
}
