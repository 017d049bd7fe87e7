//! The readiness APIs the reactor modes wait with (epoll level- or edge-triggered, poll,
//! select), behind one interface.
use std::{collections::BTreeMap, os::fd::RawFd};

use super::{
    args::{Mode, PROGRAM},
    limits::MAX_EVENTS,
};
use crate::{
    fail,
    sys::{Call, Sys},
};

/// What a reactor wants to hear about an fd.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Want {
    read: bool,
    write: bool,
}

pub const READ: Want = Want { read: true, write: false };
pub const WRITE: Want = Want { read: false, write: true };

#[derive(Clone, Copy, Debug)]
pub struct Ready {
    pub fd: RawFd,
    pub read: bool,
    pub write: bool,
}

/// The readiness APIs, behind one interface.
pub enum Poller {
    Epoll {
        epfd: RawFd,
        edge: bool,
        events: Vec<libc::epoll_event>,
    },
    /// poll and select rebuild their arguments from this set on every call, as they must.
    Scan {
        select: bool,
        interest: BTreeMap<RawFd, Want>,
    },
}

impl Poller {
    pub fn new(sys: &mut Sys, mode: Mode) -> Self {
        match mode {
            Mode::EpollLt | Mode::EpollEt => {
                let epfd = sys
                    .call(Call::EpollCreate1, [libc::EPOLL_CLOEXEC as usize, 0, 0, 0, 0, 0])
                    .unwrap_or_else(|e| fail(PROGRAM, format_args!("epoll_create1: {e}")))
                    as RawFd;
                let empty = libc::epoll_event { events: 0, u64: 0 };
                Self::Epoll { epfd, edge: mode == Mode::EpollEt, events: vec![empty; MAX_EVENTS] }
            }
            Mode::Poll | Mode::Select => Self::Scan { select: mode == Mode::Select, interest: BTreeMap::new() },
            Mode::Blocking | Mode::IoUring | Mode::Sigio => unreachable!("{mode:?} has no readiness poller"),
        }
    }

    /// `edge` applies to connections and the listening socket; control fds stay
    /// level-triggered.
    fn ctl(&mut self, sys: &mut Sys, op: i32, fd: RawFd, want: Want, edge_ok: bool) {
        match self {
            Self::Epoll { epfd, edge, .. } => {
                let mut flags = 0u32;
                if want.read {
                    flags |= libc::EPOLLIN as u32;
                }
                if want.write {
                    flags |= libc::EPOLLOUT as u32;
                }
                if *edge && edge_ok {
                    flags |= libc::EPOLLET as u32;
                }
                let mut ev = libc::epoll_event { events: flags, u64: fd as u64 };
                let _ =
                    sys.call(Call::EpollCtl, [*epfd as usize, op as usize, fd as usize, &raw mut ev as usize, 0, 0]);
            }
            Self::Scan { interest, .. } => {
                if op == libc::EPOLL_CTL_DEL {
                    interest.remove(&fd);
                } else {
                    interest.insert(fd, want);
                }
            }
        }
    }

    pub fn add(&mut self, sys: &mut Sys, fd: RawFd, want: Want, edge_ok: bool) {
        self.ctl(sys, libc::EPOLL_CTL_ADD, fd, want, edge_ok);
    }

    pub fn modify(&mut self, sys: &mut Sys, fd: RawFd, want: Want) {
        self.ctl(sys, libc::EPOLL_CTL_MOD, fd, want, true);
    }

    pub fn remove(&mut self, sys: &mut Sys, fd: RawFd) {
        self.ctl(sys, libc::EPOLL_CTL_DEL, fd, READ, true);
    }

    /// Blocks until something is ready; fills `out`.
    pub fn wait(&mut self, sys: &mut Sys, out: &mut Vec<Ready>) {
        out.clear();
        match self {
            Self::Epoll { epfd, events, .. } => {
                let args = [*epfd as usize, events.as_mut_ptr() as usize, events.len(), -1isize as usize, 0, 0];
                let n = sys.call(Call::EpollWait, args).unwrap_or(0);
                out.extend(events[..n].iter().map(|e| {
                    let bits = e.events;
                    let hup = bits & (libc::EPOLLHUP | libc::EPOLLERR) as u32 != 0;
                    Ready {
                        fd: e.u64 as RawFd,
                        read: hup || bits & libc::EPOLLIN as u32 != 0,
                        write: hup || bits & libc::EPOLLOUT as u32 != 0,
                    }
                }));
            }
            Self::Scan { select: false, interest } => {
                let mut fds: Vec<libc::pollfd> = interest
                    .iter()
                    .map(|(&fd, w)| libc::pollfd {
                        fd,
                        events: if w.read { libc::POLLIN } else { 0 } | if w.write { libc::POLLOUT } else { 0 },
                        revents: 0,
                    })
                    .collect();
                if sys.call(Call::Poll, [fds.as_mut_ptr() as usize, fds.len(), -1isize as usize, 0, 0, 0]).is_ok() {
                    out.extend(fds.iter().filter(|p| p.revents != 0).map(|p| {
                        let hup = p.revents & (libc::POLLHUP | libc::POLLERR | libc::POLLNVAL) != 0;
                        Ready {
                            fd: p.fd,
                            read: hup || p.revents & libc::POLLIN != 0,
                            write: hup || p.revents & libc::POLLOUT != 0,
                        }
                    }));
                }
            }
            Self::Scan { select: true, interest } => {
                // SAFETY: fd_set is plain data; FD_* only touch fds < FD_SETSIZE, which
                // `Reactor::adopt` guarantees for every fd in `interest`.
                unsafe {
                    let mut rset: libc::fd_set = std::mem::zeroed();
                    let mut wset: libc::fd_set = std::mem::zeroed();
                    let mut nfds = 0;
                    for (&fd, w) in interest.iter() {
                        if w.read {
                            libc::FD_SET(fd, &mut rset);
                        }
                        if w.write {
                            libc::FD_SET(fd, &mut wset);
                        }
                        nfds = nfds.max(fd + 1);
                    }
                    let args = [nfds as usize, &raw mut rset as usize, &raw mut wset as usize, 0, 0, 0];
                    if sys.call(Call::Select, args).is_ok() {
                        out.extend(interest.keys().filter_map(|&fd| {
                            let (r, w) = (libc::FD_ISSET(fd, &rset), libc::FD_ISSET(fd, &wset));
                            (r || w).then_some(Ready { fd, read: r, write: w })
                        }));
                    }
                }
            }
        }
    }

    pub fn close(&mut self, sys: &mut Sys) {
        if let Self::Epoll { epfd, .. } = self {
            sys.close(*epfd);
        }
    }
}
