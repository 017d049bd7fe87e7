//! A sigio reactor thread: takes its queued signals one by one with sigwaitinfo and does
//! what each says: accept, read until EAGAIN and echo, flush a backed-up echo, adopt a
//! handed-over connection, rescan after an overflow, or stop.
use std::{collections::HashMap, io, os::fd::RawFd, sync::mpsc::Sender};

use super::signals::Signals;
use crate::{
    fail, net,
    server::{
        args::PROGRAM,
        backlog::{Backlog, Wrote, write_nonblocking},
        limits::BUF,
        tally::{Done, Tally},
    },
    sys::{Call, Sys},
};

// From asm-generic/fcntl.h (not in the libc crate for glibc targets).
const F_SETSIG: usize = 10;
const F_SETOWN_EX: usize = 15;
const F_OWNER_TID: i32 = 0;

/// Signals taken, by role.
#[derive(Clone, Copy, Debug, Default)]
pub struct Counts {
    pub io: u64,
    pub handoff: u64,
    pub stop: u64,
    pub overflow: u64,
    /// Of those, taken after the stop (signals still queued for closed sockets).
    pub after_stop: u64,
}

impl Counts {
    pub fn add(&mut self, o: &Counts) {
        self.io += o.io;
        self.handoff += o.handoff;
        self.stop += o.stop;
        self.overflow += o.overflow;
        self.after_stop += o.after_stop;
    }

    fn count(&mut self, sigs: &Signals, sig: i32) {
        match sig {
            s if s == sigs.io => self.io += 1,
            s if s == sigs.handoff => self.handoff += 1,
            s if s == sigs.stop => self.stop += 1,
            _ => self.overflow += 1,
        }
    }
}

/// The kernel's siginfo as a SIGPOLL fills it: the band at 16 bytes, the fd at 24; a
/// queued signal's value is at 24 too.
#[repr(C)]
struct SigInfo {
    signo: i32,
    errno: i32,
    code: i32,
    _pad: i32,
    band: i64,
    fd_or_value: i64,
    _rest: [u64; 12],
}

pub struct SigReactor {
    sys: Sys,
    tally: Tally,
    sigs: Signals,
    listen: Option<RawFd>,
    conns: HashMap<RawFd, Backlog>,
    buf: Vec<u8>,
    tid: i32,
    counts: Counts,
}

impl SigReactor {
    pub fn new(sigs: Signals, listen: Option<RawFd>) -> Self {
        let (sys, tally, conns) = (Sys::default(), Tally::default(), HashMap::new());
        Self { sys, tally, sigs, listen, conns, buf: vec![0; BUF], tid: 0, counts: Counts::default() }
    }

    /// Sends its thread id on `started` once its listening socket (if any) is armed.
    pub fn run(mut self, started: &Sender<i32>) -> (Done, Counts) {
        self.tid =
            self.sys.call(Call::Gettid, [0; 6]).unwrap_or_else(|e| fail(PROGRAM, format_args!("gettid: {e}"))) as i32;
        if let Some(fd) = self.listen {
            self.own(fd);
            self.accept_all(); // connections that came before O_ASYNC raised no signal
        }
        let _ = started.send(self.tid);
        let set = self.sigs.set();
        loop {
            let Some((sig, info)) = self.take(&set, None) else { continue };
            self.counts.count(&self.sigs, sig);
            if sig == self.sigs.stop {
                break;
            }
            self.dispatch(sig, &info);
        }
        let fds: Vec<RawFd> = self.conns.keys().copied().collect();
        for fd in fds {
            self.close(fd);
        }
        // Take what is still queued (readiness of sockets now closed), so every signal
        // sent to this thread is counted.
        let zero = libc::timespec { tv_sec: 0, tv_nsec: 0 };
        while let Some((sig, _)) = self.take(&set, Some(&zero)) {
            self.counts.count(&self.sigs, sig);
            self.counts.after_stop += 1;
        }
        ((self.sys, self.tally), self.counts)
    }

    /// sigwaitinfo (or sigtimedwait with `timeout`); None on EINTR or when nothing is
    /// queued by the timeout.
    fn take(&mut self, set: &libc::sigset_t, timeout: Option<&libc::timespec>) -> Option<(i32, SigInfo)> {
        // SAFETY: plain data.
        let mut info: SigInfo = unsafe { std::mem::zeroed() };
        let ts = timeout.map_or(0, |t| t as *const _ as usize);
        let args = [set as *const _ as usize, &raw mut info as usize, ts, size_of::<libc::sigset_t>().min(8), 0, 0];
        match self.sys.call(Call::RtSigtimedwait, args) {
            Ok(sig) => Some((sig as i32, info)),
            Err(e) if matches!(e.raw_os_error(), Some(libc::EINTR | libc::EAGAIN)) => None,
            Err(e) => fail(PROGRAM, format_args!("sigwaitinfo: {e}")),
        }
    }

    fn dispatch(&mut self, sig: i32, info: &SigInfo) {
        let fd = info.fd_or_value as RawFd;
        if sig == self.sigs.io {
            if Some(fd) == self.listen {
                self.accept_all();
            } else if self.conns.contains_key(&fd) {
                self.ready(fd, info.band as i16);
            }
        } else if sig == self.sigs.handoff {
            self.adopt(fd);
        } else {
            // SIGIO: a signal queue overflowed and readiness was lost; look at everything.
            if self.listen.is_some() {
                self.accept_all();
            }
            let fds: Vec<RawFd> = self.conns.keys().copied().collect();
            for fd in fds {
                if self.conns.contains_key(&fd) {
                    self.ready(fd, libc::POLLIN | libc::POLLOUT);
                }
            }
        }
    }

    /// Signals for `fd` go to this thread, as the io signal, and it is O_ASYNC.
    fn own(&mut self, fd: RawFd) {
        let owner = [F_OWNER_TID, self.tid];
        let calls = [
            [fd as usize, F_SETOWN_EX, owner.as_ptr() as usize, 0, 0, 0],
            [fd as usize, F_SETSIG, self.sigs.io as usize, 0, 0, 0],
            [fd as usize, libc::F_SETFL as usize, (libc::O_NONBLOCK | libc::O_ASYNC) as usize, 0, 0, 0],
        ];
        for args in calls {
            if let Err(e) = self.sys.call(Call::Fcntl, args) {
                fail(PROGRAM, format_args!("fcntl on fd {fd}: {e}"));
            }
        }
    }

    fn accept_all(&mut self) {
        let fd = self.listen.expect("the listening socket");
        loop {
            match net::accept(&mut self.sys, fd, true) {
                Ok(conn) => self.adopt(conn),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return, // EAGAIN: drained
            }
        }
    }

    fn adopt(&mut self, fd: RawFd) {
        self.tally.connections += 1;
        self.conns.insert(fd, Backlog::default());
        self.own(fd);
        self.drain(fd); // bytes that came before O_ASYNC raised no signal
    }

    fn ready(&mut self, fd: RawFd, band: i16) {
        let pending = self.conns.get(&fd).is_some_and(Backlog::pending);
        if !pending {
            self.drain(fd);
        } else if band & (libc::POLLOUT | libc::POLLERR | libc::POLLHUP) != 0 && self.flush(fd) {
            self.drain(fd); // input that arrived while the echo was backed up
        }
    }

    /// Reads until EAGAIN, echoing each read, or until the echo backs up.
    fn drain(&mut self, fd: RawFd) {
        loop {
            match self.sys.read(fd, &mut self.buf) {
                Ok(0) => return self.close(fd),
                Ok(n) => {
                    if !self.echo(fd, n) {
                        return;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(_) => return self.close(fd),
            }
        }
    }

    /// Writes back `buf[..n]`; true if all of it went out.
    fn echo(&mut self, fd: RawFd, n: usize) -> bool {
        self.tally.requests += 1;
        self.tally.bytes_received += n as u64;
        let (off, wrote) = write_nonblocking(&mut self.sys, fd, &self.buf[..n]);
        self.tally.bytes_sent += off as u64;
        match wrote {
            Wrote::All => return true,
            Wrote::Dead => self.close(fd),
            Wrote::Full => self.conns.get_mut(&fd).expect("a live connection").keep(&self.buf[off..n]),
        }
        false
    }

    /// Writes what waits; true when nothing is left.
    fn flush(&mut self, fd: RawFd) -> bool {
        let (m, wrote) = self.conns.get_mut(&fd).expect("a live connection").flush(&mut self.sys, fd);
        self.tally.bytes_sent += m as u64;
        if wrote == Wrote::Dead {
            self.close(fd);
        }
        wrote == Wrote::All
    }

    fn close(&mut self, fd: RawFd) {
        if self.conns.remove(&fd).is_some() {
            self.sys.close(fd);
        }
    }
}
