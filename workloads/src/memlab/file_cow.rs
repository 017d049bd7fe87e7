//! `file-cow`: a MAP_PRIVATE mapping of an N-page file, read first (so every page-cache
//! page is mapped read-only), then written page by page: each write is a copy-on-write
//! fault that copies a present page-cache page into a private page. With `--no-read` the
//! writes meet unmapped pages instead, and each fault copies the page-cache page it looks
//! up. The file itself never changes.
use std::{os::fd::AsRawFd, path::Path};

use serde_json::Value;

use super::{
    args::fail,
    file::filled,
    pagemap::{Pagemap, same},
    phase::{Phase, warm_up},
    region::{PAGE, Region, read_pages, write_pages},
    report::Report,
};
use crate::sys::Sys;

pub fn run(sys: &mut Sys, pages: usize, scratch: &Region, dir: &Path, read_first: bool) -> Report {
    let file = filled(sys, dir, "cow", pages, 7);
    let fd = file.as_raw_fd();
    let prot = libc::PROT_READ | libc::PROT_WRITE;
    let r = Region::file(sys, pages, prot, libc::MAP_PRIVATE, fd).unwrap_or_else(|e| fail(format_args!("mmap: {e}")));
    let pagemap = Pagemap::open(sys);
    let (mut cache, mut private) = (vec![0u64; pages], vec![0u64; pages]);
    let mut phases = Vec::new();
    if read_first {
        warm_up(scratch.addr);
        let mut sum = 0;
        let read = Phase::measure(sys, "read", |_| sum = read_pages(r.addr, pages));
        phases.push(read.fact("bytes_ok", sum == 7 * pages as u64));
    }
    let frames = read_first && pagemap.as_ref().is_some_and(|p| p.frames(sys, &r, &mut cache));
    warm_up(scratch.addr);
    let write = Phase::measure(sys, "write", |_| write_pages(r.addr, pages, 9));
    let copied = (frames && pagemap.as_ref().is_some_and(|p| p.frames(sys, &r, &mut private)))
        .then(|| pages - same(&cache, &private));
    phases.push(write.fact("copied", copied));
    let mut check = vec![0u8; PAGE];
    let unchanged = sys.pread(fd, &mut check, 0).is_ok() && check.iter().all(|&b| b == 7);
    if let Some(p) = pagemap {
        p.close(sys);
    }
    r.unmap(sys);
    let cow_of = if read_first { "present page-cache pages" } else { "page-cache pages not yet mapped" };
    Report { phases, extra: vec![("cow_of", Value::from(cow_of)), ("file_unchanged", Value::from(unchanged))] }
}
