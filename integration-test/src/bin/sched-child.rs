//! A process with known scheduling behaviour, and its own account of it.
//!
//! The main thread sleeps `--sleeps` times (one voluntary switch each); `--spinners` threads
//! each burn `--spin-ms` of CPU time (with more spinners than cores they preempt each
//! other: involuntary switches). Then every spinner parks; the main thread reads
//! /proc/self/task/*/status while all threads are alive, then releases and joins them one
//! by one, each recording getrusage(RUSAGE_THREAD) and its schedstat (on-CPU time,
//! run-queue wait, slices) last thing before it returns, and prints one JSON line: the
//! oracle the tests compare with. Once all are joined, the process's CPU clock and
//! getrusage(RUSAGE_SELF) minus the main thread's own give the spinners' final totals,
//! exit paths included.
//! With `--start-delay-ms` it first sleeps once, so a tracer can attach before the
//! threads exist. With `--fork yes` the work runs in a child the process reaps with
//! wait4, and the kernel's account of the child's whole life is the last line.
use std::{
    sync::{
        Arc, Barrier,
        atomic::{AtomicBool, Ordering},
    },
    thread,
    time::Duration,
};

fn main() {
    let mut args = std::env::args().skip(1);
    let (mut sleeps, mut spinners, mut spin_ms, mut start_delay_ms) = (100u32, 3u32, 200u64, 0u64);
    let mut fork = false;
    while let Some(flag) = args.next() {
        let value = args.next().expect("flag value");
        match flag.as_str() {
            "--sleeps" => sleeps = value.parse().unwrap(),
            "--spinners" => spinners = value.parse().unwrap(),
            "--spin-ms" => spin_ms = value.parse().unwrap(),
            // Lets a test attach before any worker thread exists.
            "--start-delay-ms" => start_delay_ms = value.parse().unwrap(),
            "--fork" => fork = value == "yes",
            _ => panic!("unknown flag {flag}"),
        }
    }
    thread::sleep(Duration::from_millis(start_delay_ms));
    if fork {
        report_waited_child();
    }
    let parked = Arc::new(Barrier::new(spinners as usize + 1));
    // Spinners are released one at a time, each by its own unpark, so no two threads run
    // their exit paths together (glibc's stack madvise on exit contends on mmap_lock
    // otherwise, a switch no per-thread oracle can see) and no release wakes the others.
    let handles: Vec<_> = (0..spinners)
        .map(|_| {
            let parked = parked.clone();
            let go = Arc::new(AtomicBool::new(false));
            let flag = go.clone();
            let spawned = monotonic();
            let handle = thread::spawn(move || {
                let born = monotonic();
                burn_cpu(Duration::from_millis(spin_ms));
                parked.wait();
                while !flag.load(Ordering::Acquire) {
                    thread::park();
                }
                let (v, i) = rusage(libc::RUSAGE_THREAD);
                let sched = schedstat();
                (gettid(), v, i, sched, monotonic() - born)
            });
            (handle, go, spawned)
        })
        .collect();
    for _ in 0..sleeps {
        thread::sleep(Duration::from_millis(1));
    }
    parked.wait();
    // Give every spinner time to block on the condvar before reading /proc.
    thread::sleep(Duration::from_millis(50));
    let status = task_status();
    let threads: Vec<_> = handles
        .into_iter()
        .map(|(handle, go, spawned)| {
            go.store(true, Ordering::Release);
            handle.thread().unpark();
            let t = handle.join().unwrap();
            (t, monotonic() - spawned)
        })
        .collect();
    // Every spinner is dead now: the process's clock and counters hold their final
    // figures (folded in at their exit), and this thread's own are taken just before: the
    // two clocks back to back, so only one call's time separates them.
    let main_cpu = clock_ns(libc::CLOCK_THREAD_CPUTIME_ID);
    let process_cpu = clock_ns(libc::CLOCK_PROCESS_CPUTIME_ID);
    let (main_v, main_i) = rusage(libc::RUSAGE_THREAD);
    let (self_v, self_i) = rusage(libc::RUSAGE_SELF);
    let threads_json: Vec<String> = threads
        .iter()
        .map(|((t, v, i, (on, delay, slices), life), outer)| {
            format!(
                r#"{{"tid":{t},"nvcsw":{v},"nivcsw":{i},"oncpu_ns":{on},"run_delay_ns":{delay},"slices":{slices},"lifetime_ns":{life},"spawn_to_join_ns":{outer}}}"#
            )
        })
        .collect();
    let status_json: Vec<String> =
        status.iter().map(|(t, v, i)| format!(r#"{{"tid":{t},"voluntary":{v},"nonvoluntary":{i}}}"#)).collect();
    println!(
        r#"{{"pid":{},"main":{{"tid":{},"nvcsw":{main_v},"nivcsw":{main_i},"cpu_ns":{main_cpu}}},"threads":[{}],"self":{{"nvcsw":{self_v},"nivcsw":{self_i},"cpu_ns":{process_cpu}}},"task_status":[{}]}}"#,
        std::process::id(),
        gettid(),
        threads_json.join(","),
        status_json.join(",")
    );
}

/// With `--fork yes` the work runs in a child; this parent reaps it with wait4 and prints
/// the kernel's account of the child's whole life (every thread, to its very end) as the
/// last line. Returns in the child.
fn report_waited_child() {
    // SAFETY: no threads yet; the child continues with a copy of this single thread.
    let child = unsafe { libc::fork() };
    assert!(child >= 0, "fork failed");
    if child == 0 {
        return;
    }
    let (mut status, mut ru) = (0, unsafe { std::mem::zeroed::<libc::rusage>() });
    // SAFETY: valid out pointers; our own child.
    assert_eq!(unsafe { libc::wait4(child, &mut status, 0, &mut ru) }, child);
    let us = |t: libc::timeval| t.tv_sec as u64 * 1_000_000 + t.tv_usec as u64;
    println!(
        r#"{{"waited_pid":{child},"nvcsw":{},"nivcsw":{},"cpu_ns":{}}}"#,
        ru.ru_nvcsw,
        ru.ru_nivcsw,
        (us(ru.ru_utime) + us(ru.ru_stime)) * 1000
    );
    std::process::exit(0);
}

fn burn_cpu(budget: Duration) {
    let start = thread_cpu();
    let mut x = 0u64;
    while thread_cpu() - start < budget {
        for i in 0..10_000 {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(i);
        }
        std::hint::black_box(x);
    }
}

fn thread_cpu() -> Duration {
    Duration::from_nanos(clock_ns(libc::CLOCK_THREAD_CPUTIME_ID))
}

fn clock_ns(clock: libc::clockid_t) -> u64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: valid out pointer.
    unsafe { libc::clock_gettime(clock, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

fn rusage(who: i32) -> (i64, i64) {
    // SAFETY: zeroed rusage is valid; out pointer.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(who, &mut ru) };
    (ru.ru_nvcsw, ru.ru_nivcsw)
}

/// This thread's /proc/self/task/TID/schedstat: on-CPU ns, run-queue wait ns, slices.
fn schedstat() -> (u64, u64, u64) {
    let text = std::fs::read_to_string(format!("/proc/self/task/{}/schedstat", gettid())).unwrap();
    let f: Vec<u64> = text.split_whitespace().map(|x| x.parse().unwrap()).collect();
    (f[0], f[1], f[2])
}

fn monotonic() -> u64 {
    clock_ns(libc::CLOCK_MONOTONIC)
}

fn gettid() -> i32 {
    // SAFETY: no arguments.
    unsafe { libc::gettid() }
}

/// (tid, voluntary_ctxt_switches, nonvoluntary_ctxt_switches) of every thread.
fn task_status() -> Vec<(u32, u64, u64)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc/self/task").unwrap() {
        let entry = entry.unwrap();
        let tid: u32 = entry.file_name().to_string_lossy().parse().unwrap();
        let text = std::fs::read_to_string(entry.path().join("status")).unwrap();
        let field =
            |name: &str| -> u64 { text.lines().find_map(|l| l.strip_prefix(name)).unwrap().trim().parse().unwrap() };
        out.push((tid, field("voluntary_ctxt_switches:"), field("nonvoluntary_ctxt_switches:")));
    }
    out
}
