//! Running the workload binaries and reading their JSON summaries.
#![allow(dead_code)]

use std::{
    io::{BufRead, BufReader},
    os::unix::process::CommandExt,
    process::{Child, Command, Output, Stdio},
};

use serde_json::Value;

pub fn bin(name: &str) -> Command {
    let path = match name {
        "epoll-server" => env!("CARGO_BIN_EXE_epoll-server"),
        "epoll-client" => env!("CARGO_BIN_EXE_epoll-client"),
        "zerocopy" => env!("CARGO_BIN_EXE_zerocopy"),
        "memlab" => env!("CARGO_BIN_EXE_memlab"),
        _ => panic!("no binary {name}"),
    };
    Command::new(path)
}

/// The last stdout line of a run, parsed as its summary.
pub fn summary(out: &Output) -> Value {
    let text = String::from_utf8_lossy(&out.stdout);
    let line =
        text.lines().last().unwrap_or_else(|| panic!("no output; stderr: {}", String::from_utf8_lossy(&out.stderr)));
    serde_json::from_str(line).unwrap_or_else(|e| panic!("summary is not JSON ({e}): {line}"))
}

pub fn ok(cmd: &mut Command) -> Value {
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{cmd:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    summary(&out)
}

/// A running server and the port it printed on its first line.
pub struct Server {
    pub child: Child,
    pub port: u16,
}

impl Server {
    pub fn start(args: &[&str]) -> Self {
        Self::start_with(bin("epoll-server").args(args))
    }

    pub fn start_with(cmd: &mut Command) -> Self {
        let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
        let mut first = String::new();
        BufReader::new(child.stdout.as_mut().unwrap()).read_line(&mut first).unwrap();
        let port = first
            .strip_prefix("listening on 127.0.0.1:")
            .and_then(|r| r.split_whitespace().next())
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("unexpected first line: {first:?}"));
        Self { child, port }
    }

    /// SIGINT, then the summary and stderr.
    pub fn stop(self) -> (Value, String) {
        // SAFETY: signalling our own child.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGINT) };
        let out = self.child.wait_with_output().unwrap();
        assert!(out.status.success(), "server failed: {}", String::from_utf8_lossy(&out.stderr));
        (summary(&out), String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// Makes the child start with fds 3..=n open, so its next fds are numbered above n.
pub fn with_many_fds(cmd: &mut Command, n: i32) -> &mut Command {
    // SAFETY: dup2 is async-signal-safe; runs in the child between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            for fd in 3..=n {
                libc::dup2(0, fd);
            }
            Ok(())
        })
    }
}

pub fn n(v: &Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("not a count: {v}"))
}

/// calls / bytes of one syscall in a summary's syscall map (0 when absent).
pub fn calls(sys: &Value, name: &str) -> u64 {
    sys.get(name).map_or(0, |s| n(&s["calls"]))
}

pub fn field(sys: &Value, name: &str, key: &str) -> u64 {
    sys.get(name).map_or(0, |s| n(&s[key]))
}

/// Failed with one line on stderr containing `needle`.
pub fn fails_with_one_line(out: &Output, needle: &str) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "should have failed: {err}");
    assert_eq!(err.lines().count(), 1, "one line expected: {err}");
    assert!(err.contains(needle), "expected `{needle}` in: {err}");
}

/// Runs the client against a fresh server; returns (server, client) summaries after
/// checking that they agree byte for byte.
pub fn echo(server_args: &[&str], client_args: &[&str]) -> (Value, Value) {
    let server = Server::start(server_args);
    let port = server.port.to_string();
    let client = ok(bin("epoll-client").args(["--port", &port]).args(client_args));
    let (srv, _) = server.stop();
    assert_eq!(n(&client["errors"]), 0, "{client}");
    assert_eq!(n(&srv["errors"]), 0, "{srv}");
    let sent = n(&client["bytes_sent"]);
    assert_eq!(sent, n(&client["requests"]) * n(&client["size"]));
    assert_eq!(n(&srv["bytes_received"]), sent);
    assert_eq!(n(&srv["bytes_sent"]), sent);
    assert_eq!(n(&client["bytes_received"]), sent);
    assert_eq!(n(&srv["connections"]), n(&client["connections"]));
    // The client's own syscall counts add up to its byte counts.
    assert_eq!(field(&client["syscalls"], "write", "bytes"), sent);
    assert_eq!(field(&client["syscalls"], "read", "bytes"), sent);
    (srv, client)
}

/// 64 connections, 4 messages of 100 bytes in flight on each, 20000 requests.
pub const MANY: &[&str] =
    &["--connections", "64", "--size", "100", "--pipeline", "4", "--requests", "20000", "--threads", "2"];

/// The calls a server run made that its summary did not count (the runtime's, and the
/// summary's own write), per name: `integration_test::uncounted` of `server_args` run
/// under strace while `client_args` (if any) load it. A mode that counts every call it
/// makes leaves the same remainder whether it served a load or nobody.
pub fn uncounted_server_calls(server_args: &[&str], client_args: Option<&[&str]>) -> integration_test::Counts {
    let exe = env!("CARGO_BIN_EXE_epoll-server");
    let cmd: Vec<&str> = [exe].into_iter().chain(server_args.iter().copied()).collect();
    let mut traced = integration_test::strace_spawn(&cmd);
    let mut first = String::new();
    BufReader::new(traced.stdout.as_mut().unwrap()).read_line(&mut first).unwrap();
    if let Some(client) = client_args {
        let port = first.split(':').nth(1).and_then(|p| p.split_whitespace().next()).unwrap().to_owned();
        ok(bin("epoll-client").args(["--port", &port]).args(client));
    }
    let out = traced.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let seen = integration_test::take_strace_log(&cmd);
    let mut stdout = first.into_bytes();
    stdout.extend_from_slice(&out.stdout);
    integration_test::uncounted(&seen, &stdout)
}

/// Every call in `names` a loaded run made, the program counted: what it left uncounted
/// equals what an idle run leaves (calls, errors; bytes for data calls).
pub fn counts_every_call(server_args: &[&str], client_args: &[&str], names: &[&str]) {
    let mut idle_args = server_args.to_vec();
    idle_args.extend(["--duration", "300ms"]);
    let mut loaded_args = server_args.to_vec();
    loaded_args.extend(["--duration", "2s"]);
    let idle = uncounted_server_calls(&idle_args, None);
    let mut loaded = uncounted_server_calls(&loaded_args, Some(client_args));
    // glibc, trimming a thread's heap as it exits, reads /proc/sys/vm/overcommit_memory
    // once (openat, a 1-byte read, close) in the runs whose heap grew enough: not the
    // program's I/O, and not in every idle run.
    let trims = loaded.get("openat").map_or(0, |o| o.0).saturating_sub(idle.get("openat").map_or(0, |o| o.0));
    for (name, bytes) in [("openat", 0), ("read", 1), ("close", 0)] {
        if let Some(c) = loaded.get_mut(name) {
            c.0 -= trims;
            c.2 -= trims * bytes;
        }
    }
    for name in names {
        let (a, b) = (loaded.get(*name).copied().unwrap_or_default(), idle.get(*name).copied().unwrap_or_default());
        assert_eq!(a, b, "{server_args:?}: {name} (calls, errors, bytes) left uncounted under load vs idle");
    }
}
