//! `epoll-server`: a TCP echo server on 127.0.0.1 in the modes the select/poll/epoll
//! comparison needs. With `--threads 1` one reactor owns the listening socket (as Redis
//! does); with N it is a single acceptor thread handing connections to N reactors through
//! a queue and an eventfd (as memcached and Netty do). `blocking` is thread-per-connection.
mod blocking;
mod handoff;
mod poller;
mod reactor;
mod summary;
mod tally;

use std::{
    collections::HashSet,
    sync::{Arc, Mutex},
    thread,
    time::{Duration, Instant},
};

use clap::{Parser, ValueEnum};

use self::{
    handoff::Inbox,
    reactor::Reactor,
    summary::Run,
    tally::{Done, Tally},
};
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
}

pub fn main() {
    stop::block_signals();
    let args: Args = args::parse(PROGRAM);
    if args.mode == Mode::Blocking && args.threads > 1 {
        fail(PROGRAM, "--threads is for the reactor modes; blocking mode uses one thread per connection");
    }
    let started = Instant::now();
    let mut sys = Sys::default();
    let single_reactor = args.mode != Mode::Blocking && args.threads == 1;
    let (listen_fd, port) = net::listen(&mut sys, args.port, single_reactor).unwrap_or_else(|e| {
        fail(PROGRAM, format_args!("cannot listen on 127.0.0.1:{} ({e}): is the port in use? try --port 0", args.port))
    });
    let stop_fd = sys.eventfd().unwrap_or_else(|e| fail(PROGRAM, format_args!("eventfd: {e}")));
    let mode_name = args.mode.to_possible_value().unwrap().get_name().to_owned();
    let _ = sys.print_line(&format!("listening on 127.0.0.1:{port} mode={mode_name} threads={}", args.threads));

    let live = Arc::new(Mutex::new(HashSet::new()));
    let workers: Vec<thread::JoinHandle<Done>> = if args.mode == Mode::Blocking {
        let live = live.clone();
        vec![thread::spawn(move || blocking::acceptor(listen_fd, &live))]
    } else if single_reactor {
        vec![thread::spawn(move || Reactor::new(args.mode, stop_fd, Some(listen_fd), None).run())]
    } else {
        let inboxes: Vec<Arc<Inbox>> = (0..args.threads).map(|_| Arc::new(Inbox::new(&mut sys))).collect();
        let mut w: Vec<_> = inboxes
            .iter()
            .map(|inbox| {
                let inbox = inbox.clone();
                thread::spawn(move || Reactor::new(args.mode, stop_fd, None, Some(inbox)).run())
            })
            .collect();
        w.push(thread::spawn(move || handoff::acceptor(listen_fd, &inboxes)));
        w
    };

    let ended = stop::wait(args.duration);
    // Wake every reactor (stop_fd is level-triggered and never read); where a thread is
    // blocked in accept(2), shut the listening socket down to unblock it; in blocking mode
    // also every connection thread's read(2).
    let _ = sys.eventfd_signal(stop_fd);
    if !single_reactor {
        sys.shutdown(listen_fd, libc::SHUT_RDWR);
    }
    for &fd in live.lock().unwrap().iter() {
        sys.shutdown(fd, libc::SHUT_RDWR);
    }
    let mut tally = Tally::default();
    for w in workers {
        let (s, t) = w.join().expect("worker thread panicked");
        sys.add(&s);
        tally.add(&t);
    }
    sys.close(listen_fd);
    sys.close(stop_fd);
    let run = Run { mode: &mode_name, threads: args.threads, port, ended, started };
    summary::print(&run, sys, &tally, serde_json::Map::new());
}
