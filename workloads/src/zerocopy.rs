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
//!
//! The receiver reads with read(2) and checks a checksum of every copy of the file. The
//! summary counts each role's syscalls apart (`setup`, `sender`, `receiver`, `verify`)
//! and in total (`syscalls`).
use std::{
    fs::{File, OpenOptions},
    io,
    os::fd::{AsRawFd, RawFd},
    path::PathBuf,
    thread,
    time::Instant,
};

use clap::{Parser, ValueEnum};
use serde_json::json;

use crate::{
    args, fail, net,
    sys::{Call, Sys},
};

const PROGRAM: &str = "zerocopy";
const RECV_BUF: usize = 64 << 10;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Mode {
    ReadWrite,
    MmapWrite,
    Sendfile,
    Splice,
    Vmsplice,
    CopyFileRange,
}

/// Sends a file over loopback TCP (or copies it, for copy-file-range) and checks every byte.
#[derive(Debug, Parser)]
#[command(name = PROGRAM, version)]
pub struct Args {
    #[arg(long, value_enum, default_value_t = Mode::ReadWrite)]
    pub mode: Mode,
    /// File to send (default: a temporary file of --size bytes, removed afterwards).
    #[arg(long, conflicts_with = "size")]
    pub file: Option<PathBuf>,
    /// Size of the temporary file (e.g. 16M).
    #[arg(long, value_parser = args::size)]
    pub size: Option<u64>,
    /// Bytes per call on the sending side.
    #[arg(long, default_value = "64k", value_parser = args::size)]
    pub chunk: u64,
    /// Send the file this many times.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub repeat: u64,
    /// Directory for temporary files.
    #[arg(long, default_value_os_t = std::env::temp_dir())]
    pub dir: PathBuf,
    /// Drop the file's pages from the page cache before each copy (a cold read from disk).
    #[arg(long)]
    pub cold: bool,
    /// With --file: skip reading the file again to checksum it (the transfer alone, as a
    /// tracer comparing paths wants it); the copies are still checked against each other.
    #[arg(long, requires = "file")]
    pub no_verify: bool,
}

/// An order-sensitive checksum that gives the same value however the bytes are chunked:
/// the sum of each little-endian 64-bit word times an odd weight that depends on its
/// position. Fast enough (several GB/s) not to be the bottleneck it is meant to measure.
#[derive(Clone, Debug, Default)]
pub struct Checksum {
    acc: u64,
    words: u64,
    partial: [u8; 8],
    plen: usize,
}

impl Checksum {
    pub fn update(&mut self, mut data: &[u8]) {
        if self.plen > 0 {
            let take = (8 - self.plen).min(data.len());
            self.partial[self.plen..self.plen + take].copy_from_slice(&data[..take]);
            self.plen += take;
            data = &data[take..];
            if self.plen < 8 {
                return;
            }
            self.word(u64::from_le_bytes(self.partial));
            self.plen = 0;
        }
        let mut words = data.chunks_exact(8);
        for w in &mut words {
            self.word(u64::from_le_bytes(w.try_into().unwrap()));
        }
        let rest = words.remainder();
        self.partial[..rest.len()].copy_from_slice(rest);
        self.plen = rest.len();
    }

    fn word(&mut self, w: u64) {
        self.acc =
            self.acc.wrapping_add(w.wrapping_mul(self.words.wrapping_mul(2).wrapping_add(0x9e37_79b9_7f4a_7c15) | 1));
        self.words += 1;
    }

    pub fn finish(&self) -> u64 {
        let mut tail = [0u8; 8];
        tail[..self.plen].copy_from_slice(&self.partial[..self.plen]);
        let mut c = self.clone();
        if self.plen > 0 {
            c.word(u64::from_le_bytes(tail));
        }
        c.acc ^ (self.words * 8 + self.plen as u64)
    }
}

/// Content of the generated file: cheap, and not all the same byte.
fn generated(offset: u64, out: &mut [u8]) {
    for (i, b) in out.iter_mut().enumerate() {
        let p = offset + i as u64;
        *b = (p ^ (p >> 11) ^ (p >> 23)) as u8;
    }
}

struct Source {
    file: File,
    size: u64,
    /// Checksum of one copy, known up front for a generated file.
    checksum: Option<u64>,
    temp: Option<PathBuf>,
}

pub fn main() {
    let a: Args = args::parse(PROGRAM);
    let started = Instant::now();
    let mut setup = Sys::default();
    let src = open_source(&a, &mut setup);
    if a.chunk > i32::MAX as u64 {
        fail(PROGRAM, "--chunk must be below 2 GiB");
    }
    let mut sender = Sys::default();
    let mut verify_sys = Sys::default();
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
            if let Err(e) = send_copy(&mut sender, a.mode, &src, sock, a.chunk) {
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
    let summary = json!({
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
    crate::sys::print_summary(&mut total, &summary);
    if !checksum_ok || received != bytes {
        fail(PROGRAM, format_args!("the receiver got {received} of {bytes} bytes, checksums ok: {checksum_ok}"));
    }
}

fn open_source(a: &Args, setup: &mut Sys) -> Source {
    if let Some(path) = &a.file {
        let file = File::open(path)
            .unwrap_or_else(|e| fail(PROGRAM, format_args!("cannot read {} ({e}): check the path", path.display())));
        let size = file.metadata().map(|m| m.len()).unwrap_or(0);
        if size == 0 {
            fail(PROGRAM, format_args!("{} is empty or not a regular file: nothing to send", path.display()));
        }
        return Source { file, size, checksum: None, temp: None };
    }
    let size = a.size.unwrap_or(16 << 20);
    let path = a.dir.join(format!("zerocopy-{}.src", std::process::id()));
    let file = OpenOptions::new().read(true).write(true).create_new(true).open(&path).unwrap_or_else(|e| {
        fail(PROGRAM, format_args!("cannot create {} ({e}): pick a writable --dir", path.display()))
    });
    // Written with pwrite64, so a tracer can tell setup from the transfer's write(2)s.
    let mut buf = vec![0u8; 1 << 20];
    let mut sum = Checksum::default();
    let mut off = 0;
    while off < size {
        let len = (size - off).min(buf.len() as u64) as usize;
        generated(off, &mut buf[..len]);
        sum.update(&buf[..len]);
        let mut done = 0;
        while done < len {
            match setup.pwrite(file.as_raw_fd(), &buf[done..len], off + done as u64) {
                Ok(n) => done += n,
                Err(e) => fail(PROGRAM, format_args!("writing {} failed ({e})", path.display())),
            }
        }
        off += len as u64;
    }
    Source { file, size, checksum: Some(sum.finish()), temp: Some(path) }
}

/// --cold: write back and evict the file's pages so the next copy reads from disk.
fn drop_cache(a: &Args, src: &Source, setup: &mut Sys) {
    if a.cold {
        let fd = src.file.as_raw_fd() as usize;
        let _ = setup.call(Call::Fdatasync, [fd, 0, 0, 0, 0, 0]);
        let _ = setup.call(Call::Fadvise64, [fd, 0, 0, libc::POSIX_FADV_DONTNEED as usize, 0, 0]);
    }
}

fn send_copy(sys: &mut Sys, mode: Mode, src: &Source, sock: RawFd, chunk: u64) -> io::Result<()> {
    let fd = src.file.as_raw_fd();
    match mode {
        Mode::ReadWrite => {
            sys.call(Call::Lseek, [fd as usize, 0, libc::SEEK_SET as usize, 0, 0, 0])?;
            let mut buf = vec![0u8; chunk as usize];
            let mut left = src.size;
            while left > 0 {
                let want = left.min(chunk) as usize;
                let n = sys.read(fd, &mut buf[..want])?;
                if n == 0 {
                    return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "the file shrank"));
                }
                sys.write_all(sock, &buf[..n])?;
                left -= n as u64;
            }
        }
        Mode::MmapWrite => {
            let map = Mapping::new(sys, fd, src.size)?;
            let mut off = 0;
            while off < src.size {
                let len = (src.size - off).min(chunk) as usize;
                sys.write_all(sock, &map.bytes()[off as usize..off as usize + len])?;
                off += len as u64;
            }
            map.unmap(sys);
        }
        Mode::Sendfile => {
            let mut off: libc::off_t = 0;
            while (off as u64) < src.size {
                let len = (src.size - off as u64).min(chunk) as usize;
                sys.call(Call::Sendfile, [sock as usize, fd as usize, &raw mut off as usize, len, 0, 0])?;
            }
        }
        Mode::Splice => {
            let pipe = Pipe::new(sys, chunk)?;
            let mut off: libc::loff_t = 0;
            while (off as u64) < src.size {
                let len = (src.size - off as u64).min(chunk) as usize;
                let flags = (libc::SPLICE_F_MOVE | libc::SPLICE_F_MORE) as usize;
                let n = sys.call(Call::Splice, [fd as usize, &raw mut off as usize, pipe.w as usize, 0, len, flags])?;
                pipe.drain_to(sys, sock, n)?;
            }
            pipe.close(sys);
        }
        Mode::Vmsplice => {
            let map = Mapping::new(sys, fd, src.size)?;
            let pipe = Pipe::new(sys, chunk)?;
            let mut off = 0usize;
            while (off as u64) < src.size {
                let len = (src.size - off as u64).min(chunk) as usize;
                let iov = libc::iovec { iov_base: map.bytes()[off..].as_ptr() as *mut _, iov_len: len };
                let n = sys.call(Call::Vmsplice, [pipe.w as usize, &raw const iov as usize, 1, 0, 0, 0])?;
                pipe.drain_to(sys, sock, n)?;
                off += n;
            }
            pipe.close(sys);
            map.unmap(sys);
        }
        Mode::CopyFileRange => unreachable!("handled without a socket"),
    }
    Ok(())
}

fn copy_file_range(sys: &mut Sys, src: &Source, dst: RawFd, dst_start: u64, chunk: u64) {
    let (mut off_in, mut off_out): (libc::loff_t, libc::loff_t) = (0, dst_start as libc::loff_t);
    while (off_in as u64) < src.size {
        let len = (src.size - off_in as u64).min(chunk) as usize;
        let args =
            [src.file.as_raw_fd() as usize, &raw mut off_in as usize, dst as usize, &raw mut off_out as usize, len, 0];
        match sys.call(Call::CopyFileRange, args) {
            Ok(0) => fail(PROGRAM, "copy_file_range made no progress"),
            Ok(_) => {}
            Err(e) => fail(PROGRAM, format_args!("copy_file_range failed ({e})")),
        }
    }
}

/// Checksums of `copies` back-to-back copies of `size` bytes in `fd`, read with pread64.
fn checksums(sys: &mut Sys, fd: RawFd, size: u64, copies: u64) -> Vec<u64> {
    let mut buf = vec![0u8; 1 << 20];
    (0..copies)
        .map(|copy| {
            let mut sum = Checksum::default();
            let mut off = 0;
            while off < size {
                let len = (size - off).min(buf.len() as u64) as usize;
                match sys.pread(fd, &mut buf[..len], copy * size + off) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        sum.update(&buf[..n]);
                        off += n as u64;
                    }
                }
            }
            sum.finish()
        })
        .collect()
}

/// The receiver thread: accept, read(2) to EOF, checksum each copy of the file.
fn receive(listen_fd: RawFd, size: u64) -> (Sys, u64, Vec<u64>) {
    let mut sys = Sys::default();
    let fd = net::accept(&mut sys, listen_fd, false).unwrap_or_else(|e| fail(PROGRAM, format_args!("accept: {e}")));
    let mut buf = vec![0u8; RECV_BUF];
    let (mut total, mut in_copy) = (0u64, 0u64);
    let mut sums = Vec::new();
    let mut sum = Checksum::default();
    loop {
        let n = match sys.read(fd, &mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => fail(PROGRAM, format_args!("receiver read: {e}")),
        };
        total += n as u64;
        let mut data = &buf[..n];
        while !data.is_empty() {
            let take = ((size - in_copy) as usize).min(data.len());
            sum.update(&data[..take]);
            in_copy += take as u64;
            data = &data[take..];
            if in_copy == size {
                sums.push(std::mem::take(&mut sum).finish());
                in_copy = 0;
            }
        }
    }
    sys.close(fd);
    (sys, total, sums)
}

/// A read-only MAP_SHARED mapping of a whole file.
struct Mapping {
    addr: *mut u8,
    len: usize,
}

impl Mapping {
    fn new(sys: &mut Sys, fd: RawFd, len: u64) -> io::Result<Self> {
        let args = [0, len as usize, libc::PROT_READ as usize, libc::MAP_SHARED as usize, fd as usize, 0];
        let addr = sys.call(Call::Mmap, args)? as *mut u8;
        Ok(Self { addr, len: len as usize })
    }

    fn bytes(&self) -> &[u8] {
        // SAFETY: a live PROT_READ mapping of `len` bytes of a file nobody truncates.
        unsafe { std::slice::from_raw_parts(self.addr, self.len) }
    }

    fn unmap(self, sys: &mut Sys) {
        let _ = sys.call(Call::Munmap, [self.addr as usize, self.len, 0, 0, 0, 0]);
    }
}

/// A pipe whose capacity fits one chunk, for the splice paths.
struct Pipe {
    r: RawFd,
    w: RawFd,
}

impl Pipe {
    fn new(sys: &mut Sys, chunk: u64) -> io::Result<Self> {
        let mut fds = [0i32; 2];
        sys.call(Call::Pipe2, [fds.as_mut_ptr() as usize, libc::O_CLOEXEC as usize, 0, 0, 0, 0])?;
        if chunk > 64 << 10 {
            sys.call(Call::Fcntl, [fds[1] as usize, libc::F_SETPIPE_SZ as usize, chunk as usize, 0, 0, 0])?;
        }
        Ok(Self { r: fds[0], w: fds[1] })
    }

    /// Moves `n` bytes from the pipe to the socket.
    fn drain_to(&self, sys: &mut Sys, sock: RawFd, mut n: usize) -> io::Result<()> {
        while n > 0 {
            let flags = (libc::SPLICE_F_MOVE | libc::SPLICE_F_MORE) as usize;
            n -= sys.call(Call::Splice, [self.r as usize, 0, sock as usize, 0, n, flags])?;
        }
        Ok(())
    }

    fn close(self, sys: &mut Sys) {
        sys.close(self.r);
        sys.close(self.w);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksum_ignores_chunking_but_not_order() {
        let mut data = vec![0u8; 10_007];
        generated(5, &mut data);
        let mut whole = Checksum::default();
        whole.update(&data);
        for split in [1, 3, 7, 8, 9, 4096, 10_000] {
            let mut parts = Checksum::default();
            for piece in data.chunks(split) {
                parts.update(piece);
            }
            assert_eq!(parts.finish(), whole.finish(), "split {split}");
        }
        let mut swapped = data.clone();
        swapped.swap(0, 8);
        let mut other = Checksum::default();
        other.update(&swapped);
        assert_ne!(other.finish(), whole.finish());
        let mut shorter = Checksum::default();
        shorter.update(&data[..10_006]);
        assert_ne!(shorter.finish(), whole.finish());
    }
}
