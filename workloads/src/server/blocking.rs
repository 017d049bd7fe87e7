//! `--mode blocking`: a thread per connection, each doing read(2) then write(2) until EOF.
use std::{
    collections::HashSet,
    io,
    os::fd::RawFd,
    sync::{Arc, Mutex},
    thread,
};

use super::{
    handoff::is_transient_accept_error,
    limits::BUF,
    tally::{Done, Tally},
};
use crate::{net, sys::Sys};

/// Accepts until the listening socket is shut down, starting a thread per connection;
/// `live` holds the open connections, so the stopping thread can shut them down.
pub fn acceptor(listen_fd: RawFd, live: &Arc<Mutex<HashSet<RawFd>>>) -> Done {
    let mut sys = Sys::default();
    let mut tally = Tally { stop_errors: 1, ..Tally::default() };
    let mut threads = Vec::new();
    loop {
        match net::accept(&mut sys, listen_fd, false) {
            Ok(fd) => {
                tally.connections += 1;
                live.lock().unwrap().insert(fd);
                let live = live.clone();
                threads.push(thread::spawn(move || echo(fd, &live)));
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted || is_transient_accept_error(&e) => {}
            Err(_) => break,
        }
    }
    for t in threads {
        let (s, t) = t.join().expect("connection thread panicked");
        sys.add(&s);
        tally.add(&t);
    }
    (sys, tally)
}

fn echo(fd: RawFd, live: &Mutex<HashSet<RawFd>>) -> Done {
    let mut sys = Sys::default();
    let mut tally = Tally::default();
    let mut buf = vec![0u8; BUF];
    loop {
        match sys.read(fd, &mut buf) {
            Ok(0) => break,
            Ok(n) => {
                tally.requests += 1;
                tally.bytes_received += n as u64;
                if sys.write_all(fd, &buf[..n]).is_err() {
                    break;
                }
                tally.bytes_sent += n as u64;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => break,
        }
    }
    // Leave the shared set before closing, so the stopping thread never shuts down a
    // reused fd number.
    live.lock().unwrap().remove(&fd);
    sys.close(fd);
    (sys, tally)
}
