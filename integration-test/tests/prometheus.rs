//! `tracer serve` scraped by a real Prometheus (Debian's `prometheus`, on loopback): an
//! epoll server started in a cgroup after the tracer, loaded, stopped, restarted, loaded
//! and stopped again; then PromQL
//! through Prometheus's HTTP API against the server's own counts and the tracer's JSON
//! report of the same trace.
use std::{
    io::{BufRead, BufReader},
    path::Path,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use integration_test::{Cgroup, binary, epoll_server_in, json_file, load_and_stop, scratch};
use serde_json::Value;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Kills what the test started when it ends, however it ends.
struct Started(Child);

impl Drop for Started {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// One PromQL instant query: its single sample's value (panics on none or several).
fn query(prometheus: u16, promql: &str) -> f64 {
    let out = Command::new("curl")
        .args(["-sf", "--max-time", "5", &format!("http://127.0.0.1:{prometheus}/api/v1/query")])
        .args(["--data-urlencode", &format!("query={promql}")])
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|_| panic!("{promql}: {out:?}"));
    let result = v["data"]["result"].as_array().unwrap_or_else(|| panic!("{promql}: {v}"));
    assert_eq!(result.len(), 1, "{promql}: {v}");
    result[0]["value"][1].as_str().unwrap().parse().unwrap()
}

/// Waits for `what` to hold, up to `limit`.
fn wait_for(what: &str, limit: Duration, mut ok: impl FnMut() -> bool) {
    let until = Instant::now() + limit;
    while !ok() {
        assert!(Instant::now() < until, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn prometheus(scraped: u16) -> (Started, u16) {
    let dir = scratch("prometheus");
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: tracer\n    static_configs:\n      - targets: ['127.0.0.1:{scraped}']\n"
        ),
    )
    .unwrap();
    let port = free_port();
    let child = Command::new("prometheus")
        .arg(format!("--config.file={}", config.display()))
        .arg(format!("--storage.tsdb.path={}", dir.join("data").display()))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("prometheus is not installed: run `cargo xtask setup`");
    (Started(child), port)
}

fn serve(cgroup: &Path, port: u16, report: &Path) -> Started {
    let mut tracer = Command::new(binary("tracer"))
        .args(["serve", "--listen", &format!("127.0.0.1:{port}"), "--cgroup", cgroup.to_str().unwrap()])
        .args(["--format", "json", "--output", report.to_str().unwrap()])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut err = BufReader::new(tracer.stderr.take().unwrap());
    let mut line = String::new();
    while err.read_line(&mut line).unwrap() > 0 && !line.contains("tracing cgroup") {
        line.clear();
    }
    assert!(line.contains("tracing cgroup"), "the tracer did not start");
    std::thread::spawn(move || std::io::copy(&mut err, &mut std::io::sink()));
    Started(tracer)
}

#[test]
fn prometheus_queries_agree_with_the_report() {
    let cgroup = Cgroup::new("prom");
    let (tracer_port, report_path) = (free_port(), scratch("serve.json"));
    let mut tracer = serve(&cgroup.0, tracer_port, &report_path);
    let (_prometheus, port) = prometheus(tracer_port);
    wait_for("Prometheus to scrape the tracer", Duration::from_secs(60), || {
        std::panic::catch_unwind(|| query(port, "up{job=\"tracer\"}")).is_ok_and(|v| v == 1.0)
    });
    // A reload (SIGHUP) in the middle loses nothing: the counts below are whole.
    // SAFETY: signalling the tracer this test started.
    unsafe { libc::kill(tracer.0.id() as i32, libc::SIGHUP) };
    // The service runs, ends, and starts again in the same cgroup: picked up again, and
    // the counters go on from where they were (a restart is no reset).
    let mut waits = 0.0;
    for run in ["first", "restarted"] {
        let (server, server_port) = epoll_server_in(Some(&cgroup.0));
        let truth = load_and_stop(server, &server_port, "5000");
        waits += truth["waits"].as_u64().unwrap() as f64;
        // The counters are totals: once a scrape after the server's end is in, they hold.
        wait_for(&format!("a scrape with the whole {run} run"), Duration::from_secs(30), || {
            std::panic::catch_unwind(|| query(port, "tracer_epoll_waits_total")).is_ok_and(|v| v == waits)
        });
    }
    // SAFETY: signalling the tracer this test started.
    unsafe { libc::kill(tracer.0.id() as i32, libc::SIGINT) };
    assert!(tracer.0.wait().unwrap().success());
    let report = json_file(&report_path);
    let target = format!("cgroup {}", cgroup.0.display());
    assert_eq!(report["target"]["command"], target);

    // Counters: exactly the report's (and the server's own count of its waits).
    let syscall =
        |name: &str| report["syscalls"].as_array().unwrap().iter().find(|s| s["name"] == name).unwrap().clone();
    let ew = syscall("epoll_wait");
    assert_eq!(
        query(port, &format!("tracer_syscalls_total{{target=\"{target}\",syscall=\"epoll_wait\"}}")),
        ew["count"].as_f64().unwrap()
    );
    assert_eq!(ew["count"].as_f64().unwrap(), waits);
    assert_eq!(query(port, "tracer_epoll_events_total"), report["epoll"]["events_returned"].as_f64().unwrap());
    let recv = report["copies"]["paths"].as_array().unwrap().iter().find(|p| p["path"] == "recv").unwrap();
    assert_eq!(
        query(port, "tracer_copy_bytes_total{path=\"recv\",kind=\"cpu_copy\"}"),
        recv["cpu_copied_bytes"].as_f64().unwrap()
    );
    assert_eq!(
        query(port, "sum(tracer_context_switches_total)"),
        (report["sched"]["voluntary"].as_u64().unwrap() + report["sched"]["involuntary"].as_u64().unwrap()) as f64
    );
    assert_eq!(query(port, "tracer_lost_events_total"), 0.0);

    // increase() (rate() times the range) over the whole series, evaluated at its last
    // sample (`@`): the series starts at 0, before the load, so Prometheus extrapolates
    // neither end and the increase is exactly the report's count of waits.
    let last = query(port, "timestamp(tracer_epoll_waits_total)");
    let increase = query(port, &format!("increase(tracer_epoll_waits_total[1h] @ {last:.3})"));
    assert_eq!(increase, waits, "increase() over the trace vs the server's own count");

    // The histogram: its count is the calls that returned, and histogram_quantile's
    // median (interpolated inside a bucket) lies in the log2 bucket where the report's
    // median call is.
    let count = query(port, "tracer_syscall_duration_seconds_count{syscall=\"epoll_wait\"}");
    assert_eq!(count, ew["returned"].as_f64().unwrap());
    let median =
        query(port, "histogram_quantile(0.5, tracer_syscall_duration_seconds_bucket{syscall=\"epoll_wait\"})") * 1e9;
    let buckets: Vec<(u64, u64)> = ew["latency"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| (b["from_ns"].as_u64().unwrap(), b["count"].as_u64().unwrap()))
        .collect();
    let half = (count / 2.0).ceil() as u64;
    let mut seen = 0;
    let (from, _) = buckets
        .iter()
        .find(|(_, n)| {
            seen += n;
            seen >= half
        })
        .unwrap();
    // The metrics fold everything under 1 µs into their first bucket.
    let (lo, hi) = if *from < 512 { (0.0, 1024.0) } else { (*from as f64, 2.0 * *from as f64) };
    assert!((lo..=hi).contains(&median), "median {median} ns, the report's in [{lo}, {hi}]");
}
