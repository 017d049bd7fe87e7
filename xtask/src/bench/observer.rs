//! Starting what the benchmarks measure and what observes it: the bundled server, the
//! tracer or a peer attached to a process (and its readiness), stopping it, its CPU time.
use std::{
    io::{BufRead, BufReader},
    path::Path,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use crate::sh::Result;

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

/// What observes the target: a process of ours, or `tracer top` drawing in a terminal.
pub enum Observer {
    Process(Child),
    Screen(Screen),
}

impl Observer {
    /// The observing process itself (the tracer, not the terminal holding it).
    pub fn pid(&self) -> u32 {
        match self {
            Observer::Process(c) => c.id(),
            Observer::Screen(s) => s.tracer,
        }
    }
}

/// Starts the configuration's observer on `pid` and waits until it is live.
pub fn attach(bin: &Path, config: &str, pid: &str, report: &Path) -> Result<Option<Observer>> {
    if let Some(interval) = config.strip_prefix("top:") {
        return Screen::start(bin, interval, pid, report).map(|s| Some(Observer::Screen(s)));
    }
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
    Ok(Some(Observer::Process(child)))
}

/// `tracer top` in a tmux pane of a tmux server of its own: what a user watching the
/// target pays, redraws included.
pub struct Screen {
    socket: String,
    tracer: u32,
}

impl Screen {
    fn start(bin: &Path, interval: &str, pid: &str, report: &Path) -> Result<Self> {
        let socket = std::env::temp_dir().join(format!("tracer-bench-tmux-{}", std::process::id()));
        let socket = socket.display().to_string();
        let command = format!(
            "exec {} top --pid {pid} --interval {interval} --format json --output {}",
            bin.join("tracer").display(),
            report.display()
        );
        tmux(&socket, &["new-session", "-d", "-x", "150", "-y", "50", &command])?;
        // `exec`: the pane's process is the tracer itself.
        let pane = tmux(&socket, &["display", "-p", "-t", "0", "#{pane_pid}"]);
        let Some(tracer) = pane.as_deref().ok().and_then(|p| p.trim().parse().ok()) else {
            let _ = tmux(&socket, &["kill-server"]);
            return Err(format!("tmux gave no pane PID: {pane:?}"));
        };
        let screen = Screen { socket, tracer };
        // Its header is drawn once the programs are attached and the first interval read.
        let until = Instant::now() + READY_TIMEOUT;
        while !tmux(&screen.socket, &["capture-pane", "-p", "-t", "0"]).is_ok_and(|s| s.contains("tracer top")) {
            if Instant::now() > until {
                // Nothing left attached: the tracer is stopped and the terminal closed.
                let stopped = screen.stop();
                return Err(format!("tracer top drew nothing within {} s ({stopped:?})", READY_TIMEOUT.as_secs()));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Ok(screen)
    }

    /// SIGINT to the tracer (it writes its report and exits), then the tmux server goes.
    fn stop(self) -> Result {
        let _ = Command::new("kill").args(["-INT", &self.tracer.to_string()]).status();
        let alive = || Path::new(&format!("/proc/{}", self.tracer)).exists();
        let until = Instant::now() + STOP_TIMEOUT;
        while alive() && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(50));
        }
        let gone = !alive();
        let _ = tmux(&self.socket, &["kill-server"]);
        let _ = std::fs::remove_file(&self.socket);
        if gone {
            Ok(())
        } else {
            Err(format!("tracer top did not stop within {} s of SIGINT", STOP_TIMEOUT.as_secs()))
        }
    }
}

/// One tmux command against the tmux server at `socket`; its output.
fn tmux(socket: &str, args: &[&str]) -> Result<String> {
    let out = Command::new("tmux")
        .args(["-S", socket])
        .args(args)
        .output()
        .map_err(|e| format!("cannot run tmux (cargo xtask setup installs it): {e}"))?;
    if !out.status.success() {
        return Err(format!("tmux {args:?}: {}", String::from_utf8_lossy(&out.stderr).trim()));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// How long an observer gets to attach.
const READY_TIMEOUT: Duration = Duration::from_secs(30);
/// How long an observer gets to finish its report once stopped.
const STOP_TIMEOUT: Duration = Duration::from_secs(30);

pub fn stop(observer: Observer) -> Result {
    match observer {
        Observer::Process(child) => stop_process(child),
        Observer::Screen(screen) => screen.stop(),
    }
}

fn stop_process(mut child: Child) -> Result {
    let _ = Command::new("kill").args(["-INT", &child.id().to_string()]).status();
    let until = Instant::now() + STOP_TIMEOUT;
    while child.try_wait().map_err(|e| e.to_string())?.is_none() {
        if Instant::now() > until {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("the observer did not stop within {} s of SIGINT", STOP_TIMEOUT.as_secs()));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(())
}

/// User + system CPU time of a process so far, from /proc/PID/stat (clock ticks of 10 ms).
pub fn cpu_ms(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let f: Vec<f64> =
        stat.rsplit_once(')').map_or(vec![], |(_, r)| r.split_whitespace().map(|x| x.parse().unwrap_or(0.0)).collect());
    (f.get(11).copied().unwrap_or(0.0) + f.get(12).copied().unwrap_or(0.0)) * 10.0
}

pub fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    if v.is_empty() { 0.0 } else { v[v.len() / 2] }
}
