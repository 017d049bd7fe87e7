//! The command line as a user meets it: exit statuses, Ctrl-C, and one clear line for
//! every kind of bad input.
use std::{
    io::{BufRead, BufReader},
    os::fd::FromRawFd,
    process::{Command, Output, Stdio},
    time::Duration,
};

use integration_test::{binary, scratch, tracer_as_nobody};

fn tracer_raw(args: &[&str]) -> Output {
    Command::new(binary("tracer")).args(args).output().unwrap()
}

/// Failed, and said why in exactly one line that contains `needle`.
fn fails_with_one_line(out: &Output, needle: &str) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "should fail: {err}");
    assert_eq!(err.lines().count(), 1, "one line expected, got: {err}");
    assert!(err.contains(needle), "expected `{needle}` in: {err}");
}

#[test]
fn run_exits_with_the_commands_status() {
    let out = tracer_raw(&["run", "--format", "json", "--", "sh", "-c", "exit 7"]);
    assert_eq!(out.status.code(), Some(7), "{}", String::from_utf8_lossy(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["target"]["command"], "sh -c exit 7");
    let out = tracer_raw(&["run", "--format", "csv", "--", "sh", "-c", "kill -TERM $$"]);
    assert_eq!(out.status.code(), Some(128 + 15));
    assert!(String::from_utf8_lossy(&out.stdout).contains("summary,complete,true"));
}

#[test]
fn bad_input_gets_one_clear_line() {
    fails_with_one_line(&tracer_raw(&["attach", "--pid", "999999999"]), "no such process: PID 999999999");
    fails_with_one_line(&tracer_raw(&["attach", "--pid", "0"]), "PID 0 is the idle task");
    fails_with_one_line(&tracer_raw(&["attach", "--pid", "1", "--bogus"]), "unexpected argument '--bogus'");
    fails_with_one_line(&tracer_raw(&["attach"]), "--pid <PID>");
    fails_with_one_line(&tracer_raw(&["attach", "--pid", "1", "--duration", "soon"]), "not a duration");
    fails_with_one_line(&tracer_raw(&["run", "--", "/no/such/command"]), "cannot run `/no/such/command`");
    let dir = scratch("not-a-dir-parent");
    std::fs::write(&dir, "").unwrap();
    let bad_out = dir.join("report.json");
    fails_with_one_line(
        &tracer_raw(&["attach", "--pid", "1", "--duration", "100ms", "--output", bad_out.to_str().unwrap()]),
        "cannot write the report to",
    );
}

#[test]
fn without_privileges_it_says_how_to_get_them() {
    let out = tracer_as_nobody(&["attach", "--pid", "1"]);
    fails_with_one_line(&out, "run tracer as root (sudo), or grant it CAP_BPF and CAP_PERFMON");
}

/// Every probe is a BTF tracepoint: tracefs is not needed at all, so an unmounted (here:
/// hidden) tracefs changes nothing.
#[test]
fn tracefs_is_not_needed() {
    let script = format!(
        "mount -t tmpfs -o ro none /sys/kernel/tracing && mount -t tmpfs -o ro none /sys/kernel/debug && exec {} run --format json -- true",
        binary("tracer").display()
    );
    let out = Command::new("unshare").args(["--mount", "sh", "-c", &script]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["complete"], true);
}

/// Without the kernel's BTF the programs cannot be typed: one line says so.
#[test]
fn without_btf_it_says_what_the_kernel_lacks() {
    // A private mount namespace where /sys/kernel is an empty read-only tmpfs.
    let script = format!("mount -t tmpfs -o ro none /sys/kernel && exec {} attach --pid 1", binary("tracer").display());
    let out = Command::new("unshare").args(["--mount", "sh", "-c", &script]).output().unwrap();
    fails_with_one_line(&out, "cannot read /sys/kernel/btf/vmlinux: this kernel has no BTF (CONFIG_DEBUG_INFO_BTF)");
}

#[test]
fn ctrl_c_ends_an_attach_with_a_report_and_leaves_the_target_alone() {
    let mut target = Command::new("sleep").arg("30").spawn().unwrap();
    let pid = target.id().to_string();
    let mut tracer = Command::new(binary("tracer"))
        .args(["attach", "--pid", &pid, "--format", "json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(tracer.stderr.take().unwrap()).read_line(&mut line).unwrap();
    assert!(line.starts_with(&format!("tracing PID {pid} (sleep)")), "{line}");
    std::thread::sleep(Duration::from_millis(200));
    // SAFETY: signalling the tracer process this test started.
    unsafe { libc::kill(tracer.id() as i32, libc::SIGINT) };
    let out = tracer.wait_with_output().unwrap();
    assert!(out.status.success(), "{out:?}");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["target"]["pid"].to_string(), pid);
    assert!(report["duration_ns"].as_u64().unwrap() >= 200_000_000);
    assert!(target.try_wait().unwrap().is_none(), "the target must survive the tracer's Ctrl-C");
    target.kill().unwrap();
    target.wait().unwrap();
}

#[test]
fn duration_ends_an_attach() {
    let mut target = Command::new("sleep").arg("30").spawn().unwrap();
    let started = std::time::Instant::now();
    let out = tracer_raw(&["attach", "--pid", &target.id().to_string(), "--duration", "300ms", "--format", "csv"]);
    let wall = started.elapsed().as_nanos() as u64;
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    let dur: u64 = text.lines().find_map(|l| l.strip_prefix("summary,duration_ns,")).unwrap().parse().unwrap();
    // The probes were live for the 300 ms asked, and not longer than the tracer ran.
    assert!((300_000_000..=wall).contains(&dur), "traced {dur} ns of a 300 ms attach that ran {wall} ns");
    target.kill().unwrap();
    target.wait().unwrap();
}

/// A failed trace leaves the previous report as it was (it is written whole at the end).
#[test]
fn a_failed_trace_keeps_the_previous_report() {
    let path = scratch("previous.json");
    std::fs::write(&path, "previous").unwrap();
    let out = tracer_raw(&["run", "--format", "json", "--output", path.to_str().unwrap(), "--", "/no/such/command"]);
    assert!(!out.status.success());
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "previous");
    let dir = path.parent().unwrap();
    let strays: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().contains(".tracer-"))
        .collect();
    assert!(strays.is_empty(), "temporary files left: {strays:?}");
}

/// Whether `pid` has SIGINT blocked (/proc/PID/status SigBlk): the tracer does from its
/// first instruction on, so a signal from then on is a stop, not death.
fn blocks_sigint(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| l.strip_prefix("SigBlk:")).and_then(|m| u64::from_str_radix(m.trim(), 16).ok())
        })
        .is_some_and(|mask| mask & (1 << (libc::SIGINT - 1)) != 0)
}

/// Ctrl-C while the programs load: the trace ends with its report and exit status 130,
/// and the command is never started.
#[test]
fn ctrl_c_during_start_up_ends_with_a_report_and_no_command() {
    let marker = scratch("started");
    let _ = std::fs::remove_file(&marker);
    let tracer = Command::new(binary("tracer"))
        .args(["run", "--format", "json", "--", "sh", "-c", &format!("echo started > {}", marker.display())])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    while !blocks_sigint(tracer.id()) {
        std::thread::sleep(Duration::from_micros(200));
    }
    // SAFETY: signalling the tracer this test started.
    unsafe { libc::kill(tracer.id() as i32, libc::SIGINT) };
    let out = tracer.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130), "{}", String::from_utf8_lossy(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["target"]["pid"], 0, "no command was started: {report}");
    assert!(!marker.exists(), "the command ran");
}

/// A signal sent to the tracer alone reaches the command as itself: SIGTERM stays SIGTERM.
#[test]
fn sigterm_to_the_tracer_reaches_the_command_as_sigterm() {
    let log = scratch("signals.log");
    let _ = std::fs::remove_file(&log);
    let script = format!(
        "trap 'echo TERM >> {0}; exit 3' TERM; trap 'echo INT >> {0}; exit 4' INT; echo ready; while :; do sleep 0.05; done",
        log.display()
    );
    let mut tracer = Command::new(binary("tracer"))
        .args(["run", "--format", "json", "--output", "/dev/null", "--", "sh", "-c", &script])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(tracer.stdout.take().unwrap()).read_line(&mut line).unwrap();
    assert_eq!(line, "ready\n");
    // SAFETY: signalling the tracer this test started.
    unsafe { libc::kill(tracer.id() as i32, libc::SIGTERM) };
    let status = tracer.wait().unwrap();
    assert_eq!(status.code(), Some(3), "the command's own exit status");
    assert_eq!(std::fs::read_to_string(&log).unwrap(), "TERM\n");
}

/// Ctrl-C in a terminal signals the whole foreground process group, the command as well
/// as the tracer: the command gets it once, not a second time from the tracer. (A pty
/// whose line discipline turns ^C into SIGINT, as a user's terminal does.)
#[test]
fn a_terminal_ctrl_c_reaches_the_command_once() {
    let log = scratch("ctrl-c.log");
    let _ = std::fs::remove_file(&log);
    // The command notes each SIGINT as it comes and lives on, so the tracer's grace period
    // runs out and it is killed: a second SIGINT would have had time to show.
    let (mut master, mut slave_fd) = (0, 0);
    // SAFETY: out pointers for two fds; no name, termios or window size.
    let opened =
        unsafe { libc::openpty(&mut master, &mut slave_fd, std::ptr::null_mut(), std::ptr::null(), std::ptr::null()) };
    assert_eq!(opened, 0, "openpty");
    let mut cmd = Command::new(binary("tracer"));
    cmd.args(["run", "--format", "json", "--output", "/dev/null", "--"]).arg(binary("sigcount")).arg(&log);
    // SAFETY: fds this test owns; the new session gets the pty as its terminal.
    unsafe {
        use std::os::unix::process::CommandExt;
        cmd.stdin(Stdio::from_raw_fd(libc::dup(slave_fd)))
            .stdout(Stdio::from_raw_fd(libc::dup(slave_fd)))
            .stderr(Stdio::from_raw_fd(libc::dup(slave_fd)))
            .pre_exec(|| {
                libc::setsid();
                libc::ioctl(0, libc::TIOCSCTTY, 0);
                Ok(())
            });
    }
    let mut tracer = cmd.spawn().unwrap();
    // SAFETY: the child has its copies.
    unsafe { libc::close(slave_fd) };
    // SAFETY: the master end, now ours alone.
    let mut master = unsafe { std::fs::File::from_raw_fd(master) };
    let mut seen = Vec::new();
    let mut buf = [0u8; 256];
    while !String::from_utf8_lossy(&seen).contains("ready") {
        let n = std::io::Read::read(&mut master, &mut buf).unwrap();
        assert!(n > 0, "no output from the traced command");
        seen.extend_from_slice(&buf[..n]);
    }
    std::io::Write::write_all(&mut master, b"\x03").unwrap();
    let status = tracer.wait().unwrap();
    assert_eq!(status.code(), Some(130), "killed after the grace period: 128 + SIGINT");
    assert_eq!(std::fs::read_to_string(&log).unwrap(), "INT\n", "the command got the terminal's SIGINT once");
}
