//! `--mode aio-read`: Linux native AIO reads the file (O_DIRECT, page-aligned buffers,
//! io_setup / io_submit / io_getevents as raw syscalls), up to `--depth` reads in flight,
//! and each chunk is written to the socket in order as its read completes.
use std::{ffi::CString, io, os::fd::RawFd, os::unix::ffi::OsStrExt, path::Path};

use serde_json::{Value, json};

use super::args::PROGRAM;
use crate::{
    fail,
    sys::{Call, Sys},
};

/// O_DIRECT wants offsets, lengths and buffers aligned to the logical block size; a page
/// is a multiple of every block size Linux supports here.
pub const ALIGN: u64 = 4096;

/// `struct iocb` of linux/aio_abi.h (x86-64, little-endian).
#[repr(C)]
#[derive(Default)]
struct Iocb {
    data: u64,
    key: u32,
    rw_flags: i32,
    opcode: u16,
    reqprio: i16,
    fildes: u32,
    buf: u64,
    nbytes: u64,
    offset: i64,
    reserved2: u64,
    flags: u32,
    resfd: u32,
}

/// `struct io_event`.
#[repr(C)]
#[derive(Clone, Copy, Default)]
struct IoEvent {
    data: u64,
    obj: u64,
    res: i64,
    res2: i64,
}

const IOCB_CMD_PREAD: u16 = 0;

/// What the completions said, beside the syscall counts.
#[derive(Clone, Copy, Debug, Default)]
struct Completions {
    events: u64,
    bytes: u64,
    min_bytes: Option<u64>,
    max_bytes: u64,
    /// Largest number of iocbs one io_submit took.
    max_batch: u64,
}

pub struct Aio {
    ctx: u64,
    fd: RawFd,
    depth: usize,
    chunk: usize,
    bufs: *mut u8,
    done: Completions,
}

impl Aio {
    /// Opens `path` with O_DIRECT and sets up a context for `depth` reads of `chunk` bytes.
    pub fn new(sys: &mut Sys, path: &Path, depth: usize, chunk: u64) -> Self {
        if !chunk.is_multiple_of(ALIGN) {
            fail(PROGRAM, format_args!("--chunk must be a multiple of {ALIGN} for aio-read (O_DIRECT)"));
        }
        let name = CString::new(path.as_os_str().as_bytes()).expect("a path without NUL");
        let flags = (libc::O_RDONLY | libc::O_DIRECT | libc::O_CLOEXEC) as usize;
        let fd = sys
            .call(Call::Openat, [libc::AT_FDCWD as usize, name.as_ptr() as usize, flags, 0, 0, 0])
            .unwrap_or_else(|e| {
                fail(
                    PROGRAM,
                    format_args!(
                        "cannot open {} with O_DIRECT ({e}): put --dir or --file on a filesystem that has it",
                        path.display()
                    ),
                )
            }) as RawFd;
        let mut ctx = 0u64;
        if let Err(e) = sys.call(Call::IoSetup, [depth, &raw mut ctx as usize, 0, 0, 0, 0]) {
            fail(
                PROGRAM,
                format_args!(
                    "io_setup failed ({e}): this kernel has no native AIO (CONFIG_AIO) or aio-max-nr is reached"
                ),
            );
        }
        let len = depth * chunk as usize;
        let prot = (libc::PROT_READ | libc::PROT_WRITE) as usize;
        let map = (libc::MAP_PRIVATE | libc::MAP_ANONYMOUS) as usize;
        let bufs = sys
            .call(Call::Mmap, [0, len, prot, map, usize::MAX, 0])
            .unwrap_or_else(|e| fail(PROGRAM, format_args!("mmap: {e}"))) as *mut u8;
        Self { ctx, fd, depth, chunk: chunk as usize, bufs, done: Completions::default() }
    }

    fn buf(&self, chunk_index: u64) -> *mut u8 {
        // SAFETY: slot < depth, within the mapping.
        unsafe { self.bufs.add((chunk_index as usize % self.depth) * self.chunk) }
    }

    /// Reads the file of `size` bytes and writes it to `sock`, chunk by chunk, in order.
    pub fn send_copy(&mut self, sys: &mut Sys, size: u64, sock: RawFd) -> io::Result<()> {
        let chunks = size.div_ceil(self.chunk as u64);
        let depth = self.depth as u64;
        let mut results: Vec<Option<i64>> = vec![None; self.depth];
        let (mut submitted, mut sent) = (0u64, 0u64);
        let mut events = vec![IoEvent::default(); self.depth];
        while sent < chunks {
            let end = chunks.min(sent + depth);
            if submitted < end {
                submitted += self.submit(sys, submitted, end)?;
            }
            while results[(sent % depth) as usize].is_none() {
                let args = [self.ctx as usize, 1, self.depth, events.as_mut_ptr() as usize, 0, 0];
                let n = match sys.call(Call::IoGetevents, args) {
                    Ok(n) => n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => 0,
                    Err(e) => return Err(e),
                };
                for ev in &events[..n] {
                    results[(ev.data % depth) as usize] = Some(ev.res);
                    self.completed(ev.res);
                }
            }
            while let Some(res) = results[(sent % depth) as usize].take() {
                let want = (size - sent * self.chunk as u64).min(self.chunk as u64);
                if res < 0 {
                    return Err(io::Error::from_raw_os_error(-res as i32));
                }
                if res as u64 != want {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        format!("an O_DIRECT read returned {res} of {want} bytes"),
                    ));
                }
                // SAFETY: the kernel wrote `res` bytes there, and no read is in flight to it.
                let data = unsafe { std::slice::from_raw_parts(self.buf(sent), res as usize) };
                sys.write_all(sock, data)?;
                sent += 1;
                if sent == chunks {
                    break;
                }
            }
        }
        Ok(())
    }

    /// One io_submit of reads for chunks `from..to`; returns how many the kernel took.
    fn submit(&mut self, sys: &mut Sys, from: u64, to: u64) -> io::Result<u64> {
        let iocbs: Vec<Iocb> = (from..to)
            .map(|k| Iocb {
                data: k,
                opcode: IOCB_CMD_PREAD,
                fildes: self.fd as u32,
                buf: self.buf(k) as u64,
                nbytes: self.chunk as u64,
                offset: (k * self.chunk as u64) as i64,
                ..Iocb::default()
            })
            .collect();
        let ptrs: Vec<*const Iocb> = iocbs.iter().map(|i| i as *const Iocb).collect();
        let n = sys.call(Call::IoSubmit, [self.ctx as usize, ptrs.len(), ptrs.as_ptr() as usize, 0, 0, 0])? as u64;
        self.done.max_batch = self.done.max_batch.max(n);
        Ok(n)
    }

    fn completed(&mut self, res: i64) {
        let d = &mut self.done;
        d.events += 1;
        if res >= 0 {
            d.bytes += res as u64;
            d.min_bytes = Some(d.min_bytes.map_or(res as u64, |m| m.min(res as u64)));
            d.max_bytes = d.max_bytes.max(res as u64);
        }
    }

    /// io_destroy, close, munmap.
    pub fn close(self, sys: &mut Sys) {
        let _ = sys.call(Call::IoDestroy, [self.ctx as usize, 0, 0, 0, 0, 0]);
        sys.close(self.fd);
        let _ = sys.call(Call::Munmap, [self.bufs as usize, self.depth * self.chunk, 0, 0, 0, 0]);
    }

    /// `aio: {depth, events, event_bytes, min_event_bytes, max_event_bytes, max_batch}`.
    pub fn to_json(&self) -> Value {
        let d = &self.done;
        json!({
            "depth": self.depth, "events": d.events, "event_bytes": d.bytes,
            "min_event_bytes": d.min_bytes, "max_event_bytes": d.max_bytes, "max_batch": d.max_batch,
        })
    }
}
