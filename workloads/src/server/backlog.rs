//! Writing an echo to a non-blocking socket, and the output it did not take yet, for the
//! reactors that write with write(2) (the readiness modes and sigio): while output waits,
//! the connection is not read (backpressure).
use std::{io, os::fd::RawFd};

use crate::sys::Sys;

/// How a write loop ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wrote {
    All,
    /// The socket took no more (EAGAIN).
    Full,
    /// An error other than EAGAIN or EINTR: the connection is gone.
    Dead,
}

/// Writes `data` until all of it went, the socket is full, or the connection is dead;
/// returns the bytes written and how it ended.
pub fn write_nonblocking(sys: &mut Sys, fd: RawFd, data: &[u8]) -> (usize, Wrote) {
    let mut off = 0;
    while off < data.len() {
        match sys.write(fd, &data[off..]) {
            Ok(m) => off += m,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return (off, Wrote::Full),
            Err(_) => return (off, Wrote::Dead),
        }
    }
    (off, Wrote::All)
}

/// Output a connection still owes its peer.
#[derive(Default)]
pub struct Backlog {
    out: Vec<u8>,
    sent: usize,
}

impl Backlog {
    pub fn pending(&self) -> bool {
        self.sent < self.out.len()
    }

    /// Keeps what a write left over.
    pub fn keep(&mut self, rest: &[u8]) {
        self.out.clear();
        self.out.extend_from_slice(rest);
        self.sent = 0;
    }

    /// Writes what waits; returns the bytes written and how it ended.
    pub fn flush(&mut self, sys: &mut Sys, fd: RawFd) -> (usize, Wrote) {
        let (m, wrote) = write_nonblocking(sys, fd, &self.out[self.sent..]);
        self.sent += m;
        (m, wrote)
    }
}
