//! Nothing of the tracer stays in the kernel: however a trace ends (normally, Ctrl-C, the
//! target's exit, the tracer killed), every program and map it loaded is gone after, as
//! the kernel's own list of BPF objects shows (BPF_PROG_GET_NEXT_ID / BPF_MAP_GET_NEXT_ID).
use std::{
    collections::BTreeSet,
    io::{BufRead, BufReader},
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use integration_test::binary;

const BPF_PROG_GET_NEXT_ID: libc::c_long = 11;
const BPF_MAP_GET_NEXT_ID: libc::c_long = 12;

/// Every id the kernel lists for programs (or maps).
fn ids(cmd: libc::c_long) -> BTreeSet<u32> {
    let mut out = BTreeSet::new();
    // union bpf_attr's first members for these commands: start_id, next_id, open_flags.
    let mut attr = [0u32; 3];
    loop {
        // SAFETY: a bpf(2) call with an attr buffer of the size passed.
        let r = unsafe { libc::syscall(libc::SYS_bpf, cmd, attr.as_mut_ptr(), size_of_val(&attr)) };
        if r != 0 {
            assert_eq!(std::io::Error::last_os_error().raw_os_error(), Some(libc::ENOENT), "bpf({cmd})");
            return out;
        }
        out.insert(attr[1]);
        attr[0] = attr[1];
    }
}

fn objects() -> (BTreeSet<u32>, BTreeSet<u32>) {
    (ids(BPF_PROG_GET_NEXT_ID), ids(BPF_MAP_GET_NEXT_ID))
}

/// The kernel frees a closed program or map after an RCU grace period: wait for the lists
/// to be what they were (a bounded wait), or name what is left.
fn nothing_left(before: &(BTreeSet<u32>, BTreeSet<u32>), how: &str) {
    let until = Instant::now() + Duration::from_secs(5);
    loop {
        let now = objects();
        let (progs, maps): (Vec<_>, Vec<_>) =
            (now.0.difference(&before.0).collect(), now.1.difference(&before.1).collect());
        if progs.is_empty() && maps.is_empty() {
            return;
        }
        assert!(Instant::now() < until, "{how}: programs {progs:?} and maps {maps:?} are still loaded");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Starts `tracer attach` on `pid` and waits until its programs are live.
fn attach(pid: u32) -> std::process::Child {
    let mut tracer = Command::new(binary("tracer"))
        .args(["attach", "--pid", &pid.to_string(), "--format", "json", "--output", "/dev/null"])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(tracer.stderr.take().unwrap()).read_line(&mut line).unwrap();
    assert!(line.starts_with("tracing PID"), "{line}");
    tracer
}

#[test]
fn every_way_a_trace_ends_leaves_nothing_loaded() {
    let before = objects();
    // It did load something while it ran (or this test proves nothing).
    let mut sleeper = Command::new("sleep").arg("30").spawn().unwrap();
    let mut tracer = attach(sleeper.id());
    assert!(objects().0.len() > before.0.len() + 10, "the tracer's programs are listed while it runs");

    // Ctrl-C.
    // SAFETY: signalling the tracer this test started.
    unsafe { libc::kill(tracer.id() as i32, libc::SIGINT) };
    assert!(tracer.wait().unwrap().success());
    nothing_left(&before, "after Ctrl-C");

    // SIGKILL: the kernel drops what the dead process held.
    let mut tracer = attach(sleeper.id());
    tracer.kill().unwrap();
    tracer.wait().unwrap();
    nothing_left(&before, "after the tracer was killed");

    // The target exits.
    let tracer = attach(sleeper.id());
    sleeper.kill().unwrap();
    sleeper.wait().unwrap();
    assert!(tracer.wait_with_output().unwrap().status.success());
    nothing_left(&before, "after the target exited");

    // A run that ends normally, and one refused (no such command).
    assert!(Command::new(binary("tracer")).args(["run", "--", "true"]).output().unwrap().status.success());
    nothing_left(&before, "after a normal run");
    assert!(!Command::new(binary("tracer")).args(["run", "--", "/no/such"]).output().unwrap().status.success());
    nothing_left(&before, "after a failed start");
}
