//! `zerocopy`: sends a file over a loopback TCP connection to a receiver thread in the same
//! process, by the path `--mode` names, the way the classic zero-copy comparison does:
//!
//! | mode | sender's syscalls per chunk | CPU copies (textbook) |
//! |---|---|---|
//! | read-write | read(file) + write(sock) | 2 |
//! | mmap-write | write(sock) from a MAP_SHARED mapping | 1 |
//! | sendfile | sendfile(sock, file) | 0 (with scatter-gather DMA) |
//! | splice | splice(file -> pipe) + splice(pipe -> sock) | 0 |
//! | vmsplice | vmsplice(mapping -> pipe) + splice(pipe -> sock) | 0 |
//! | copy-file-range | copy_file_range(file -> file); no socket | 0 |
//! | aio-read | io_submit(O_DIRECT reads, `--depth` in flight) + io_getevents, write(sock) | 1 (disk DMA to the buffer) |
//! | io-uring | READ linked to SEND, one io_uring_enter per chunk | 2 |
//!
//! The receiver reads with read(2) and checks a checksum of every copy of the file. The
//! summary counts each role's syscalls apart (`setup`, `sender`, `receiver`, `verify`)
//! and in total (`syscalls`).
mod aio;
mod args;
mod checksum;
mod mapping;
mod pipe;
mod receive;
mod send;
mod source;
mod uring;

use std::{fs::OpenOptions, os::fd::AsRawFd, thread, time::Instant};

use clap::ValueEnum;
use serde_json::json;

pub use self::checksum::Checksum;
use self::{
    aio::Aio,
    args::{Args, Mode, PROGRAM},
    checksum::checksums,
    receive::receive,
    send::{copy_file_range, send_copy},
    source::{drop_cache, open_source},
    uring::UringSender,
};
use crate::{
    fail, net,
    sys::{Call, Sys},
};

/// The sender's kernel objects that outlive one copy: an AIO context, a ring.
enum Engine {
    Plain,
    Aio(Aio),
    Uring(Box<UringSender>),
}

pub fn main() {
    let a: Args = crate::args::parse(PROGRAM);
    let started = Instant::now();
    let mut setup = Sys::default();
    let src = open_source(&a, &mut setup);
    if a.chunk > i32::MAX as u64 {
        fail(PROGRAM, "--chunk must be below 2 GiB");
    }
    let mut sender = Sys::default();
    let mut verify_sys = Sys::default();
    let mut engine = match a.mode {
        Mode::AioRead => {
            let path = a.file.as_ref().or(src.temp.as_ref()).expect("a named file");
            Engine::Aio(Aio::new(&mut setup, path, a.depth as usize, a.chunk))
        }
        Mode::IoUring => Engine::Uring(Box::new(UringSender::new(&mut setup, a.chunk))),
        _ => Engine::Plain,
    };
    let transfer_started;
    let (received, per_copy_ok, receiver) = if a.mode == Mode::CopyFileRange {
        let dst_path = a.dir.join(format!("zerocopy-{}.dst", std::process::id()));
        let dst = OpenOptions::new().read(true).write(true).create_new(true).open(&dst_path).unwrap_or_else(|e| {
            fail(PROGRAM, format_args!("cannot create {} ({e}): pick a writable --dir", dst_path.display()))
        });
        transfer_started = Instant::now();
        for copy in 0..a.repeat {
            drop_cache(&a, &src, &mut setup);
            copy_file_range(&mut sender, &src, dst.as_raw_fd(), copy * src.size, a.chunk);
        }
        // The destination holds `repeat` copies back to back; check each.
        let sums = checksums(&mut verify_sys, dst.as_raw_fd(), src.size, a.repeat);
        let _ = std::fs::remove_file(&dst_path);
        (sender.stat(Call::CopyFileRange).total, sums, Sys::default())
    } else {
        let (listen_fd, port) = net::listen(&mut setup, 0, false)
            .unwrap_or_else(|e| fail(PROGRAM, format_args!("cannot listen on 127.0.0.1 ({e})")));
        let size = src.size;
        let receiver = thread::spawn(move || receive(listen_fd, size));
        let sock = net::connect(&mut sender, port).unwrap_or_else(|e| fail(PROGRAM, format_args!("connect: {e}")));
        transfer_started = Instant::now();
        for _ in 0..a.repeat {
            drop_cache(&a, &src, &mut setup);
            let sent = match &mut engine {
                Engine::Plain => send_copy(&mut sender, a.mode, &src, sock, a.chunk),
                Engine::Aio(aio) => aio.send_copy(&mut sender, src.size, sock),
                Engine::Uring(u) => u.send_copy(&mut sender, src.file.as_raw_fd(), src.size, sock),
            };
            if let Err(e) = sent {
                fail(PROGRAM, format_args!("{:?} transfer failed: {e}", a.mode));
            }
        }
        sender.shutdown(sock, libc::SHUT_WR);
        let (recv_sys, received, sums) = receiver.join().expect("receiver panicked");
        sender.close(sock);
        setup.close(listen_fd);
        (received, sums, recv_sys)
    };
    let transfer_ns = transfer_started.elapsed().as_nanos() as u64;
    let engine = match engine {
        Engine::Plain => None,
        Engine::Aio(aio) => {
            let j = aio.to_json();
            aio.close(&mut setup);
            Some(("aio", j))
        }
        Engine::Uring(u) => Some(("io_uring", u.close(&mut setup))),
    };
    let expected = match src.checksum {
        Some(sum) => sum,
        None if a.no_verify => per_copy_ok.first().copied().unwrap_or_default(),
        None => checksums(&mut verify_sys, src.file.as_raw_fd(), src.size, 1)[0],
    };
    let checksum_ok = per_copy_ok.len() as u64 == a.repeat && per_copy_ok.iter().all(|&c| c == expected);
    if let Some(temp) = &src.temp {
        let _ = std::fs::remove_file(temp);
    }
    let mut total = Sys::default();
    for s in [&setup, &sender, &receiver, &verify_sys] {
        total.add(s);
    }
    let bytes = src.size * a.repeat;
    let errors: u64 = Call::ALL.iter().map(|&c| total.stat(c).errors).sum();
    let mode = a.mode.to_possible_value().unwrap().get_name().to_owned();
    let mut summary = json!({
        "program": PROGRAM,
        "mode": mode,
        "file_size": src.size,
        "chunk": a.chunk,
        "repeat": a.repeat,
        "cold": a.cold,
        "bytes_sent": bytes,
        "bytes_received": received,
        "checksum_ok": checksum_ok,
        "duration_ns": started.elapsed().as_nanos() as u64,
        "transfer_ns": transfer_ns,
        "throughput_mib_s": bytes as f64 / f64::from(1 << 20) / (transfer_ns as f64 / 1e9),
        "errors": errors,
        "syscalls": total.to_json(),
        "setup": setup.to_json(),
        "sender": sender.to_json(),
        "receiver": receiver.to_json(),
        "verify": verify_sys.to_json(),
    });
    if let Some((key, value)) = engine {
        summary[key] = value;
    }
    crate::sys::print_summary(&mut total, &summary);
    if !checksum_ok || received != bytes {
        fail(PROGRAM, format_args!("the receiver got {received} of {bytes} bytes, checksums ok: {checksum_ok}"));
    }
}
