use std::{
    fs::File,
    io::{self, BufWriter, Write},
    process::ExitCode,
    time::Duration,
};

use anyhow::{Context, Result};
use clap::Parser;
use tracer::{
    analysis::Analysis,
    cli::{Cli, Command, OutputArgs},
    collect::{self, Outcome, Watch},
    report::{self, Report},
    session::{Options, Session},
    target,
};

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if !e.use_stderr() => {
            let _ = e.print(); // --help, --version
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("tracer: {} (see `tracer --help`)", one_line(&e.render().to_string()));
            return ExitCode::from(2);
        }
    };
    // One thread: the tracer's own footprint stays small, and the thread that forks the
    // command of `run` is the one whose TID the kernel watches (LAUNCHER_TID).
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("tokio runtime");
    match runtime.block_on(execute(cli)) {
        Ok(code) => code,
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tracer: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn execute(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Attach { pid, duration, output } => attach(pid, duration, &output).await,
        Command::Run { output, command } => run(&command, &output).await,
    }
}

async fn attach(pid: u32, duration: Option<Duration>, out: &OutputArgs) -> Result<ExitCode> {
    let info = target::describe(pid)?;
    let sink = open_output(out)?;
    let fd = collect::readable(target::pidfd(pid)?)?;
    let opts = Options { targets: vec![pid], launcher_tid: 0, ring_bytes: out.ring_kib * 1024 };
    let (mut session, ring) = Session::start(&opts)?;
    eprintln!("tracing PID {pid} ({}) ... Ctrl-C to stop", info.comm);
    let mut analysis = Analysis::default();
    let outcome = collect::trace(&mut session, ring, &mut Watch::Pid { pid, fd }, duration, &mut analysis).await?;
    write_report(&analysis, &outcome, pid, info.command, out.format, sink)?;
    Ok(ExitCode::SUCCESS)
}

async fn run(command: &[std::ffi::OsString], out: &OutputArgs) -> Result<ExitCode> {
    let sink = open_output(out)?;
    let opts = Options { targets: vec![], launcher_tid: target::gettid(), ring_bytes: out.ring_kib * 1024 };
    let (mut session, ring) = Session::start(&opts)?;
    // Spawned only now, from this thread: the kernel adds the child to the target set as
    // it is created, so none of its events is missed.
    let child = tokio::process::Command::new(&command[0])
        .args(&command[1..])
        .spawn()
        .with_context(|| format!("cannot run `{}`: check the command name and PATH", command[0].to_string_lossy()))?;
    let pid = child.id().context("the command exited before it could be watched")?;
    let mut analysis = Analysis::default();
    let mut watch = Watch::Child { pid, child };
    let outcome = collect::trace(&mut session, ring, &mut watch, None, &mut analysis).await?;
    write_report(&analysis, &outcome, pid, target::command_line(command), out.format, sink)?;
    let code = match outcome.reason {
        collect::StopReason::TargetExited(Some(code)) => code,
        _ => 130,
    };
    Ok(ExitCode::from(u8::try_from(code).unwrap_or(1)))
}

/// Where the report goes, opened before tracing so a bad path fails before anything is
/// attached.
fn open_output(out: &OutputArgs) -> Result<Box<dyn Write>> {
    Ok(match &out.output {
        Some(path) => Box::new(BufWriter::new(
            File::create(path).with_context(|| format!("cannot write the report to {}", path.display()))?,
        )),
        None => Box::new(io::stdout()),
    })
}

fn write_report(
    analysis: &Analysis,
    outcome: &Outcome,
    pid: u32,
    command: String,
    format: report::Format,
    mut sink: Box<dyn Write>,
) -> Result<()> {
    if outcome.undecodable > 0 {
        eprintln!("tracer: warning: {} records could not be decoded (tracer build mismatch?)", outcome.undecodable);
    }
    if outcome.missed_events > 0 {
        eprintln!(
            "tracer: warning: the kernel skipped {} tracepoint hits (a program was already running on that CPU): the report is incomplete",
            outcome.missed_events
        );
    }
    if outcome.lost_events > 0 {
        eprintln!(
            "tracer: warning: the kernel dropped {} events (ring buffer full): the report is incomplete; raise --ring-kib",
            outcome.lost_events
        );
    }
    let report: Report = analysis.report(&outcome.meta(pid, command));
    report::render(&report, format, &mut sink)?;
    sink.flush()?;
    Ok(())
}

/// clap's multi-line error as one line: the message and any tip, without the usage block.
fn one_line(rendered: &str) -> String {
    rendered
        .lines()
        .map(str::trim)
        .take_while(|l| !l.starts_with("Usage:"))
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("; ")
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| c.downcast_ref::<io::Error>().is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe))
}
