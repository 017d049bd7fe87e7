//! `memlab`'s command line: its name, flags, and its one-line failure.
use std::{path::PathBuf, time::Duration};

use clap::{Parser, ValueEnum};

use crate::args;

pub const PROGRAM: &str = "memlab";

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

/// shootdown's change to the region.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Op {
    Mprotect,
    Munmap,
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

/// Exits with one line on stderr.
pub fn fail(message: impl std::fmt::Display) -> ! {
    crate::fail(PROGRAM, message)
}
