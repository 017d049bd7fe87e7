//! `tracer top` in a real terminal (tmux: `send-keys` types, `capture-pane` reads the
//! screen): the figures on screen are the final report's and the epoll server's own
//! counts; sort, filter, pause, export and quit do what they say; and however the view
//! ends (q, Ctrl-C, SIGTERM, the target's exit, the terminal closed) the terminal is
//! given back (tmux's own `alternate_on`, the tty's modes by `stty`), the final report is
//! written, and `bpftool prog show` lists no program of the tracer's.
use std::{
    collections::BTreeSet,
    io::{BufRead, BufReader, Read},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use integration_test::{binary, epoll_server_in, json_file, last_json_line, scratch};
use serde_json::Value;

/// A tmux server of this test's own, one session, one pane.
struct Tmux {
    socket: String,
    dir: PathBuf,
}

impl Tmux {
    /// Runs `command` in a 150x50 pane whose shell then records the exit status and the
    /// terminal's modes, and stays (so the screen can still be read).
    fn start(name: &str, command: &str) -> Self {
        let dir = scratch(name);
        std::fs::create_dir_all(&dir).unwrap();
        // Its socket in the scratch directory, not tmux's shared one.
        let socket = dir.join("tmux.sock").display().to_string();
        let script = format!("{command}; echo $? > {0}/rc; stty -a > {0}/stty 2>&1; sleep 600", dir.display());
        let t = Tmux { socket, dir };
        t.run(&["new-session", "-d", "-x", "150", "-y", "50", "-c", t.dir.to_str().unwrap(), &script]);
        t
    }

    fn run(&self, args: &[&str]) -> String {
        let out = Command::new("tmux").args(["-S", &self.socket]).args(args).output().expect("run tmux");
        assert!(out.status.success(), "tmux {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn keys(&self, keys: &[&str]) {
        self.run(&[&["send-keys", "-t", "0"][..], keys].concat());
    }

    fn screen(&self) -> String {
        self.run(&["capture-pane", "-p", "-t", "0"])
    }

    /// The screen once it shows `text` (a bounded wait).
    fn wait_for(&self, text: &str) -> String {
        let until = Instant::now() + Duration::from_secs(15);
        loop {
            let s = self.screen();
            if s.contains(text) {
                return s;
            }
            assert!(Instant::now() < until, "the screen never showed {text:?}:\n{s}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The PID of the command the pane's shell runs (the tracer).
    fn tracer_pid(&self) -> i32 {
        let shell = self.run(&["display", "-p", "-t", "0", "#{pane_pid}"]);
        let shell = shell.trim();
        let children = std::fs::read_to_string(format!("/proc/{shell}/task/{shell}/children")).unwrap();
        children.split_whitespace().next().expect("the tracer runs").parse().unwrap()
    }

    /// The tracer's exit status, once it exited.
    fn exit_status(&self) -> i32 {
        let path = self.dir.join("rc");
        let until = Instant::now() + Duration::from_secs(15);
        while !path.exists() || std::fs::read_to_string(&path).unwrap().trim().is_empty() {
            assert!(Instant::now() < until, "the tracer did not exit:\n{}", self.screen());
            std::thread::sleep(Duration::from_millis(100));
        }
        std::fs::read_to_string(&path).unwrap().trim().parse().unwrap()
    }

    /// The terminal is as the tracer found it: tmux is off the alternate screen, and
    /// the tty is back in canonical mode with echo (not raw).
    fn assert_restored(&self) {
        assert_eq!(self.run(&["display", "-p", "-t", "0", "#{alternate_on}"]).trim(), "0", "still full-screen");
        let until = Instant::now() + Duration::from_secs(5);
        while !self.dir.join("stty").exists() {
            assert!(Instant::now() < until, "no stty output");
            std::thread::sleep(Duration::from_millis(50));
        }
        std::thread::sleep(Duration::from_millis(100));
        let modes = std::fs::read_to_string(self.dir.join("stty")).unwrap();
        let words: Vec<&str> = modes.split_whitespace().collect();
        for mode in ["icanon", "echo", "isig", "opost"] {
            assert!(words.contains(&mode), "the tty is left without {mode}: {modes}");
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux").args(["-S", &self.socket, "kill-server"]).output();
    }
}

/// The ids of every BPF program loaded, by `bpftool prog show`.
fn programs() -> BTreeSet<u64> {
    let out = Command::new("bpftool").args(["--json", "prog", "show"]).output().expect("run bpftool");
    assert!(out.status.success(), "bpftool: {}", String::from_utf8_lossy(&out.stderr));
    let list: Value = serde_json::from_slice(&out.stdout).unwrap();
    list.as_array().unwrap().iter().map(|p| p["id"].as_u64().unwrap()).collect()
}

/// The tracer's programs are all gone (the kernel frees them after a grace period).
fn assert_detached(before: &BTreeSet<u64>, how: &str) {
    let until = Instant::now() + Duration::from_secs(5);
    loop {
        let left: Vec<u64> = programs().difference(before).copied().collect();
        if left.is_empty() {
            return;
        }
        assert!(Instant::now() < until, "{how}: programs left loaded: {left:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn stop(mut server: Child) -> Value {
    // SAFETY: signalling the server the test started.
    unsafe { libc::kill(server.id() as i32, libc::SIGINT) };
    let mut rest = String::new();
    server.stdout.take().unwrap().read_to_string(&mut rest).unwrap();
    assert!(server.wait().unwrap().success());
    last_json_line(rest.as_bytes())
}

fn load(port: &str, requests: u32) -> Value {
    let out = Command::new(binary("epoll-client"))
        .args(["--port", port, "--connections", "8", "--size", "64", "--requests", &requests.to_string()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    last_json_line(&out.stdout)
}

fn top_command(pid: u32, dir: &Path) -> String {
    format!(
        "{} top --pid {pid} --interval 250ms --format json --output {}/final.json",
        binary("tracer").display(),
        dir.display()
    )
}

/// The words of the syscalls pane's row for `name`: name, calls/s, calls, errors, ...
fn row(screen: &str, name: &str) -> Option<Vec<String>> {
    screen.lines().find_map(|l| {
        let words: Vec<String> = l.split(['│', ' ']).filter(|w| !w.is_empty()).map(str::to_owned).collect();
        (words.first().map(String::as_str) == Some(name)).then_some(words)
    })
}

/// The calls column of `name`'s row.
fn calls(screen: &str, name: &str) -> u64 {
    let r = row(screen, name).unwrap_or_else(|| panic!("no {name} row on screen:\n{screen}"));
    r[2].parse().unwrap_or_else(|_| panic!("{name}: calls {:?} is not a count:\n{screen}", r[2]))
}

fn report_calls(report: &Value, name: &str) -> u64 {
    let rows = report["syscalls"].as_array().unwrap();
    rows.iter().find(|s| s["name"] == name).map_or(0, |s| s["count"].as_u64().unwrap())
}

/// The syscalls pane's rows (between its title and the next pane).
fn syscall_rows(screen: &str) -> Vec<Vec<String>> {
    let lines: Vec<&str> = screen.lines().skip_while(|l| !l.contains("syscalls:")).skip(2).collect();
    lines
        .iter()
        .take_while(|l| l.starts_with('│'))
        .map(|l| l.split(['│', ' ']).filter(|w| !w.is_empty()).map(str::to_owned).collect::<Vec<_>>())
        .filter(|w| !w.is_empty())
        .collect()
}

/// "traced N.N s" from the header.
fn traced_secs(screen: &str) -> f64 {
    let after = screen.split("traced ").nth(1).unwrap_or_else(|| panic!("no header:\n{screen}"));
    after.split_whitespace().next().unwrap().parse().unwrap()
}

#[test]
fn the_screen_shows_the_reports_figures_and_the_keys_work() {
    let before = programs();
    let (server, port) = epoll_server_in(None);
    let t = Tmux::start("keys", &top_command(server.id(), &scratch("keys")));
    t.wait_for("tracer top  pid");
    assert!(programs().len() > before.len(), "the view runs while the tracer's programs are loaded");
    let client = load(&port, 4000);
    let requests = client["requests"].as_u64().unwrap();
    assert_eq!(requests, 4000, "{client}");
    // The interval after the load is quiet; since the start holds all of it.
    std::thread::sleep(Duration::from_millis(800));
    t.keys(&["d"]);
    t.wait_for("showing since the start");
    std::thread::sleep(Duration::from_millis(600));
    let screen = t.screen();
    let (reads, writes, accepts) = (calls(&screen, "read"), calls(&screen, "write"), calls(&screen, "accept4"));
    assert!(reads >= requests && writes >= requests, "{screen}");

    // Sort: most calls first, then (`s`) fewest first.
    let order = |s: &str| syscall_rows(s).iter().map(|r| r[2].parse::<u64>().unwrap()).collect::<Vec<_>>();
    let down = order(&screen);
    assert!(down.len() >= 3 && down.windows(2).all(|w| w[0] >= w[1]), "{screen}");
    t.keys(&["s"]);
    std::thread::sleep(Duration::from_millis(600));
    let up = order(&t.screen());
    assert!(up.windows(2).all(|w| w[0] <= w[1]) && up.first() < up.last(), "{}", t.screen());
    t.keys(&["s"]);

    // Filter: only accept4 is left in the syscalls pane.
    t.keys(&["/", "accept", "Enter"]);
    t.wait_for("filter: accept");
    std::thread::sleep(Duration::from_millis(400));
    let filtered = t.screen();
    let names: Vec<String> = syscall_rows(&filtered).into_iter().map(|r| r[0].clone()).collect();
    assert_eq!(names, ["accept4"], "{filtered}");
    t.keys(&["Escape"]);

    // Pause: PAUSED, the figures stand still while the trace goes on underneath.
    t.keys(&["Space"]);
    let paused = t.wait_for("PAUSED");
    std::thread::sleep(Duration::from_millis(1200));
    let still = t.screen();
    assert_eq!(traced_secs(&still), traced_secs(&paused), "{still}");
    t.keys(&["Space"]);
    std::thread::sleep(Duration::from_millis(700));
    let resumed = t.screen();
    assert!(!resumed.contains("PAUSED"));
    assert!(traced_secs(&resumed) >= traced_secs(&paused) + 1.0, "collection went on:\n{resumed}");

    // Export: the report on screen as the --format json schema.
    t.keys(&["e"]);
    let exported = t.wait_for("wrote tracer-top-");
    let file = exported.split("wrote ").nth(1).unwrap().split_whitespace().next().unwrap().to_owned();
    let export = json_file(&t.dir.join(&file));
    assert_eq!(export["schema_version"], 1);
    assert_eq!(report_calls(&export, "read"), reads, "the export is the screen's report");

    // Resize: too small says so; back to a usable size, the panes are drawn again.
    t.run(&["resize-window", "-t", "0", "-x", "60", "-y", "20"]);
    t.wait_for("terminal too small: 60x20");
    t.run(&["resize-window", "-t", "0", "-x", "150", "-y", "50"]);
    t.wait_for("│accept4 ");

    // Quit: the final report has the figures the screen had, and so has the server.
    t.keys(&["q"]);
    assert_eq!(t.exit_status(), 0);
    t.assert_restored();
    assert_detached(&before, "q");
    let report = json_file(&scratch("keys").join("final.json"));
    assert_eq!(report_calls(&report, "read"), reads);
    assert_eq!(report_calls(&report, "write"), writes);
    assert_eq!(report_calls(&report, "accept4"), accepts);
    let own = stop(server);
    let sys = &own["syscalls"];
    assert_eq!(reads, sys["read"]["calls"].as_u64().unwrap(), "the server's own reads: {own}");
    // Its own count has its two lines on stdout besides the echoes: "listening", before
    // the attach, and this summary, after the detach.
    assert_eq!(writes, sys["write"]["calls"].as_u64().unwrap() - 2, "the server's own writes: {own}");
    assert_eq!(accepts, sys["accept4"]["calls"].as_u64().unwrap(), "{own}");
}

/// One way of leaving: the view is up, `leave` ends it, and then everything is as before.
fn leaves(name: &str, leave: impl FnOnce(&Tmux, &mut Option<Child>), restored: bool) {
    let before = programs();
    let (server, port) = epoll_server_in(None);
    let dir = scratch(name);
    let t = Tmux::start(name, &top_command(server.id(), &dir));
    t.wait_for("tracer top  pid");
    load(&port, 500);
    t.wait_for("│read ");
    let mut server = Some(server);
    leave(&t, &mut server);
    if restored {
        t.exit_status();
        t.assert_restored();
    }
    assert_detached(&before, name);
    // The final report was written (to its file: the terminal may be gone).
    let until = Instant::now() + Duration::from_secs(10);
    while !dir.join("final.json").exists() {
        assert!(Instant::now() < until, "{name}: no final report");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(report_calls(&json_file(&dir.join("final.json")), "read") >= 500, "{name}");
    if let Some(s) = server {
        stop(s);
    }
}

#[test]
fn every_way_out_restores_the_terminal_and_detaches() {
    leaves("ctrl-c", |t, _| t.keys(&["C-c"]), true);
    leaves(
        "sigterm",
        |t, _| {
            // SAFETY: signalling the tracer this test started.
            unsafe { libc::kill(t.tracer_pid(), libc::SIGTERM) };
        },
        true,
    );
    leaves(
        "target-exit",
        |_, server| {
            stop(server.take().unwrap());
        },
        true,
    );
    leaves(
        "terminal-closed",
        |t, _| {
            let tracer = t.tracer_pid();
            t.run(&["kill-server"]);
            // It ends on its own, in order (the report is written: checked after).
            let until = Instant::now() + Duration::from_secs(10);
            while Path::new(&format!("/proc/{tracer}")).exists() {
                assert!(Instant::now() < until, "the tracer outlived its terminal");
                std::thread::sleep(Duration::from_millis(100));
            }
        },
        false,
    );
}

#[test]
fn without_a_terminal_one_json_report_per_interval() {
    let (server, port) = epoll_server_in(None);
    let dir = scratch("no-tty");
    std::fs::create_dir_all(&dir).unwrap();
    let final_path = dir.join("final.json");
    // stdout a pipe: no screen, JSON lines (as `attach --interval`).
    let mut tracer = Command::new(binary("tracer"))
        .args(["top", "--pid", &server.id().to_string(), "--interval", "250ms", "--format", "json", "--output"])
        .arg(&final_path)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(tracer.stderr.take().unwrap());
    let mut ready = String::new();
    stderr.read_line(&mut ready).unwrap();
    assert!(ready.starts_with("tracing PID"), "{ready}");
    load(&port, 1000);
    std::thread::sleep(Duration::from_millis(1500));
    // SAFETY: signalling the tracer this test started.
    unsafe { libc::kill(tracer.id() as i32, libc::SIGINT) };
    let mut out = String::new();
    tracer.stdout.take().unwrap().read_to_string(&mut out).unwrap();
    assert!(tracer.wait().unwrap().success());
    let lines: Vec<Value> = out.lines().map(|l| serde_json::from_str(l).expect("one JSON object a line")).collect();
    assert!(lines.len() >= 4, "one per 250 ms: {}", lines.len());
    let durations: Vec<u64> = lines.iter().map(|l| l["duration_ns"].as_u64().unwrap()).collect();
    assert!(durations.windows(2).all(|w| w[0] < w[1]), "each a report so far: {durations:?}");
    let report = json_file(&final_path);
    let own = stop(server);
    let last = lines.last().unwrap();
    assert_eq!(report_calls(last, "read"), report_calls(&report, "read"), "idle after the load");
    assert_eq!(report_calls(&report, "read"), own["syscalls"]["read"]["calls"].as_u64().unwrap(), "{own}");
}
