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
mod file;
mod file_cow;
mod fork_cow;
mod interrupts;
mod major;
mod pagemap;
mod phase;
mod region;
mod shootdown;
mod zero_page;

use std::{path::PathBuf, time::Duration, time::Instant};

use clap::{Parser, ValueEnum};
use serde_json::{Value, json};

pub use self::phase::RUNTIME_PAGES;
use self::{
    phase::Phase,
    region::Region,
    shootdown::{Op, Plan},
};
use crate::{args, sys::Sys};

const PROGRAM: &str = "memlab";

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Mode {
    /// Copy-on-write after fork: the child copies, the parent then reuses.
    ForkCow,
    /// Copy-on-write of a MAP_PRIVATE file mapping.
    FileCow,
    /// Reads map the shared zero page; writes replace it.
    ZeroPage,
    /// mprotect/munmap in a multithreaded process: remote TLB flushes.
    Shootdown,
    /// Major faults: a mapping read after its file left the page cache.
    Major,
}

/// Makes one memory mechanism happen a known number of times; prints one JSON line.
#[derive(Debug, Parser)]
#[command(name = PROGRAM, version)]
pub struct Args {
    #[arg(long, value_enum)]
    pub mode: Mode,
    /// Pages (4 KiB) of the region (default 1024; 16 for shootdown).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=262_144))]
    pub pages: Option<u64>,
    /// shootdown: changes to make.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub repeat: u64,
    /// shootdown: threads, each pinned to its own CPU (default: 2, or 1 on one CPU).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=1024))]
    pub threads: Option<u64>,
    /// shootdown: the change.
    #[arg(long, value_enum, default_value_t = Op::Mprotect)]
    pub op: Op,
    /// shootdown: stop changing after this long even if --repeat is not reached.
    #[arg(long, default_value = "5s", value_parser = args::duration)]
    pub duration: Duration,
    /// file-cow: write without reading first (each write meets an unmapped page).
    #[arg(long)]
    pub no_read: bool,
    /// file-cow, major: directory of the temporary file (not tmpfs for major).
    #[arg(long, default_value_os_t = std::env::temp_dir())]
    pub dir: PathBuf,
}

/// What a mode hands back: its phases and its own keys.
pub struct Report {
    pub phases: Vec<Phase>,
    pub extra: Vec<(&'static str, Value)>,
}

/// Exits with one line on stderr.
pub fn fail(message: impl std::fmt::Display) -> ! {
    crate::fail(PROGRAM, message)
}

pub fn main() {
    let a: Args = args::parse(PROGRAM);
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
    let mut summary = json!({
        "program": PROGRAM,
        "mode": mode,
        "pages": pages,
        "page_size": region::PAGE,
        "runtime_pages": RUNTIME_PAGES,
        "phases": report.phases.iter().map(Phase::to_json).collect::<Vec<_>>(),
    });
    for (key, value) in report.extra {
        summary[key] = value;
    }
    summary["duration_ns"] = json!(started.elapsed().as_nanos() as u64);
    summary["syscalls"] = sys.to_json();
    crate::sys::print_summary(&mut sys, &summary);
}
