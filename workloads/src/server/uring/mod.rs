//! `--mode io-uring`: the proactor. Each thread owns a ring: the server asks for ACCEPT,
//! RECV and SEND (or SEND_ZC) and is told when each is done, from the CQ. With `--threads
//! N` an acceptor ring hands each connection to a reactor ring with MSG_RING (the fd in
//! the CQE it posts there). The stop is a POLL_ADD on an eventfd in every ring; then every
//! request still in flight is cancelled and its completion reaped, so every SQE's CQEs
//! are counted.
mod acceptor;
mod conn;
mod options;
mod reactor;
mod tokens;

use std::{os::fd::RawFd, thread};

use io_uring::opcode;
use serde_json::{Map, Value, json};

use self::{
    options::Options,
    reactor::{Extra, Reactor},
};
use super::{
    args::{Args, PROGRAM},
    tally::Tally,
};
use crate::{
    fail,
    stop::{self, Ended},
    sys::Sys,
    uring::{BufRing, Feature, Ring, Stats, refusal},
};

/// SQ entries per ring (the CQ gets twice as many).
const ENTRIES: u32 = 1024;
/// --multishot: the provided-buffer ring of each reactor.
const BUFS: u16 = 256;
const BUF_LEN: u32 = 16 << 10;

/// The rings, set up and checked against the kernel before the server listens.
pub struct Rings {
    opts: Options,
    reactors: Vec<(Ring, Option<BufRing>)>,
    acceptor: Option<Ring>,
}

impl Rings {
    /// One ring per reactor, plus the acceptor's with --threads N; exits with one line if
    /// the kernel lacks what the options need.
    pub fn new(args: &Args, sys: &mut Sys) -> Self {
        let opts = Options { sqpoll: args.sqpoll, multishot: args.multishot, send_zc: args.send_zc };
        let mut new_ring = || {
            Ring::new(sys, ENTRIES, opts.sqpoll).unwrap_or_else(|e| {
                let what =
                    if opts.sqpoll.is_some() { "an SQPOLL io_uring (IORING_SETUP_SQPOLL)" } else { "an io_uring" };
                fail(PROGRAM, format_args!("this kernel refused {what}: io_uring_setup: {e}"))
            })
        };
        let mut rings: Vec<Ring> = (0..args.threads).map(|_| new_ring()).collect();
        let acceptor = (args.threads > 1).then(&mut new_ring);
        let kernel =
            rings[0].kernel(sys).unwrap_or_else(|e| fail(PROGRAM, format_args!("IORING_REGISTER_PROBE failed: {e}")));
        if let Some(line) = refusal(&needs(&opts, args.threads), &kernel) {
            fail(PROGRAM, line);
        }
        let reactors = rings
            .drain(..)
            .map(|ring| {
                let bufs = opts.multishot.then(|| {
                    let bufs = BufRing::new(sys, 0, BUFS, BUF_LEN)
                        .unwrap_or_else(|e| fail(PROGRAM, format_args!("mmap of the buffer ring: {e}")));
                    ring.register_buf_ring(sys, &bufs).unwrap_or_else(|e| {
                        fail(PROGRAM, format_args!("this kernel cannot register a provided-buffer ring (IORING_REGISTER_PBUF_RING, Linux 5.19): {e}"))
                    });
                    bufs
                });
                (ring, bufs)
            })
            .collect();
        Self { opts, reactors, acceptor }
    }

    pub fn serve(self, args: &Args, sys: &mut Sys, listen_fd: RawFd) -> (Ended, Tally, Map<String, Value>) {
        let stop_fd = sys.eventfd().unwrap_or_else(|e| fail(PROGRAM, format_args!("eventfd: {e}")));
        let Self { opts, reactors, acceptor } = self;
        let targets: Vec<RawFd> = reactors.iter().map(|(r, _)| r.fd()).collect();
        let single = acceptor.is_none();
        let workers: Vec<_> = reactors
            .into_iter()
            .map(|(ring, bufs)| {
                let listen = single.then_some(listen_fd);
                thread::spawn(move || Reactor::new(ring, bufs, opts, stop_fd, listen).run())
            })
            .collect();
        let accept_stop =
            acceptor.as_ref().map(|_| sys.eventfd().unwrap_or_else(|e| fail(PROGRAM, format_args!("eventfd: {e}"))));
        let acceptor = acceptor.map(|ring| {
            let stop = accept_stop.unwrap();
            thread::spawn(move || acceptor::run(ring, listen_fd, stop, &targets))
        });

        let ended = stop::wait(args.duration);
        let mut stats = Stats::default();
        let mut extra = Extra::default();
        let mut tally = Tally::default();
        // The acceptor stops first: a connection it hands over after a reactor stopped
        // would post a CQE nobody reaps.
        if let (Some(a), Some(fd)) = (acceptor, accept_stop) {
            let _ = sys.eventfd_signal(fd);
            let (s, st) = a.join().expect("acceptor thread panicked");
            sys.add(&s);
            stats.add(&st);
            sys.close(fd);
        }
        let _ = sys.eventfd_signal(stop_fd);
        for w in workers {
            let ((s, t), st, x) = w.join().expect("reactor thread panicked");
            sys.add(&s);
            tally.add(&t);
            stats.add(&st);
            extra.add(&x);
        }
        sys.close(stop_fd);
        (ended, tally, summary(&opts, args.threads, &stats, &extra))
    }
}

/// What the kernel must have for these options.
fn needs(opts: &Options, threads: u32) -> Vec<(Feature, &'static str)> {
    let mut needs = vec![
        (Feature::Op(opcode::Accept::CODE), "--mode io-uring"),
        (Feature::Op(opcode::Recv::CODE), "--mode io-uring"),
        (Feature::Op(opcode::Send::CODE), "--mode io-uring"),
        (Feature::Op(opcode::PollAdd::CODE), "--mode io-uring"),
        (Feature::Op(opcode::AsyncCancel::CODE), "--mode io-uring"),
    ];
    if threads > 1 {
        needs.push((Feature::Op(opcode::MsgRingData::CODE), "--threads N"));
    }
    if opts.sqpoll.is_some() {
        needs.push((Feature::SqpollNonfixed, "--sqpoll"));
    }
    if opts.multishot {
        needs.push((Feature::RecvMultishot, "--multishot"));
    }
    if opts.send_zc {
        needs.push((Feature::Op(opcode::SendZc::CODE), "--send-zc"));
    }
    needs
}

/// The mode's own keys: `io_uring: {rings, sqpoll_idle_ms, multishot, send_zc, sqes, cqes,
/// enter, multishot_rearms, enobufs, unreaped}`.
fn summary(opts: &Options, threads: u32, stats: &Stats, extra: &Extra) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("rings".into(), (threads + u32::from(threads > 1)).into());
    m.insert("sqpoll_idle_ms".into(), json!(opts.sqpoll));
    m.insert("multishot".into(), opts.multishot.into());
    m.insert("send_zc".into(), opts.send_zc.into());
    m.extend(stats.to_json());
    m.insert("multishot_rearms".into(), extra.rearms.into());
    m.insert("enobufs".into(), extra.enobufs.into());
    m.insert("unreaped".into(), extra.unreaped.into());
    let mut out = Map::new();
    out.insert("io_uring".into(), Value::Object(m));
    out
}
