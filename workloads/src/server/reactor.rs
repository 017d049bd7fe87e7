//! A reactor thread of the readiness modes: waits, accepts (single reactor) or takes
//! handed-over connections (multi-reactor), and echoes with backpressure.
use std::{collections::HashMap, io, os::fd::RawFd, sync::Arc};

use super::{
    args::{Mode, PROGRAM},
    backlog::{Backlog, Wrote, write_nonblocking},
    handoff::Inbox,
    limits::{BUF, MAX_EVENTS},
    poller::{Poller, READ, Ready, WRITE},
    tally::{Done, Tally},
};
use crate::{fail, net, sys::Sys};

pub struct Reactor {
    sys: Sys,
    tally: Tally,
    mode: Mode,
    poller: Poller,
    stop_fd: RawFd,
    listen_fd: Option<RawFd>,
    inbox: Option<Arc<Inbox>>,
    conns: HashMap<RawFd, Backlog>,
    buf: Vec<u8>,
    warned_fd_setsize: bool,
}

impl Reactor {
    pub fn new(mode: Mode, stop_fd: RawFd, listen_fd: Option<RawFd>, inbox: Option<Arc<Inbox>>) -> Self {
        let control = [Some(stop_fd), listen_fd, inbox.as_ref().map(|i| i.fd)];
        if let Some(fd) =
            control.into_iter().flatten().find(|&fd| mode == Mode::Select && fd >= libc::FD_SETSIZE as RawFd)
        {
            fail(
                PROGRAM,
                format_args!(
                    "select cannot watch the server's own fd {fd} (FD_SETSIZE is {}): too many open fds; use --mode poll or epoll-lt",
                    libc::FD_SETSIZE
                ),
            );
        }
        let mut sys = Sys::default();
        let mut poller = Poller::new(&mut sys, mode);
        poller.add(&mut sys, stop_fd, READ, false);
        if let Some(fd) = listen_fd {
            poller.add(&mut sys, fd, READ, true);
        }
        if let Some(inbox) = &inbox {
            poller.add(&mut sys, inbox.fd, READ, false);
        }
        Self {
            sys,
            tally: Tally::default(),
            mode,
            poller,
            stop_fd,
            listen_fd,
            inbox,
            conns: HashMap::new(),
            buf: vec![0u8; BUF],
            warned_fd_setsize: false,
        }
    }

    pub fn run(mut self) -> Done {
        let mut ready = Vec::with_capacity(MAX_EVENTS);
        'outer: loop {
            self.poller.wait(&mut self.sys, &mut ready);
            for &r in &ready {
                if r.fd == self.stop_fd {
                    break 'outer;
                } else if Some(r.fd) == self.listen_fd {
                    self.accept_ready();
                } else if self.inbox.as_ref().is_some_and(|i| i.fd == r.fd) {
                    self.take_inbox();
                } else {
                    self.conn_ready(r);
                }
            }
        }
        let fds: Vec<RawFd> = self.conns.keys().copied().collect();
        for fd in fds {
            self.close_conn(fd);
        }
        self.poller.close(&mut self.sys);
        (self.sys, self.tally)
    }

    fn accept_ready(&mut self) {
        let fd = self.listen_fd.unwrap();
        loop {
            match net::accept(&mut self.sys, fd, true) {
                Ok(conn) => self.adopt(conn),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => break, // EAGAIN: drained
            }
            if self.mode != Mode::EpollEt {
                break; // level-triggered: the next wait reports a still-pending connection
            }
        }
    }

    fn take_inbox(&mut self) {
        let inbox = self.inbox.clone().unwrap();
        let mut counter = [0u8; 8];
        let _ = self.sys.read(inbox.fd, &mut counter);
        let fds: Vec<RawFd> = std::mem::take(&mut *inbox.queue.lock().unwrap());
        for fd in fds {
            self.adopt(fd);
        }
    }

    fn adopt(&mut self, fd: RawFd) {
        if self.mode == Mode::Select && fd >= libc::FD_SETSIZE as RawFd {
            if !self.warned_fd_setsize {
                eprintln!(
                    "{PROGRAM}: select cannot watch fd {fd} (FD_SETSIZE is {}): refusing such connections; use --mode poll or epoll-lt",
                    libc::FD_SETSIZE
                );
                self.warned_fd_setsize = true;
            }
            self.tally.refused += 1;
            self.sys.close(fd);
            return;
        }
        self.tally.connections += 1;
        self.conns.insert(fd, Backlog::default());
        self.poller.add(&mut self.sys, fd, READ, true);
    }

    fn conn_ready(&mut self, r: Ready) {
        let Some(conn) = self.conns.get(&r.fd) else { return };
        if conn.pending() {
            if r.write {
                self.flush(r.fd);
            }
        } else if r.read {
            self.read_ready(r.fd);
        }
    }

    /// Level-triggered modes read once per readiness; edge-triggered drains to EAGAIN (or
    /// until the peer stops reading its echoes and our output backs up).
    fn read_ready(&mut self, fd: RawFd) {
        loop {
            match self.sys.read(fd, &mut self.buf) {
                Ok(0) => return self.close_conn(fd),
                Ok(n) => {
                    if !self.echo(fd, n) {
                        return;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(_) => return self.close_conn(fd),
            }
            if self.mode != Mode::EpollEt || self.conns.get(&fd).is_none_or(Backlog::pending) {
                return;
            }
        }
    }

    /// Writes back `buf[..n]`; what the socket does not take waits in the connection's
    /// backlog. Returns false if the connection was closed.
    fn echo(&mut self, fd: RawFd, n: usize) -> bool {
        self.tally.requests += 1;
        self.tally.bytes_received += n as u64;
        let (off, wrote) = write_nonblocking(&mut self.sys, fd, &self.buf[..n]);
        self.tally.bytes_sent += off as u64;
        match wrote {
            Wrote::All => true,
            Wrote::Dead => {
                self.close_conn(fd);
                false
            }
            Wrote::Full => {
                self.conns.get_mut(&fd).unwrap().keep(&self.buf[off..n]);
                self.poller.modify(&mut self.sys, fd, WRITE);
                true
            }
        }
    }

    fn flush(&mut self, fd: RawFd) {
        let (m, wrote) = self.conns.get_mut(&fd).unwrap().flush(&mut self.sys, fd);
        self.tally.bytes_sent += m as u64;
        match wrote {
            Wrote::Full => {}
            Wrote::Dead => self.close_conn(fd),
            // Drained: listen for input again. For epoll-et the MOD re-arms the edge, and
            // epoll reports the socket at once if data arrived meanwhile.
            Wrote::All => self.poller.modify(&mut self.sys, fd, READ),
        }
    }

    fn close_conn(&mut self, fd: RawFd) {
        if self.conns.remove(&fd).is_some() {
            self.poller.remove(&mut self.sys, fd);
            self.sys.close(fd);
        }
    }
}
