//! An io_uring echo connection: what it has in flight, and the received bytes waiting to
//! be echoed. Its buffer (single-shot RECV) or the provided buffers it holds (multishot)
//! belong to the kernel while a request uses them.
use std::{collections::VecDeque, os::fd::RawFd};

/// Received bytes still to send back: in the connection's own buffer (`bid` None) or in
/// provided buffer `bid`.
pub struct Pending {
    pub bid: Option<u16>,
    pub len: usize,
    pub sent: usize,
}

pub struct Conn {
    pub fd: RawFd,
    /// Single-shot RECV's buffer (empty with --multishot).
    pub buf: Vec<u8>,
    pub queue: VecDeque<Pending>,
    pub recv_armed: bool,
    /// A multishot RECV was armed before: arming it again counts as a re-arm.
    pub armed_before: bool,
    /// user_data of the SEND or SEND_ZC in flight.
    pub send: Option<u64>,
    /// SEND_ZC notifications still to come: until then the kernel may read the buffer.
    pub notifs: u32,
    pub eof: bool,
    /// An error, or the stop: nothing more is asked for it.
    pub failed: bool,
    /// Its multishot RECV ended with ENOBUFS: re-armed when buffers come back.
    pub starved: bool,
}

impl Conn {
    pub fn new(fd: RawFd, buf_len: usize) -> Self {
        Self {
            fd,
            buf: vec![0; buf_len],
            queue: VecDeque::new(),
            recv_armed: false,
            armed_before: false,
            send: None,
            notifs: 0,
            eof: false,
            failed: false,
            starved: false,
        }
    }

    /// No request of it is in flight and no notification is due.
    pub fn idle(&self) -> bool {
        !self.recv_armed && self.send.is_none() && self.notifs == 0
    }

    /// Nothing in flight and nothing left to do: it can be closed.
    pub fn finished(&self) -> bool {
        self.idle() && (self.failed || (self.eof && self.queue.is_empty()))
    }
}
