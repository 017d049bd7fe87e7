//! Driving a trace: drain the ring buffer until a stop condition, then settle, detach and
//! hand over what the kernel still holds in maps.
//!
//! The kernel submits records without waking us (see `tracer-ebpf/src/maps.rs`), except
//! past a high-water mark; so the ring is drained on a short timer and on wakeups. Every
//! record goes through one [`Consumer`] (`consumer.rs`).
mod consumer;

pub use consumer::Consumer;

use std::{
    io::IsTerminal,
    os::fd::OwnedFd,
    time::{Duration, Instant},
};

use anyhow::Result;
use aya::maps::{MapData, RingBuf};
use tokio::{io::unix::AsyncFd, process::Child};

use crate::{
    analysis::TraceMeta,
    report::{Lost, MapFull, Overhead, ProgramCost, Report},
    session::Session,
    signals::Signals,
};

/// How often the ring is drained when the kernel does not wake us.
const POLL: Duration = Duration::from_millis(20);
/// How often ended threads' and processes' rows are taken out of the kernel's maps.
const SWEEP: Duration = Duration::from_secs(1);
/// After the target exits, how long to wait for its threads' final switches.
const SETTLE_MAX: Duration = Duration::from_millis(250);
/// After Ctrl-C in `run`, how long the command gets to exit while still traced.
const RUN_GRACE: Duration = Duration::from_secs(2);
const PROGRESS: Duration = Duration::from_millis(250);

/// What ends a trace besides `--duration` and Ctrl-C.
pub enum Watch {
    /// An existing process (`attach`): its pidfd turns readable when it exits.
    Pid { pid: u32, fd: AsyncFd<OwnedFd> },
    /// The command we launched (`run`); `pid` outlives the reaping of `child`.
    Child { pid: u32, child: Child },
    /// Nothing: a signal came while the programs loaded, before the command started.
    Nothing,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StopReason {
    Duration,
    /// SIGINT or SIGTERM (the number).
    Interrupted(i32),
    /// The watched process exited; for `run`, with its wait status turned into an exit code.
    TargetExited(Option<i32>),
}

pub struct Outcome {
    pub reason: StopReason,
    pub meta: TraceMeta,
    /// Records the decoder rejected (a kernel/user mismatch; should be 0).
    pub undecodable: u64,
}

/// Reports while tracing: a fresh one every `every` to `show`, and one for each request
/// (`tracer serve`: each scrape asks for the report so far).
pub struct Live<'a> {
    pub every: Duration,
    pub show: Option<Show<'a>>,
    pub requests: Option<Requests>,
    /// The status line on stderr (when a terminal): off where a full-screen view owns it.
    pub status: bool,
}

/// Where interval reports go.
pub type Show<'a> = &'a mut dyn FnMut(&Report) -> Result<()>;

/// Requests for the report so far, each with where to send it.
pub type Requests = tokio::sync::mpsc::Receiver<tokio::sync::oneshot::Sender<Report>>;

/// Feeds every record to `consumer` until a stop condition; the session is detached on
/// return. `meta` gives the target; duration and losses are filled in here.
#[expect(clippy::too_many_arguments, reason = "one trace's parts, each used once")]
pub async fn trace(
    session: &mut Session,
    ring: RingBuf<MapData>,
    watch: &mut Watch,
    signals: &Signals,
    deadline: Option<Duration>,
    consumer: &mut Consumer,
    mut live: Option<Live<'_>>,
    mut meta: TraceMeta,
) -> Result<Outcome> {
    let started = Instant::now();
    let mut ring = crate::target::readable(ring)?;
    let sleep = async {
        match deadline {
            Some(d) => tokio::time::sleep(d).await,
            None => std::future::pending().await,
        }
    };
    tokio::pin!(sleep);
    let mut tick = tokio::time::interval(POLL);
    let every = live.as_ref().map_or(Duration::from_secs(3600), |l| l.every);
    let shows = live.as_ref().is_some_and(|l| l.show.is_some());
    let mut requests = live.as_mut().and_then(|l| l.requests.take());
    let mut view = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    let progress = live.as_ref().is_none_or(|l| l.status) && std::io::stderr().is_terminal();
    let mut status = tokio::time::interval(PROGRESS);
    let mut sweep = tokio::time::interval_at(tokio::time::Instant::now() + SWEEP, SWEEP);
    // A signal that came while the programs loaded is the first `recv` hands out: it ends
    // the trace at once, and a command already started gets it too.
    let mut reason = loop {
        tokio::select! {
            guard = ring.readable_mut() => {
                let mut guard = guard?;
                drain(guard.get_inner_mut(), consumer)?;
                guard.clear_ready();
                consumer.name_new_stacks(session)?;
            }
            _ = tick.tick() => {
                drain(ring.get_mut(), consumer)?;
                consumer.name_new_stacks(session)?;
            }
            _ = sweep.tick() => consumer.sweep(session)?,
            _ = view.tick(), if shows => {
                drain(ring.get_mut(), consumer)?;
                meta.duration_ns = started.elapsed().as_nanos() as u64;
                account(session, &mut meta)?;
                let report = interim(consumer, session, &meta)?;
                if let Some(show) = live.as_mut().and_then(|l| l.show.as_mut()) {
                    show(&report)?;
                }
            }
            Some(reply) = next_request(&mut requests) => {
                drain(ring.get_mut(), consumer)?;
                meta.duration_ns = started.elapsed().as_nanos() as u64;
                account(session, &mut meta)?;
                let _ = reply.send(interim(consumer, session, &meta)?);
            }
            _ = status.tick(), if progress => {
                eprint!("\r\x1b[Ktracing {:.1} s, {} records, {} lost", started.elapsed().as_secs_f64(), consumer.records, session.lost()?);
            }
            () = &mut sleep => break StopReason::Duration,
            sig = signals.recv() => {
                let sig = sig?;
                if let Watch::Child { child, .. } = watch {
                    // Ctrl-C in a terminal reached the command already (its process group);
                    // a signal sent to the tracer alone is passed on, as itself.
                    if sig.by_process {
                        forward_signal(child, sig.signo);
                    }
                }
                break StopReason::Interrupted(sig.signo);
            }
            code = exited(watch) => break StopReason::TargetExited(code),
        }
    };
    if progress {
        eprint!("\r\x1b[K");
    }
    if let (StopReason::Interrupted(sig), Watch::Child { .. }) = (reason, &watch) {
        // Let the command react to the signal while still traced, then make sure it is
        // gone: we started it, and nothing we started may outlive the trace silently.
        reason = match tokio::time::timeout(RUN_GRACE, exited(watch)).await {
            Ok(code) => StopReason::TargetExited(code),
            Err(_) => {
                if let Watch::Child { child, .. } = watch {
                    let _ = child.kill().await;
                }
                StopReason::Interrupted(sig)
            }
        };
    }
    if let StopReason::TargetExited(_) = reason {
        settle(session, &mut ring, watched_pid(watch), consumer).await?;
    }
    session.detach();
    meta.duration_ns = started.elapsed().as_nanos() as u64;
    drain(ring.get_mut(), consumer)?;
    final_snapshot(consumer, session)?;
    account(session, &mut meta)?;
    let programs = session.programs();
    meta.missed_events = session.missed(&programs);
    if meta.missed_events.is_none() {
        meta.notes.push(format!(
            "missed events are unknown: Linux {} skips a program that is already running on a CPU without counting it",
            session.plan.kernel
        ));
    }
    for p in programs.iter().filter(|p| p.misses.is_some_and(|n| n > 0)) {
        meta.notes.push(format!(
            "{}: {} hits skipped by the kernel (the program was already running on that CPU)",
            p.name,
            p.misses.unwrap_or(0)
        ));
    }
    if let Some(why) = session.costs_unavailable() {
        meta.notes.push(format!("what the programs cost is unknown: {why}"));
    }
    consumer.finish(&meta)?;
    Ok(Outcome { reason, undecodable: consumer.undecodable, meta })
}

/// The report so far: the analysis plus the maps' current totals, without disturbing
/// either (totals are snapshots, not increments, so they go into a copy). The maps' rows
/// go into the copy as records, never encoded: nothing records them.
fn interim(consumer: &Consumer, session: &Session, meta: &TraceMeta) -> Result<Report> {
    let mut view = consumer.analysis.clone();
    for r in session.snapshot()? {
        view.push(&r);
    }
    Ok(view.report(meta))
}

/// What the kernel covers and what it could not keep, into the trace's metadata.
fn account(session: &Session, meta: &mut TraceMeta) -> Result<()> {
    meta.kernel.clone_from(&session.plan.kernel);
    meta.coverage.clone_from(&session.plan.coverage);
    meta.unavailable.clone_from(&session.plan.unavailable);
    meta.overhead = overhead(session);
    meta.lost = Lost {
        stack_captures: 0,
        timeline_events: 0,
        ring_buffer: session.lost()?,
        maps: session
            .map_full()?
            .into_iter()
            .map(|(slot, n, remedy)| MapFull { map: slot.map().to_owned(), entries_lost: n, remedy })
            .collect(),
    };
    Ok(())
}

/// The programs' run time (estimated from the statistics windows) and this process's
/// CPU time so far.
fn overhead(session: &Session) -> Overhead {
    let costs = session.costs();
    Overhead {
        bpf_ns: costs.as_ref().and_then(super::cost::Summary::ns),
        bpf_hits: costs.as_ref().map(super::cost::Summary::runs),
        bpf_stats_coverage: costs.as_ref().and_then(|c| c.coverage),
        user_cpu_ns: process_cpu_ns(),
        programs: costs
            .iter()
            .flat_map(|c| &c.programs)
            .map(|e| ProgramCost { program: e.program.clone(), ns: e.ns, hits: e.runs })
            .collect(),
    }
}

fn process_cpu_ns() -> u64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: an out struct.
    unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// The maps' final contents into the stream.
fn final_snapshot(consumer: &mut Consumer, session: &Session) -> Result<()> {
    consumer.name_new_stacks(session)?;
    consumer.name_remaining_stacks(session)?;
    for record in session.snapshot()? {
        consumer.take(record)?;
    }
    Ok(())
}

/// Waits (bounded) until the exited target's threads have all made their last switch,
/// which the kernel reports just after the parent is told of the exit.
async fn settle(
    session: &Session,
    ring: &mut AsyncFd<RingBuf<MapData>>,
    tgid: u32,
    consumer: &mut Consumer,
) -> Result<()> {
    let until = Instant::now() + SETTLE_MAX;
    while session.live_threads_of(tgid) > 0 && Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    drain(ring.get_mut(), consumer)
}

fn drain(ring: &mut RingBuf<MapData>, consumer: &mut Consumer) -> Result<()> {
    while let Some(item) = ring.next() {
        consumer.feed(&item)?;
    }
    Ok(())
}

/// The next request for a report; never, without a source of them.
async fn next_request(requests: &mut Option<Requests>) -> Option<tokio::sync::oneshot::Sender<Report>> {
    match requests {
        Some(r) => r.recv().await,
        None => std::future::pending().await,
    }
}

async fn exited(watch: &mut Watch) -> Option<i32> {
    match watch {
        Watch::Pid { fd, .. } => {
            let _ = fd.readable().await;
            None
        }
        Watch::Child { child, .. } => child.wait().await.ok().map(exit_code),
        Watch::Nothing => std::future::pending().await,
    }
}

fn watched_pid(watch: &Watch) -> u32 {
    match watch {
        Watch::Pid { pid, .. } | Watch::Child { pid, .. } => *pid,
        Watch::Nothing => 0,
    }
}

fn forward_signal(child: &Child, sig: i32) {
    if let Some(pid) = child.id() {
        // SAFETY: signalling our own, not yet reaped, child.
        unsafe { libc::kill(pid as i32, sig) };
    }
}

/// Shell convention: the exit code, or 128 + the signal that killed the process.
pub fn exit_code(status: std::process::ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    status.code().unwrap_or_else(|| 128 + status.signal().unwrap_or(0))
}
