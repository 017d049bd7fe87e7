//! `epoll-client`: load for `epoll-server`. Each worker thread drives its share of the
//! connections from one epoll loop: it sends `--pipeline` messages of `--size` bytes, reads
//! the echoes back while still sending (a large message would otherwise deadlock against
//! the server's backpressure), checks every byte, and repeats until `--requests` or
//! `--duration` is used up.
use std::{
    io,
    os::fd::RawFd,
    thread,
    time::{Duration, Instant},
};

use clap::Parser;
use serde_json::json;

use crate::{
    args, fail, net,
    sys::{Call, Sys},
};

const PROGRAM: &str = "epoll-client";
const CHUNK: usize = 64 << 10;
/// A connection that makes no progress for this long means the server is gone.
const STALL: Duration = Duration::from_secs(10);

/// Load generator for epoll-server: echoes verified byte for byte; prints a JSON summary.
#[derive(Clone, Debug, Parser)]
#[command(name = PROGRAM, version)]
pub struct Args {
    /// Server port on 127.0.0.1.
    #[arg(long)]
    pub port: u16,
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub connections: u32,
    /// Message size (e.g. 64, 4k, 1M).
    #[arg(long, default_value = "64", value_parser = args::size)]
    pub size: u64,
    /// Messages in flight per connection.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=4096))]
    pub pipeline: u32,
    /// Total requests over all connections (default 10000 unless --duration is given).
    #[arg(long, conflicts_with = "duration")]
    pub requests: Option<u64>,
    /// Send for this long instead of a fixed number of requests.
    #[arg(long, value_parser = args::duration)]
    pub duration: Option<Duration>,
    /// Worker threads sharing the connections.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=64))]
    pub threads: u32,
}

/// The byte at `index` of message `request` on connection `conn`: every echo is checked.
fn pattern(conn: u64, request: u64, index: u64) -> u8 {
    (conn.wrapping_mul(131).wrapping_add(request.wrapping_mul(31)).wrapping_add(index) % 251) as u8
}

/// Fills `out` with the stream of connection `conn` from byte `offset` on.
fn fill(out: &mut [u8], conn: u64, size: u64, offset: u64) {
    for (i, b) in out.iter_mut().enumerate() {
        let p = offset + i as u64;
        *b = pattern(conn, p / size, p % size);
    }
}

/// First mismatch of `got` against the stream at `offset`.
fn verify(got: &[u8], conn: u64, size: u64, offset: u64) -> Option<u64> {
    got.iter().enumerate().find_map(|(i, &b)| {
        let p = offset + i as u64;
        (b != pattern(conn, p / size, p % size)).then_some(p)
    })
}

struct Conn {
    id: u64,
    fd: RawFd,
    /// Requests this connection may still start (u64::MAX under --duration).
    quota: u64,
    /// Stream offsets: sent, received (and verified), end of the current batch.
    tx: u64,
    rx: u64,
    batch_end: u64,
    /// Requests in the current batch.
    requests: u64,
    writing: bool,
}

#[derive(Default)]
struct Tally {
    requests: u64,
    bytes_sent: u64,
    bytes_received: u64,
}

pub fn main() {
    let a: Args = args::parse(PROGRAM);
    let requests = match (a.requests, a.duration) {
        (Some(0), _) => fail(PROGRAM, "--requests must be at least 1"),
        (Some(n), _) => Some(n),
        (None, Some(_)) => None,
        (None, None) => Some(10_000),
    };
    let deadline = a.duration.map(|d| Instant::now() + d);
    let started = Instant::now();
    let mut sys = Sys::default();
    // Connect everything first (blocking), so a refused port fails fast with one line.
    let mut conns: Vec<Conn> = Vec::new();
    for id in 0..u64::from(a.connections) {
        let fd = net::connect(&mut sys, a.port).unwrap_or_else(|e| {
            fail(PROGRAM, format_args!("cannot connect to 127.0.0.1:{} ({e}): is epoll-server running there?", a.port))
        });
        if let Err(e) = net::set_nonblocking(&mut sys, fd, true) {
            fail(PROGRAM, format_args!("fcntl: {e}"));
        }
        let quota = requests.map_or(u64::MAX, |n| {
            let c = u64::from(a.connections);
            n / c + u64::from(id < n % c)
        });
        conns.push(Conn { id, fd, quota, tx: 0, rx: 0, batch_end: 0, requests: 0, writing: false });
    }
    let threads = a.threads.min(a.connections) as usize;
    let mut shares: Vec<Vec<Conn>> = (0..threads).map(|_| Vec::new()).collect();
    for (i, c) in conns.into_iter().enumerate() {
        shares[i % threads].push(c);
    }
    let workers: Vec<_> = shares
        .into_iter()
        .map(|share| {
            let a = a.clone();
            thread::spawn(move || worker(share, &a, deadline))
        })
        .collect();
    let mut tally = Tally::default();
    for w in workers {
        match w.join().expect("worker panicked") {
            Ok((s, t)) => {
                sys.add(&s);
                tally.requests += t.requests;
                tally.bytes_sent += t.bytes_sent;
                tally.bytes_received += t.bytes_received;
            }
            Err(e) => fail(PROGRAM, e),
        }
    }
    let elapsed = started.elapsed();
    let errors: u64 = Call::ALL.iter().map(|&c| sys.stat(c).errors).sum();
    let summary = json!({
        "program": PROGRAM,
        "connections": a.connections,
        "threads": threads,
        "size": a.size,
        "pipeline": a.pipeline,
        "requests": tally.requests,
        "bytes_sent": tally.bytes_sent,
        "bytes_received": tally.bytes_received,
        "verified": true,
        "duration_ns": elapsed.as_nanos() as u64,
        "requests_per_sec": tally.requests as f64 / elapsed.as_secs_f64(),
        "errors": errors,
        "syscalls": sys.to_json(),
    });
    crate::sys::print_summary(&mut sys, &summary);
}

fn worker(mut conns: Vec<Conn>, a: &Args, deadline: Option<Instant>) -> Result<(Sys, Tally), String> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fill_and_verify_agree_across_message_boundaries() {
        let mut b = vec![0u8; 1000];
        fill(&mut b, 3, 64, 100);
        assert_eq!(verify(&b, 3, 64, 100), None);
        assert_eq!(b[0], pattern(3, 1, 36));
        b[500] ^= 1;
        assert_eq!(verify(&b, 3, 64, 100), Some(600));
        assert!(verify(&b[..10], 4, 64, 100).is_some(), "another connection's stream differs");
    }
}
