//! What tracing cost (the report's `overhead`), against perf: the programs' own run
//! counts must cover every run the kernel made of them, for every process on the machine,
//! not only the target's.
use std::{
    io::{BufRead, BufReader, Write},
    process::{Child, Command, Stdio},
};

use integration_test::{binary, json_file, scratch, traced_with};
use serde_json::Value;

/// A hammer waiting for its go, and its PID.
fn hammer(iterations: u64) -> (Child, u32) {
    let mut h = Command::new(binary("hammer"))
        .args(["--modes", "syscall", "--iterations", &iterations.to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(h.stdout.as_mut().unwrap()).read_line(&mut line).unwrap();
    let pid = line.trim().strip_prefix("ready ").unwrap().parse().unwrap();
    (h, pid)
}

/// Lets a hammer go and waits for it to finish; returns the ops it did.
fn run_to_end(mut h: Child) -> u64 {
    writeln!(h.stdin.as_mut().unwrap()).unwrap();
    let out = h.wait_with_output().unwrap();
    let v: Value =
        serde_json::from_slice(out.stdout.split(|&b| b == b'\n').find(|l| l.starts_with(b"{")).unwrap()).unwrap();
    v["ops"].as_u64().unwrap()
}

fn program<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["overhead"]["programs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["program"] == name)
        .unwrap_or_else(|| panic!("no {name} in {}", report["overhead"]))
}

/// With statistics on throughout: every syscall of the target and of a bystander (both
/// inside the trace) ran sys_enter and sys_exit, and no program ran more often than perf,
/// counting the same tracepoints machine-wide around the whole trace, saw them hit.
#[test]
fn program_runs_are_every_hit_of_the_machine_and_no_more() {
    let (target, target_pid) = hammer(1_000_000);
    let (bystander, _) = hammer(2_000_000);
    let counts = scratch("perf-syscalls.csv");
    let report_path = scratch("overhead.json");
    let mut traced = Command::new("perf")
        .args(["stat", "-a", "-x,", "-e", "raw_syscalls:sys_enter,raw_syscalls:sys_exit", "-o"])
        .arg(&counts)
        .arg("--")
        .arg(binary("tracer"))
        .args(["attach", "--pid", &target_pid.to_string(), "--bpf-stats", "always", "--format", "json", "--output"])
        .arg(&report_path)
        .stderr(Stdio::piped())
        .spawn()
        .expect("perf (linux-perf) is installed by `cargo xtask setup`");
    let mut stderr = BufReader::new(traced.stderr.take().unwrap());
    let mut line = String::new();
    while !line.contains("tracing PID") {
        line.clear();
        assert!(stderr.read_line(&mut line).unwrap() > 0, "the tracer ended before it was tracing");
    }
    // The bystander runs whole inside the trace; the target's end ends it.
    let inside = run_to_end(bystander) + run_to_end(target);
    assert!(traced.wait().unwrap().success());
    let report = json_file(&report_path);
    let perf = std::fs::read_to_string(&counts).unwrap();
    let perf_count = |event: &str| -> u64 {
        perf.lines().find(|l| l.contains(event)).and_then(|l| l.split(',').next()?.parse().ok()).unwrap()
    };
    for (name, event) in [("sys_enter", "raw_syscalls:sys_enter"), ("sys_exit", "raw_syscalls:sys_exit")] {
        let hits = program(&report, name)["hits"].as_u64().unwrap();
        let around = perf_count(event);
        assert!(
            (inside..=around).contains(&hits),
            "{name} ran {hits} times: at least the {inside} getppid calls inside the trace, at most perf's {around}"
        );
    }
    let o = &report["overhead"];
    assert!(o["bpf_stats_coverage"].as_f64().unwrap() > 0.99, "{o}");
    let enter = program(&report, "sys_enter");
    assert!(enter["ns"].as_u64().unwrap() > 0, "{enter}");
    assert!(o["user_cpu_ns"].as_u64().unwrap() > 0, "{o}");
}

/// By default the statistics are on a tenth of the time (100 ms in every second); off,
/// the time is null and a note says why, but the runs are still counted.
#[test]
fn statistics_are_sampled_by_default_and_can_be_off() {
    let (sampled, _) = traced_with(&[], &["sleep", "2.5"]);
    let coverage = sampled["overhead"]["bpf_stats_coverage"].as_f64().unwrap();
    assert!((0.08..=0.2).contains(&coverage), "coverage {coverage} of a 2.5 s trace: {}", sampled["overhead"]);
    let (off, _) = traced_with(&["--bpf-stats", "off"], &["sleep", "0.2"]);
    let o = &off["overhead"];
    assert!(o["bpf_ns"].is_null() && o["bpf_stats_coverage"].is_null(), "{o}");
    assert!(o["bpf_hits"].as_u64().unwrap() > 0, "{o}");
    assert!(
        off["notes"].as_array().unwrap().iter().any(|n| n.as_str().unwrap().contains("--bpf-stats off")),
        "{}",
        off["notes"]
    );
}
