//! Every mode of `zerocopy` moves every byte, and its summary's counts are consistent with
//! what the mode must do.
mod common;

use common::{bin, calls, fails_with_one_line, field, n, ok};
use integration_test::{DATA_SYSCALLS, strace};

const SIZE: u64 = (3 << 20) + 123; // not a multiple of the chunk: the last call is short
const CHUNK: u64 = 64 << 10;
const REPEAT: u64 = 2;

fn run(mode: &str, extra: &[&str]) -> serde_json::Value {
    run_chunked(mode, CHUNK, extra)
}

fn run_chunked(mode: &str, chunk: u64, extra: &[&str]) -> serde_json::Value {
    let (size, chunk, repeat) = (SIZE.to_string(), chunk.to_string(), REPEAT.to_string());
    let s =
        ok(bin("zerocopy").args(["--mode", mode, "--size", &size, "--chunk", &chunk, "--repeat", &repeat]).args(extra));
    assert_eq!(s["mode"], mode);
    assert_eq!(s["checksum_ok"], true, "{s}");
    assert_eq!(n(&s["bytes_sent"]), SIZE * REPEAT);
    assert_eq!(n(&s["bytes_received"]), SIZE * REPEAT);
    assert_eq!(n(&s["errors"]), 0);
    // The generated file is written with pwrite64, never with the transfer's calls.
    assert_eq!(field(&s["setup"], "pwrite64", "bytes"), SIZE);
    if mode != "copy-file-range" {
        // The receiver read exactly what was sent, and nothing else read the socket.
        assert_eq!(field(&s["receiver"], "read", "bytes"), SIZE * REPEAT);
        assert_eq!(calls(&s["receiver"], "accept4"), 1);
    }
    s
}

/// The program's own counts against strace: every I/O call that ld.so and the runtime
/// never make, exactly (calls, errors, bytes), and its writes plus the summary's own.
#[test]
fn its_counts_are_what_strace_sees() {
    for mode in
        ["read-write", "mmap-write", "sendfile", "splice", "vmsplice", "copy-file-range", "aio-read", "io-uring"]
    {
        let (size, repeat) = ((1 << 20).to_string(), "2".to_string());
        let exe = env!("CARGO_BIN_EXE_zerocopy");
        let (seen, out) = strace(&[exe, "--mode", mode, "--size", &size, "--repeat", &repeat]);
        let s = common::summary(&out);
        let own = |name: &str| {
            let data = DATA_SYSCALLS.contains(&name);
            (
                calls(&s["syscalls"], name),
                field(&s["syscalls"], name, "errors") + field(&s["syscalls"], name, "eagain"),
                if data { field(&s["syscalls"], name, "bytes") } else { 0 },
            )
        };
        for name in [
            "sendfile",
            "splice",
            "vmsplice",
            "copy_file_range",
            "pwrite64",
            "socket",
            "connect",
            "accept4",
            "shutdown",
            "pipe2",
            "fadvise64",
            "fdatasync",
            "lseek",
            "io_setup",
            "io_submit",
            "io_getevents",
            "io_destroy",
            "io_uring_setup",
            "io_uring_enter",
            "io_uring_register",
        ] {
            let mut want = seen.get(name).copied().unwrap_or_default();
            if !DATA_SYSCALLS.contains(&name) {
                want.2 = 0; // fds and offsets, not bytes
            }
            assert_eq!(own(name), want, "{mode}: {name} (calls, errors, bytes): the program's count vs strace");
        }
        let line = String::from_utf8_lossy(&out.stdout).lines().last().unwrap().len() as u64 + 1;
        let (c, e, b) = own("write");
        assert_eq!(
            (c + 1, e, b + line),
            seen.get("write").copied().unwrap_or_default(),
            "{mode}: write, plus the summary's"
        );
    }
}

fn chunks() -> u64 {
    SIZE.div_ceil(CHUNK) * REPEAT
}

#[test]
fn read_write_reads_then_writes_each_chunk() {
    let s = run("read-write", &[]);
    let snd = &s["sender"];
    assert_eq!(calls(snd, "read"), chunks());
    assert_eq!(field(snd, "read", "bytes"), SIZE * REPEAT);
    assert!(calls(snd, "write") >= chunks());
    assert_eq!(field(snd, "write", "bytes"), SIZE * REPEAT);
    assert_eq!(calls(snd, "lseek"), REPEAT);
}

#[test]
fn mmap_write_maps_once_per_copy_and_only_writes() {
    let s = run("mmap-write", &[]);
    let snd = &s["sender"];
    assert_eq!((calls(snd, "mmap"), calls(snd, "munmap")), (REPEAT, REPEAT));
    assert_eq!(calls(snd, "read"), 0);
    assert_eq!(field(snd, "write", "bytes"), SIZE * REPEAT);
}

#[test]
fn sendfile_is_one_call_per_chunk() {
    let s = run("sendfile", &[]);
    let snd = &s["sender"];
    assert_eq!(calls(snd, "sendfile"), chunks());
    assert_eq!(field(snd, "sendfile", "bytes"), SIZE * REPEAT);
    assert_eq!(calls(snd, "read") + calls(snd, "write"), 0);
}

#[test]
fn splice_goes_file_to_pipe_to_socket() {
    let s = run("splice", &[]);
    let snd = &s["sender"];
    assert!(calls(snd, "splice") >= 2 * chunks());
    assert_eq!(field(snd, "splice", "bytes"), 2 * SIZE * REPEAT, "both legs move every byte");
    assert_eq!(calls(snd, "pipe2"), REPEAT);
}

#[test]
fn vmsplice_gifts_the_mapping_to_a_pipe() {
    let s = run("vmsplice", &[]);
    let snd = &s["sender"];
    assert_eq!(field(snd, "vmsplice", "bytes"), SIZE * REPEAT);
    assert_eq!(field(snd, "splice", "bytes"), SIZE * REPEAT);
    assert_eq!(calls(snd, "mmap"), REPEAT);
}

#[test]
fn copy_file_range_copies_file_to_file() {
    let s = run("copy-file-range", &[]);
    let snd = &s["sender"];
    assert_eq!(calls(snd, "copy_file_range"), chunks());
    assert_eq!(field(snd, "copy_file_range", "bytes"), SIZE * REPEAT);
    assert_eq!(calls(&s["syscalls"], "socket"), 0, "no network for a file-to-file copy");
}

/// AIO: every chunk is one iocb and one event, the events carry every byte (a full chunk
/// each, the last one short), and what they read is what was written to the socket.
#[test]
fn aio_read_submits_an_iocb_per_chunk_and_reaps_an_event_each() {
    let s = run("aio-read", &["--depth", "8"]);
    let (snd, aio) = (&s["sender"], &s["aio"]);
    assert_eq!(field(snd, "io_submit", "submitted"), chunks());
    assert_eq!(field(snd, "io_getevents", "events"), chunks());
    assert_eq!(n(&aio["events"]), chunks());
    assert_eq!(n(&aio["event_bytes"]), SIZE * REPEAT);
    assert_eq!((n(&aio["min_event_bytes"]), n(&aio["max_event_bytes"])), (SIZE % CHUNK, CHUNK));
    assert_eq!(n(&aio["max_batch"]), 8, "the first io_submit fills the depth");
    assert!(calls(snd, "io_submit") < chunks(), "reads are batched");
    assert_eq!(field(snd, "write", "bytes"), SIZE * REPEAT);
    assert_eq!(calls(snd, "read"), 0);
    let setup = &s["setup"];
    assert_eq!((calls(setup, "io_setup"), calls(setup, "io_destroy"), calls(setup, "openat")), (1, 1, 1));
    fails_with_one_line(
        &bin("zerocopy").args(["--mode", "aio-read", "--size", "1M", "--chunk", "1000"]).output().unwrap(),
        "multiple of 4096",
    );
}

/// io_uring: a READ and a SEND per chunk (plus one per partial send), one enter for the
/// pair, and the CQEs' results carry every byte; no read(2) or write(2) at all.
#[test]
fn io_uring_reads_and_sends_through_the_ring() {
    let s = run("io-uring", &[]);
    let (snd, ring) = (&s["sender"], &s["io_uring"]);
    assert_eq!(n(&ring["sqes"]["READ"]), chunks());
    assert!(n(&ring["sqes"]["SEND"]) >= chunks());
    assert_eq!(n(&ring["cqes"]["READ"]["bytes"]), SIZE * REPEAT);
    assert_eq!(n(&ring["cqes"]["SEND"]["bytes"]), SIZE * REPEAT);
    assert_eq!(n(&ring["cqes"]["SEND"]["count"]), n(&ring["sqes"]["SEND"]));
    assert_eq!(n(&ring["enter"]["calls"]), calls(snd, "io_uring_enter"));
    let partial = n(&ring["sqes"]["SEND"]) - chunks();
    assert_eq!(calls(snd, "io_uring_enter"), chunks() + partial, "one enter per chunk, one per partial send");
    assert_eq!(calls(snd, "read") + calls(snd, "write"), 0);
}

#[test]
fn big_chunks_resize_the_pipe_and_cold_runs_drop_the_cache() {
    let s = run_chunked("splice", 1 << 20, &["--cold"]);
    assert_eq!(calls(&s["sender"], "fcntl"), REPEAT, "F_SETPIPE_SZ for a 1 MiB chunk");
    assert_eq!(calls(&s["setup"], "fadvise64"), REPEAT);
    assert_eq!(s["cold"], true);
}

#[test]
fn an_existing_file_is_sent_and_verified_with_pread() {
    let path = std::env::temp_dir().join(format!("zerocopy-test-{}.bin", std::process::id()));
    std::fs::write(&path, (0..200_000u32).map(|i| (i * 7) as u8).collect::<Vec<u8>>()).unwrap();
    let s = ok(bin("zerocopy").args(["--mode", "sendfile", "--file", path.to_str().unwrap()]));
    std::fs::remove_file(&path).unwrap();
    assert_eq!(s["checksum_ok"], true);
    assert_eq!(n(&s["file_size"]), 200_000);
    assert_eq!(field(&s["verify"], "pread64", "bytes"), 200_000);
    assert_eq!(calls(&s["setup"], "pwrite64"), 0);
}

#[test]
fn bad_input_gets_one_line() {
    fails_with_one_line(
        &bin("zerocopy").args(["--file", "/no/such/file"]).output().unwrap(),
        "cannot read /no/such/file",
    );
    fails_with_one_line(&bin("zerocopy").args(["--mode", "teleport"]).output().unwrap(), "invalid value 'teleport'");
    fails_with_one_line(&bin("zerocopy").args(["--size", "12x"]).output().unwrap(), "unknown unit");
    fails_with_one_line(
        &bin("zerocopy").args(["--size", "1M", "--file", "/etc/hostname"]).output().unwrap(),
        "cannot be used with",
    );
    fails_with_one_line(&bin("zerocopy").args(["--file", "/dev/null"]).output().unwrap(), "nothing to send");
}
