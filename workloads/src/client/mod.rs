//! `epoll-client`: load for `epoll-server`. Each worker thread drives its share of the
//! connections from one epoll loop: it sends `--pipeline` messages of `--size` bytes, reads
//! the echoes back while still sending (a large message would otherwise deadlock against
//! the server's backpressure), checks every byte, and repeats until `--requests` or
//! `--duration` is used up.
mod args;
mod stream;
mod worker;

use std::{thread, time::Instant};

use serde_json::json;

use self::{
    args::{Args, PROGRAM},
    worker::{Conn, Tally, worker},
};
use crate::{
    fail, net,
    sys::{Call, Sys},
};

pub fn main() {
    let a: Args = crate::args::parse(PROGRAM);
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
