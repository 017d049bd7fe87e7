//! The copy ledger against the `zerocopy` workload's own summary, exactly, in every mode.
use integration_test::{Counts, zerocopy};
use serde_json::Value;

const SIZE: u64 = 4 << 20;
const REPEAT: u64 = 2;

fn run(mode: &str) -> (Value, Value, Counts) {
    let z = zerocopy(mode, SIZE, REPEAT);
    (z.report, z.summary, z.traced)
}

fn path<'a>(report: &'a Value, name: &str) -> Option<&'a Value> {
    report["copies"]["paths"].as_array().unwrap().iter().find(|p| p["path"] == name)
}

fn n(v: &Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("not a count: {v}"))
}

/// cpu_copy_bytes is every byte the read/write families moved; socket receives match the
/// kernel's own skb copy count; the receiver's path is `recv`.
fn common_checks(mode: &str, report: &Value, summary: &Value, traced: &Counts) {
    let copies = &report["copies"];
    let cpu: u64 = ["read", "write", "pread64", "pwrite64"].iter().map(|c| traced.get(*c).map_or(0, |t| t.2)).sum();
    assert_eq!(n(&copies["cpu_copy_bytes"]), cpu, "{mode}: cpu_copy_bytes");
    let received = n(&summary["receiver"]["read"]["bytes"]);
    let recv = path(report, "recv").unwrap_or_else(|| panic!("{mode}: no recv path"));
    assert_eq!(n(&recv["bytes"]), received, "{mode}: recv path bytes");
    assert_eq!(n(&recv["calls"]), n(&summary["receiver"]["read"]["calls"]), "{mode}: recv path calls");
    assert_eq!(n(&copies["socket_copy_bytes"]), received, "{mode}: skb_copy_datagram_iovec total");
    assert_eq!(n(&report["mode_switches"]), 2 * traced.values().map(|t| t.0).sum::<u64>(), "{mode}: 2 per syscall");
}

#[test]
fn read_write() {
    let (report, summary, traced) = run("read-write");
    common_checks("read-write", &report, &summary, &traced);
    assert_eq!(n(&report["copies"]["zero_copy_bytes"]), 0);
    let rw = path(&report, "read-write").unwrap();
    // The sender's reads and writes, the setup's pwrite64s, the runtime's reads and the
    // summary's write: every read/write-family call that was not a socket receive.
    let sender = &summary["sender"];
    assert!(n(&rw["calls"]) >= n(&sender["read"]["calls"]) + n(&sender["write"]["calls"]));
    assert_eq!(n(&rw["cpu_copies"]), 2, "model");
    assert!(path(&report, "mmap-write").is_none());
}

#[test]
fn mmap_write() {
    let (report, summary, traced) = run("mmap-write");
    common_checks("mmap-write", &report, &summary, &traced);
    let mw = path(&report, "mmap-write").expect("mmap-write path");
    assert_eq!(n(&mw["calls"]), n(&summary["sender"]["write"]["calls"]), "every sender write came from the mapping");
    assert_eq!(n(&mw["bytes"]), SIZE * REPEAT);
    assert_eq!(n(&mw["cpu_copied_bytes"]), SIZE * REPEAT, "one CPU copy: mapping -> socket");
    assert_eq!(n(&report["copies"]["zero_copy_bytes"]), 0);
}

#[test]
fn sendfile() {
    let (report, summary, traced) = run("sendfile");
    common_checks("sendfile", &report, &summary, &traced);
    let sf = path(&report, "sendfile").expect("sendfile path");
    assert_eq!(n(&sf["calls"]), n(&summary["sender"]["sendfile"]["calls"]));
    assert_eq!(
        (n(&sf["bytes"]), n(&sf["zero_copy_bytes"]), n(&sf["cpu_copied_bytes"])),
        (SIZE * REPEAT, SIZE * REPEAT, 0)
    );
    assert_eq!(n(&report["copies"]["zero_copy_bytes"]), SIZE * REPEAT);
}

#[test]
fn splice_counts_a_payload_once() {
    let (report, summary, traced) = run("splice");
    common_checks("splice", &report, &summary, &traced);
    let sp = path(&report, "splice").expect("splice path");
    assert_eq!(n(&sp["calls"]), n(&summary["sender"]["splice"]["calls"]), "both legs are calls of the path");
    assert_eq!(n(&summary["sender"]["splice"]["bytes"]), 2 * SIZE * REPEAT, "the program moved every byte twice");
    assert_eq!(n(&sp["bytes"]), SIZE * REPEAT, "but the payload is counted once");
    assert_eq!(n(&report["copies"]["zero_copy_bytes"]), SIZE * REPEAT);
}

#[test]
fn vmsplice_owns_the_splice_that_drains_its_pipe() {
    let (report, summary, traced) = run("vmsplice");
    common_checks("vmsplice", &report, &summary, &traced);
    let vm = path(&report, "vmsplice").expect("vmsplice path");
    let sender = &summary["sender"];
    assert_eq!(n(&vm["calls"]), n(&sender["vmsplice"]["calls"]) + n(&sender["splice"]["calls"]));
    assert_eq!((n(&vm["bytes"]), n(&vm["zero_copy_bytes"])), (SIZE * REPEAT, SIZE * REPEAT));
    assert!(path(&report, "splice").is_none(), "no plain splice path: the pipe was fed by vmsplice");
}

#[test]
fn copy_file_range_is_file_to_file() {
    let (report, summary, _) = run("copy-file-range");
    let cf = path(&report, "copy-file-range").expect("copy-file-range path");
    assert_eq!(n(&cf["calls"]), n(&summary["sender"]["copy_file_range"]["calls"]));
    assert_eq!(n(&report["copies"]["zero_copy_bytes"]), SIZE * REPEAT);
    assert!(path(&report, "recv").is_none(), "no socket");
}
