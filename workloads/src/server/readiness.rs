//! Serving in the readiness modes (epoll, poll, select) and blocking mode: the threads,
//! the stop (an eventfd every reactor watches, and shutdown(2) of what blocks in accept or
//! read), and their tallies joined.
use std::{
    collections::HashSet,
    os::fd::RawFd,
    sync::{Arc, Mutex},
    thread,
};

use super::{
    args::{Args, Mode, PROGRAM},
    blocking, handoff,
    handoff::Inbox,
    reactor::Reactor,
    tally::{Done, Tally},
};
use crate::{
    fail,
    stop::{self, Ended},
    sys::Sys,
};

/// The listening socket is non-blocking only where a reactor accepts from it.
pub fn nonblocking_listen(args: &Args) -> bool {
    args.mode != Mode::Blocking && args.threads == 1
}

pub fn serve(args: &Args, sys: &mut Sys, listen_fd: RawFd) -> (Ended, Tally) {
    let stop_fd = sys.eventfd().unwrap_or_else(|e| fail(PROGRAM, format_args!("eventfd: {e}")));
    let single_reactor = nonblocking_listen(args);
    let mode = args.mode;
    let live = Arc::new(Mutex::new(HashSet::new()));
    let workers: Vec<thread::JoinHandle<Done>> = if mode == Mode::Blocking {
        let live = live.clone();
        vec![thread::spawn(move || blocking::acceptor(listen_fd, &live))]
    } else if single_reactor {
        vec![thread::spawn(move || Reactor::new(mode, stop_fd, Some(listen_fd), None).run())]
    } else {
        let inboxes: Vec<Arc<Inbox>> = (0..args.threads).map(|_| Arc::new(Inbox::new(sys))).collect();
        let mut w: Vec<_> = inboxes
            .iter()
            .map(|inbox| {
                let inbox = inbox.clone();
                thread::spawn(move || Reactor::new(mode, stop_fd, None, Some(inbox)).run())
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
    sys.close(stop_fd);
    (ended, tally)
}
