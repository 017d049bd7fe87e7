//! `major`: an N-page file written, fsync'd and evicted from the page cache
//! (posix_fadvise DONTNEED; mincore confirms none of it is left), then read through a
//! mapping with readahead off (MADV_RANDOM): each page's first read is a major fault that
//! reads it from disk.
use std::{os::fd::AsRawFd, path::Path};

use serde_json::Value;

use super::{
    args::fail,
    file::filled,
    phase::{Phase, warm_up},
    region::{Region, read_pages},
    report::Report,
};
use crate::sys::{Call, Sys};

pub fn run(sys: &mut Sys, pages: usize, scratch: &Region, dir: &Path) -> Report {
    let file = filled(sys, dir, "major", pages, 5);
    let fd = file.as_raw_fd();
    let _ = sys.call(Call::Fsync, [fd as usize, 0, 0, 0, 0, 0]);
    let _ = sys.call(Call::Fadvise64, [fd as usize, 0, 0, libc::POSIX_FADV_DONTNEED as usize, 0, 0]);
    let r = Region::file(sys, pages, libc::PROT_READ, libc::MAP_SHARED, fd)
        .unwrap_or_else(|e| fail(format_args!("mmap: {e}")));
    let cached_before = r.resident(sys).unwrap_or_else(|e| fail(format_args!("mincore: {e}")));
    if cached_before > 0 {
        fail(format_args!(
            "{cached_before} of {pages} pages stayed in the page cache after POSIX_FADV_DONTNEED: is {} on a filesystem that keeps them (tmpfs)? pick another --dir",
            dir.display()
        ));
    }
    r.madvise(sys, libc::MADV_RANDOM).unwrap_or_else(|e| fail(format_args!("madvise: {e}")));
    warm_up(scratch.addr);
    let mut sum = 0;
    let read = Phase::measure(sys, "read", |_| sum = read_pages(r.addr, pages));
    let cached_after = r.resident(sys).unwrap_or_else(|e| fail(format_args!("mincore: {e}")));
    r.unmap(sys);
    Report {
        phases: vec![read.fact("bytes_ok", sum == 5 * pages as u64)],
        extra: vec![("cached_before", Value::from(cached_before)), ("cached_after", Value::from(cached_after))],
    }
}
