//! Who woke whom, against programs whose wakeups have known causes.
use integration_test::{binary, exact, last_json_line, serve, traced};
use serde_json::Value;

fn n(v: &Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("not a count: {v}"))
}

fn source(list: &Value, name: &str) -> u64 {
    list.as_array().unwrap().iter().find(|s| s["source"] == name).map_or(0, |s| n(&s["count"]))
}

/// A unix socketpair ping-pong: each thread is woken only by the other (unix sockets
/// deliver in the writer's context); timeout-only epoll waits are woken by the timer.
#[test]
fn unix_ping_pong_is_woken_by_the_peer_and_timeouts_by_the_timer() {
    let probe = binary("wake-probe");
    let (report, out) = traced(&[probe.to_str().unwrap(), "200", "50"]);
    let truth = last_json_line(&out.stdout);
    let (main, peer) = (n(&truth["main_tid"]), n(&truth["peer_tid"]));
    let e = &report["epoll"];
    assert_eq!((n(&e["waits"]), n(&e["events_returned"]), n(&e["timeouts"])), (250, 200, 50));
    let blocked = n(&e["blocked_waits"]);
    let by = &e["wakeups_by_source"];
    // A wakeup from the timer interrupt landing inside a task-context wakeup on the same
    // CPU is skipped by the kernel (reported as missed). One more unattributed wait in a
    // few thousand is a known, not yet explained race (see the closing note of issue 5).
    let missed = n(&report["missed_events"]);
    assert!(source(by, "none") <= missed + 1, "unattributed waits beyond the missed hits: {by}");
    assert_eq!(
        source(by, "timer") + source(by, "none"),
        50,
        "every timeout is the timer's: {by} {}",
        report["wakeups"]
    );
    // The disk may complete a page-in of the program (BLOCK softirq) during a wait.
    let paging = source(by, "BLOCK softirq");
    assert_eq!(source(by, "task") + paging + 50, blocked, "every other blocked wait was woken by the peer: {by}");
    if exact(&report, "epoll") {
        assert_eq!(
            source(&e["wakeups_by_socket"], truth["main_socket"].as_str().unwrap()),
            blocked - 50 - paging,
            "data arrived on main's end: {e} {truth}"
        );
    } else {
        // Without sk_data_ready only TCP sockets are named (the report says so): a unix
        // socket's wakeup has no socket, never a wrong one.
        assert_eq!(e["wakeups_by_socket"], serde_json::json!([]), "{}", report["coverage"]["epoll"]);
    }
    for edge in report["wakeups"]["edges"].as_array().unwrap() {
        match (n(&edge["wakee_tid"]), edge["waker_kind"].as_str().unwrap()) {
            (w, "task") if w == main => assert_eq!(n(&edge["waker_tid"]), peer, "{edge}"),
            (w, "timer") if w == main => {} // summed below: one edge per CPU the timer fired on
            (w, "task") if w == peer => assert_eq!(n(&edge["waker_tid"]), main, "{edge}"),
            // A page-in of the program: the disk completes it in the BLOCK softirq, or (a
            // virtio disk) in its interrupt handler.
            (_, "softirq" | "hardirq") if edge["source"] == "BLOCK softirq" || edge["waker_kind"] == "hardirq" => {
                assert!(n(&report["copies"]["disk_read_bytes"]) > 0, "a disk wakeup needs a disk read: {edge}");
            }
            _ => panic!("a wakeup with no cause in this program: {edge}"),
        }
    }
    let timer: u64 = report["wakeups"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["waker_kind"] == "timer")
        .map(|e| n(&e["count"]))
        .sum();
    assert_eq!(timer, source(by, "timer"), "the timer woke main exactly for the timeouts");
    // Each of the peer's sleeps (its voluntary switches, by its own getrusage) ended with
    // a wakeup followed by its run; after its last getrusage it may sleep once more on
    // its way out. (It is also woken, spuriously, while awake: unix_write_space wakes
    // every waiter on the socket; those are not followed by a run of theirs.)
    let into_peer: u64 = report["wakeups"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| n(&e["wakee_tid"]) == peer)
        .map(|e| n(&e["paired"]))
        .sum();
    let sleeps = n(&truth["peer_sleeps"]);
    assert!(
        (sleeps..=sleeps + 1).contains(&into_peer),
        "wakeups of the peer followed by its run: {into_peer} vs its {sleeps} sleeps"
    );
}

/// TCP over loopback: the client's write raises NET_RX, which delivers to the server's
/// socket and wakes its epoll wait. Only the stop (an eventfd written by the server's own
/// main thread) is a task's doing.
#[test]
fn tcp_blocked_waits_are_woken_by_net_rx() {
    let (report, server) = serve("epoll-lt", &["--connections", "8", "--requests", "5000"]);
    let e = &report["epoll"];
    let blocked = n(&e["blocked_waits"]);
    assert!(blocked > 20, "enough blocked waits to judge: {e}");
    let by = &e["wakeups_by_source"];
    assert_eq!(source(by, "task"), 1, "the stop eventfd: {by}");
    assert_eq!(source(by, "NET_RX softirq"), blocked - 1, "{by}");
    // Every wait NET_RX woke names its socket: the connection data (or the client's FIN)
    // arrived on, and the listening socket when a connection came in while the server
    // slept. (Write-space wakeups would have none, but this load never fills a send
    // buffer, so the server never waits for EPOLLOUT.)
    let sockets = e["wakeups_by_socket"].as_array().unwrap();
    let named: u64 = sockets.iter().map(|s| n(&s["count"])).sum();
    let net_rx = source(by, "NET_RX softirq");
    let conns = n(&server["connections"]);
    if exact(&report, "epoll") {
        assert_eq!(named, net_rx, "named {named} of {net_rx} NET_RX wakeups: {sockets:?}");
        // At most every connection and the listening socket; not necessarily all of them:
        // a connection whose data always arrived while the server was busy never woke it.
        assert!((1..=conns + 1).contains(&(sockets.len() as u64)), "{sockets:?}");
    } else {
        // Without sk_data_ready (the report says so), TCP segments name the connections,
        // and a new connection waking the listener goes unnamed: at most one per
        // connection.
        assert!(
            named <= net_rx && net_rx - named <= conns,
            "named {named} of {net_rx} NET_RX wakeups, {conns} connections: {sockets:?}"
        );
        assert!((1..=conns).contains(&(sockets.len() as u64)), "connections only: {sockets:?}");
    }
}

/// 256 threads sleeping until the same moment, 4 times: each time one timer interrupt per
/// CPU wakes them all, over a hundred new edges at once where the wakeup path cannot wait
/// for memory (6.1's per-CPU cache of the map holds at most 48 spare entries). Every sleep is one timer
/// wakeup of its thread (the workload's own count), none is lost: wakeups the kernel
/// skipped (a timer landing inside another wakeup on that CPU, reported as missed) are
/// the only ones allowed to be absent.
#[test]
fn a_timer_waking_a_herd_at_once_loses_no_edge() {
    let herd = binary("timer-herd");
    let (report, out) = traced(&[herd.to_str().unwrap(), "256", "4"]);
    let truth = last_json_line(&out.stdout);
    let tids: Vec<u64> = truth["tids"].as_array().unwrap().iter().map(n).collect();
    assert_eq!(tids.len(), 256);
    let expected = 256 * n(&truth["sleeps"]);
    let edges = report["wakeups"]["edges"].as_array().unwrap();
    let timer: u64 = edges
        .iter()
        .filter(|e| e["waker_kind"] == "timer" && tids.contains(&n(&e["wakee_tid"])))
        .map(|e| n(&e["count"]))
        .sum();
    let missed = n(&report["missed_events"]);
    assert!(
        timer <= expected && timer + missed >= expected,
        "timer wakeups {timer} of {expected} sleeps (missed {missed})"
    );
    assert_eq!(report["lost"]["maps"], serde_json::json!([]), "{}", report["lost"]);
}
