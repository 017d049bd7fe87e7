//! Targets beyond a PID, filtered in the kernel: a cgroup (every process in it and below
//! it, including those that start after the tracer) and a name (those running, and those
//! that start later). A bystander outside the target, doing the same work at the same
//! time, must not add one call to the report.
use std::{
    io::{BufRead, BufReader},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
};

use integration_test::{Cgroup, binary, epoll_server_in, json_file, last_json_line, load_and_stop, scratch};
use serde_json::Value;

fn n(v: &Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("not a count: {v}"))
}

/// `tracer attach ARGS`, once it says its probes are live; its report goes to the path.
fn attach(args: &[&str], name: &str) -> (Child, PathBuf) {
    let out = scratch(&format!("{name}.json"));
    let mut tracer = Command::new(binary("tracer"))
        .arg("attach")
        .args(args)
        .args(["--format", "json", "--output", out.to_str().unwrap()])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut err = BufReader::new(tracer.stderr.take().unwrap());
    let mut line = String::new();
    while err.read_line(&mut line).unwrap() > 0 && !line.contains("tracing") {
        line.clear();
    }
    assert!(line.contains("tracing"), "the tracer did not start");
    // Drain the rest so the tracer never blocks on a full pipe.
    std::thread::spawn(move || std::io::copy(&mut err, &mut std::io::sink()));
    (tracer, out)
}

/// Stops the tracer (it writes its report) and reads the report.
fn stop(mut tracer: Child, out: &Path) -> Value {
    // SAFETY: signalling the tracer this test started.
    unsafe { libc::kill(tracer.id() as i32, libc::SIGINT) };
    assert!(tracer.wait().unwrap().success());
    json_file(out)
}

/// A server that starts in the cgroup after the tracer is traced from its exec, exactly
/// (its own count of waits, events and received bytes); an identical server outside the
/// cgroup, loaded at the same time, is not.
#[test]
fn a_cgroup_is_traced_with_the_processes_that_start_in_it() {
    let cgroup = Cgroup::new("cg");
    let (tracer, out) = attach(&["--cgroup", cgroup.0.to_str().unwrap()], "cgroup");
    let ((inside, in_port), (outside, out_port)) = (epoll_server_in(Some(&cgroup.0)), epoll_server_in(None));
    let pid = inside.id();
    let bystander = std::thread::spawn(move || load_and_stop(outside, &out_port, "3000"));
    let truth = load_and_stop(inside, &in_port, "3000");
    bystander.join().unwrap();
    let report = stop(tracer, &out);

    assert_eq!(report["target"]["command"], format!("cgroup {}", cgroup.0.display()));
    assert_eq!(report["lost_events"], 0, "{}", report["lost"]);
    let e = &report["epoll"];
    assert_eq!(n(&e["waits"]), n(&truth["waits"]), "waits: the server's own, the bystander's not");
    assert_eq!(n(&e["events_returned"]), n(&truth["events_returned"]));
    assert_eq!(n(&report["copies"]["socket_copy_bytes"]), n(&truth["bytes_received"]), "bytes received");
    let pids: Vec<u64> = report["sched"]["threads"].as_array().unwrap().iter().map(|t| n(&t["pid"])).collect();
    assert!(pids.iter().all(|&p| p == u64::from(pid)), "only the server in the cgroup: {pids:?} (it is {pid})");
}

/// By name: a process already running when the tracer starts, and two that start later,
/// each traced; a process of another name doing the same, not. wake-probe waits on two
/// epoll fds: `rounds` times on its socket pair, `timeouts` times (2 ms each) on an empty
/// set. The early one runs until the test ends it, however slow the start (under TCG,
/// loading the programs takes seconds).
#[test]
fn a_name_is_traced_in_every_process_that_has_it() {
    let probe = binary("wake-probe");
    // The bystander: the same program under another name.
    let other = scratch("wake-probe-x");
    std::fs::copy(&probe, &other).unwrap();
    let mut early = Command::new(&probe).args(["50", "1000000"]).stdout(Stdio::null()).spawn().unwrap();
    let attaching = std::time::Instant::now();
    let (tracer, out) = attach(&["--comm", "wake-probe"], "comm");
    let bystander = Command::new(&other).args(["300", "30"]).stdout(Stdio::null()).spawn().unwrap();
    let mut later = Vec::new();
    for _ in 0..2 {
        let run = Command::new(&probe).args(["200", "20"]).output().unwrap();
        assert!(run.status.success());
        later.push(last_json_line(&run.stdout));
    }
    let bystander = bystander.wait_with_output().unwrap().status;
    assert!(bystander.success());
    let report = stop(tracer, &out);
    let window = attaching.elapsed();
    early.kill().unwrap();
    early.wait().unwrap();

    assert_eq!(report["target"]["command"], "comm wake-probe");
    let by_fd = report["epoll"]["by_epfd"].as_array().unwrap();
    let waits = |pid: u64| -> Vec<u64> {
        let mut w: Vec<u64> = by_fd.iter().filter(|r| n(&r["pid"]) == pid).map(|r| n(&r["waits"])).collect();
        w.sort_unstable();
        w
    };
    for run in &later {
        assert_eq!(waits(n(&run["pid"])), [20, 200], "a process that started as wake-probe: {run}");
    }
    // Traced from the attach on, on its empty set only (its rounds were over long before),
    // and no more waits than 2 ms timeouts fit in the time the tracer ran.
    let seen = waits(u64::from(early.id()));
    let most = window.as_millis() as u64 / 2 + 1;
    assert!(
        seen.len() == 1 && seen[0] > 0 && seen[0] <= most,
        "the one running at the attach: {seen:?} (at most {most})"
    );
    let pids: Vec<u64> = by_fd.iter().map(|r| n(&r["pid"])).collect();
    let expected: Vec<u64> = later.iter().map(|r| n(&r["pid"])).chain([u64::from(early.id())]).collect();
    assert!(pids.iter().all(|p| expected.contains(p)), "no other process: {pids:?} vs {expected:?}");
}
