//! The receiver thread: accept, read(2) to EOF, checksum each copy of the file.
use std::{io, os::fd::RawFd};

use super::{args::PROGRAM, checksum::Checksum};
use crate::{fail, net, sys::Sys};

const RECV_BUF: usize = 64 << 10;

/// Returns its syscalls, the bytes it got, and the checksum of each whole copy.
pub fn receive(listen_fd: RawFd, size: u64) -> (Sys, u64, Vec<u64>) {
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
