//! `--mode sigio`: signal-driven I/O. Every socket is O_ASYNC with its owner set to the
//! reactor thread (F_SETOWN_EX) and F_SETSIG to a real-time signal, so each readiness
//! change queues one signal carrying the fd and the poll band; the reactor takes them with
//! sigwaitinfo (rt_sigtimedwait) and drains the socket as edge-triggered epoll would. With
//! `--threads N`, an acceptor in blocking accept(2) hands each connection to a reactor as
//! the value of a queued signal (rt_tgsigqueueinfo). If the signal queue is full
//! (RLIMIT_SIGPENDING), the kernel raises SIGIO instead, and the reactor rescans every
//! socket. The stop is SIGUSR1 by tgkill: a standard signal is a pending bit, which a full
//! queue cannot refuse.
mod reactor;
mod signals;

use std::{io, os::fd::RawFd, sync::mpsc, thread};

use serde_json::{Map, Value, json};

pub use self::signals::block_signals;
use self::{
    reactor::{Counts, SigReactor},
    signals::Signals,
};
use super::{
    args::{Args, PROGRAM},
    handoff::is_transient_accept_error,
    tally::Tally,
};
use crate::{
    fail, net,
    stop::{self, Ended},
    sys::{Call, Sys},
};

/// Queues `sig` with `value` for thread `tid` of process `tgid`; while the queue is full
/// (EAGAIN, counted) it retries every millisecond, for 10 s at most.
pub fn queue(sys: &mut Sys, tgid: i32, tid: i32, sig: i32, value: usize) -> io::Result<()> {
    let mut result = queue_once(sys, tgid, tid, sig, value);
    for _ in 0..10_000 {
        match &result {
            Err(e) if e.raw_os_error() == Some(libc::EAGAIN) => {
                let ms = libc::timespec { tv_sec: 0, tv_nsec: 1_000_000 };
                let _ = sys
                    .call(Call::ClockNanosleep, [libc::CLOCK_MONOTONIC as usize, 0, &raw const ms as usize, 0, 0, 0]);
                result = queue_once(sys, tgid, tid, sig, value);
            }
            _ => break,
        }
    }
    result
}

fn queue_once(sys: &mut Sys, tgid: i32, tid: i32, sig: i32, value: usize) -> io::Result<()> {
    // SAFETY: siginfo_t is plain data.
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    info.si_signo = sig;
    info.si_code = libc::SI_QUEUE;
    // The sigval is 24 bytes in: after signo, errno, code and padding (16), and the
    // sender's pid and uid (8).
    // SAFETY: within the 128-byte siginfo_t.
    unsafe { (&raw mut info).cast::<u8>().add(24).cast::<usize>().write_unaligned(value) };
    let args = [tgid as usize, tid as usize, sig as usize, &raw const info as usize, 0, 0];
    sys.call(Call::RtTgsigqueueinfo, args).map(drop)
}

pub fn serve(args: &Args, sys: &mut Sys, listen_fd: RawFd) -> (Ended, Tally, Map<String, Value>) {
    let sigs = Signals::get();
    let single = args.threads == 1;
    let (tx, rx) = mpsc::channel();
    let reactors: Vec<_> = (0..args.threads)
        .map(|_| {
            let tx = tx.clone();
            let listen = single.then_some(listen_fd);
            thread::spawn(move || SigReactor::new(sigs, listen).run(&tx))
        })
        .collect();
    let tids: Vec<i32> = (0..args.threads).map(|_| rx.recv().expect("a reactor started")).collect();
    let tgid = sys.call(Call::Getpid, [0; 6]).unwrap_or_else(|e| fail(PROGRAM, format_args!("getpid: {e}"))) as i32;
    let acceptor = (!single).then(|| {
        let tids = tids.clone();
        thread::spawn(move || acceptor(listen_fd, tgid, &tids, sigs.handoff))
    });

    let ended = stop::wait(args.duration);
    let mut tally = Tally::default();
    // The acceptor first (shutdown(2) ends its accept), so no handoff follows a stop.
    if let Some(a) = acceptor {
        sys.shutdown(listen_fd, libc::SHUT_RDWR);
        let (s, t) = a.join().expect("acceptor thread panicked");
        sys.add(&s);
        tally.add(&t);
    }
    for &tid in &tids {
        let args = [tgid as usize, tid as usize, sigs.stop as usize, 0, 0, 0];
        sys.call(Call::Tgkill, args).unwrap_or_else(|e| fail(PROGRAM, format_args!("tgkill: {e}")));
    }
    let mut counts = Counts::default();
    for r in reactors {
        let ((s, t), c) = r.join().expect("reactor thread panicked");
        sys.add(&s);
        tally.add(&t);
        counts.add(&c);
    }
    (ended, tally, summary(&sigs, &counts))
}

/// Blocking accept(2), each connection queued to the next reactor as a handoff signal.
fn acceptor(listen_fd: RawFd, tgid: i32, tids: &[i32], handoff: i32) -> (Sys, Tally) {
    let mut sys = Sys::default();
    for i in 0.. {
        match net::accept(&mut sys, listen_fd, true) {
            Ok(fd) => {
                if let Err(e) = queue(&mut sys, tgid, tids[i % tids.len()], handoff, fd as usize) {
                    fail(PROGRAM, format_args!("rt_tgsigqueueinfo: {e}"));
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted || is_transient_accept_error(&e) => {}
            Err(_) => break, // the listening socket was shut down: stopping
        }
    }
    (sys, Tally { stop_errors: 1, ..Tally::default() })
}

/// `signals: {io|handoff|stop|overflow: {signo, received}}` and `signals_after_stop`.
fn summary(sigs: &Signals, c: &Counts) -> Map<String, Value> {
    let role = |signo: i32, received: u64| json!({"signo": signo, "received": received});
    let mut m = Map::new();
    m.insert(
        "signals".into(),
        json!({
            "io": role(sigs.io, c.io),
            "handoff": role(sigs.handoff, c.handoff),
            "stop": role(sigs.stop, c.stop),
            "overflow": role(sigs.overflow, c.overflow),
        }),
    );
    m.insert("signals_after_stop".into(), c.after_stop.into());
    m
}
