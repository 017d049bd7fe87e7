//! `memlab`: each mode's getrusage deltas are the mechanism's predicted counts, within
//! the pages the runtime may touch between a phase's markers (`runtime_pages`, see
//! workloads/src/memlab/phase.rs), and the frames /proc/self/pagemap shows tell copies
//! from reuses and the zero page.
mod common;

use common::{fails_with_one_line, n};
use serde_json::Value;

const N: u64 = 2048;

fn memlab(args: &[&str]) -> Value {
    let out = common::bin("memlab").args(args).output().unwrap();
    assert!(out.status.success(), "memlab {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    common::summary(&out)
}

fn phase<'a>(s: &'a Value, name: &str) -> &'a Value {
    s["phases"].as_array().unwrap().iter().find(|p| p["name"] == name).unwrap_or_else(|| panic!("no phase {name}: {s}"))
}

/// `got` is `want` plus at most the runtime's pages.
fn about(s: &Value, got: u64, want: u64, what: &str) {
    let slack = n(&s["runtime_pages"]);
    assert!((want..=want + slack).contains(&got), "{what}: {got}, predicted {want} (+{slack}): {s}");
}

fn root() -> bool {
    // SAFETY: no arguments.
    unsafe { libc::geteuid() == 0 }
}

#[test]
fn fork_cow_child_copies_every_page_and_the_parent_then_reuses_them() {
    let pages = N.to_string();
    let s = memlab(&["--mode", "fork-cow", "--pages", &pages]);
    about(&s, n(&phase(&s, "touch")["minflt"]), N, "touch");
    let child = &s["child"];
    about(&s, n(&child["minflt"]), N, "the child's writes");
    about(&s, n(&phase(&s, "parent_write")["minflt"]), N, "the parent's writes after the child exited");
    // The child's whole life (wait4's rusage): its N writes, plus pages outside the
    // measured loop: the warm-up's 16 stack pages, its frame buffer (8 bytes a page), and
    // code it runs first after fork (fork copies no PTEs of file mappings), at most 64.
    let outside = n(&child["wait4_minflt"]) - n(&child["minflt"]);
    assert!(outside <= 64 + N / 512, "{outside} faults outside the child's loop: {child}");
    assert_eq!(n(&child["wait4_majflt"]), 0);
    assert_eq!(s["frames_visible"], root(), "pagemap shows frames to root only");
    if root() {
        assert_eq!(n(&child["copied"]), N, "every child write got a new frame");
        assert_eq!(n(&phase(&s, "parent_write")["reused"]), N, "every parent write kept its frame");
    } else {
        assert!(child["copied"].is_null());
    }
}

#[test]
fn zero_page_reads_share_one_frame_and_writes_replace_it() {
    let pages = N.to_string();
    let s = memlab(&["--mode", "zero-page", "--pages", &pages]);
    let (read, write) = (phase(&s, "read"), phase(&s, "write"));
    about(&s, n(&read["minflt"]), N, "reads");
    about(&s, n(&write["minflt"]), N, "writes");
    assert_eq!(read["read_zeroes"], true);
    if root() {
        assert_eq!(n(&read["distinct_frames"]), 1, "the shared zero page");
        assert_eq!(n(&write["distinct_frames"]), N);
    }
}

#[test]
fn file_cow_copies_each_page_cache_page_once_and_leaves_the_file() {
    let pages = N.to_string();
    let s = memlab(&["--mode", "file-cow", "--pages", &pages]);
    assert_eq!(s["cow_of"], "present page-cache pages");
    let (read, write) = (phase(&s, "read"), phase(&s, "write"));
    // Reads fault around: one fault maps many present page-cache pages.
    assert!(n(&read["minflt"]) <= N && n(&read["majflt"]) == 0, "{read}");
    about(&s, n(&write["minflt"]), N, "copy-on-write faults");
    assert_eq!(s["file_unchanged"], true);
    if root() {
        assert_eq!(n(&write["copied"]), N);
    }
    let s = memlab(&["--mode", "file-cow", "--pages", &pages, "--no-read"]);
    assert_eq!(s["cow_of"], "page-cache pages not yet mapped");
    about(&s, n(&phase(&s, "write")["minflt"]), N, "copy-on-write faults of unmapped pages");
}

#[test]
fn major_faults_read_every_evicted_page() {
    let pages = N.to_string();
    let s = memlab(&["--mode", "major", "--pages", &pages]);
    let read = phase(&s, "read");
    assert_eq!(n(&s["cached_before"]), 0, "evicted");
    about(&s, n(&read["majflt"]), N, "major faults (readahead off)");
    assert!(n(&read["minflt"]) <= n(&s["runtime_pages"]), "{read}");
    assert_eq!(n(&s["cached_after"]), N);
    assert_eq!(read["bytes_ok"], true);
}

#[test]
fn shootdown_changes_flush_the_readers_cpus() {
    let cpus = std::thread::available_parallelism().map_or(1, usize::from);
    if cpus < 2 {
        let out = common::bin("memlab").args(["--mode", "shootdown", "--threads", "2"]).output().unwrap();
        return fails_with_one_line(&out, "needs as many CPUs");
    }
    const R: u64 = 1000;
    for op in ["mprotect", "munmap"] {
        let before = tlb_total();
        let s = memlab(&["--mode", "shootdown", "--op", op, "--repeat", "1000", "--threads", "2"]);
        let after = tlb_total();
        let p = phase(&s, "changes");
        assert_eq!(n(&p["changes"]), R, "{op}");
        assert!(n(&p["touches"]) > 0);
        let sys = &s["syscalls"];
        match op {
            "mprotect" => {
                assert_eq!(n(&sys["mprotect"]["calls"]), 2 * R, "take write access away, give it back");
                // Only a reader meeting a PTE mid-change faults (once per change at most).
                let readers = n(&p["reader_minflt"]);
                about(&s, n(&p["minflt"]), readers, "the readers' faults alone");
                assert!(readers <= R, "{p}");
            }
            _ => {
                // Each change maps, writes (a fault per page) and unmaps 16 pages.
                assert_eq!(n(&sys["munmap"]["calls"]), R + 1, "and the scratch page's");
                about(&s, n(&p["minflt"]), R * 16 + n(&p["reader_minflt"]), "the changer's writes");
            }
        }
        assert_eq!(s["cpus"].as_array().unwrap().len(), 2, "two CPUs");
        let tlb = &s["tlb_interrupts"];
        if cfg!(target_arch = "x86_64") {
            let (witnessed, got) = (n(&p["witnessed"]), n(&tlb["delta_reader_cpus"]));
            assert!(witnessed > 0, "the reader never ran during a change: {s}");
            assert!(
                got >= witnessed - witnessed / 10,
                "{op}: {got} TLB IPIs on the reader's CPU, {witnessed} witnessed changes"
            );
            // The test's own reading of /proc/interrupts spans memlab's.
            assert!(after.unwrap() - before.unwrap() >= n(&tlb["delta"]));
        } else {
            assert!(tlb.is_null());
        }
    }
    // One thread: no reader, nothing witnessed.
    let s = memlab(&["--mode", "shootdown", "--repeat", "100", "--threads", "1"]);
    assert_eq!(n(&phase(&s, "changes")["witnessed"]), 0);
}

fn tlb_total() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/interrupts").ok()?;
    let line = text.lines().find(|l| l.trim_start().starts_with("TLB:"))?;
    Some(line.split_whitespace().skip(1).map_while(|w| w.parse::<u64>().ok()).sum())
}

#[test]
fn bad_input_gets_one_line() {
    let run = |args: &[&str]| common::bin("memlab").args(args).output().unwrap();
    fails_with_one_line(&run(&["--mode", "zero-page", "--no-read"]), "--no-read is for --mode file-cow");
    fails_with_one_line(&run(&["--mode", "shootdown", "--threads", "1000"]), "needs as many CPUs");
    fails_with_one_line(&run(&["--mode", "major", "--pages", "0"]), "--pages");
    fails_with_one_line(&run(&["--mode", "teleport"]), "invalid value 'teleport'");
    fails_with_one_line(&run(&["--mode", "major", "--dir", "/no/such/dir"]), "pick a writable --dir");
}
