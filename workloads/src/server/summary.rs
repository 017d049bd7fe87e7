//! The one JSON line `epoll-server` prints when it stops: what every thread did, summed.
use std::time::Instant;

use serde_json::{Map, Value, json};

use super::{args::PROGRAM, tally::Tally};
use crate::{
    stop::Ended,
    sys::{self, Call, Sys},
};

/// What the summary says about the run itself.
pub struct Run<'a> {
    pub mode: &'a str,
    pub threads: u32,
    pub port: u16,
    pub ended: Ended,
    pub started: Instant,
}

/// Prints the summary; `extra` holds a mode's own keys (placed before `syscalls`).
pub fn print(run: &Run, mut sys: Sys, tally: &Tally, extra: Map<String, Value>) {
    let waits = [Call::EpollWait, Call::Poll, Call::Select].map(|c| sys.stat(c));
    let errors: u64 = Call::ALL.iter().map(|&c| sys.stat(c).errors).sum::<u64>() - tally.stop_errors;
    let mut summary = json!({
        "program": PROGRAM,
        "mode": run.mode,
        "threads": run.threads,
        "port": run.port,
        "ended": match run.ended { Ended::Duration => "duration".to_owned(), Ended::Signal(s) => signal_name(s) },
        "duration_ns": run.started.elapsed().as_nanos() as u64,
        "connections": tally.connections,
        "refused": tally.refused,
        "requests": tally.requests,
        "bytes_received": tally.bytes_received,
        "bytes_sent": tally.bytes_sent,
        "waits": waits.iter().map(|s| s.calls).sum::<u64>(),
        "events_returned": waits.iter().map(|s| s.total).sum::<u64>(),
        "timeouts": waits.iter().map(|s| s.zero).sum::<u64>(),
        "errors": errors,
    });
    let map = summary.as_object_mut().expect("an object");
    map.extend(extra);
    map.insert("syscalls".into(), sys.to_json());
    sys::print_summary(&mut sys, &summary);
}

fn signal_name(sig: i32) -> String {
    match sig {
        libc::SIGINT => "SIGINT".into(),
        libc::SIGTERM => "SIGTERM".into(),
        s => format!("signal {s}"),
    }
}
