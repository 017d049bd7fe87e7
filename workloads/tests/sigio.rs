//! `epoll-server --mode sigio`: every byte echoed; the signals it took account for its
//! sigwaitinfo calls, and strace agrees with its counts.
mod common;

use common::{MANY, counts_every_call, echo, n};
use serde_json::Value;

fn received(srv: &Value, role: &str) -> u64 {
    n(&srv["signals"][role]["received"])
}

fn consistent(srv: &Value, threads: u64) {
    let sys = &srv["syscalls"];
    let waits = &sys["rt_sigtimedwait"];
    let taken: u64 = ["io", "handoff", "stop", "overflow"].iter().map(|r| received(srv, r)).sum();
    // Every call took a signal, or found none left after the stop (once per reactor).
    assert_eq!(n(&waits["calls"]), taken + n(&waits["eagain"]) + n(&waits["errors"]), "{srv}");
    assert_eq!(n(&waits["eagain"]), threads);
    assert_eq!(received(srv, "stop"), threads);
    assert_eq!(n(&sys["tgkill"]["calls"]), threads, "a stop per reactor");
    let conns = n(&srv["connections"]);
    assert_eq!(received(srv, "handoff"), if threads > 1 { conns } else { 0 });
    if threads > 1 {
        let handoffs = &sys["rt_tgsigqueueinfo"];
        assert_eq!(n(&handoffs["calls"]), conns + n(&handoffs["eagain"]), "a handoff per connection (and retries)");
    }
    // Three fcntls (owner, signal, O_ASYNC) per connection, and the listening socket's.
    assert_eq!(n(&sys["fcntl"]["calls"]), 3 * (conns + u64::from(threads == 1)));
    assert!(received(srv, "io") > 0);
    assert_eq!(srv["signals"]["io"]["signo"], n(&srv["signals"]["handoff"]["signo"]) - 1);
    assert_eq!(srv["signals"]["stop"]["signo"], libc::SIGUSR1);
}

#[test]
fn serves_64_connections_on_one_and_four_reactors() {
    for threads in [1u64, 4] {
        let t = threads.to_string();
        let (srv, client) = echo(&["--mode", "sigio", "--threads", &t], MANY);
        assert_eq!(n(&client["requests"]), 20_000);
        consistent(&srv, threads);
        assert!(srv["syscalls"].get("epoll_wait").is_none() && srv["syscalls"].get("poll").is_none());
    }
}

#[test]
fn large_messages_back_up_and_are_flushed_on_pollout_signals() {
    let large = ["--connections", "4", "--size", "4M", "--pipeline", "2", "--requests", "16"];
    let (srv, client) = echo(&["--mode", "sigio"], &large);
    assert_eq!(n(&client["bytes_received"]), 64 << 20);
    assert!(n(&srv["syscalls"]["write"]["eagain"]) > 0, "the client's window filled up");
    consistent(&srv, 1);
}

#[test]
fn strace_sees_every_call_it_counts() {
    let load = ["--connections", "8", "--requests", "3000"];
    let names = [
        "rt_sigtimedwait",
        "rt_tgsigqueueinfo",
        "tgkill",
        "clock_nanosleep",
        "fcntl",
        "read",
        "write",
        "accept4",
        "close",
        "getpid",
        "shutdown",
    ];
    counts_every_call(&["--mode", "sigio"], &load, &names);
    counts_every_call(&["--mode", "sigio", "--threads", "2"], &load, &names);
}

/// With room for only 4 queued signals, the real-time signals overflow: the kernel raises
/// SIGIO instead, the reactor rescans every socket, and no byte is lost.
#[test]
fn a_full_signal_queue_falls_back_to_sigio_and_loses_nothing() {
    use std::os::unix::process::CommandExt;
    let mut cmd = common::bin("epoll-server");
    cmd.args(["--mode", "sigio"]);
    // SAFETY: setrlimit is async-signal-safe; runs in the child between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            let limit = libc::rlimit { rlim_cur: 4, rlim_max: 4 };
            libc::setrlimit(libc::RLIMIT_SIGPENDING, &limit);
            Ok(())
        })
    };
    let server = common::Server::start_with(&mut cmd);
    let port = server.port.to_string();
    let client = common::ok(common::bin("epoll-client").args(["--port", &port]).args(MANY));
    let (srv, _) = server.stop();
    assert_eq!(n(&client["requests"]), 20_000);
    assert_eq!(n(&srv["bytes_sent"]), n(&client["bytes_sent"]));
    assert!(received(&srv, "overflow") > 0, "{}", srv["signals"]);
    consistent(&srv, 1);
}
