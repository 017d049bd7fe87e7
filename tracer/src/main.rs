use std::{
    io::{self, IsTerminal, Write},
    process::ExitCode,
    time::Duration,
};

use anyhow::{Context, Result};
use clap::Parser;
use tracer::{
    analysis::{Analysis, timeline::Timeline},
    btf::Btf,
    check,
    cli::{Cli, Command, OutputArgs, TargetArgs, TargetOrCommand, TraceArgs},
    collect::{Live, StopReason},
    decode::decode,
    demo, manual, plan, procfs, recording,
    render::{self, Format},
    report::Report,
    serve,
    session::Settings,
    signals::{self, Signals},
    top::Screen,
    trace::{self, Job, Target, Traced},
};

fn main() -> ExitCode {
    // Before anything else: a Ctrl-C from here on is kept for the trace to end on, not
    // fatal (see signals.rs).
    signals::block();
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
    let verbose = cli.verbose;
    let signals = Signals::new().context("cannot watch for SIGINT and SIGTERM (signalfd)")?;
    match cli.command {
        Command::Serve { listen, target, output, kernel } => {
            let sink = output.sink()?;
            let job =
                Job { target: target_of(target), duration: None, record: None, settings: kernel.settings(verbose) };
            let t = serve::run(job, listen, &signals).await?;
            warn(&t);
            sink.write(&t.report, output.format)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Attach { target, duration, output, trace, kernel } => {
            let target = target_of(target);
            let watch = Watching::Reports(output.format);
            traced(target, duration, &trace, kernel.settings(verbose), &output, &signals, watch)
                .await
                .map(|_| ExitCode::SUCCESS)
        }
        Command::Run { output, trace, kernel, command } => {
            let target = Target::Command { words: command, capture_stdout: false };
            let watch = Watching::Reports(output.format);
            let t = traced(target, None, &trace, kernel.settings(verbose), &output, &signals, watch).await?;
            Ok(command_exit(t.reason))
        }
        Command::Top { interval, no_tui, output, kernel, target } => {
            let launched = !target.command.is_empty();
            let target = one_target(target);
            // A screen needs a terminal to draw on and one to read keys from.
            let tui = !no_tui && io::stdout().is_terminal() && io::stdin().is_terminal();
            let watch = if tui { Watching::Screen } else { Watching::Reports(Format::Json) };
            let trace = TraceArgs { record: None, interval: Some(interval) };
            let t = traced(target, None, &trace, kernel.settings(verbose), &output, &signals, watch).await?;
            Ok(if launched { command_exit(t.reason) } else { ExitCode::SUCCESS })
        }
        Command::Record { file, duration, kernel, target } => {
            let target = one_target(target);
            let job = Job { target, duration, record: Some(file.clone()), settings: kernel.settings(verbose) };
            let t = trace::trace(job, None, &signals).await?;
            warn(&t);
            eprintln!(
                "tracer: recorded {} to {}; replay it with `tracer report {}`",
                t.report.target.command,
                file.display(),
                file.display()
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Check { btf, kernel, minimize, output } => {
            let sink = output.sink()?;
            let (btf_data, name) = match &btf {
                Some(path) => (
                    std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?,
                    kernel.unwrap_or_else(|| path.display().to_string()),
                ),
                None => (
                    std::fs::read("/sys/kernel/btf/vmlinux").context(
                        "cannot read /sys/kernel/btf/vmlinux: this kernel has no BTF (CONFIG_DEBUG_INFO_BTF)",
                    )?,
                    procfs::kernel_release(),
                ),
            };
            let parsed = Btf::parse(&btf_data).context("not a BTF file")?;
            if let Some(out) = minimize {
                std::fs::write(&out, parsed.minimize(&plan::facts()))
                    .with_context(|| format!("cannot write {}", out.display()))?;
            }
            let p = plan::plan(&parsed, &name, &plan::Ask::sections(&Settings::default().sections))?;
            sink.write_text(&check::render(&p, output.format)?)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Report { file, output } => {
            let sink = output.sink()?;
            let pictures = output.pictures()?;
            let mut reader = recording::Reader::open(&file)?;
            let mut analysis = Analysis::default();
            let mut timeline = Timeline::default();
            let mut i = 0;
            while let Some(bytes) =
                reader.next_record().with_context(|| format!("{} is not a usable tracer recording", file.display()))?
            {
                i += 1;
                let record = decode(&bytes).with_context(|| format!("{} is corrupt at record {i}", file.display()))?;
                analysis.push(&record);
                timeline.push(&record);
            }
            let meta = reader.meta().context("the recording has no trailer")?;
            let mut report = analysis.report(meta);
            report.lost.timeline_events = timeline.dropped;
            if output.needs_stacks() && report.stacks.is_none() {
                return Err(render::no_stacks())
                    .with_context(|| format!("{} was recorded without --stacks", file.display()));
            }
            anyhow::ensure!(
                meta.timeline || output.perfetto.is_none(),
                "{} was recorded without --timeline: it has no timeline for --perfetto",
                file.display()
            );
            sink.write(&report, output.format)?;
            pictures.write(&report, &timeline)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Completions { shell } => {
            manual::completions(shell, &mut io::stdout().lock())?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Manpages { dir } => {
            let pages = manual::manpages(&dir)?;
            eprintln!("tracer: {pages} manual pages in {}", dir.display());
            Ok(ExitCode::SUCCESS)
        }
        Command::Demo { which, size, duration, connections, pictures, output } => {
            let sink = output.sink()?;
            let settings = demo::Settings { size, duration, connections, pictures };
            let text = demo::run(which, &settings, output.format, &signals).await?;
            sink.write_text(&text)?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// The one target clap let through: a PID, a cgroup or a name.
fn target_of(t: TargetArgs) -> Target {
    match (t.pid, t.cgroup, t.comm) {
        (Some(pid), _, _) => Target::Pid(pid),
        (_, Some(dir), _) => Target::Cgroup(dir),
        (_, _, Some(name)) => Target::Comm(name),
        _ => unreachable!("clap requires one target"),
    }
}

/// `record`'s and `top`'s target: a PID, a cgroup, a name, or else the command.
fn one_target(t: TargetOrCommand) -> Target {
    match (t.pid, t.cgroup, t.comm) {
        (Some(pid), _, _) => Target::Pid(pid),
        (_, Some(dir), _) => Target::Cgroup(dir),
        (_, _, Some(name)) => Target::Comm(name),
        _ => Target::Command { words: t.command, capture_stdout: false },
    }
}

/// A launched command's exit status as ours (128+N if a signal N ended the trace).
fn command_exit(reason: StopReason) -> ExitCode {
    let code = match reason {
        StopReason::TargetExited(Some(code)) => code,
        StopReason::Interrupted(sig) => 128 + sig,
        _ => 1,
    };
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}

/// How the reports made while tracing (every --interval) are shown.
enum Watching {
    /// Printed on stdout as they come, in this format (JSON: one object per line).
    Reports(Format),
    /// `tracer top`'s full-screen view.
    Screen,
}

/// Traces per `target` and writes the report (and, with --interval, a report per
/// interval, as `watch` says) where `out` says.
async fn traced(
    target: Target,
    duration: Option<Duration>,
    t: &TraceArgs,
    settings: Settings,
    out: &OutputArgs,
    signals: &Signals,
    watch: Watching,
) -> Result<Traced> {
    anyhow::ensure!(
        settings.stacks || !out.needs_stacks(),
        "--format folded, --flamegraph and --offwake draw stacks: add --stacks"
    );
    let sink = out.sink()?;
    let pictures = out.pictures()?;
    let settings = Settings { timeline: settings.timeline || out.perfetto.is_some(), ..settings };
    let job = Job { target, duration, record: t.record.clone(), settings };
    let mut screen = matches!(watch, Watching::Screen).then(Screen::new);
    let status = screen.is_none();
    let mut show = |r: &Report| -> Result<()> {
        if let Some(s) = &mut screen {
            return s.show(r);
        }
        // Live views go to stdout as they come (tables separated, JSON one per line).
        let mut stdout = io::stdout().lock();
        match watch {
            Watching::Reports(Format::Json) => writeln!(stdout, "{}", serde_json::to_string(r)?)?,
            Watching::Reports(f) => render::render(r, f, &mut stdout)?,
            Watching::Screen => unreachable!("drawn above"),
        }
        stdout.flush()?;
        Ok(())
    };
    let live = t.interval.map(|every| Live { every, show: Some(&mut show), requests: None, status });
    let traced = trace::trace(job, live, signals).await;
    // The terminal is given back before anything else is printed.
    let view = screen.map(Screen::close).transpose();
    let traced = traced?;
    if let Err(e) = view {
        // The view's terminal is gone (or was never usable): the report still goes where
        // it was asked to, and the reason to stderr, which may be gone too.
        sink.write(&traced.report, out.format)?;
        pictures.write(&traced.report, &traced.timeline)?;
        let _ = writeln!(io::stderr(), "tracer: the live view ended: {e:#}");
        return Ok(traced);
    }
    warn(&traced);
    sink.write(&traced.report, out.format)?;
    pictures.write(&traced.report, &traced.timeline)?;
    Ok(traced)
}

fn warn(t: &Traced) {
    let r = &t.report;
    if t.undecodable > 0 {
        eprintln!("tracer: warning: {} records could not be decoded (tracer build mismatch?)", t.undecodable);
    }
    if let Some(n) = r.missed_events.filter(|&n| n > 0) {
        eprintln!(
            "tracer: warning: the kernel skipped {n} tracepoint hits (a program was already running on that CPU): the report is incomplete"
        );
    }
    if r.lost.ring_buffer > 0 {
        eprintln!(
            "tracer: warning: the ring buffer had no room for {} records: the report is incomplete; raise --ring-kib",
            r.lost.ring_buffer
        );
    }
    for m in &r.lost.maps {
        eprintln!(
            "tracer: warning: map {} had no room for {} entries: the report is incomplete; {}",
            m.map, m.entries_lost, m.remedy
        );
    }
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
