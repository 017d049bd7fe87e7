//! `epoll-server`: a TCP echo server on 127.0.0.1 in the modes the I/O-model comparison
//! needs. With `--threads 1` one reactor owns the listening socket (as Redis does); with N
//! it is a single acceptor thread handing connections to N reactors (as memcached and
//! Netty do). `blocking` is thread-per-connection; `io-uring` is the proactor (requests
//! and completions through a ring per thread); `sigio` is signal-driven I/O.
mod backlog;
mod blocking;
mod handoff;
mod poller;
mod reactor;
mod readiness;
mod sigio;
mod summary;
mod tally;
mod uring;

use std::time::{Duration, Instant};

use clap::{Parser, ValueEnum};

use self::summary::Run;
use crate::{args, fail, net, stop, sys::Sys};

const PROGRAM: &str = "epoll-server";
const BUF: usize = 64 << 10;
const MAX_EVENTS: usize = 256;

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

pub fn main() {
    stop::block_signals();
    let args: Args = args::parse(PROGRAM);
    if args.mode == Mode::Blocking && args.threads > 1 {
        fail(PROGRAM, "--threads is for the reactor modes; blocking mode uses one thread per connection");
    }
    if args.mode != Mode::IoUring && (args.sqpoll.is_some() || args.multishot || args.send_zc) {
        fail(PROGRAM, "--sqpoll, --multishot and --send-zc are for --mode io-uring");
    }
    let started = Instant::now();
    let mut sys = Sys::default();
    // Before listening: a kernel without what the mode needs is refused up front.
    let rings = (args.mode == Mode::IoUring).then(|| uring::Rings::new(&args, &mut sys));
    if args.mode == Mode::Sigio {
        sigio::block_signals();
    }
    let nonblocking = match args.mode {
        Mode::IoUring => false,
        Mode::Sigio => args.threads == 1,
        _ => readiness::nonblocking_listen(&args),
    };
    let (listen_fd, port) = net::listen(&mut sys, args.port, nonblocking).unwrap_or_else(|e| {
        fail(PROGRAM, format_args!("cannot listen on 127.0.0.1:{} ({e}): is the port in use? try --port 0", args.port))
    });
    let mode = args.mode.to_possible_value().unwrap().get_name().to_owned();
    let _ = sys.print_line(&format!("listening on 127.0.0.1:{port} mode={mode} threads={}", args.threads));
    let (ended, tally, extra) = match (args.mode, rings) {
        (Mode::IoUring, Some(rings)) => rings.serve(&args, &mut sys, listen_fd),
        (Mode::Sigio, _) => sigio::serve(&args, &mut sys, listen_fd),
        _ => {
            let (ended, tally) = readiness::serve(&args, &mut sys, listen_fd);
            (ended, tally, serde_json::Map::new())
        }
    };
    sys.close(listen_fd);
    let run = Run { mode: &mode, threads: args.threads, port, ended, started };
    summary::print(&run, sys, &tally, extra);
}
