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
