//! A client worker thread: drives its share of the connections from one epoll loop,
//! sending batches of `--pipeline` messages and verifying every echoed byte.
use std::{
    io,
    os::fd::RawFd,
    time::{Duration, Instant},
};

use super::{
    args::Args,
    stream::{fill, verify},
};
use crate::sys::{Call, Sys};

const CHUNK: usize = 64 << 10;
/// A connection that makes no progress for this long means the server is gone.
const STALL: Duration = Duration::from_secs(10);

pub struct Conn {
    pub id: u64,
    pub fd: RawFd,
    /// Requests this connection may still start (u64::MAX under --duration).
    pub quota: u64,
    /// Stream offsets: sent, received (and verified), end of the current batch.
    pub tx: u64,
    pub rx: u64,
    pub batch_end: u64,
    /// Requests in the current batch.
    pub requests: u64,
    pub writing: bool,
}

#[derive(Default)]
pub struct Tally {
    pub requests: u64,
    pub bytes_sent: u64,
    pub bytes_received: u64,
}

pub fn worker(mut conns: Vec<Conn>, a: &Args, deadline: Option<Instant>) -> Result<(Sys, Tally), String> {
    let mut sys = Sys::default();
    let mut tally = Tally::default();
    let epfd = sys.call(Call::EpollCreate1, [libc::EPOLL_CLOEXEC as usize, 0, 0, 0, 0, 0]).map_err(|e| e.to_string())?
        as RawFd;
    let mut buf = vec![0u8; CHUNK];
    let mut open = 0;
    for (slot, c) in conns.iter_mut().enumerate() {
        if start_batch(c, a, deadline) {
            c.writing = true;
            ctl(&mut sys, epfd, libc::EPOLL_CTL_ADD, c, slot);
            open += 1;
        } else {
            sys.close(c.fd);
        }
    }
    let mut events = vec![libc::epoll_event { events: 0, u64: 0 }; 64];
    let mut last_progress = Instant::now();
    while open > 0 {
        let args = [epfd as usize, events.as_mut_ptr() as usize, events.len(), 1000, 0, 0];
        let n = match sys.call(Call::EpollWait, args) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => 0,
            Err(e) => return Err(format!("epoll_wait: {e}")),
        };
        if n == 0 && last_progress.elapsed() > STALL {
            return Err(format!("the server stopped responding for {}s (port {})", STALL.as_secs(), a.port));
        }
        for ev in &events[..n] {
            let slot = ev.u64 as usize;
            let c = &mut conns[slot];
            let was_writing = c.writing;
            if ev.events & libc::EPOLLOUT as u32 != 0 && c.writing {
                send(&mut sys, c, a.size, &mut buf, &mut tally)?;
            }
            if ev.events & (libc::EPOLLIN | libc::EPOLLHUP | libc::EPOLLERR) as u32 != 0 {
                receive(&mut sys, c, a.size, &mut buf, &mut tally)?;
            }
            last_progress = Instant::now();
            if c.rx == c.batch_end {
                tally.requests += c.requests;
                if start_batch(c, a, deadline) {
                    c.writing = true;
                } else {
                    let _ =
                        sys.call(Call::EpollCtl, [epfd as usize, libc::EPOLL_CTL_DEL as usize, c.fd as usize, 0, 0, 0]);
                    sys.close(c.fd);
                    open -= 1;
                    continue;
                }
            }
            if c.writing != was_writing {
                ctl(&mut sys, epfd, libc::EPOLL_CTL_MOD, c, slot);
            }
        }
    }
    sys.close(epfd);
    Ok((sys, tally))
}

/// Starts the next batch of up to `pipeline` messages; false when the connection is done.
fn start_batch(c: &mut Conn, a: &Args, deadline: Option<Instant>) -> bool {
    if c.quota == 0 || deadline.is_some_and(|d| Instant::now() >= d) {
        return false;
    }
    let batch = u64::from(a.pipeline).min(c.quota);
    c.quota -= batch;
    c.requests = batch;
    c.batch_end = c.tx + batch * a.size;
    true
}

fn ctl(sys: &mut Sys, epfd: RawFd, op: i32, c: &Conn, slot: usize) {
    let events = libc::EPOLLIN as u32 | if c.writing { libc::EPOLLOUT as u32 } else { 0 };
    let mut ev = libc::epoll_event { events, u64: slot as u64 };
    let _ = sys.call(Call::EpollCtl, [epfd as usize, op as usize, c.fd as usize, &raw mut ev as usize, 0, 0]);
}

fn send(sys: &mut Sys, c: &mut Conn, size: u64, buf: &mut [u8], t: &mut Tally) -> Result<(), String> {
    while c.tx < c.batch_end {
        let len = ((c.batch_end - c.tx) as usize).min(buf.len());
        fill(&mut buf[..len], c.id, size, c.tx);
        match sys.write(c.fd, &buf[..len]) {
            Ok(n) => {
                c.tx += n as u64;
                t.bytes_sent += n as u64;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
            Err(e) => return Err(format!("connection {}: write: {e}", c.id)),
        }
    }
    c.writing = false;
    Ok(())
}

fn receive(sys: &mut Sys, c: &mut Conn, size: u64, buf: &mut [u8], t: &mut Tally) -> Result<(), String> {
    loop {
        match sys.read(c.fd, buf) {
            Ok(0) => return Err(format!("connection {}: the server closed it after {} bytes", c.id, c.rx)),
            Ok(n) => {
                if c.rx + n as u64 > c.tx {
                    return Err(format!("connection {}: echo of bytes never sent", c.id));
                }
                if let Some(at) = verify(&buf[..n], c.id, size, c.rx) {
                    return Err(format!("connection {}: echo mismatch at stream byte {at}", c.id));
                }
                c.rx += n as u64;
                t.bytes_received += n as u64;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
            Err(e) => return Err(format!("connection {}: read: {e}", c.id)),
        }
    }
}
