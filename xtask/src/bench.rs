//! `cargo xtask bench`: what tracing costs the traced program. epoll-server runs at full
//! load from epoll-client on loopback, in configurations interleaved round by round
//! (untraced, the floor, the tracer, and strace / bpftrace where installed), so a noisy
//! machine hits every configuration alike. Prints median requests/s, the median of each
//! round's ratio to that round's untraced run, events handled per second, losses, and the
//! tracer's own CPU time per million events. Not a test: it asserts nothing.
use std::{
    io::{BufRead, BufReader},
    path::Path,
    process::{Child, Command, Stdio},
    time::Duration,
};

use serde_json::Value;

use crate::Result;

struct Settings {
    rounds: usize,
    seconds: u64,
    connections: u32,
    groups: Vec<String>,
    /// `--configs`: exactly these configurations (untraced first), for more rounds of a
    /// few when the full set's spread hides their difference.
    configs: Option<Vec<String>>,
    /// `epoll`: the bundled epoll-server; `redis`: redis-server under redis-benchmark GET.
    target: String,
}

#[derive(Default, Clone)]
struct Sample {
    rps: f64,
    events: f64,
    lost: u64,
    tracer_cpu_ms: f64,
}

/// Which benchmarks to run: `events` (cost per event), `load` (throughput), or both.
pub fn bench(root: &Path, args: &[String]) -> Result {
    let mut s =
        Settings { rounds: 3, seconds: 5, connections: 32, groups: Vec::new(), configs: None, target: "epoll".into() };
    let mut ev = crate::events::Settings { rounds: 5, iterations: 2_000_000, peers: true };
    let (mut events, mut load) = (true, true);
    let mut it = args.iter().peekable();
    match it.peek().map(|a| a.as_str()) {
        Some("events") => (events, load) = (true, false),
        Some("load") => (events, load) = (false, true),
        _ => {}
    }
    if !(events && load) {
        it.next();
    }
    while let Some(a) = it.next() {
        let mut value = || it.next().cloned().ok_or(format!("{a} needs a value"));
        match a.as_str() {
            "--rounds" => {
                s.rounds = value()?.parse().map_err(|_| "--rounds takes a number")?;
                ev.rounds = s.rounds;
            }
            "--seconds" => s.seconds = value()?.parse().map_err(|_| "--seconds takes a number")?,
            "--connections" => s.connections = value()?.parse().map_err(|_| "--connections takes a number")?,
            "--iterations" => ev.iterations = value()?.parse().map_err(|_| "--iterations takes a number")?,
            "--no-peers" => ev.peers = false,
            // Extra tracer configurations with only these sections, e.g. syscalls,sched.
            "--only" => s.groups.push(value()?),
            // `;`-separated, e.g. `syscount;tracer:syscalls --no-latency`.
            "--configs" => {
                let list = value()?;
                let mut configs = vec!["untraced".to_owned()];
                configs.extend(
                    list.split(';').map(str::trim).filter(|c| !c.is_empty() && *c != "untraced").map(String::from),
                );
                s.configs = Some(configs);
            }
            "--target" => s.target = value()?,
            // A long run of `tracer serve` under thread churn: 10m, 600s, 600.
            "--soak" => return crate::soak::soak(root, soak_length(&value()?)?),
            other => {
                return Err(format!(
                    "unknown bench flag {other} (events|load; --rounds N, --iterations N, --no-peers, --seconds N, --connections N, --only SECTIONS, --configs 'A;B', --target epoll|redis; --soak 10m)"
                ));
            }
        }
    }
    if events {
        crate::events::events(root, &ev)?;
    }
    if load { throughput(root, &s) } else { Ok(()) }
}

/// `10m`, `90s` or a bare number of seconds.
fn soak_length(text: &str) -> Result<Duration> {
    let (n, unit) = match text.strip_suffix('m') {
        Some(n) => (n, 60),
        None => (text.strip_suffix('s').unwrap_or(text), 1),
    };
    n.parse::<u64>()
        .map(|n| Duration::from_secs(n * unit))
        .map_err(|_| format!("--soak {text}: a length such as 10m or 600s"))
}

/// The server at full load under each configuration.
fn throughput(root: &Path, s: &Settings) -> Result {
    let bin = root.join("target/release");
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
    let configs = s.configs.clone().unwrap_or_else(|| default_configs(s));
    let mut samples: Vec<Vec<Sample>> = vec![Vec::new(); configs.len()];
    for round in 1..=s.rounds {
        for (i, config) in configs.iter().enumerate() {
            let sample = measure(&bin, config, s)?;
            eprintln!("bench: round {round} {config:<30} {:>9.0} req/s", sample.rps);
            samples[i].push(sample);
        }
    }
    print(&configs, &samples, s);
    Ok(())
}

/// Untraced, the floor, the tracer alone and with what `--only` asked, and each peer
/// installed here.
fn default_configs(s: &Settings) -> Vec<String> {
    // `tracer+stacks`, `tracer+timeline`: every probe and `--stacks` or `--timeline`
    // (what `--perfetto` streams), each priced on its own.
    let mut configs: Vec<String> =
        ["untraced", "floor", "tracer", "tracer+stacks", "tracer+timeline"].map(String::from).to_vec();
    // What a user who asks for syscalls alone pays, with and without their latency.
    configs.extend(["tracer:syscalls", "tracer:syscalls --no-latency"].map(String::from));
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

pub fn which(tool: &str) -> bool {
    Command::new("sh").args(["-c", &format!("command -v {tool}")]).output().is_ok_and(|o| o.status.success())
}

/// One run of one configuration: a fresh server, the observer attached, full load.
/// A fresh server of the bench target, and the port it listens on.
fn start_server(bin: &Path, s: &Settings) -> Result<(Child, String)> {
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

/// The bundled epoll-server in `mode` on a free port, and that port (from its first line).
pub fn epoll_server(bin: &Path, mode: &str) -> Result<(Child, String)> {
    let mut server = Command::new(bin.join("epoll-server"))
        .args(["--mode", mode, "--port", "0"])
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start epoll-server: {e}"))?;
    let mut first = String::new();
    BufReader::new(server.stdout.as_mut().unwrap()).read_line(&mut first).map_err(|e| e.to_string())?;
    let port = first.split(':').nth(1).and_then(|p| p.split_whitespace().next()).ok_or("no port from epoll-server")?;
    Ok((server, port.to_owned()))
}

/// Full load against the server for about the bench's duration; returns requests/s.
fn load(bin: &Path, port: &str, s: &Settings) -> Result<f64> {
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
fn measure(bin: &Path, config: &str, s: &Settings) -> Result<Sample> {
    let (mut server, port) = start_server(bin, s)?;
    let pid = server.id().to_string();
    let report = std::env::temp_dir().join(format!("tracer-bench-{}.json", std::process::id()));
    let observer = attach(bin, config, &pid, &report);
    let result = observer.and_then(|observer| {
        let rps = load(bin, &port, s)?;
        let cpu = observer.as_ref().map_or(0.0, |o| cpu_ms(o.id()));
        let mut sample = Sample { rps, tracer_cpu_ms: cpu, ..Sample::default() };
        if let Some(o) = observer {
            stop(o)?;
            if config == "floor" || config.starts_with("tracer") {
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

/// Starts the configuration's observer on `pid` and waits until it is live.
pub fn attach(bin: &Path, config: &str, pid: &str, report: &Path) -> Result<Option<Child>> {
    let (mut cmd, ready): (Command, &str) = match config {
        "untraced" => return Ok(None),
        "strace" => {
            let mut c = Command::new("strace");
            c.args(["-f", "-c", "-o", "/dev/null", "-p", pid]);
            (c, "attached")
        }
        "syscount" => {
            // libbpf-tools' syscount: counts per syscall id (one program, on sys_exit).
            // Line-buffered: it prints its readiness line with printf into a pipe.
            let mut c = Command::new("stdbuf");
            c.args(["-oL", "syscount", "-p", pid]);
            (c, "Tracing syscalls")
        }
        "syscount-L" => {
            // The same with -L: each call's latency too (a second program, on sys_enter,
            // and a hash of entry times): what the tracer's syscall section also gives.
            let mut c = Command::new("stdbuf");
            c.args(["-oL", "syscount", "-L", "-p", pid]);
            (c, "Tracing syscalls")
        }
        "bpftrace" => {
            // The peer the perf notes measured: count every syscall by id, in a hash.
            let mut c = Command::new("bpftrace");
            c.args(["-e", &format!("tracepoint:raw_syscalls:sys_enter /pid == {pid}/ {{ @[args->id] = count(); }}")]);
            (c, "Attaching")
        }
        _ => {
            let probes = match config {
                "floor" => "floor".to_owned(),
                "tracer" => "all".to_owned(),
                "tracer+stacks" => "stacks".to_owned(),
                "tracer+timeline" => "timeline".to_owned(),
                // `tracer:SECTIONS[ FLAGS]`: --only SECTIONS, then the flags.
                c => c.trim_start_matches("tracer:").to_owned(),
            };
            let mut words = probes.split_whitespace();
            let probes = words.next().unwrap_or("all").to_owned();
            let flags: Vec<&str> = words.collect();
            let mut c = Command::new(bin.join("tracer"));
            c.args(["attach", "--pid", pid, "--format", "json", "--output"]).arg(report);
            match probes.as_str() {
                "floor" => c.arg("--floor"),
                "all" => &mut c,
                "stacks" => c.arg("--stacks"),
                "timeline" => c.arg("--timeline"),
                only => c.args(["--only", only]),
            };
            c.args(&flags);
            (c, "tracing PID")
        }
    };
    let mut child =
        cmd.stderr(Stdio::piped()).stdout(Stdio::piped()).spawn().map_err(|e| format!("cannot start {config}: {e}"))?;
    // Its readiness line may come on either stream (bpftrace 0.17 prints "Attaching N
    // probes..." on stdout): watch both, each drained to the end so the observer never
    // blocks on a full pipe, and wait a bounded time.
    let (tx, rx) = std::sync::mpsc::channel();
    let streams: [Box<dyn std::io::Read + Send>; 2] =
        [Box::new(child.stdout.take().unwrap()), Box::new(child.stderr.take().unwrap())];
    for stream in streams {
        let tx = tx.clone();
        let ready = ready.to_owned();
        std::thread::spawn(move || {
            for line in BufReader::new(stream).lines().map_while(std::result::Result::ok) {
                if line.contains(&ready) {
                    let _ = tx.send(());
                }
            }
        });
    }
    match rx.recv_timeout(READY_TIMEOUT) {
        Ok(()) => {}
        Err(_) => {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!(
                "{config} did not say `{ready}` within {} s (or exited first): is it working on this machine?",
                READY_TIMEOUT.as_secs()
            ));
        }
    }
    std::thread::sleep(Duration::from_millis(200));
    Ok(Some(child))
}

/// How long an observer gets to attach.
const READY_TIMEOUT: Duration = Duration::from_secs(30);
/// How long an observer gets to finish its report once stopped.
const STOP_TIMEOUT: Duration = Duration::from_secs(30);

pub fn stop(mut child: Child) -> Result {
    let _ = Command::new("kill").args(["-INT", &child.id().to_string()]).status();
    let until = std::time::Instant::now() + STOP_TIMEOUT;
    while child.try_wait().map_err(|e| e.to_string())?.is_none() {
        if std::time::Instant::now() > until {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("the observer did not stop within {} s of SIGINT", STOP_TIMEOUT.as_secs()));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(())
}

/// User + system CPU time of a process so far, from /proc/PID/stat (clock ticks of 10 ms).
fn cpu_ms(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let f: Vec<f64> =
        stat.rsplit_once(')').map_or(vec![], |(_, r)| r.split_whitespace().map(|x| x.parse().unwrap_or(0.0)).collect());
    (f.get(11).copied().unwrap_or(0.0) + f.get(12).copied().unwrap_or(0.0)) * 10.0
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

pub fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    if v.is_empty() { 0.0 } else { v[v.len() / 2] }
}

fn print(configs: &[String], samples: &[Vec<Sample>], s: &Settings) {
    let base = &samples[0];
    let what = if s.target == "redis" {
        format!("redis-server under redis-benchmark GET ({} connections)", s.connections)
    } else {
        format!(
            "epoll-server (epoll-lt, 1 reactor) at full load from epoll-client ({} connections, 64-byte echoes)",
            s.connections
        )
    };
    println!("\n{what}, {} rounds of about {} s, interleaved", s.rounds, s.seconds);
    println!(
        "{:<30} {:>12} {:>16} {:>13} {:>12} {:>8} {:>24}",
        "configuration", "req/s median", "ratio (median)", "(range)", "events/s", "lost", "tracer CPU ms/M events"
    );
    let mut floor_ratio = 0.0;
    for (config, runs) in configs.iter().zip(samples) {
        let ratios: Vec<f64> = runs.iter().zip(base).map(|(r, b)| r.rps / b.rps.max(1.0)).collect();
        let range = format!(
            "{:.3}-{:.3}",
            ratios.iter().copied().fold(f64::INFINITY, f64::min),
            ratios.iter().copied().fold(0.0, f64::max)
        );
        let ratio = median(ratios);
        if config == "floor" {
            floor_ratio = ratio;
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
            if !(config == "floor" || config.starts_with("tracer")) { "-".into() } else { lost.to_string() },
            show(cpu, &|v| format!("{v:.1}")),
        );
        if config == "tracer" {
            println!("  -> tracer vs floor: {:+.1} points (goal: within 3)", (ratio - floor_ratio) * 100.0);
        }
    }
}
