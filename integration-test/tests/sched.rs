//! Context switches: the tracer against the traced program's own getrusage and
//! /proc/PID/task/*/status (shared/kernel-notes.md §4: voluntary exact, ±1 when the window
//! includes a thread's exit; involuntary within 2%).
use std::{
    io::{BufRead, BufReader},
    process::{Command, Stdio},
};

use integration_test::{binary, json_file, last_json_line, scratch, tracer};
use serde_json::Value;

fn rows_of(report: &Value, pid: u64) -> Vec<Value> {
    report["sched"]["threads"].as_array().unwrap().iter().filter(|t| t["pid"] == pid).cloned().collect()
}

fn row(rows: &[Value], tid: u64) -> &Value {
    rows.iter().find(|t| t["tid"] == tid).unwrap_or_else(|| panic!("no row for tid {tid} in {rows:#?}"))
}

fn n(v: &Value) -> i64 {
    v.as_i64().unwrap_or_else(|| panic!("not a number: {v}"))
}

/// |traced - oracle| within 2% of the oracle, or within `floor` for small counts.
fn within_2pct(traced: i64, oracle: i64, floor: i64, what: &str) {
    let tol = (oracle as f64 * 0.02).ceil() as i64;
    assert!((traced - oracle).abs() <= tol.max(floor), "{what}: traced {traced} vs oracle {oracle} (tolerance 2%)");
}

/// A thread's voluntary switches against its own getrusage(RUSAGE_THREAD), taken just
/// before it returned: the tracer may see one more, on the way out.
fn exit_tolerance(traced: i64, oracle: i64, what: &str) {
    assert!((0..=1).contains(&(traced - oracle)), "{what}: traced {traced} vs getrusage {oracle} (allowed: +0..1)");
}

/// Involuntary switches per thread: within 2%, at least +0..2 (the exiting thread can be
/// preempted by the joiner its exit wakes, after its last getrusage).
fn involuntary_tolerance(traced: i64, oracle: i64, what: &str) {
    let tol = ((oracle as f64 * 0.02).ceil() as i64).max(2);
    assert!(
        (0..=tol).contains(&(traced - oracle)),
        "{what}: traced {traced} vs getrusage {oracle} (allowed +0..{tol})"
    );
}

#[test]
fn run_counts_match_getrusage_and_proc() {
    let out_path = scratch("sched-run.json");
    let child = binary("sched-child");
    let out = tracer(&[
        "run",
        "--format",
        "json",
        "--output",
        out_path.to_str().unwrap(),
        "--",
        child.to_str().unwrap(),
        "--sleeps",
        "200",
        "--spinners",
        "5",
        "--spin-ms",
        "300",
    ]);
    let truth = last_json_line(&out.stdout);
    let report = json_file(&out_path);
    let pid = truth["pid"].as_u64().unwrap();
    assert_eq!(report["target"]["pid"], pid);
    assert_eq!(report["lost_events"], 0);
    assert_eq!(report["complete"], true);

    let rows = rows_of(&report, pid);
    assert_eq!(rows.len(), 6, "main + 5 spinners: {rows:#?}");
    // Whole process: RUSAGE_SELF at the end of main includes every dead thread.
    let (vol, invol) = (n(&report["sched"]["voluntary"]), n(&report["sched"]["involuntary"]));
    let (self_v, self_i) = (n(&truth["self"]["nvcsw"]), n(&truth["self"]["nivcsw"]));
    assert!(self_v >= 200, "the child slept 200 times: {truth}");
    assert!(self_i >= 20, "5 spinners on {} CPUs must preempt each other: {truth}", num_cpus());
    assert!((0..=1).contains(&(vol - self_v)), "voluntary: traced {vol} vs getrusage {self_v}");
    within_2pct(invol, self_i, 1, "involuntary");

    // Per thread: getrusage(RUSAGE_THREAD) just before each thread returned.
    let main = &truth["main"];
    let m = row(&rows, main["tid"].as_u64().unwrap());
    exit_tolerance(n(&m["voluntary"]), n(&main["nvcsw"]), "main voluntary");
    involuntary_tolerance(n(&m["involuntary"]), n(&main["nivcsw"]), "main involuntary");
    for t in truth["threads"].as_array().unwrap() {
        let r = row(&rows, t["tid"].as_u64().unwrap());
        assert_eq!(r["exited"], true);
        exit_tolerance(n(&r["voluntary"]), n(&t["nvcsw"]), "spinner voluntary");
        involuntary_tolerance(n(&r["involuntary"]), n(&t["nivcsw"]), "spinner involuntary");
    }
    // /proc/PID/task/*/status, read while every thread was alive and the spinners parked:
    // after it a spinner only wakes and exits (voluntary +0..1, involuntary +0..2); main
    // also releases and joins 5 threads, blocking at most once per join.
    for s in truth["task_status"].as_array().unwrap() {
        let tid = s["tid"].as_u64().unwrap();
        let r = row(&rows, tid);
        let (vol_slack, invol_slack) = if tid == pid { (5, 5) } else { (1, 2) };
        for (traced, proc, slack) in
            [(&r["voluntary"], &s["voluntary"], vol_slack), (&r["involuntary"], &s["nonvoluntary"], invol_slack)]
        {
            let d = n(traced) - n(proc);
            assert!((0..=slack).contains(&d), "tid {tid}: traced {traced} vs /proc {proc} (allowed +0..{slack})");
        }
    }
}

/// On-CPU time, run-queue wait and time slices of each spinner against its own
/// /proc/self/task/TID/schedstat, read last thing before it returned: the tracer's figures
/// run to the thread's exit, so they may exceed it by the exit path (on-CPU by at most
/// 2 ms of ~300, one or two slices) and the run-queue wait differs by at most 1% or 2 ms;
/// on + off CPU within 95..100% of its lifetime.
#[test]
fn times_match_schedstat() {
    let out_path = scratch("sched-times.json");
    let child = binary("sched-child");
    let out = tracer(&[
        "run",
        "--format",
        "json",
        "--output",
        out_path.to_str().unwrap(),
        "--",
        child.to_str().unwrap(),
        "--sleeps",
        "20",
        "--spinners",
        "4",
        "--spin-ms",
        "300",
    ]);
    let truth = last_json_line(&out.stdout);
    let report = json_file(&out_path);
    let rows = rows_of(&report, truth["pid"].as_u64().unwrap());
    for t in truth["threads"].as_array().unwrap() {
        let r = row(&rows, t["tid"].as_u64().unwrap());
        let (on, oracle) = (n(&r["oncpu_ns"]), n(&t["oncpu_ns"]));
        assert!((0..=2_000_000).contains(&(on - oracle)), "on-CPU ns: traced {on} vs schedstat {oracle} (+0..2 ms)");
        let (rq, oracle) = (n(&r["runqueue_ns"]), n(&t["run_delay_ns"]));
        let tol = (oracle / 100).max(2_000_000);
        assert!((rq - oracle).abs() <= tol, "run-queue ns: traced {rq} vs schedstat {oracle} (1% or 2 ms)");
        let (slices, pcount) = (n(&r["slices"]), n(&t["slices"]));
        assert!((0..=2).contains(&(slices - pcount)), "slices: traced {slices} vs schedstat {pcount} (+0..2)");
        // From its first switch-in to its last switch-out a thread is on or off a CPU; the
        // task clock leaves out interrupt and steal time while on it (a few % on this VM).
        // The thread's own clock stops before its exit path, which may wait for a CPU.
        let (accounted, life) = (n(&r["oncpu_ns"]) + n(&r["offcpu_ns"]), n(&t["lifetime_ns"]));
        assert!(
            accounted <= life + 5_000_000 && accounted * 100 >= life * 95,
            "on + off CPU {accounted} vs lifetime {life}"
        );
        assert!(n(&r["runqueue_ns"]) > 10_000_000, "4 spinners on {} CPUs wait for a CPU", num_cpus());
    }
    let sched = &report["sched"];
    let sum = |k: &str| rows.iter().map(|r| n(&r[k])).sum::<i64>();
    assert_eq!(n(&sched["offcpu_ns"]), sum("offcpu_ns"));
    assert_eq!(n(&sched["runqueue_ns"]), sum("runqueue_ns"));
    // Switches by syscall add up, the sleeps block in clock_nanosleep, and the spinners
    // are preempted in user mode.
    let by = report["sched"]["by_syscall"].as_array().unwrap();
    let total = |k: &str| by.iter().map(|b| n(&b[k])).sum::<i64>();
    assert_eq!((total("voluntary"), total("involuntary")), (n(&sched["voluntary"]), n(&sched["involuntary"])));
    let sleeps = by.iter().find(|b| b["syscall"] == "clock_nanosleep").expect("the sleeps");
    assert!(n(&sleeps["voluntary"]) >= 20);
    let user = by.iter().find(|b| b["syscall"] == "user or fault").expect("preemptions in user mode");
    assert!(n(&user["involuntary"]) * 2 > n(&sched["involuntary"]), "most preemptions hit user code: {user}");
}

#[test]
fn attach_sees_threads_created_after_it_and_stops_when_the_target_exits() {
    let out_path = scratch("sched-attach.json");
    let child = Command::new(binary("sched-child"))
        .args(["--start-delay-ms", "1500", "--sleeps", "50", "--spinners", "3", "--spin-ms", "200"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id().to_string();
    let mut tracer = Command::new(binary("tracer"))
        .args(["attach", "--pid", &pid, "--format", "json", "--output", out_path.to_str().unwrap()])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(tracer.stderr.take().unwrap()).read_line(&mut first).unwrap();
    assert!(first.starts_with(&format!("tracing PID {pid} (sched-child)")), "{first}");
    let truth_out = child.wait_with_output().unwrap();
    let status = tracer.wait().unwrap();
    assert!(status.success(), "tracer stops by itself when the target exits: {status}");
    let truth = last_json_line(&truth_out.stdout);
    let report = json_file(&out_path);
    let rows = rows_of(&report, truth["pid"].as_u64().unwrap());
    // Spinners were born after the probes went live: their whole lives were traced.
    for t in truth["threads"].as_array().unwrap() {
        let r = row(&rows, t["tid"].as_u64().unwrap());
        exit_tolerance(n(&r["voluntary"]), n(&t["nvcsw"]), "spinner voluntary");
        involuntary_tolerance(n(&r["involuntary"]), n(&t["nivcsw"]), "spinner involuntary");
    }
    // Main was traced from the attach on: at least its 50 sleeps, at most its whole life.
    let m = row(&rows, truth["main"]["tid"].as_u64().unwrap());
    assert!(n(&m["voluntary"]) >= 50 && n(&m["voluntary"]) <= n(&truth["main"]["nvcsw"]) + 1, "{m}");
}

fn num_cpus() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}
