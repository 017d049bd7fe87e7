//! `zerocopy`'s command line.
use std::path::PathBuf;

use clap::{Parser, ValueEnum};

use crate::args;

pub const PROGRAM: &str = "zerocopy";

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Mode {
    ReadWrite,
    MmapWrite,
    Sendfile,
    Splice,
    Vmsplice,
    CopyFileRange,
    /// Linux native AIO reads (O_DIRECT), then write(2) to the socket.
    AioRead,
    /// io_uring READ linked to SEND.
    IoUring,
}

/// Sends a file over loopback TCP (or copies it, for copy-file-range) and checks every byte.
#[derive(Debug, Parser)]
#[command(name = PROGRAM, version)]
pub struct Args {
    #[arg(long, value_enum, default_value_t = Mode::ReadWrite)]
    pub mode: Mode,
    /// File to send (default: a temporary file of --size bytes, removed afterwards).
    #[arg(long, conflicts_with = "size")]
    pub file: Option<PathBuf>,
    /// Size of the temporary file (e.g. 16M).
    #[arg(long, value_parser = args::size)]
    pub size: Option<u64>,
    /// Bytes per call on the sending side.
    #[arg(long, default_value = "64k", value_parser = args::size)]
    pub chunk: u64,
    /// Send the file this many times.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub repeat: u64,
    /// Directory for temporary files.
    #[arg(long, default_value_os_t = std::env::temp_dir())]
    pub dir: PathBuf,
    /// Drop the file's pages from the page cache before each copy (a cold read from disk).
    #[arg(long)]
    pub cold: bool,
    /// With --file: skip reading the file again to checksum it (the transfer alone, as a
    /// tracer comparing paths wants it); the copies are still checked against each other.
    #[arg(long, requires = "file")]
    pub no_verify: bool,
    /// aio-read: reads in flight (and iocbs per io_submit at most).
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u64).range(1..=64))]
    pub depth: u64,
}
