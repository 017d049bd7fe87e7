//! `cargo xtask bench --soak 10m`: `tracer serve` on a thread-churning server under full
//! load for a long run, scraped every 10 s: its memory over time (flat, or not), what it
//! lost, and how many threads came and went. The blocking server makes a thread per
//! connection, and the client reconnects every 2 s: tens of thousands of threads over
//! ten minutes, each of which the tracer must forget once it has counted it. Not a test:
//! it asserts nothing, it prints what it saw.
use std::{
    io::{BufRead, BufReader, Read, Write},
    net::TcpStream,
    path::Path,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use serde_json::Value;

use super::observer::epoll_server;
use crate::sh::Result;

const SAMPLE: Duration = Duration::from_secs(10);

/// Ends a child this run started, however the run ends.
struct Started(Child);

impl Drop for Started {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn soak(bin: &Path, length: Duration) -> Result {
    let (server, port) = epoll_server(bin, "blocking")?;
    let server = Started(server);
    let metrics = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map_err(|e| e.to_string())?;
    let report = std::env::temp_dir().join(format!("tracer-soak-{}.json", std::process::id()));
    let mut tracer = Command::new(bin.join("tracer"))
        .args(["serve", "--listen", &metrics.to_string(), "--pid", &server.0.id().to_string()])
        .args(["--format", "json", "--output"])
        .arg(&report)
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start the tracer: {e}"))?;
    let mut err = BufReader::new(tracer.stderr.take().unwrap());
    let mut line = String::new();
    while err.read_line(&mut line).map_err(|e| e.to_string())? > 0 && !line.contains("tracing PID") {
        line.clear();
    }
    std::thread::spawn(move || std::io::copy(&mut err, &mut std::io::sink()));
    let tracer = Started(tracer);
    eprintln!(
        "soak: {} s of load on the blocking server, the tracer scraped every {} s",
        length.as_secs(),
        SAMPLE.as_secs()
    );
    let start = Instant::now();
    let mut samples: Vec<(u64, u64, f64, f64)> = Vec::new();
    let mut next = start;
    while start.elapsed() < length {
        let out = Command::new(bin.join("epoll-client"))
            .args(["--port", &port, "--connections", "32", "--duration", "2s"])
            .output()
            .map_err(|e| format!("cannot run epoll-client: {e}"))?;
        if !out.status.success() {
            return Err(format!("epoll-client failed: {}", String::from_utf8_lossy(&out.stderr)));
        }
        if Instant::now() >= next {
            let text = scrape(&metrics.to_string())?;
            let rss = rss_kib(tracer.0.id());
            samples.push((
                start.elapsed().as_secs(),
                rss,
                sample(&text, "tracer_lost_events_total"),
                sample(&text, "tracer_context_switches_total"),
            ));
            eprintln!(
                "soak: {:>4} s  tracer RSS {:>7} KiB  lost {}",
                start.elapsed().as_secs(),
                rss,
                samples.last().unwrap().2
            );
            next += SAMPLE;
        }
    }
    // SIGINT to the tracer this run started: it writes its report and exits.
    let _ = Command::new("kill").args(["-INT", &tracer.0.id().to_string()]).status();
    let mut tracer = tracer;
    let _ = tracer.0.wait();
    drop(server);
    let text = std::fs::read_to_string(&report).map_err(|e| format!("no report from the tracer: {e}"))?;
    let _ = std::fs::remove_file(&report);
    let v: Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
    print(&samples, &v);
    Ok(())
}

/// The tracer's resident memory now.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// One GET /metrics.
fn scrape(addr: &str) -> Result<String> {
    let mut s = TcpStream::connect(addr).map_err(|e| format!("cannot scrape {addr}: {e}"))?;
    s.set_read_timeout(Some(Duration::from_secs(10))).map_err(|e| e.to_string())?;
    s.write_all(b"GET /metrics HTTP/1.1\r\nHost: soak\r\n\r\n").map_err(|e| e.to_string())?;
    let mut text = String::new();
    s.read_to_string(&mut text).map_err(|e| format!("scraping {addr}: {e}"))?;
    Ok(text)
}

/// The sum of a metric's samples in a scrape.
fn sample(text: &str, name: &str) -> f64 {
    text.lines().filter(|l| l.starts_with(name)).filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok()).sum()
}

fn print(samples: &[(u64, u64, f64, f64)], report: &Value) {
    let Some(&(_, first, ..)) = samples.iter().find(|s| s.0 >= 60).or(samples.first()) else { return };
    let &(end, last, lost, switches) = samples.last().unwrap();
    let peak = samples.iter().map(|s| s.1).max().unwrap_or(0);
    let threads = report["sched"]["threads"].as_array().map_or(0, Vec::len) as u64
        + report["sched"]["threads_folded"].as_u64().unwrap_or(0);
    println!("\nsoak: {end} s of the blocking server under churn (a thread per connection, 32 connections every 2 s)");
    println!(
        "tracer RSS: {first} KiB at 1 min, {last} KiB at the end, {peak} KiB at most ({:+.1}% from 1 min)",
        (last as f64 / first.max(1) as f64 - 1.0) * 100.0
    );
    println!(
        "threads traced: {threads}; context switches {switches}; lost events {lost} (report: {})",
        report["lost_events"]
    );
}
