//! The copy ledger against the `zerocopy` workload's own summary and strace, exactly, in
//! every mode.
use integration_test::{Counts, zerocopy};
use serde_json::Value;

const SIZE: u64 = 4 << 20;
const REPEAT: u64 = 2;

/// The report, the program's summary, and the (calls, errors, bytes) each syscall must
/// have: the program's own counts plus what it cannot count, from strace.
fn run(mode: &str) -> (Value, Value, Counts) {
    let z = zerocopy(mode, SIZE, REPEAT);
    (z.report, z.summary, z.expected)
}

/// (calls, bytes) of the read and write families in `expected`, less the receiver's
/// socket reads: what the `read-write` (or, with a mapping, `mmap-write`) path holds.
fn file_calls_and_bytes(expected: &Counts, summary: &Value) -> ((u64, u64), (u64, u64)) {
    let get = |name: &str| expected.get(name).copied().unwrap_or_default();
    let (received, recv_calls) = (n(&summary["receiver"]["read"]["bytes"]), n(&summary["receiver"]["read"]["calls"]));
    let reads = (get("read").0 + get("pread64").0 - recv_calls, get("read").2 + get("pread64").2 - received);
    let writes = (get("write").0 + get("pwrite64").0, get("write").2 + get("pwrite64").2);
    (reads, writes)
}

fn path<'a>(report: &'a Value, name: &str) -> Option<&'a Value> {
    report["copies"]["paths"].as_array().unwrap().iter().find(|p| p["path"] == name)
}

fn n(v: &Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("not a count: {v}"))
}

/// cpu_copy_bytes is every byte the read/write families moved, by strace and the
/// program's counts; socket receives are the receiver's reads (its count and bytes), and
/// the kernel's own skb copies are those bytes.
fn common_checks(mode: &str, report: &Value, summary: &Value, expected: &Counts) {
    let copies = &report["copies"];
    let cpu: u64 = ["read", "write", "pread64", "pwrite64"].iter().map(|c| expected.get(*c).map_or(0, |t| t.2)).sum();
    assert_eq!(n(&copies["cpu_copy_bytes"]), cpu, "{mode}: cpu_copy_bytes");
    let received = n(&summary["receiver"]["read"]["bytes"]);
    let recv = path(report, "recv").unwrap_or_else(|| panic!("{mode}: no recv path"));
    assert_eq!(n(&recv["bytes"]), received, "{mode}: recv path bytes");
    assert_eq!(n(&recv["calls"]), n(&summary["receiver"]["read"]["calls"]), "{mode}: recv path calls");
    assert_eq!(n(&copies["socket_copy_bytes"]), received, "{mode}: skb_copy_datagram_iovec total");
}

#[test]
fn read_write() {
    let (report, summary, traced) = run("read-write");
    common_checks("read-write", &report, &summary, &traced);
    assert_eq!(n(&report["copies"]["zero_copy_bytes"]), 0);
    let rw = path(&report, "read-write").unwrap();
    // Every read/write-family call that was not a socket receive: the sender's, the
    // setup's pwrite64s, the runtime's reads and the summary's write.
    let ((rc, rb), (wc, wb)) = file_calls_and_bytes(&traced, &summary);
    assert_eq!((n(&rw["calls"]), n(&rw["bytes"]), n(&rw["cpu_copied_bytes"])), (rc + wc, wb, rb + wb));
    assert!(path(&report, "mmap-write").is_none());
}

#[test]
fn mmap_write() {
    let (report, summary, traced) = run("mmap-write");
    common_checks("mmap-write", &report, &summary, &traced);
    let mw = path(&report, "mmap-write").expect("mmap-write path");
    let sender_writes = &summary["sender"]["write"];
    assert_eq!(n(&mw["calls"]), n(&sender_writes["calls"]), "every sender write came from the mapping");
    assert_eq!(n(&mw["bytes"]), SIZE * REPEAT);
    assert_eq!(n(&mw["cpu_copied_bytes"]), SIZE * REPEAT, "one CPU copy: mapping -> socket");
    // Everything else in the read and write families is on read-write.
    let rw = path(&report, "read-write").unwrap();
    let ((rc, rb), (wc, wb)) = file_calls_and_bytes(&traced, &summary);
    let (sc, sb) = (n(&sender_writes["calls"]), n(&sender_writes["bytes"]));
    assert_eq!((n(&rw["calls"]), n(&rw["cpu_copied_bytes"])), (rc + wc - sc, rb + wb - sb));
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
