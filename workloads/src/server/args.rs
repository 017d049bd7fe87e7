//! `epoll-server`'s command line.
use std::time::Duration;

use clap::{Parser, ValueEnum};

use crate::args;

pub const PROGRAM: &str = "epoll-server";

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Mode {
    /// epoll, level-triggered: one read per readiness; unread data is reported again.
    EpollLt,
    /// epoll, edge-triggered: every readiness is drained until EAGAIN.
    EpollEt,
    /// poll(2) over every fd on every call.
    Poll,
    /// select(2); refuses connections whose fd is >= FD_SETSIZE.
    Select,
    /// A blocking thread per connection.
    Blocking,
    /// io_uring: ACCEPT, RECV and SEND requests, completions reaped from the CQ.
    IoUring,
    /// Signal-driven I/O: O_ASYNC sockets raise a real-time signal, taken by sigwaitinfo.
    Sigio,
}

/// TCP echo server on 127.0.0.1. Prints `listening on 127.0.0.1:PORT ...` first, and a JSON
/// summary of what it did when it stops (--duration, SIGINT or SIGTERM).
#[derive(Debug, Parser)]
#[command(name = PROGRAM, version)]
pub struct Args {
    /// Port to listen on (0: any free port, printed on the first line).
    #[arg(long, default_value_t = 0)]
    pub port: u16,
    #[arg(long, value_enum, default_value_t = Mode::EpollLt)]
    pub mode: Mode,
    /// Reactor threads (1: single reactor; N: one acceptor and N reactors). Not for blocking.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=64))]
    pub threads: u32,
    /// Stop after this long (default: run until SIGINT/SIGTERM).
    #[arg(long, value_parser = args::duration)]
    pub duration: Option<Duration>,
    /// io-uring: a kernel thread polls the submission queue (IORING_SETUP_SQPOLL), and
    /// sleeps after IDLE_MS without work (default 10).
    #[arg(long, value_name = "IDLE_MS", num_args = 0..=1, require_equals = true, default_missing_value = "10")]
    pub sqpoll: Option<u32>,
    /// io-uring: multishot RECV into a provided-buffer ring (Linux 6.0).
    #[arg(long)]
    pub multishot: bool,
    /// io-uring: zero-copy SEND_ZC, reporting whether the kernel copied after all (Linux 6.2).
    #[arg(long)]
    pub send_zc: bool,
}
