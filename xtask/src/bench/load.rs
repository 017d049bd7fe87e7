//! `cargo xtask bench`: what tracing costs the traced program. epoll-server runs at full
//! load from epoll-client on loopback, in configurations interleaved round by round
//! (untraced, the floor, the tracer, `tracer top` drawing in a terminal, and strace /
//! bpftrace where installed), so a noisy machine hits every configuration alike. Prints
//! median requests/s, the median of each round's ratio to that round's untraced run,
//! events handled per second, losses, and the tracer's own CPU time per million events.
//! Not a test: it asserts nothing.
use std::{
    path::Path,
    process::{Child, Command, Stdio},
    time::Duration,
};

use serde_json::Value;

use super::{
    observer::{attach, cpu_ms, epoll_server, median, stop},
    options::Options,
};
use crate::sh::{Result, which};

#[derive(Default, Clone)]
struct Sample {
    rps: f64,
    events: f64,
    lost: u64,
    tracer_cpu_ms: f64,
}

/// The server at full load under each configuration.
pub fn throughput(bin: &Path, s: &Options) -> Result {
    match s.target.as_str() {
        "epoll" => {}
        "redis" if which("redis-server") && which("redis-benchmark") => {}
        "redis" => {
            return Err(
                "redis-server and redis-benchmark are not installed: `apt-get install redis-server redis-tools`".into(),
            );
        }
        t => return Err(format!("unknown bench target {t} (epoll or redis)")),
    }
    let configs = s.configs.clone().map_or_else(|| default_configs(s), |c| c.0);
    let mut samples: Vec<Vec<Sample>> = vec![Vec::new(); configs.len()];
    for round in 1..=s.load_rounds() {
        for (i, config) in configs.iter().enumerate() {
            let sample = measure(bin, config, s)?;
            eprintln!("bench: round {round} {config:<30} {:>9.0} req/s", sample.rps);
            samples[i].push(sample);
        }
    }
    print(&configs, &samples, s);
    Ok(())
}

/// Untraced, the floor, the tracer alone and with what `--only` asked, and each peer
/// installed here.
fn default_configs(s: &Options) -> Vec<String> {
    // `tracer+stacks`, `tracer+timeline`: every probe and `--stacks` or `--timeline`
    // (what `--perfetto` streams), each priced on its own.
    let mut configs: Vec<String> =
        ["untraced", "floor", "tracer", "tracer+stacks", "tracer+timeline"].map(String::from).to_vec();
    // What a user who asks for syscalls alone pays, with and without their latency.
    configs.extend(["tracer:syscalls", "tracer:syscalls --no-latency"].map(String::from));
    // Every probe watched live in `tracer top` (in a tmux pane), at its default redraw
    // and at its fastest: what the view adds to tracing alone.
    configs.extend(["top:1s", "top:250ms"].map(String::from));
    for g in &s.groups {
        let config = format!("tracer:{g}");
        if !configs.contains(&config) {
            configs.push(config);
        }
    }
    for (tool, config) in
        [("strace", "strace"), ("syscount", "syscount"), ("syscount", "syscount-L"), ("bpftrace", "bpftrace")]
    {
        if which(tool) {
            configs.push(config.into());
        } else {
            eprintln!("bench: {tool} is not installed: its row is skipped");
        }
    }
    configs
}

/// A fresh server of the bench target, and the port it listens on.
fn start_server(bin: &Path, s: &Options) -> Result<(Child, String)> {
    if s.target == "redis" {
        let port =
            std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map_err(|e| e.to_string())?.port();
        let server = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start redis-server: {e}"))?;
        for _ in 0..200 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        return Ok((server, port.to_string()));
    }
    epoll_server(bin, "epoll-lt")
}

/// Full load against the server for about the bench's duration; returns requests/s.
fn load(bin: &Path, port: &str, s: &Options) -> Result<f64> {
    if s.target == "redis" {
        // GETs: a request count that takes about --seconds untraced (~100k GET/s here).
        let n = (s.seconds * 100_000).to_string();
        let out = Command::new("redis-benchmark")
            .args(["-p", port, "-t", "get", "-n", &n, "-c", &s.connections.to_string(), "-q"])
            .output()
            .map_err(|e| format!("cannot run redis-benchmark: {e}"))?;
        let text = String::from_utf8_lossy(&out.stdout);
        // "GET: 98765.43 requests per second, p50=0.231 msec", after \r progress lines.
        return text
            .split(['\r', '\n'])
            .find_map(|l| l.trim().strip_prefix("GET: ")?.split_whitespace().next()?.parse().ok())
            .ok_or(format!("redis-benchmark failed: {text}"));
    }
    let out = Command::new(bin.join("epoll-client"))
        .args(["--port", port, "--connections", &s.connections.to_string(), "--threads", "2", "--size", "64"])
        .args(["--duration", &format!("{}s", s.seconds)])
        .output()
        .map_err(|e| format!("cannot run epoll-client: {e}"))?;
    let summary = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str::<Value>(summary.lines().last().unwrap_or(""))
        .ok()
        .and_then(|v| v["requests_per_sec"].as_f64())
        .ok_or(format!("epoll-client failed: {}", String::from_utf8_lossy(&out.stderr)))
}

/// One run of one configuration: a fresh server, the observer attached, full load.
fn measure(bin: &Path, config: &str, s: &Options) -> Result<Sample> {
    let (mut server, port) = start_server(bin, s)?;
    let pid = server.id().to_string();
    let report = std::env::temp_dir().join(format!("tracer-bench-{}.json", std::process::id()));
    let observer = attach(bin, config, &pid, &report);
    let result = observer.and_then(|observer| {
        let rps = load(bin, &port, s)?;
        let cpu = observer.as_ref().map_or(0.0, |o| cpu_ms(o.pid()));
        let mut sample = Sample { rps, tracer_cpu_ms: cpu, ..Sample::default() };
        if let Some(o) = observer {
            stop(o)?;
            if reports(config) {
                let text = std::fs::read_to_string(&report).map_err(|e| format!("no tracer report: {e}"))?;
                let v: Value = serde_json::from_str(&text).map_err(|e| format!("bad tracer report: {e}"))?;
                sample.lost = v["lost_events"].as_u64().unwrap_or(0) + v["missed_events"].as_u64().unwrap_or(0);
                let seconds = v["duration_ns"].as_f64().unwrap_or(1e9) / 1e9;
                sample.events = events(&v) / seconds;
                // Per second of trace too, so that their ratio is CPU ms per million events.
                sample.tracer_cpu_ms /= seconds;
            }
        }
        Ok(sample)
    });
    let _ = Command::new("kill").args(["-INT", &pid]).status();
    let _ = server.wait();
    let _ = std::fs::remove_file(&report);
    result
}

/// Whether the configuration is the tracer's (it writes a report to read).
fn reports(config: &str) -> bool {
    config == "floor" || config.starts_with("tracer") || config.starts_with("top:")
}

/// Tracepoint hits a trace handled: the floor counts them; for the tracer, two per syscall
/// (enter and exit; one where `sys_exit_count` ran alone) plus its switches and wakeups.
fn events(report: &Value) -> f64 {
    let n = |v: &Value| v.as_f64().unwrap_or(0.0);
    if let Some(hits) = report.get("floor_hits") {
        return n(hits);
    }
    let syscalls: f64 = report["syscalls"].as_array().map_or(0.0, |a| a.iter().map(|s| n(&s["count"])).sum());
    let programs = report["overhead"]["programs"].as_array();
    let lean = programs.is_some_and(|p| p.iter().any(|p| p["program"] == "sys_exit_count"));
    let per_call = if lean { 1.0 } else { 2.0 };
    syscalls * per_call
        + n(&report["sched"]["voluntary"])
        + n(&report["sched"]["involuntary"])
        + n(&report["wakeups"]["count"])
}

fn print(configs: &[String], samples: &[Vec<Sample>], s: &Options) {
    let base = &samples[0];
    let what = if s.target == "redis" {
        format!("redis-server under redis-benchmark GET ({} connections)", s.connections)
    } else {
        format!(
            "epoll-server (epoll-lt, 1 reactor) at full load from epoll-client ({} connections, 64-byte echoes)",
            s.connections
        )
    };
    println!("\n{what}, {} rounds of about {} s, interleaved", s.load_rounds(), s.seconds);
    println!(
        "{:<30} {:>12} {:>16} {:>13} {:>12} {:>8} {:>24}",
        "configuration", "req/s median", "ratio (median)", "(range)", "events/s", "lost", "tracer CPU ms/M events"
    );
    let mut floor_ratio = None;
    for (config, runs) in configs.iter().zip(samples) {
        let ratios: Vec<f64> = runs.iter().zip(base).map(|(r, b)| r.rps / b.rps.max(1.0)).collect();
        let range = format!(
            "{:.3}-{:.3}",
            ratios.iter().copied().fold(f64::INFINITY, f64::min),
            ratios.iter().copied().fold(0.0, f64::max)
        );
        let ratio = median(ratios);
        if config == "floor" {
            floor_ratio = Some(ratio);
        }
        let events = median(runs.iter().map(|r| r.events).collect());
        let cpu = median(
            runs.iter().map(|r| if r.events > 0.0 { r.tracer_cpu_ms / (r.events / 1e6) } else { 0.0 }).collect(),
        );
        let lost: u64 = runs.iter().map(|r| r.lost).sum();
        let show = |v: f64, fmt: &dyn Fn(f64) -> String| if v > 0.0 { fmt(v) } else { "-".into() };
        println!(
            "{config:<30} {:>12.0} {:>16.3} {:>13} {:>12} {:>8} {:>24}",
            median(runs.iter().map(|r| r.rps).collect()),
            ratio,
            range,
            show(events, &|v| format!("{v:.0}")),
            if reports(config) { lost.to_string() } else { "-".into() },
            show(cpu, &|v| format!("{v:.1}")),
        );
        // Only where the floor was measured in the same run.
        if let (true, Some(floor)) = (config == "tracer", floor_ratio) {
            println!("  -> tracer vs floor: {:+.1} points (goal: within 3)", (ratio - floor) * 100.0);
        }
    }
}
