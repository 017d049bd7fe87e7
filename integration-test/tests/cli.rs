//! The command line as a user meets it: exit statuses, Ctrl-C, and one clear line for
//! every kind of bad input.
use std::{
    io::{BufRead, BufReader},
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
    let out = tracer_raw(&["attach", "--pid", &target.id().to_string(), "--duration", "300ms", "--format", "csv"]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    let dur: u64 = text.lines().find_map(|l| l.strip_prefix("summary,duration_ns,")).unwrap().parse().unwrap();
    assert!((300_000_000..3_000_000_000).contains(&dur), "{dur}");
    target.kill().unwrap();
    target.wait().unwrap();
}
