//! Helpers for the privileged tests: where the built binaries are, running the tracer,
//! reading its JSON report.
use std::{
    io::{BufRead, BufReader, Read},
    path::PathBuf,
    process::{Command, Output, Stdio},
};

use serde_json::Value;

/// `NAME` beside the test's own directory (`target/<profile>/NAME` for `target/<profile>/
/// deps/TEST`). Under cargo (`cargo test`, `cargo xtask test`) every binary the tests run
/// is built first, in the test's own profile; in the VM suite they were copied there.
pub fn binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    let dir = exe.parent().and_then(|d| d.parent()).expect("target dir");
    static BUILT: std::sync::Once = std::sync::Once::new();
    if let Ok(cargo) = std::env::var("CARGO") {
        BUILT.call_once(|| build_binaries(&cargo, dir));
    }
    let path = dir.join(name);
    assert!(path.is_file(), "{} is not built: run `cargo xtask test` (it builds every binary first)", path.display());
    path
}

/// `cargo build` of the tracer, the workloads and the probes, into `dir`.
fn build_binaries(cargo: &str, dir: &std::path::Path) {
    let profile = dir.file_name().and_then(|n| n.to_str()).unwrap_or("release");
    let mut cmd = Command::new(cargo);
    cmd.args(["build", "--quiet", "--bins", "--package", "tracer", "--package", "workloads"])
        .args(["--package", "integration-test", "--target-dir"])
        .arg(dir.parent().expect("target dir"));
    if profile != "debug" {
        cmd.args(["--profile", profile]);
    }
    let status = cmd.status().expect("run cargo build");
    assert!(status.success(), "building the binaries the tests run failed");
}

/// A scratch file path unique to this test process.
pub fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tracer-it-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

/// Runs `tracer ARGS` and returns its output; panics with stderr when it fails.
pub fn tracer(args: &[&str]) -> Output {
    let out = Command::new(binary("tracer")).args(args).output().expect("run tracer");
    assert!(out.status.success(), "tracer {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    out
}

pub fn json_file(path: &std::path::Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} is not JSON ({e}): {text}", path.display()))
}

/// Every JSON line a program printed.
pub fn json_lines(stdout: &[u8]) -> Vec<Value> {
    String::from_utf8_lossy(stdout).lines().filter_map(|l| serde_json::from_str(l).ok()).collect()
}

/// The last line of a program's stdout, parsed as its JSON summary.
pub fn last_json_line(stdout: &[u8]) -> Value {
    let text = String::from_utf8_lossy(stdout);
    let line = text.lines().rev().find(|l| l.starts_with('{')).unwrap_or_else(|| panic!("no JSON line in {text}"));
    serde_json::from_str(line).unwrap()
}

/// The data-moving calls, whose non-negative returns are bytes.
pub const DATA_SYSCALLS: &[&str] = &[
    "read",
    "write",
    "pread64",
    "pwrite64",
    "readv",
    "writev",
    "sendto",
    "recvfrom",
    "sendmsg",
    "recvmsg",
    "sendfile",
    "splice",
    "tee",
    "vmsplice",
    "copy_file_range",
    "preadv",
    "pwritev",
    "preadv2",
    "pwritev2",
];

/// The readiness calls, whose non-negative returns are ready fds.
pub const READY_SYSCALLS: &[&str] =
    &["epoll_wait", "epoll_pwait", "epoll_pwait2", "poll", "ppoll", "select", "pselect6"];

/// Per syscall name: (calls, errors, bytes moved by data calls or fds ready for readiness
/// calls).
pub type Counts = std::collections::BTreeMap<String, (u64, u64, u64)>;

/// Runs `cmd` under `strace -f` (the independent oracle for syscall counts) and returns
/// what strace saw and the command's own output (its exit status is the command's).
pub fn strace(cmd: &[&str]) -> (Counts, Output) {
    let out = strace_spawn(cmd).wait_with_output().expect("strace");
    (take_strace_log(cmd), out)
}

/// `strace -f` of `cmd`, started; its log is read with [`take_strace_log`] once it ends.
pub fn strace_spawn(cmd: &[&str]) -> std::process::Child {
    Command::new("strace")
        .args(["-f", "-qq", "-o"])
        .arg(strace_log(cmd))
        .args(cmd)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("strace is installed by `cargo xtask setup`")
}

/// What strace saw of a run of `cmd` started with [`strace_spawn`].
pub fn take_strace_log(cmd: &[&str]) -> Counts {
    let log = strace_log(cmd);
    let text = std::fs::read_to_string(&log).unwrap();
    let _ = std::fs::remove_file(&log);
    parse_strace(&text)
}

fn strace_log(cmd: &[&str]) -> PathBuf {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    std::hash::Hash::hash(&cmd, &mut h);
    scratch(&format!("strace-{}.txt", std::hash::Hasher::finish(&h)))
}

/// Counts calls from `strace -f -o` lines: `PID name(args) = RET`, or an `<unfinished
/// ...>` line completed later by `PID <... name resumed> ...) = RET`.
pub fn parse_strace(text: &str) -> Counts {
    let mut counts = Counts::new();
    for line in text.lines() {
        let body = line.split_once(' ').map_or(line, |(_, rest)| rest).trim_start();
        if body.starts_with("+++") || body.starts_with("---") || body.ends_with("<unfinished ...>") {
            continue;
        }
        let name = match body.strip_prefix("<... ") {
            Some(rest) => rest.split_whitespace().next().unwrap_or(""),
            None => body.split('(').next().unwrap_or(""),
        };
        let Some((_, ret)) = body.rsplit_once(" = ") else { continue };
        let entry = counts.entry(name.to_owned()).or_default();
        entry.0 += 1;
        match ret.split_whitespace().next().and_then(|r| r.parse::<i64>().ok()) {
            Some(r) if r >= 0 && (DATA_SYSCALLS.contains(&name) || READY_SYSCALLS.contains(&name)) => {
                entry.2 += r as u64;
            }
            Some(r) if r >= 0 => {}
            Some(_) => entry.1 += 1,
            None => {} // "?" (never returned)
        }
    }
    counts
}

/// The calls a workload made that its own summary cannot count: ld.so loading libraries,
/// the Rust runtime reading /proc/self/maps, thread start-up, and the summary's own
/// write(2). `observed` is a full count (strace or tracer) of the run that printed
/// `stdout`. Deterministic for a given binary and arguments.
pub fn uncounted(observed: &Counts, stdout: &[u8]) -> Counts {
    let summary = last_json_line(stdout);
    let line_len = String::from_utf8_lossy(stdout).lines().last().unwrap().len() as u64 + 1;
    let mut rest = observed.clone();
    for (name, s) in summary["syscalls"].as_object().unwrap() {
        let get = |k: &str| s.get(k).and_then(Value::as_u64).unwrap_or(0);
        let e = rest.entry(name.clone()).or_default();
        e.0 -= get("calls");
        e.1 -= get("errors") + get("eagain");
        if DATA_SYSCALLS.contains(&name.as_str()) {
            e.2 -= get("bytes");
        }
    }
    let w = rest.entry("write".into()).or_default();
    w.0 -= 1;
    w.2 -= line_len;
    rest
}

/// The tracer's `syscalls[]` as counts.
pub fn report_counts(report: &Value) -> Counts {
    report["syscalls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            let n = |k: &str| s[k].as_u64().unwrap();
            (s["name"].as_str().unwrap().to_owned(), (n("count"), n("errors"), n("bytes")))
        })
        .collect()
}

/// `tracer run --format json` of `cmd`: the report and the command's output.
pub fn traced(cmd: &[&str]) -> (Value, Output) {
    traced_with(&[], cmd)
}

/// `tracer run --format json FLAGS -- CMD`: the report and the command's output.
pub fn traced_with(flags: &[&str], cmd: &[&str]) -> (Value, Output) {
    let path = scratch(&format!(
        "report-{}.json",
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos()
    ));
    let out = tracer(&[&["run", "--format", "json", "--output", path.to_str().unwrap()], flags, &["--"], cmd].concat());
    let report = json_file(&path);
    let _ = std::fs::remove_file(&path);
    assert_eq!(report["lost_events"], 0, "{report}");
    (report, out)
}

/// Traces `epoll-server --mode MODE` while a client sends `client_args`; returns the report
/// and the server's own summary.
pub fn serve(mode: &str, client_args: &[&str]) -> (Value, Value) {
    serve_with(&[], mode, client_args)
}

/// `serve` with more tracer flags (`--stacks`, `--record FILE`, ...).
pub fn serve_with(flags: &[&str], mode: &str, client_args: &[&str]) -> (Value, Value) {
    let out_path = scratch(&format!("epoll-{mode}.json"));
    let mut tracer = Command::new(binary("tracer"))
        .args(["run", "--format", "json", "--output", out_path.to_str().unwrap()])
        .args(flags)
        .arg("--")
        .arg(binary("epoll-server"))
        .args(["--mode", mode])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(tracer.stdout.take().unwrap());
    let mut first = String::new();
    stdout.read_line(&mut first).unwrap();
    let port = listening_port(&first);
    let client = Command::new(binary("epoll-client")).args(["--port", &port]).args(client_args).output().unwrap();
    assert!(client.status.success(), "{}", String::from_utf8_lossy(&client.stderr));
    // Stop the server (the tracer's child) the way a user would.
    let children = std::fs::read_to_string(format!("/proc/{0}/task/{0}/children", tracer.id())).unwrap();
    let server: i32 = children.split_whitespace().next().unwrap().parse().unwrap();
    // SAFETY: signalling the server this test started (through the tracer).
    unsafe { libc::kill(server, libc::SIGINT) };
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).unwrap();
    assert!(tracer.wait().unwrap().success());
    (json_file(&out_path), last_json_line(rest.as_bytes()))
}

/// The I/O calls the `zerocopy` workload counts itself.
pub const ZEROCOPY_IO: &[&str] = &[
    "read",
    "write",
    "pread64",
    "pwrite64",
    "sendfile",
    "splice",
    "vmsplice",
    "copy_file_range",
    "socket",
    "connect",
    "accept4",
    "lseek",
    "pipe2",
    "shutdown",
    "fdatasync",
    "fadvise64",
];

/// A traced `zerocopy` run, and what its syscall table must say.
pub struct Zerocopy {
    pub report: Value,
    pub summary: Value,
    /// The tracer's syscall table.
    pub traced: Counts,
    /// For [`ZEROCOPY_IO`]: the program's own counts, plus what it cannot count (ld.so,
    /// the runtime: from `strace -f` on an identical run) and its summary's own write.
    pub expected: Counts,
}

pub fn zerocopy(mode: &str, size: u64, repeat: u64) -> Zerocopy {
    let bin = binary("zerocopy");
    let (size, repeat) = (size.to_string(), repeat.to_string());
    let cmd = [bin.to_str().unwrap(), "--mode", mode, "--size", &size, "--repeat", &repeat];
    let (st, st_out) = strace(&cmd);
    let runtime = uncounted(&st, &st_out.stdout);
    let (report, out) = traced(&cmd);
    let summary = last_json_line(&out.stdout);
    assert_eq!(summary["checksum_ok"], true);
    let line_len = String::from_utf8_lossy(&out.stdout).lines().last().unwrap().len() as u64 + 1;
    let mut expected = Counts::new();
    for name in ZEROCOPY_IO {
        let own = &summary["syscalls"][name];
        let get = |k: &str| own.get(k).and_then(Value::as_u64).unwrap_or(0);
        let rt = runtime.get(*name).copied().unwrap_or_default();
        let (line_calls, line_bytes) = if *name == "write" { (1, line_len) } else { (0, 0) };
        // Only data calls have bytes; the program sums every return value (fds too).
        let bytes = if DATA_SYSCALLS.contains(name) { get("bytes") + rt.2 + line_bytes } else { 0 };
        expected.insert(
            (*name).to_owned(),
            (get("calls") + rt.0 + line_calls, get("errors") + get("eagain") + rt.1, bytes),
        );
    }
    Zerocopy { traced: report_counts(&report), report, summary, expected }
}

/// The program interpreter (dynamic loader) an ELF executable names, if it is dynamic.
pub fn interpreter(path: &std::path::Path) -> Option<String> {
    let elf = std::fs::read(path).ok()?;
    let u16_at = |o: usize| Some(u16::from_le_bytes(elf.get(o..o + 2)?.try_into().ok()?));
    let u64_at = |o: usize| Some(u64::from_le_bytes(elf.get(o..o + 8)?.try_into().ok()?));
    // 64-bit little-endian ELF: e_phoff at 32, e_phentsize and e_phnum at 54 and 56.
    let (phoff, size, count) = (u64_at(32)? as usize, u16_at(54)? as usize, u16_at(56)? as usize);
    (0..count).find_map(|i| {
        let ph = phoff + i * size;
        // PT_INTERP: p_offset at 8, p_filesz at 32.
        (u16_at(ph)? == 3).then_some(())?;
        let (off, len) = (u64_at(ph + 8)? as usize, u64_at(ph + 32)? as usize);
        Some(String::from_utf8_lossy(elf.get(off..off + len)?).trim_end_matches('\0').to_owned())
    })
}

/// Whether the report says this kernel gives `section` exactly (else it names what is
/// degraded, and the tests check that weaker promise instead).
pub fn exact(report: &Value, section: &str) -> bool {
    let status = &report["coverage"][section]["status"];
    assert!(status.is_string(), "the report has no coverage for {section}: {}", report["coverage"]);
    status == "exact"
}

/// `tracer ARGS` as user and group nobody (65534), with no supplementary groups and so no
/// capabilities: what an unprivileged user gets.
pub fn tracer_as_nobody(args: &[&str]) -> Output {
    use std::os::unix::process::CommandExt;
    Command::new(binary("tracer")).args(args).uid(65534).gid(65534).output().expect("run tracer as nobody")
}

/// Checks a Perfetto trace against the JSON report of the same trace, with an
/// independent reader: the trace schema's official Python bindings (scripts/
/// perfetto_check.py, in the virtualenv `cargo xtask setup` makes). With no report, only
/// that the trace is well-formed. Panics with what differs.
pub fn perfetto_check(trace: &std::path::Path, report: Option<&std::path::Path>) -> String {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let python = root.join("../target/pyenv/bin/python");
    assert!(python.is_file(), "{} is missing: run `cargo xtask setup`", python.display());
    let out = Command::new(python)
        .arg(root.join("scripts/perfetto_check.py"))
        .arg(trace)
        .args(report)
        .output()
        .expect("run the Perfetto checker");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "the Perfetto trace disagrees with the report:\n{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    text
}

/// A cgroup of the test's own, removed when dropped (its processes gone by then).
pub struct Cgroup(pub PathBuf);

impl Cgroup {
    pub fn new(name: &str) -> Self {
        // cgroup v2: /sys/fs/cgroup, or /sys/fs/cgroup/unified on a hybrid host.
        let mounts = std::fs::read_to_string("/proc/self/mounts").unwrap();
        let root =
            mounts.lines().map(|l| l.split(' ').collect::<Vec<_>>()).find(|f| f[2] == "cgroup2").expect("cgroup2")[1];
        let dir = std::path::Path::new(root).join(format!("tracer-it-{name}-{}", std::process::id()));
        std::fs::create_dir(&dir).unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
        Self(dir)
    }
}

impl Drop for Cgroup {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir(&self.0);
    }
}

/// The port epoll-server's first line (`listening on 127.0.0.1:PORT ...`) names.
pub fn listening_port(first: &str) -> String {
    first
        .split(':')
        .nth(1)
        .and_then(|p| p.split_whitespace().next())
        .unwrap_or_else(|| panic!("no port in {first:?}"))
        .to_owned()
}

/// An epoll server (level-triggered), moved into `cgroup` (when given) before it execs,
/// as systemd and container runtimes start their processes; and its port.
pub fn epoll_server_in(cgroup: Option<&std::path::Path>) -> (std::process::Child, String) {
    let server = binary("epoll-server");
    let join = cgroup.map_or(String::new(), |d| format!("echo $$ > {}/cgroup.procs && ", d.display()));
    let mut child = Command::new("sh")
        .args(["-c", &format!("{join}exec {} --mode epoll-lt --port 0", server.display())])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.as_mut().unwrap()).read_line(&mut first).unwrap();
    (child, listening_port(&first))
}

/// Loads the server at `port` with `requests` 64-byte echoes over 8 connections, stops
/// it, and returns its own account.
pub fn load_and_stop(mut server: std::process::Child, port: &str, requests: &str) -> Value {
    let client = Command::new(binary("epoll-client"))
        .args(["--port", port, "--connections", "8", "--requests", requests, "--size", "64"])
        .output()
        .unwrap();
    assert!(client.status.success(), "{}", String::from_utf8_lossy(&client.stderr));
    // SAFETY: signalling the server the test started.
    unsafe { libc::kill(server.id() as i32, libc::SIGINT) };
    let mut rest = String::new();
    server.stdout.take().unwrap().read_to_string(&mut rest).unwrap();
    assert!(server.wait().unwrap().success());
    last_json_line(rest.as_bytes())
}
