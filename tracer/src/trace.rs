//! One trace from start to report: resolve the target, load and attach, launch the
//! command (if any) only once the probes are live, collect, detach. Shared by `attach`,
//! `run`, `record` and `demo`.
use std::{ffi::OsString, path::PathBuf, process::Stdio, time::Duration};

use anyhow::{Context, Result};
use tokio::io::AsyncReadExt;

use crate::{
    analysis::{TraceMeta, timeline::Timeline},
    collect::{self, Consumer, Live, StopReason, Watch},
    recording,
    report::Report,
    session::{Join, Options, Session, Settings},
    signals::{self, Signals},
    target,
};

/// Whether a SIGINT or SIGTERM is waiting (it stays waiting: the trace ends on it).
fn signals_came(signals: &Signals) -> bool {
    signals.peek()
}

pub enum Target {
    /// A running process.
    Pid(u32),
    /// The processes of a cgroup (v2) and below it: there now, and exec'ing there later.
    Cgroup(PathBuf),
    /// The processes of a name: running now, and exec'ing as it later.
    Comm(String),
    /// A command to launch; its stdout is captured (not passed through) when asked.
    Command { words: Vec<OsString>, capture_stdout: bool },
}

/// One trace to take.
pub struct Job {
    pub target: Target,
    pub duration: Option<Duration>,
    pub record: Option<PathBuf>,
    pub settings: Settings,
}

pub struct Traced {
    pub report: Report,
    pub reason: StopReason,
    /// The command's stdout, when captured.
    pub stdout: Vec<u8>,
    /// Records the decoder rejected (a kernel/user mismatch; should be 0).
    pub undecodable: u64,
    /// With `--timeline`: its events.
    pub timeline: Timeline,
}

pub async fn trace(job: Job, live: Option<Live<'_>>, signals: &Signals) -> Result<Traced> {
    // Bad input fails before anything is attached.
    let recorder = job.record.as_deref().map(recording::Writer::create).transpose()?;
    let info = match &job.target {
        Target::Pid(pid) => Some(target::describe(*pid)?),
        _ => None,
    };
    let pidfd = match &job.target {
        Target::Pid(pid) => Some(target::readable(target::pidfd(*pid)?)?),
        _ => None,
    };
    let (mut targets, join): (Vec<u32>, Join) = match &job.target {
        Target::Cgroup(dir) => {
            let (pids, dir) = target::cgroup(dir)?;
            (pids, Join::Cgroup(dir))
        }
        Target::Comm(name) => (target::by_comm(name)?, Join::Comm(name.clone())),
        _ => (Vec::new(), Join::None),
    };
    let launcher_tid = if matches!(job.target, Target::Command { .. }) { target::gettid() } else { 0 };
    // Ready before anything runs: naming stacks starts with reading the kernel's symbols.
    let mut consumer = Consumer::new(recorder);
    if job.settings.stacks {
        consumer = consumer.name_stacks();
    }
    targets.extend(info.iter().map(|i| i.pid));
    let now = targets.len();
    let (mut session, ring) = Session::start(&Options { targets, join, launcher_tid, settings: &job.settings })?;
    let mut stdout_task = None;
    let (mut watch, meta) = match (job.target, info, pidfd) {
        (Target::Pid(pid), Some(info), Some(fd)) => {
            eprintln!("tracing PID {pid} ({}) ... Ctrl-C to stop", info.comm);
            (Watch::Pid { pid, fd }, TraceMeta { pid, command: info.command, ..TraceMeta::default() })
        }
        (Target::Cgroup(dir), _, _) => {
            let label = format!("cgroup {}", dir.display());
            eprintln!("tracing {label} ({now} processes now, and those that start in it) ... Ctrl-C to stop");
            (Watch::Nothing, TraceMeta { command: label, ..TraceMeta::default() })
        }
        (Target::Comm(name), _, _) => {
            let label = format!("comm {name}");
            eprintln!("tracing {label} ({now} processes now, and those that start as it) ... Ctrl-C to stop");
            (Watch::Nothing, TraceMeta { command: label, ..TraceMeta::default() })
        }
        (Target::Command { words, .. }, _, _) if signals_came(signals) => {
            // Interrupted while the programs loaded: the command is not started at all.
            (Watch::Nothing, TraceMeta { command: target::command_line(&words), ..TraceMeta::default() })
        }
        (Target::Command { words, capture_stdout }, _, _) => {
            // Spawned only now, from this thread: the kernel adds the child to the target
            // set as it is created, so none of its events is missed.
            let mut cmd = tokio::process::Command::new(&words[0]);
            cmd.args(&words[1..]);
            if capture_stdout {
                cmd.stdout(Stdio::piped());
            }
            // SAFETY: between fork and exec only the async-signal-safe sigprocmask runs.
            unsafe { cmd.pre_exec(signals::unblock_in_child) };
            let mut child = cmd.spawn().with_context(|| {
                format!("cannot run `{}`: check the command name and PATH", words[0].to_string_lossy())
            })?;
            if let Some(mut out) = child.stdout.take() {
                stdout_task = Some(tokio::spawn(async move {
                    let mut buf = Vec::new();
                    let _ = out.read_to_end(&mut buf).await;
                    buf
                }));
            }
            let pid = child.id().context("the command exited before it could be watched")?;
            (
                Watch::Child { pid, child },
                TraceMeta { pid, command: target::command_line(&words), ..TraceMeta::default() },
            )
        }
        _ => unreachable!("a PID target has its info and pidfd"),
    };
    let mut meta = meta;
    meta.stacks = job.settings.stacks;
    meta.timeline = job.settings.timeline;
    let outcome =
        collect::trace(&mut session, ring, &mut watch, signals, job.duration, &mut consumer, live, meta).await?;
    let stdout = match stdout_task {
        Some(task) => task.await.unwrap_or_default(),
        None => Vec::new(),
    };
    let mut report = consumer.analysis.report(&outcome.meta);
    report.lost.timeline_events = consumer.timeline.dropped;
    Ok(Traced {
        report,
        reason: outcome.reason,
        stdout,
        undecodable: outcome.undecodable,
        timeline: std::mem::take(&mut consumer.timeline),
    })
}
