//! The acceptor ring of `--threads N`: ACCEPT, then MSG_RING to deal each connection to the
//! next reactor's ring (the fd travels as the result of the CQE it posts there, under the
//! HANDOFF token), round-robin.
use std::os::fd::RawFd;

use io_uring::{opcode, squeue, types::Fd};

use super::{
    reactor::accept,
    tokens::{CANCEL, HANDOFF, LISTEN, STOP},
};
use crate::{
    fail,
    server::args::PROGRAM,
    sys::Sys,
    uring::{Ring, Stats, user_data},
};

struct Acceptor {
    sys: Sys,
    ring: Ring,
    listen_fd: RawFd,
    inflight: u64,
}

/// Accepts until `stop_fd` is signalled; returns its syscalls and its ring's counts.
pub fn run(ring: Ring, listen_fd: RawFd, stop_fd: RawFd, targets: &[RawFd]) -> (Sys, Stats) {
    let mut a = Acceptor { sys: Sys::default(), ring, listen_fd, inflight: 0 };
    a.push(STOP, opcode::PollAdd::new(Fd(stop_fd), libc::POLLIN as u32).build());
    a.push(LISTEN, accept(listen_fd));
    let (mut stopping, mut next) = (false, 0);
    let mut cqes = Vec::new();
    while !(stopping && a.inflight == 0) {
        if let Err(e) = a.ring.submit_and_wait(&mut a.sys, 1)
            && e.raw_os_error() != Some(libc::EINTR)
        {
            fail(PROGRAM, format_args!("io_uring_enter: {e}"));
        }
        a.ring.reap(&mut cqes);
        for c in &cqes {
            a.inflight -= u64::from(!c.more());
            match c.token {
                STOP => {
                    stopping = true;
                    a.push(CANCEL, opcode::AsyncCancel::new(user_data(LISTEN, opcode::Accept::CODE)).build());
                }
                LISTEN => {
                    if c.res >= 0 {
                        let target = Fd(targets[next % targets.len()]);
                        next += 1;
                        let handoff = user_data(HANDOFF, opcode::MsgRingData::CODE);
                        a.push(c.res as u64, opcode::MsgRingData::new(target, c.res, handoff, None).build());
                    }
                    if !stopping {
                        a.push(LISTEN, accept(a.listen_fd));
                    }
                }
                CANCEL => {}
                // A MSG_RING that failed: the connection (its token) never reached a reactor.
                fd if c.res < 0 => a.sys.close(fd as RawFd),
                _ => {}
            }
        }
    }
    let stats = a.ring.close(&mut a.sys);
    (a.sys, stats)
}

impl Acceptor {
    fn push(&mut self, token: u64, entry: squeue::Entry) {
        // SAFETY: the entries point to no memory; the fds stay open until the thread ends.
        let pushed = unsafe { self.ring.push(&mut self.sys, token, entry) };
        pushed.unwrap_or_else(|e| fail(PROGRAM, format_args!("io_uring_enter: {e}")));
        self.inflight += 1;
    }
}
