//! The syscall table: every call, its errors and the bytes it moved, against `strace -f`
//! and the workloads' own counts (exact).
use integration_test::{DATA_SYSCALLS, ZEROCOPY_IO, report_counts, strace, traced, zerocopy};

/// Each zerocopy mode: the I/O calls the program counts itself, plus what strace saw
/// the runtime make, exactly.
#[test]
fn zerocopy_calls_errors_and_bytes_are_exact_in_every_mode() {
    for mode in ["read-write", "mmap-write", "sendfile", "splice", "vmsplice", "copy-file-range"] {
        let z = zerocopy(mode, 4 << 20, 2);
        for name in ZEROCOPY_IO {
            let mut got = z.traced.get(*name).copied().unwrap_or_default();
            if !DATA_SYSCALLS.contains(name) {
                got.2 = 0;
            }
            assert_eq!(
                got, z.expected[*name],
                "{mode}: {name} (calls, errors, bytes): traced vs the program + runtime"
            );
        }
    }
}

/// A command nobody here wrote, against `strace -f` on an identical run.
#[test]
fn dd_reads_and_writes_match_strace() {
    let cmd = ["dd", "if=/dev/zero", "of=/dev/null", "bs=4096", "count=3000"];
    let (mut st, st_out) = strace(&cmd);
    let (report, out) = traced(&cmd);
    let mut tr = report_counts(&report);
    // dd's closing statistics (on stderr) carry a timing, so their length can differ by a
    // byte between runs: compare what is left once each run's own stderr is taken out.
    st.get_mut("write").unwrap().2 -= st_out.stderr.len() as u64;
    tr.get_mut("write").unwrap().2 -= out.stderr.len() as u64;
    for name in ["read", "write", "openat", "close"] {
        assert_eq!(tr.get(name), st.get(name), "{name} (calls, errors, bytes): tracer vs strace -f");
    }
    assert!(tr["read"].0 >= 3000 && tr["write"].2 >= 3000 * 4096);
    let rw = report["copies"]["paths"].as_array().unwrap().iter().find(|p| p["path"] == "read-write").unwrap();
    // No sockets: every read/write-family call (ld.so's pread64s too) is on this path.
    let family: u64 = ["read", "write", "pread64", "pwrite64", "readv", "writev"]
        .iter()
        .filter_map(|c| tr.get(*c))
        .map(|t| t.0)
        .sum();
    assert_eq!(rw["calls"].as_u64().unwrap(), family);
}

/// A launched command is counted from its exec, as strace counts it: not the launcher's
/// work between fork and exec (its signal resets, its PATH search's failed execve calls).
/// Every call strace saw, exactly.
#[test]
fn run_counts_the_command_from_its_exec() {
    for cmd in [&["false"][..], &["sh", "-c", "exit 0"]] {
        let (st, _) = strace(cmd);
        let out = std::process::Command::new(integration_test::binary("tracer"))
            .args(["run", "--format", "json", "--"])
            .args(cmd)
            .output()
            .unwrap();
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(report_counts(&report), st, "{cmd:?}: (calls, errors, bytes) per syscall, tracer vs strace -f");
    }
}

/// What the trace cost: every syscall the target entered ran `sys_enter`, and each that
/// returned ran `sys_exit` (bystanders' calls come on top, so these are lower bounds;
/// `overhead.rs` bounds them from above with perf); the statistics windows timed them.
#[test]
fn the_report_counts_the_runs_of_its_programs() {
    let cmd = ["dd", "if=/dev/zero", "of=/dev/null", "bs=4096", "count=20000"];
    let (report, _) = traced(&cmd);
    let rows = report["syscalls"].as_array().unwrap();
    let total = |key: &str| -> u64 { rows.iter().map(|r| r[key].as_u64().unwrap()).sum() };
    let programs = report["overhead"]["programs"].as_array().unwrap();
    let hits = |name: &str| programs.iter().find(|p| p["program"] == name).unwrap()["hits"].as_u64().unwrap();
    assert!(hits("sys_enter") >= total("count"), "sys_enter {} < {} calls", hits("sys_enter"), total("count"));
    assert!(hits("sys_exit") >= total("returned"), "sys_exit {} < {} returns", hits("sys_exit"), total("returned"));
    let o = &report["overhead"];
    assert!(o["bpf_stats_coverage"].as_f64().unwrap() > 0.0, "{o}");
    assert!(o["bpf_ns"].as_u64().unwrap() > 0 && o["bpf_hits"].as_u64().unwrap() >= hits("sys_enter"), "{o}");
}

/// `--no-latency` with syscalls alone: one program on sys_exit, nothing on sys_enter nor
/// sched_switch. Its counts are strace's, call for call, save exit_group (it never
/// returns, so no sys_exit sees it; the report says so), also for a launched command whose
/// launcher searched PATH before its exec, and for the children it forks; and no latency
/// figure is made up.
#[test]
fn without_latency_one_program_counts_every_call_that_returns() {
    let forks = ["sh", "-c", "/bin/true; /bin/true; /bin/true"];
    let dd = ["dd", "if=/dev/zero", "of=/dev/null", "bs=4096", "count=3000"];
    for cmd in [&["true"][..], &["sh", "-c", "exit 0"], &forks, &dd] {
        let (mut st, st_out) = strace(cmd);
        let (report, out) = integration_test::traced_with(&["--only", "syscalls", "--no-latency"], cmd);
        let mut tr = report_counts(&report);
        // One per process; how many processes `sh -c` makes is its own choice (busybox
        // execs the last command in place, dash forks for it).
        let exits = st.remove("exit_group").map_or(0, |c| c.0);
        assert!(exits >= 1 && (cmd == forks || exits == 1), "{cmd:?}: strace saw {exits} exit_group calls");
        if cmd[0] == "dd" {
            // As in `dd_reads_and_writes_match_strace`: dd's timing line differs by run.
            st.get_mut("write").unwrap().2 -= st_out.stderr.len() as u64;
            tr.get_mut("write").unwrap().2 -= out.stderr.len() as u64;
        }
        assert_eq!(tr, st, "{cmd:?}: (calls, errors, bytes) per syscall, tracer vs strace -f");
        for row in report["syscalls"].as_array().unwrap() {
            assert!(row["total_ns"].is_null() && row["latency"].is_null(), "{row}");
        }
        let notes = report["coverage"]["syscalls"]["notes"].to_string();
        assert!(notes.contains("--no-latency") && notes.contains("exit_group"), "{notes}");
        let programs: Vec<&str> =
            report["overhead"]["programs"].as_array().unwrap().iter().map(|p| p["program"].as_str().unwrap()).collect();
        assert!(programs.contains(&"sys_exit_count"), "{programs:?}");
        for absent in ["sys_enter", "sys_exit", "sched_switch"] {
            assert!(!programs.contains(&absent), "{absent}: {programs:?}");
        }
    }
}
