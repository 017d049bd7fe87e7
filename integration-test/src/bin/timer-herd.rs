//! `timer-herd THREADS ROUNDS`: THREADS threads sleep ROUNDS times each until the same
//! absolute moment (`clock_nanosleep(TIMER_ABSTIME)`), so one timer interrupt wakes them
//! all: a burst of wakeups, each a new waker -> wakee edge, inside one interrupt-disabled
//! section. Every sleep ends by its timer (an already-passed deadline too: the armed
//! timer fires at once, from the interrupt). Prints {"pid", "tids": [...], "sleeps"}:
//! the sleeps each thread made.
use std::{
    sync::{
        Arc, Barrier,
        atomic::{AtomicI64, Ordering},
        mpsc,
    },
    thread,
    time::Duration,
};

fn now() -> libc::timespec {
    let mut t = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: a valid timespec to fill.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut t) };
    t
}

fn plus(t: libc::timespec, d: Duration) -> libc::timespec {
    let ns = t.tv_nsec as u128 + d.as_nanos();
    libc::timespec { tv_sec: t.tv_sec + (ns / 1_000_000_000) as i64, tv_nsec: (ns % 1_000_000_000) as i64 }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let threads: usize = args.next().map_or(64, |a| a.parse().unwrap());
    let rounds: u32 = args.next().map_or(10, |a| a.parse().unwrap());
    // Far enough apart that every thread is asleep before each deadline, even under TCG.
    let spacing = Duration::from_millis(100);
    // The first deadline is set once every thread exists, so all are asleep at it.
    let (start_sec, start_nsec) = (Arc::new(AtomicI64::new(0)), Arc::new(AtomicI64::new(0)));
    let ready = Arc::new(Barrier::new(threads + 1));
    let (tx, rx) = mpsc::channel();
    let workers: Vec<_> = (0..threads)
        .map(|_| {
            let (tx, ready) = (tx.clone(), ready.clone());
            let (sec, nsec) = (start_sec.clone(), start_nsec.clone());
            thread::spawn(move || {
                // SAFETY: plain syscall.
                tx.send(unsafe { libc::gettid() }).unwrap();
                ready.wait();
                let start =
                    libc::timespec { tv_sec: sec.load(Ordering::Acquire), tv_nsec: nsec.load(Ordering::Acquire) };
                for r in 1..=rounds {
                    let deadline = plus(start, spacing * r);
                    // SAFETY: a valid absolute deadline; no remainder is asked for.
                    let rc = unsafe {
                        libc::clock_nanosleep(
                            libc::CLOCK_MONOTONIC,
                            libc::TIMER_ABSTIME,
                            &deadline,
                            std::ptr::null_mut(),
                        )
                    };
                    assert_eq!(rc, 0, "clock_nanosleep");
                }
            })
        })
        .collect();
    drop(tx);
    let tids: Vec<i32> = rx.iter().take(threads).collect();
    let start = now();
    start_nsec.store(start.tv_nsec, Ordering::Release);
    start_sec.store(start.tv_sec, Ordering::Release);
    ready.wait();
    for w in workers {
        w.join().unwrap();
    }
    let tids: Vec<String> = tids.iter().map(i32::to_string).collect();
    println!(r#"{{"pid":{},"tids":[{}],"sleeps":{rounds}}}"#, std::process::id(), tids.join(","));
}
