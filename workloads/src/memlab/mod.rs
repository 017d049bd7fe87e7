//! `memlab`: makes one memory-management mechanism happen a known number of times, and
//! prints one JSON line of what it did, with the process's own getrusage fault deltas per
//! phase (the oracle a tracer's fault and TLB figures are held against):
//!
//! | mode | what happens | predicted per phase |
//! |---|---|---|
//! | fork-cow | N anon pages written, fork; the child writes them; then the parent | touch N minflt; child_write N (copies); parent_write N (reuses) |
//! | file-cow | MAP_PRIVATE file mapping read, then written | read <= N (fault-around maps neighbours); write N (copies) |
//! | zero-page | N untouched anon pages read, then written | read N (the zero page); write N |
//! | shootdown | T pinned threads; one mprotect()s or munmap()s R times | changes R; TLB IPIs on the readers' CPUs (see shootdown.rs for the bound) |
//! | major | a file evicted from the page cache, read through a mapping | read N majflt |
//!
//! No network; bounded by `--pages` (at most 1 GiB), `--repeat` and `--duration`.
mod args;
mod file;
mod file_cow;
mod fork_cow;
mod interrupts;
mod major;
mod pagemap;
mod phase;
mod region;
mod report;
mod shootdown;
mod zero_page;

use std::time::Instant;

use clap::ValueEnum;

use self::{
    args::{Args, Mode, PROGRAM, fail},
    region::Region,
    shootdown::Plan,
};
use crate::sys::Sys;

pub fn main() {
    let a: Args = crate::args::parse(PROGRAM);
    if a.no_read && a.mode != Mode::FileCow {
        fail("--no-read is for --mode file-cow");
    }
    let started = Instant::now();
    let mut sys = Sys::default();
    let default_pages = if a.mode == Mode::Shootdown { 16 } else { 1024 };
    let pages = a.pages.unwrap_or(default_pages) as usize;
    // The page the warm-up runs the loops on (see phase.rs), its own fault outside phases.
    let scratch = Region::anon(&mut sys, 1).unwrap_or_else(|e| fail(format_args!("mmap: {e}")));
    let report = match a.mode {
        Mode::ForkCow => fork_cow::run(&mut sys, pages, &scratch),
        Mode::FileCow => file_cow::run(&mut sys, pages, &scratch, &a.dir, !a.no_read),
        Mode::ZeroPage => zero_page::run(&mut sys, pages, &scratch),
        Mode::Major => major::run(&mut sys, pages, &scratch, &a.dir),
        Mode::Shootdown => {
            let threads = a.threads.map(|t| t as usize);
            let plan = Plan { pages, threads, changes: a.repeat, op: a.op, limit: a.duration };
            shootdown::run(&mut sys, &plan, &scratch)
        }
    };
    scratch.unmap(&mut sys);
    let mode = a.mode.to_possible_value().expect("a named mode").get_name().to_owned();
    report.print(&mut sys, &mode, pages, started);
}
