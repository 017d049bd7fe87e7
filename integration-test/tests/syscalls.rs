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
