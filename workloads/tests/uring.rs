//! `epoll-server --mode io-uring`: every byte echoed, its counts of SQEs, CQEs and
//! io_uring_enter consistent with each other and with what strace sees.
mod common;

use common::{MANY, bin, counts_every_call, echo, fails_with_one_line, n};
use serde_json::Value;

fn ring(srv: &Value) -> &Value {
    &srv["io_uring"]
}

fn sqes(srv: &Value, op: &str) -> u64 {
    ring(srv)["sqes"].get(op).map_or(0, n)
}

fn cqe(srv: &Value, op: &str, key: &str) -> u64 {
    ring(srv)["cqes"].get(op).map_or(0, |c| n(&c[key]))
}

/// What holds in every io-uring run: every request's last CQE came (a CQE without
/// IORING_CQE_F_MORE ends one request; MSG_RING posts one in each ring), the byte counts
/// are the echo's, and io_uring_enter is counted once, the same in both places.
fn consistent(srv: &Value) {
    let r = ring(srv);
    assert_eq!(n(&r["unreaped"]), 0, "{r}");
    let mut total_sqes = 0;
    for (op, c) in r["cqes"].as_object().unwrap() {
        let ends = n(&c["count"]) - n(&c["more"]);
        let per_request = if op == "MSG_RING" { 2 } else { 1 };
        assert_eq!(ends, per_request * sqes(srv, op), "{op}: {c}");
        total_sqes += sqes(srv, op);
    }
    assert_eq!(cqe(srv, "RECV", "bytes"), n(&srv["bytes_received"]));
    let send = if r["send_zc"] == true { "SEND_ZC" } else { "SEND" };
    assert_eq!(cqe(srv, send, "bytes"), n(&srv["bytes_sent"]));
    assert_eq!(
        cqe(srv, "RECV", "count") - cqe(srv, "RECV", "errors"),
        n(&srv["requests"]) + n(&srv["connections"]),
        "one RECV completion per request, and one EOF per connection"
    );
    let enter = &r["enter"];
    assert_eq!(n(&enter["calls"]), n(&srv["syscalls"]["io_uring_enter"]["calls"]));
    assert_eq!(n(&enter["submitted"]), n(&srv["syscalls"]["io_uring_enter"]["submitted"]));
    if r["sqpoll_idle_ms"].is_null() {
        assert_eq!(n(&enter["submitted"]), total_sqes, "without SQPOLL every SQE goes in through io_uring_enter");
    }
    assert_eq!(n(&r["rings"]), n(&srv["syscalls"]["io_uring_setup"]["calls"]));
}

#[test]
fn serves_64_connections_in_every_variant() {
    for args in [
        &["--mode", "io-uring"][..],
        &["--mode", "io-uring", "--threads", "4"],
        &["--mode", "io-uring", "--multishot"],
        &["--mode", "io-uring", "--send-zc"],
        &["--mode", "io-uring", "--sqpoll"],
        &["--mode", "io-uring", "--threads", "2", "--multishot", "--send-zc"],
    ] {
        let (srv, client) = echo(args, MANY);
        assert_eq!(n(&client["requests"]), 20_000, "{args:?}");
        consistent(&srv);
        let r = ring(&srv);
        let conns = n(&srv["connections"]);
        assert!(
            srv["syscalls"].get("read").is_none() && srv["syscalls"].get("accept4").is_none(),
            "{args:?}: no I/O syscalls"
        );
        if args.contains(&"--threads") {
            assert_eq!(sqes(&srv, "MSG_RING"), conns, "one handoff per connection");
            assert_eq!(sqes(&srv, "ACCEPT"), conns + 1, "one per connection, and the cancelled one");
        }
        if args.contains(&"--multishot") {
            assert_eq!(
                sqes(&srv, "RECV"),
                conns + n(&r["multishot_rearms"]),
                "one multishot RECV per connection, plus re-arms"
            );
        } else {
            assert_eq!(sqes(&srv, "RECV"), n(&srv["requests"]) + conns);
        }
        if args.contains(&"--send-zc") {
            let notifs = cqe(&srv, "SEND_ZC", "notifications");
            assert_eq!(notifs, sqes(&srv, "SEND_ZC"), "one notification per SEND_ZC");
            // Over loopback the receiving socket gets the pages, so the kernel copies.
            assert_eq!(cqe(&srv, "SEND_ZC", "copied"), notifs);
        }
    }
}

#[test]
fn multishot_recv_runs_out_of_buffers_and_is_rearmed() {
    let large = ["--connections", "4", "--size", "4M", "--pipeline", "2", "--requests", "16"];
    for args in
        [&["--mode", "io-uring"][..], &["--mode", "io-uring", "--multishot"], &["--mode", "io-uring", "--send-zc"]]
    {
        let (srv, client) = echo(args, &large);
        assert_eq!(n(&client["bytes_received"]), 64 << 20);
        consistent(&srv);
        if args.contains(&"--multishot") {
            let r = ring(&srv);
            assert!(n(&r["enobufs"]) > 0, "4 MiB messages outrun 256 buffers of 16 KiB: {r}");
            assert_eq!(cqe(&srv, "RECV", "errors"), n(&r["enobufs"]));
        }
    }
}

/// With SQPOLL the kernel thread takes the SQEs; the server enters only to wait or to
/// wake the thread, and the thread fell asleep (1 ms idle) before the client came.
#[test]
fn sqpoll_enters_only_to_wait_or_wake() {
    let server = common::Server::start(&["--mode", "io-uring", "--sqpoll=1"]);
    std::thread::sleep(std::time::Duration::from_millis(100));
    let port = server.port.to_string();
    common::ok(bin("epoll-client").args(["--port", &port, "--connections", "8", "--requests", "3000"]));
    let (srv, _) = server.stop();
    consistent(&srv);
    let e = &ring(&srv)["enter"];
    assert_eq!(ring(&srv)["sqpoll_idle_ms"], 1);
    assert!(n(&e["sq_wakeups"]) >= 1, "{e}");
    assert!(n(&e["waited"]) + n(&e["sq_wakeups"]) >= n(&e["calls"]), "no enter merely submits: {e}");
}

/// strace agrees with the server's counts: what the server did not count is the same
/// under load as idle, for the io_uring calls and the rest.
#[test]
fn strace_sees_every_call_it_counts() {
    let load = ["--connections", "8", "--requests", "3000"];
    // mmap and munmap vary with glibc's arenas and thread stack cache: the next test
    // checks the mappings the program counts, one by one.
    let names =
        ["io_uring_setup", "io_uring_enter", "io_uring_register", "close", "eventfd2", "write", "read", "accept4"];
    counts_every_call(&["--mode", "io-uring"], &load, &names);
    counts_every_call(&["--mode", "io-uring", "--threads", "2", "--multishot", "--send-zc"], &load, &names);
    counts_every_call(&["--mode", "io-uring", "--sqpoll"], &load, &names);
}

#[test]
fn its_options_belong_to_its_mode() {
    let out = bin("epoll-server").args(["--mode", "epoll-lt", "--sqpoll"]).output().unwrap();
    fails_with_one_line(&out, "are for --mode io-uring");
    let out = bin("epoll-server").args(["--mode", "io-uring", "--sqpoll", "5"]).output().unwrap();
    assert!(!out.status.success(), "--sqpoll takes its value after '='");
}

/// The mappings it counts (the rings the io-uring crate maps, the provided-buffer rings)
/// are the ones strace sees: every mapping it made, followed by address to its munmap.
#[test]
fn its_mappings_are_the_ones_strace_sees() {
    let log = std::env::temp_dir().join(format!("uring-maps-{}.txt", std::process::id()));
    let exe = env!("CARGO_BIN_EXE_epoll-server");
    let out = std::process::Command::new("strace")
        .args(["-f", "-qq", "-e", "trace=mmap,munmap,io_uring_setup,io_uring_register", "-o"])
        .arg(&log)
        .args([exe, "--mode", "io-uring", "--threads", "2", "--multishot", "--duration", "300ms"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let srv = common::summary(&out);
    let text = std::fs::read_to_string(&log).unwrap();
    let _ = std::fs::remove_file(&log);
    let ring_fds: Vec<String> = text
        .lines()
        .filter(|l| l.contains("io_uring_setup("))
        .map(|l| l.rsplit(" = ").next().unwrap().trim().to_owned())
        .collect();
    assert_eq!(ring_fds.len(), 3, "two reactors and the acceptor");
    // The buffer rings' entries, by the address each was registered at (not any
    // page-sized anonymous map: the runtime makes those too).
    let registered: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("IORING_REGISTER_PBUF_RING"))
        .filter_map(|l| l.split("ring_addr=").nth(1)?.split(',').next())
        .collect();
    assert_eq!(registered.len(), 2, "a buffer ring per reactor");
    // Its own mappings: MAP_SHARED of a ring fd, and the two MAP_PRIVATE|MAP_ANONYMOUS
    // maps of each buffer ring (256 x 16 B entries, registered; 256 x 16 KiB buffers).
    // In the order strace saw them: an address is its mapping's from its mmap to its first
    // munmap only (later, a thread stack or an arena may be mapped there and unmapped).
    let (mut mapped, mut unmapped) = (0u64, 0u64);
    let mut live = std::collections::HashSet::new();
    for l in text.lines() {
        let Some(call) = l.split_once(' ').map(|(_, c)| c.trim_start()) else { continue };
        if let Some(rest) = call.strip_prefix("mmap(") {
            let args: Vec<&str> = rest.split(", ").collect();
            let addr = l.rsplit(" = ").next().unwrap().trim();
            let ring_map = args[3].contains("MAP_SHARED") && ring_fds.iter().any(|fd| args[4] == fd);
            let anon = args[3] == "MAP_PRIVATE|MAP_ANONYMOUS";
            let buf_ring = anon && ((args[1] == "4096" && registered.contains(&addr)) || args[1] == "4194304");
            if ring_map || buf_ring {
                mapped += 1;
                live.insert(addr.to_owned());
            }
        } else if let Some(rest) = call.strip_prefix("munmap(") {
            unmapped += u64::from(live.remove(rest.split(',').next().unwrap()));
        }
    }
    let sys = &srv["syscalls"];
    assert_eq!(mapped, n(&sys["mmap"]["calls"]), "{text}");
    assert_eq!(unmapped, n(&sys["munmap"]["calls"]), "{text}");
    assert_eq!(n(&sys["mmap"]["calls"]), 3 * 2 + 2 * 2, "two per ring (IORING_FEAT_SINGLE_MMAP), two per buffer ring");
}
