//! Mappings made and unmapped through counted calls, without transparent huge pages (one
//! fault per 4 KiB page), and the loops that touch them one page at a time.
use std::{io, os::fd::RawFd};

use crate::sys::{Call, Sys};

pub const PAGE: usize = 4096;

pub struct Region {
    pub addr: *mut u8,
    pub pages: usize,
}

// SAFETY: a plain mapping; the threads that share it only read and write its bytes.
unsafe impl Send for Region {}
// SAFETY: as above; every access is a volatile load or store of one byte.
unsafe impl Sync for Region {}

impl Region {
    /// Private anonymous memory, nothing mapped yet, MADV_NOHUGEPAGE.
    pub fn anon(sys: &mut Sys, pages: usize) -> io::Result<Self> {
        Self::map(sys, pages, libc::PROT_READ | libc::PROT_WRITE, libc::MAP_PRIVATE | libc::MAP_ANONYMOUS, -1)
    }

    /// A mapping of file `fd` from offset 0.
    pub fn file(sys: &mut Sys, pages: usize, prot: i32, flags: i32, fd: RawFd) -> io::Result<Self> {
        Self::map(sys, pages, prot, flags, fd)
    }

    fn map(sys: &mut Sys, pages: usize, prot: i32, flags: i32, fd: RawFd) -> io::Result<Self> {
        let len = pages * PAGE;
        let addr = sys.call(Call::Mmap, [0, len, prot as usize, flags as usize, fd as usize, 0])? as *mut u8;
        sys.call(Call::Madvise, [addr as usize, len, libc::MADV_NOHUGEPAGE as usize, 0, 0, 0])?;
        Ok(Self { addr, pages })
    }

    pub fn len(&self) -> usize {
        self.pages * PAGE
    }

    pub fn madvise(&self, sys: &mut Sys, advice: i32) -> io::Result<()> {
        sys.call(Call::Madvise, [self.addr as usize, self.len(), advice as usize, 0, 0, 0]).map(drop)
    }

    pub fn protect(&self, sys: &mut Sys, prot: i32) -> io::Result<()> {
        sys.call(Call::Mprotect, [self.addr as usize, self.len(), prot as usize, 0, 0, 0]).map(drop)
    }

    /// Pages resident in the page cache or memory, by mincore(2).
    pub fn resident(&self, sys: &mut Sys) -> io::Result<usize> {
        let mut vec = vec![0u8; self.pages];
        sys.call(Call::Mincore, [self.addr as usize, self.len(), vec.as_mut_ptr() as usize, 0, 0, 0])?;
        Ok(vec.iter().filter(|&&b| b & 1 != 0).count())
    }

    pub fn unmap(self, sys: &mut Sys) {
        let _ = sys.call(Call::Munmap, [self.addr as usize, self.len(), 0, 0, 0, 0]);
    }
}

/// Writes `value` to the first byte of each of `pages` pages from `base`.
#[inline(never)]
pub fn write_pages(base: *mut u8, pages: usize, value: u8) {
    for i in 0..pages {
        // SAFETY: callers pass a live writable mapping of at least `pages` pages.
        unsafe { base.add(i * PAGE).write_volatile(value) };
    }
}

/// Reads the first byte of each page; returns their sum (so the loads happen).
#[inline(never)]
pub fn read_pages(base: *const u8, pages: usize) -> u64 {
    (0..pages)
        // SAFETY: callers pass a live readable mapping of at least `pages` pages.
        .map(|i| u64::from(unsafe { base.add(i * PAGE).read_volatile() }))
        .sum()
}
