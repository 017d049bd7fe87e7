//! `--mode io-uring`: read+write, but as io_uring requests: per chunk a READ from the file
//! linked (IOSQE_IO_LINK) to a SEND of the same buffer to the socket, both submitted by
//! one io_uring_enter that waits for their two completions.
use std::{io, os::fd::RawFd};

use io_uring::{opcode, squeue::Flags, types::Fd};
use serde_json::{Map, Value};

use super::args::PROGRAM;
use crate::{
    fail,
    sys::Sys,
    uring::{Cqe, Feature, Ring, Stats, refusal},
};

pub struct UringSender {
    ring: Ring,
    buf: Vec<u8>,
    cqes: Vec<Cqe>,
}

impl UringSender {
    /// A ring of 8 entries; refuses a kernel without READ or SEND.
    pub fn new(sys: &mut Sys, chunk: u64) -> Self {
        let ring = Ring::new(sys, 8, None)
            .unwrap_or_else(|e| fail(PROGRAM, format_args!("this kernel refused an io_uring: io_uring_setup: {e}")));
        let kernel =
            ring.kernel(sys).unwrap_or_else(|e| fail(PROGRAM, format_args!("IORING_REGISTER_PROBE failed: {e}")));
        let needs = [
            (Feature::Op(opcode::Read::CODE), "--mode io-uring"),
            (Feature::Op(opcode::Send::CODE), "--mode io-uring"),
        ];
        if let Some(line) = refusal(&needs, &kernel) {
            fail(PROGRAM, line);
        }
        Self { ring, buf: vec![0; chunk as usize], cqes: Vec::new() }
    }

    /// Sends the file of `size` bytes from `file` to `sock`.
    pub fn send_copy(&mut self, sys: &mut Sys, file: RawFd, size: u64, sock: RawFd) -> io::Result<()> {
        let mut off = 0u64;
        while off < size {
            let len = (size - off).min(self.buf.len() as u64) as u32;
            let ptr = self.buf.as_mut_ptr();
            let read = opcode::Read::new(Fd(file), ptr, len).offset(off).build().flags(Flags::IO_LINK);
            let send = opcode::Send::new(Fd(sock), ptr, len).flags(libc::MSG_NOSIGNAL).build();
            // SAFETY: `buf` outlives both requests: this waits for their completions.
            unsafe {
                self.ring.push(sys, 0, read)?;
                self.ring.push(sys, 1, send)?;
            }
            let (mut read_res, mut sent) = (None, None);
            while read_res.is_none() || sent.is_none() {
                self.ring.submit_and_wait(sys, 2 - u32::from(read_res.is_some()) - u32::from(sent.is_some()))?;
                self.ring.reap(&mut self.cqes);
                for c in &self.cqes {
                    if c.token == 0 { read_res = Some(c.res) } else { sent = Some(c.res) }
                }
            }
            match (read_res, sent) {
                (Some(r), _) if r != len as i32 => {
                    return Err(io::Error::other(format!("READ returned {r} of {len} bytes")));
                }
                (_, Some(s)) if s < 0 => return Err(io::Error::from_raw_os_error(-s)),
                (_, Some(s)) => self.send_rest(sys, sock, s as usize, len as usize)?,
                _ => unreachable!("both completions came"),
            }
            off += u64::from(len);
        }
        Ok(())
    }

    /// A partial SEND: the rest of the buffer, one SEND at a time.
    fn send_rest(&mut self, sys: &mut Sys, sock: RawFd, mut done: usize, len: usize) -> io::Result<()> {
        while done < len {
            let send = opcode::Send::new(Fd(sock), self.buf[done..].as_ptr(), (len - done) as u32)
                .flags(libc::MSG_NOSIGNAL)
                .build();
            // SAFETY: as above.
            unsafe { self.ring.push(sys, 1, send)? };
            self.ring.submit_and_wait(sys, 1)?;
            self.ring.reap(&mut self.cqes);
            let res = self.cqes.first().map_or(0, |c| c.res);
            if res <= 0 {
                return Err(io::Error::from_raw_os_error(-res));
            }
            done += res as usize;
        }
        Ok(())
    }

    /// Closes the ring; returns `io_uring: {sqes, cqes, enter}`.
    pub fn close(self, sys: &mut Sys) -> Value {
        let stats: Stats = self.ring.close(sys);
        let mut m: Map<String, Value> = stats.to_json();
        m.insert("rings".into(), 1.into());
        Value::Object(m)
    }
}
