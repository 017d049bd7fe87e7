//! `zero-page`: N untouched private anonymous pages read (each read fault maps the one
//! shared zero page), then written (each write fault replaces the zero page with a page of
//! its own).
use serde_json::Value;

use super::{
    args::fail,
    pagemap::{Pagemap, distinct},
    phase::{Phase, warm_up},
    region::{Region, read_pages, write_pages},
    report::Report,
};
use crate::sys::Sys;

pub fn run(sys: &mut Sys, pages: usize, scratch: &Region) -> Report {
    let r = Region::anon(sys, pages).unwrap_or_else(|e| fail(format_args!("mmap of {pages} pages: {e}")));
    let pagemap = Pagemap::open(sys);
    let mut frames = vec![0u64; pages];
    warm_up(scratch.addr);
    let mut sum = 0;
    let read = Phase::measure(sys, "read", |_| sum = read_pages(r.addr, pages));
    let after_read = pagemap.as_ref().is_some_and(|p| p.frames(sys, &r, &mut frames)).then(|| distinct(&frames));
    warm_up(scratch.addr);
    let write = Phase::measure(sys, "write", |_| write_pages(r.addr, pages, 1));
    let after_write = pagemap.as_ref().is_some_and(|p| p.frames(sys, &r, &mut frames)).then(|| distinct(&frames));
    if let Some(p) = pagemap {
        p.close(sys);
    }
    r.unmap(sys);
    Report {
        phases: vec![
            read.fact("read_zeroes", sum == 0).fact("distinct_frames", after_read),
            write.fact("distinct_frames", after_write),
        ],
        extra: vec![("frames_visible", Value::from(after_read.is_some()))],
    }
}
