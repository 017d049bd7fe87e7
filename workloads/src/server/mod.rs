//! `epoll-server`: a TCP echo server on 127.0.0.1 in the modes the I/O-model comparison
//! needs. With `--threads 1` one reactor owns the listening socket (as Redis does); with N
//! it is a single acceptor thread handing connections to N reactors (as memcached and
//! Netty do). `blocking` is thread-per-connection; `io-uring` is the proactor (requests
//! and completions through a ring per thread); `sigio` is signal-driven I/O.
mod args;
mod backlog;
mod blocking;
mod handoff;
mod limits;
mod poller;
mod reactor;
mod readiness;
mod sigio;
mod summary;
mod tally;
mod uring;

use std::time::Instant;

use clap::ValueEnum;

use self::{
    args::{Args, Mode, PROGRAM},
    summary::Run,
};
use crate::{fail, net, stop, sys::Sys};

pub fn main() {
    stop::block_signals();
    let args: Args = crate::args::parse(PROGRAM);
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
