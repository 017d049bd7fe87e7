//! Which physical page backs each virtual page, from /proc/self/pagemap: the oracle that
//! tells a copy (a new frame) from a reuse (the same frame) and the shared zero page
//! (one frame behind many pages). Frame numbers need CAP_SYS_ADMIN; without it the kernel
//! reports 0 and every answer here is None.
use std::{ffi::CString, os::fd::RawFd};

use super::region::{PAGE, Region};
use crate::sys::{Call, Sys};

pub struct Pagemap {
    fd: RawFd,
}

impl Pagemap {
    pub fn open(sys: &mut Sys) -> Option<Self> {
        let path = CString::new("/proc/self/pagemap").expect("no NUL");
        let flags = (libc::O_RDONLY | libc::O_CLOEXEC) as usize;
        let fd = sys.call(Call::Openat, [libc::AT_FDCWD as usize, path.as_ptr() as usize, flags, 0, 0, 0]).ok()?;
        Some(Self { fd: fd as RawFd })
    }

    /// Fills `out` (one entry per page of `r`) with frame numbers (0: not present).
    /// Returns false when frames are hidden (no CAP_SYS_ADMIN) or the read failed.
    pub fn frames(&self, sys: &mut Sys, r: &Region, out: &mut [u64]) -> bool {
        let offset = (r.addr as usize / PAGE * 8) as u64;
        let bytes = out.len() * 8;
        let ok = sys.pread(self.fd, bytemuck(out), offset).is_ok_and(|n| n == bytes);
        for e in out.iter_mut() {
            *e = if *e >> 63 == 1 { *e & ((1 << 55) - 1) } else { 0 };
        }
        ok && out.iter().any(|&f| f != 0)
    }

    pub fn close(self, sys: &mut Sys) {
        sys.close(self.fd);
    }
}

fn bytemuck(words: &mut [u64]) -> &mut [u8] {
    // SAFETY: u64s are plain bytes; the length covers exactly the same memory.
    unsafe { std::slice::from_raw_parts_mut(words.as_mut_ptr().cast(), words.len() * 8) }
}

/// How many entries of `a` and `b` hold the same frame (both present).
pub fn same(a: &[u64], b: &[u64]) -> usize {
    a.iter().zip(b).filter(|(x, y)| **x != 0 && x == y).count()
}

/// Distinct frames among present entries.
pub fn distinct(a: &[u64]) -> usize {
    let mut v: Vec<u64> = a.iter().copied().filter(|&f| f != 0).collect();
    v.sort_unstable();
    v.dedup();
    v.len()
}
