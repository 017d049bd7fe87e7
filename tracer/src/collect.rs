//! Driving a trace: drain the ring buffer until a stop condition, then settle, detach and
//! hand over what the kernel still holds in maps.
//!
//! The kernel submits records without waking us (see `tracer-ebpf/src/maps.rs`), except
//! past a high-water mark; so the ring is drained on a short timer and on wakeups.
use std::{
    os::fd::{AsRawFd, OwnedFd},
    time::{Duration, Instant},
};

use anyhow::Result;
use aya::maps::{MapData, RingBuf};
use tokio::{
    io::{Interest, unix::AsyncFd},
    process::Child,
    signal::unix::{SignalKind, signal},
};

use crate::{
    analysis::{Analysis, TraceMeta},
    decode::{Record, decode},
    mappings,
    session::Session,
};

/// How often the ring is drained when the kernel does not wake us.
const POLL: Duration = Duration::from_millis(20);
/// After the target exits, how long to wait for its threads' final switches.
const SETTLE_MAX: Duration = Duration::from_millis(250);
/// After Ctrl-C in `run`, how long the command gets to exit while still traced.
const RUN_GRACE: Duration = Duration::from_secs(2);

/// What ends a trace besides `--duration` and Ctrl-C.
pub enum Watch {
    /// An existing process (`attach`): its pidfd turns readable when it exits.
    Pid { pid: u32, fd: AsyncFd<OwnedFd> },
    /// The command we launched (`run`); `pid` outlives the reaping of `child`.
    Child { pid: u32, child: Child },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StopReason {
    Duration,
    Interrupted,
    /// The watched process exited; for `run`, with its wait status turned into an exit code.
    TargetExited(Option<i32>),
}

pub struct Outcome {
    pub reason: StopReason,
    pub meta_duration_ns: u64,
    pub lost_events: u64,
    /// Program runs the kernel skipped (recursion protection).
    pub missed_events: u64,
    /// Records the decoder rejected (a kernel/user mismatch; should be 0).
    pub undecodable: u64,
    /// What this kernel could not measure.
    pub notes: Vec<String>,
}

/// Feeds every record to `analysis` until a stop condition; the session is detached on
/// return.
pub async fn trace(
    session: &mut Session,
    ring: RingBuf<MapData>,
    watch: &mut Watch,
    deadline: Option<Duration>,
    analysis: &mut Analysis,
) -> Result<Outcome> {
    let started = Instant::now();
    let mut sigint = signal(SignalKind::interrupt())?;
    let mut sigterm = signal(SignalKind::terminate())?;
    let mut undecodable = 0;
    let mut sink = |bytes: &[u8]| match decode(bytes) {
        // A file mapping arrives unnamed: name it from /proc while the process is there.
        Ok(Record::FileMap(m)) => {
            for named in mappings::name(&m) {
                analysis.push(&Record::FileMap(named));
            }
        }
        Ok(r) => analysis.push(&r),
        Err(_) => undecodable += 1,
    };
    let mut ring = readable(ring)?;
    let sleep = async {
        match deadline {
            Some(d) => tokio::time::sleep(d).await,
            None => std::future::pending().await,
        }
    };
    tokio::pin!(sleep);
    let mut tick = tokio::time::interval(POLL);
    let mut reason = loop {
        tokio::select! {
            guard = ring.readable_mut() => {
                let mut guard = guard?;
                drain(guard.get_inner_mut(), &mut sink);
                guard.clear_ready();
            }
            _ = tick.tick() => drain(ring.get_mut(), &mut sink),
            () = &mut sleep => break StopReason::Duration,
            _ = sigint.recv() => break StopReason::Interrupted,
            _ = sigterm.recv() => break StopReason::Interrupted,
            code = exited(watch) => break StopReason::TargetExited(code),
        }
    };
    if reason == StopReason::Interrupted {
        if let Watch::Child { child, .. } = watch {
            // Let the command react to the signal while still traced, then make sure it is
            // gone: we started it, and nothing we started may outlive the trace silently.
            forward_signal(child, libc::SIGINT);
            reason = match tokio::time::timeout(RUN_GRACE, exited(watch)).await {
                Ok(code) => StopReason::TargetExited(code),
                Err(_) => {
                    if let Watch::Child { child, .. } = watch {
                        let _ = child.kill().await;
                    }
                    StopReason::Interrupted
                }
            };
        }
    }
    if let StopReason::TargetExited(_) = reason {
        settle(session, &mut ring, watched_pid(watch), &mut sink).await;
    }
    let missed = session.detach();
    let duration_ns = started.elapsed().as_nanos() as u64;
    drain(ring.get_mut(), &mut sink);
    let mut live = std::collections::BTreeSet::new();
    for record in session.snapshot()? {
        if let Ok(Record::Thread { exited: false, record: t }) = decode(&record) {
            live.insert(t.state.tgid);
        }
        sink(&record);
    }
    // Mappings made before the trace (attach) or by execve have no mmap record: name every
    // file mapping of the processes still alive.
    for tgid in live {
        for named in mappings::from_maps(tgid) {
            sink(crate::decode::encode(&named));
        }
    }
    let mut notes = session.notes.clone();
    for (program, n) in &missed {
        notes.push(format!("{program}: {n} hits skipped by the kernel (the program was already running on that CPU)"));
    }
    Ok(Outcome {
        reason,
        meta_duration_ns: duration_ns,
        lost_events: session.lost()?,
        missed_events: missed.iter().map(|(_, n)| n).sum(),
        undecodable,
        notes,
    })
}

/// Waits (bounded) until the exited target's threads have all made their last switch,
/// which the kernel reports just after the parent is told of the exit.
async fn settle(session: &Session, ring: &mut AsyncFd<RingBuf<MapData>>, tgid: u32, sink: &mut impl FnMut(&[u8])) {
    let until = Instant::now() + SETTLE_MAX;
    while session.live_threads_of(tgid) > 0 && Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    drain(ring.get_mut(), sink);
}

fn drain(ring: &mut RingBuf<MapData>, sink: &mut impl FnMut(&[u8])) {
    while let Some(item) = ring.next() {
        sink(&item);
    }
}

async fn exited(watch: &mut Watch) -> Option<i32> {
    match watch {
        Watch::Pid { fd, .. } => {
            let _ = fd.readable().await;
            None
        }
        Watch::Child { child, .. } => child.wait().await.ok().map(exit_code),
    }
}

fn watched_pid(watch: &Watch) -> u32 {
    match watch {
        Watch::Pid { pid, .. } | Watch::Child { pid, .. } => *pid,
    }
}

fn forward_signal(child: &Child, sig: i32) {
    if let Some(pid) = child.id() {
        // SAFETY: signalling our own, not yet reaped, child.
        unsafe { libc::kill(pid as i32, sig) };
    }
}

/// Registers an owned fd with the reactor for readability.
pub fn readable<T: AsRawFd>(inner: T) -> std::io::Result<AsyncFd<T>> {
    // SAFETY: `inner` owns its fd and keeps it open and unchanged until the AsyncFd (which
    // now owns `inner`) is dropped.
    Ok(unsafe { AsyncFd::register_with_interest(inner, Interest::READABLE) }?)
}

/// Shell convention: the exit code, or 128 + the signal that killed the process.
pub fn exit_code(status: std::process::ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    status.code().unwrap_or_else(|| 128 + status.signal().unwrap_or(0))
}

impl Outcome {
    pub fn meta(&self, pid: u32, command: String) -> TraceMeta {
        TraceMeta {
            pid,
            command,
            duration_ns: self.meta_duration_ns,
            lost_events: self.lost_events,
            missed_events: self.missed_events,
            notes: self.notes.clone(),
        }
    }
}
