//! The multi-reactor acceptor: one thread in blocking accept(2) deals connections
//! round-robin to the reactors, each through a queue and an eventfd it polls (as memcached
//! and Netty do).
use std::{
    io,
    os::fd::RawFd,
    sync::{Arc, Mutex},
};

use super::{
    args::PROGRAM,
    tally::{Done, Tally},
};
use crate::{
    fail, net,
    sys::{Call, Sys},
};

/// Connections handed from the acceptor to one reactor.
pub struct Inbox {
    /// Non-blocking eventfd the reactor polls; the acceptor adds 1 per handed connection.
    pub fd: RawFd,
    pub queue: Mutex<Vec<RawFd>>,
}

impl Inbox {
    pub fn new(sys: &mut Sys) -> Self {
        let fd = sys
            .call(Call::Eventfd2, [0, (libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) as usize, 0, 0, 0, 0])
            .unwrap_or_else(|e| fail(PROGRAM, format_args!("eventfd: {e}"))) as RawFd;
        Self { fd, queue: Mutex::new(Vec::new()) }
    }
}

/// Blocking accept(2) until the listening socket is shut down; connections dealt
/// round-robin.
pub fn acceptor(listen_fd: RawFd, inboxes: &[Arc<Inbox>]) -> Done {
    let mut sys = Sys::default();
    let stopped = Tally { stop_errors: 1, ..Tally::default() };
    for i in 0.. {
        match net::accept(&mut sys, listen_fd, true) {
            Ok(fd) => {
                let inbox = &inboxes[i % inboxes.len()];
                inbox.queue.lock().unwrap().push(fd);
                let _ = sys.eventfd_signal(inbox.fd);
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted || is_transient_accept_error(&e) => {}
            Err(_) => break, // the listening socket was shut down: stopping
        }
    }
    for inbox in inboxes {
        sys.close(inbox.fd);
    }
    (sys, stopped)
}

/// Errors after which accept(2) can go on: the listening socket is still fine.
pub fn is_transient_accept_error(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::ECONNABORTED | libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM))
}
