//! An io_uring reactor thread: its ring carries the stop's POLL_ADD, the ACCEPT (single
//! reactor) or the acceptor's MSG_RING handoffs, and each connection's RECV and SEND; every
//! CQE moves its connection on ([`Reactor::advance`]).
use std::{
    io,
    os::fd::RawFd,
    time::{Duration, Instant},
};

use io_uring::{opcode, squeue, types::Fd};

use super::{
    conn::{Conn, Pending},
    options::Options,
    tokens::{CANCEL, HANDOFF, LISTEN, STOP},
};
use crate::{
    fail,
    server::{
        args::PROGRAM,
        limits::BUF,
        tally::{Done, Tally},
    },
    sys::Sys,
    uring::{BufRing, Cqe, IORING_SEND_ZC_REPORT_USAGE, Ring, Stats, user_data},
};

/// How long the stop waits for the last completions (SEND_ZC notifications wait for the
/// peer to read what was sent) before it reports them as unreaped.
const DRAIN: Duration = Duration::from_secs(2);

/// Counts of the mode's own events, beside the ring's.
#[derive(Clone, Copy, Debug, Default)]
pub struct Extra {
    /// Multishot RECVs armed again after the kernel ended one (ENOBUFS, or its own reasons).
    pub rearms: u64,
    /// Multishot RECVs ended because the buffer ring was empty.
    pub enobufs: u64,
    /// Requests whose last CQE had not come when the stop gave up waiting.
    pub unreaped: u64,
}

impl Extra {
    pub fn add(&mut self, o: &Extra) {
        self.rearms += o.rearms;
        self.enobufs += o.enobufs;
        self.unreaped += o.unreaped;
    }
}

/// A send's token: the connection's slot, and the provided buffer it reads (+1; 0 for the
/// connection's own buffer).
fn send_token(slot: usize, bid: Option<u16>) -> u64 {
    slot as u64 | (bid.map_or(0, |b| u64::from(b) + 1) << 32)
}

pub struct Reactor {
    sys: Sys,
    tally: Tally,
    ring: Ring,
    bufs: Option<BufRing>,
    opts: Options,
    stop_fd: RawFd,
    listen: Option<RawFd>,
    conns: Vec<Option<Conn>>,
    free: Vec<usize>,
    /// Requests whose last CQE is still to come.
    inflight: u64,
    stopping: bool,
    /// Provided buffers came back since starved connections were last re-armed.
    returned: bool,
    extra: Extra,
}

impl Reactor {
    pub fn new(ring: Ring, bufs: Option<BufRing>, opts: Options, stop_fd: RawFd, listen: Option<RawFd>) -> Self {
        Self {
            sys: Sys::default(),
            tally: Tally::default(),
            ring,
            bufs,
            opts,
            stop_fd,
            listen,
            conns: Vec::new(),
            free: Vec::new(),
            inflight: 0,
            stopping: false,
            returned: false,
            extra: Extra::default(),
        }
    }

    pub fn run(mut self) -> (Done, Stats, Extra) {
        self.push(STOP, opcode::PollAdd::new(Fd(self.stop_fd), libc::POLLIN as u32).build());
        if let Some(fd) = self.listen {
            self.push(LISTEN, accept(fd));
        }
        let mut cqes = Vec::new();
        let mut deadline: Option<Instant> = None;
        while !(self.stopping && self.inflight == 0) {
            let waited = match deadline {
                None => self.ring.submit_and_wait(&mut self.sys, 1),
                Some(d) => match d.checked_duration_since(Instant::now()) {
                    Some(left) => self.ring.wait_timeout(&mut self.sys, left.max(Duration::from_millis(1))),
                    None => break,
                },
            };
            match waited {
                Ok(()) => {}
                Err(e) if matches!(e.raw_os_error(), Some(libc::EINTR | libc::ETIME | libc::EBUSY)) => {}
                Err(e) => fail(PROGRAM, format_args!("io_uring_enter: {e}")),
            }
            self.ring.reap(&mut cqes);
            for &c in &cqes {
                self.on_cqe(c);
            }
            if self.returned {
                self.returned = false;
                self.rearm_starved();
            }
            if self.stopping && deadline.is_none() {
                deadline = Some(Instant::now() + DRAIN);
            }
        }
        self.finish()
    }

    fn finish(mut self) -> (Done, Stats, Extra) {
        self.extra.unreaped = self.inflight;
        let conns = std::mem::take(&mut self.conns);
        for conn in conns.iter().flatten() {
            self.sys.close(conn.fd);
        }
        let stats = self.ring.close(&mut self.sys);
        if self.inflight > 0 {
            // The kernel cancels what was left as it tears the ring down, in the background:
            // keep the memory those requests point to (the buffer ring is simply not unmapped).
            std::mem::forget(conns);
        } else if let Some(bufs) = self.bufs.take() {
            bufs.unmap(&mut self.sys);
        }
        ((self.sys, self.tally), stats, self.extra)
    }

    fn push(&mut self, token: u64, entry: squeue::Entry) {
        // SAFETY: the buffers a request points to are a connection's own (a Vec whose heap
        // storage never moves, dropped only once nothing is in flight for it) or the
        // provided-buffer mapping (unmapped after the ring is closed); the fds stay open
        // until their requests completed.
        let pushed = unsafe { self.ring.push(&mut self.sys, token, entry) };
        pushed.unwrap_or_else(|e: io::Error| fail(PROGRAM, format_args!("io_uring_enter: {e}")));
        self.inflight += 1;
    }

    fn on_cqe(&mut self, c: Cqe) {
        // A handoff's CQE answers no request of this ring.
        if c.token != HANDOFF && !c.more() {
            self.inflight -= 1;
        }
        match c.token {
            STOP => self.stop(),
            LISTEN => {
                if c.res >= 0 {
                    self.adopt(c.res);
                }
                if !self.stopping {
                    self.push(LISTEN, accept(self.listen.unwrap()));
                }
            }
            HANDOFF => self.adopt(c.res),
            CANCEL => {}
            token => {
                let slot = (token & 0xffff_ffff) as usize;
                if c.op == opcode::Recv::CODE {
                    self.received(slot, c);
                } else {
                    self.sent(slot, c);
                }
                self.advance(slot);
            }
        }
    }

    fn adopt(&mut self, fd: i32) {
        self.tally.connections += 1;
        let buf_len = if self.opts.multishot { 0 } else { BUF };
        let conn = Conn::new(fd, buf_len);
        let slot = match self.free.pop() {
            Some(slot) => {
                self.conns[slot] = Some(conn);
                slot
            }
            None => {
                self.conns.push(Some(conn));
                self.conns.len() - 1
            }
        };
        self.advance(slot);
    }

    fn conn(&mut self, slot: usize) -> &mut Conn {
        self.conns[slot].as_mut().expect("a CQE for a live connection")
    }

    fn received(&mut self, slot: usize, c: Cqe) {
        let multishot = self.opts.multishot;
        let conn = self.conns[slot].as_mut().expect("a CQE for a live connection");
        if !c.more() {
            conn.recv_armed = false;
        }
        match c.res {
            n if n > 0 => {
                conn.queue.push_back(Pending { bid: c.buffer(), len: n as usize, sent: 0 });
                self.tally.requests += 1;
                self.tally.bytes_received += n as u64;
            }
            0 => conn.eof = true,
            e if e == -libc::ENOBUFS && multishot => {
                conn.starved = true;
                self.extra.enobufs += 1;
            }
            e if e == -libc::EINVAL && multishot => fail(
                PROGRAM,
                "this kernel refused multishot recv (IORING_RECV_MULTISHOT, Linux 6.0): RECV failed with EINVAL",
            ),
            _ => conn.failed = true,
        }
    }

    fn sent(&mut self, slot: usize, c: Cqe) {
        let conn = self.conns[slot].as_mut().expect("a CQE for a live connection");
        if c.notif() {
            conn.notifs -= 1;
            return;
        }
        conn.send = None;
        if c.more() {
            conn.notifs += 1;
        }
        if c.res >= 0 {
            conn.queue.front_mut().expect("a send in flight has its bytes queued").sent += c.res as usize;
            self.tally.bytes_sent += c.res as u64;
        } else if c.res == -libc::EINVAL && self.opts.send_zc {
            fail(
                PROGRAM,
                "this kernel refused SEND_ZC with IORING_SEND_ZC_REPORT_USAGE (Linux 6.2): SEND_ZC failed with EINVAL",
            );
        } else {
            conn.failed = true;
        }
    }

    /// Moves a connection on after a CQE: frees what was sent, sends what waits, receives
    /// again when the single-shot buffer is free (backpressure: not before), closes it when
    /// it is done.
    fn advance(&mut self, slot: usize) {
        let stopping = self.stopping;
        let conn = self.conns[slot].as_mut().expect("a live connection");
        let mut freed = Vec::new();
        if conn.send.is_none() && conn.notifs == 0 {
            while let Some(p) = conn.queue.front() {
                if p.sent < p.len && !conn.failed && !stopping {
                    break;
                }
                freed.extend(conn.queue.pop_front().and_then(|p| p.bid));
            }
        }
        if let Some(bufs) = &mut self.bufs {
            for &bid in &freed {
                bufs.give(bid);
            }
            self.returned |= !freed.is_empty();
        }
        if stopping {
            self.conn(slot).failed = true;
        }
        let conn = self.conn(slot);
        if conn.finished() {
            let fd = conn.fd;
            self.sys.close(fd);
            self.conns[slot] = None;
            self.free.push(slot);
            return;
        }
        if conn.failed {
            return;
        }
        if conn.send.is_none() && conn.notifs == 0 && !conn.queue.is_empty() {
            self.send(slot);
        }
        let conn = self.conn(slot);
        let single_free = conn.queue.is_empty() && conn.idle();
        if !conn.recv_armed && !conn.eof && !conn.starved && (self.opts.multishot || single_free) {
            self.recv(slot);
        }
    }

    fn send(&mut self, slot: usize) {
        let zc = self.opts.send_zc;
        let conn = self.conns[slot].as_ref().expect("a live connection");
        let p = conn.queue.front().expect("bytes to send");
        let len = p.len - p.sent;
        let ptr = match (p.bid, &self.bufs) {
            (Some(bid), Some(bufs)) => bufs.buf(bid, p.len).wrapping_add(p.sent),
            _ => conn.buf[p.sent..].as_ptr(),
        };
        let (fd, token) = (Fd(conn.fd), send_token(slot, p.bid));
        let entry = if zc {
            opcode::SendZc::new(fd, ptr, len as u32)
                .flags(libc::MSG_NOSIGNAL)
                .zc_flags(IORING_SEND_ZC_REPORT_USAGE)
                .build()
        } else {
            opcode::Send::new(fd, ptr, len as u32).flags(libc::MSG_NOSIGNAL).build()
        };
        let op = if zc { opcode::SendZc::CODE } else { opcode::Send::CODE };
        self.conn(slot).send = Some(user_data(token, op));
        self.push(token, entry);
    }

    fn recv(&mut self, slot: usize) {
        let conn = self.conns[slot].as_mut().expect("a live connection");
        let entry = match &self.bufs {
            Some(bufs) => {
                self.extra.rearms += u64::from(conn.armed_before);
                opcode::RecvMulti::new(Fd(conn.fd), bufs.bgid).build()
            }
            None => opcode::Recv::new(Fd(conn.fd), conn.buf.as_mut_ptr(), conn.buf.len() as u32).build(),
        };
        conn.recv_armed = true;
        conn.armed_before = true;
        self.push(slot as u64, entry);
    }

    fn rearm_starved(&mut self) {
        let starved: Vec<usize> =
            (0..self.conns.len()).filter(|&s| self.conns[s].as_ref().is_some_and(|c| c.starved)).collect();
        for slot in starved {
            self.conn(slot).starved = false;
            self.advance(slot);
        }
    }

    /// Cancels every request in flight; their CQEs (and the cancels') are reaped before
    /// the thread ends.
    fn stop(&mut self) {
        self.stopping = true;
        if self.listen.is_some() {
            self.push(CANCEL, opcode::AsyncCancel::new(user_data(LISTEN, opcode::Accept::CODE)).build());
        }
        for slot in 0..self.conns.len() {
            let Some(conn) = &self.conns[slot] else { continue };
            let recv = conn.recv_armed.then(|| user_data(slot as u64, opcode::Recv::CODE));
            for target in recv.into_iter().chain(conn.send) {
                self.push(CANCEL, opcode::AsyncCancel::new(target).build());
            }
            self.advance(slot);
        }
    }
}

/// ACCEPT on the listening socket; the connection's socket is blocking (io_uring waits
/// for it, not the thread).
pub fn accept(listen_fd: RawFd) -> squeue::Entry {
    opcode::Accept::new(Fd(listen_fd), std::ptr::null_mut(), std::ptr::null_mut()).flags(libc::SOCK_CLOEXEC).build()
}
