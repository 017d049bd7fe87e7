//! A read-only MAP_SHARED mapping of a whole file, made and unmapped through counted calls.
use std::{io, os::fd::RawFd};

use crate::sys::{Call, Sys};

pub struct Mapping {
    addr: *mut u8,
    len: usize,
}

impl Mapping {
    pub fn new(sys: &mut Sys, fd: RawFd, len: u64) -> io::Result<Self> {
        let args = [0, len as usize, libc::PROT_READ as usize, libc::MAP_SHARED as usize, fd as usize, 0];
        let addr = sys.call(Call::Mmap, args)? as *mut u8;
        Ok(Self { addr, len: len as usize })
    }

    pub fn bytes(&self) -> &[u8] {
        // SAFETY: a live PROT_READ mapping of `len` bytes of a file nobody truncates.
        unsafe { std::slice::from_raw_parts(self.addr, self.len) }
    }

    pub fn unmap(self, sys: &mut Sys) {
        let _ = sys.call(Call::Munmap, [self.addr as usize, self.len, 0, 0, 0, 0]);
    }
}
