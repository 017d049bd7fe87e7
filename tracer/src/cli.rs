//! Command line (clap derive). Doc comments are the `--help` text.
use std::{ffi::OsString, path::PathBuf, time::Duration};

use clap::{Args, Parser, Subcommand};

use tracer_common::units::{duration_flag, size_flag};

use crate::{
    cost::StatsMode,
    render::{
        Format,
        sink::{Pictures, Sink},
    },
    sections::Section,
    session::Settings,
};

/// What a process's I/O really costs inside the kernel: context switches, syscalls,
/// epoll wakeups, copies and page faults, traced with eBPF.
#[derive(Debug, Parser)]
#[command(name = "tracer", version, propagate_version = true)]
pub struct Cli {
    /// Say more: the verifier's whole log when the kernel refuses a program.
    #[arg(short, long, global = true)]
    pub verbose: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Trace a running process (all its threads and the processes it forks from now on),
    /// or a cgroup's or a name's processes. Stops at --duration, Ctrl-C or the process's
    /// exit, then prints the report.
    Attach {
        #[command(flatten)]
        target: TargetArgs,
        /// Stop after this long (e.g. 10s, 500ms, 2m; a bare number is seconds).
        #[arg(short, long, value_parser = duration_flag)]
        duration: Option<Duration>,
        #[command(flatten)]
        output: OutputArgs,
        #[command(flatten)]
        trace: TraceArgs,
        #[command(flatten)]
        kernel: KernelArgs,
    },
    /// Trace a process, a cgroup or a name until stopped, and serve its figures as
    /// Prometheus metrics (OpenMetrics on /metrics, read from the kernel at each scrape).
    /// Writes the usual report when stopped.
    Serve {
        /// Where to serve /metrics (not 9100 or 9435: node_exporter's and ebpf_exporter's).
        #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:9479")]
        listen: std::net::SocketAddr,
        #[command(flatten)]
        target: TargetArgs,
        #[command(flatten)]
        output: OutputArgs,
        #[command(flatten)]
        kernel: KernelArgs,
    },
    /// Launch a command and trace it (and what it forks) from its first instruction to its
    /// exit. Exits with the command's exit status.
    Run {
        #[command(flatten)]
        output: OutputArgs,
        #[command(flatten)]
        trace: TraceArgs,
        #[command(flatten)]
        kernel: KernelArgs,
        /// The command and its arguments (put `--` before it if it starts with `-`).
        #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true, value_name = "COMMAND")]
        command: Vec<OsString>,
    },
    /// Trace like `attach` (with --pid) or `run` (with a command) and save the record stream
    /// to a file instead of printing a report; `tracer report FILE` rebuilds it, no root
    /// needed.
    Record {
        /// The recording to write.
        #[arg(short = 'o', long = "output", value_name = "FILE")]
        file: PathBuf,
        /// Stop after this long.
        #[arg(short, long, value_parser = duration_flag)]
        duration: Option<Duration>,
        #[command(flatten)]
        kernel: KernelArgs,
        #[command(flatten)]
        target: TargetOrCommand,
    },
    /// What this kernel lets tracer measure: per report section exact, degraded (and why)
    /// or unavailable, and the programs and variants it would load. Decided from the
    /// kernel's BTF, as a trace decides it; no privileges needed.
    Check {
        /// Judge the kernel whose BTF this is (e.g. a copy of another host's
        /// /sys/kernel/btf/vmlinux) instead of the running one.
        #[arg(long, value_name = "FILE")]
        btf: Option<PathBuf>,
        /// The kernel's name for the notes (default: the running kernel's release).
        #[arg(long, requires = "btf")]
        kernel: Option<String>,
        /// Also write a minimized copy of the BTF (only the facts tracer reads) here: the
        /// fixtures its tests judge each kernel of the matrix by.
        #[arg(long, value_name = "FILE", requires = "btf")]
        minimize: Option<PathBuf>,
        #[command(flatten)]
        output: OutputArgs,
    },
    /// A full-screen live view, as top and perf top: the syscalls, epoll waits, copies,
    /// threads, softirqs and faults of a process (a cgroup's, a name's, or a command
    /// launched here), read from the kernel's maps every interval (`?` lists the keys).
    /// Prints the final report when it ends, as `attach` does. Without a terminal (or
    /// with --no-tui): one JSON report per interval on stdout.
    Top {
        /// How often the maps are read and the screen redrawn (at least 250ms).
        #[arg(long, default_value = "1s", value_parser = top_interval)]
        interval: Duration,
        /// No full-screen view: one JSON report per interval on stdout.
        #[arg(long)]
        no_tui: bool,
        #[command(flatten)]
        output: OutputArgs,
        #[command(flatten)]
        kernel: KernelArgs,
        #[command(flatten)]
        target: TargetOrCommand,
    },
    /// Print the report of a recording (`tracer record`, or --record), offline.
    Report {
        /// The recording.
        file: PathBuf,
        #[command(flatten)]
        output: OutputArgs,
    },
    /// Run the bundled workloads under the tracer and compare them: the zero-copy paths
    /// (read+write, mmap+write, sendfile, splice, vmsplice, copy_file_range) and the
    /// server models (blocking, select, poll, epoll level- and edge-triggered).
    Demo {
        #[arg(value_enum, default_value_t = DemoWhich::All)]
        which: DemoWhich,
        /// File size for the zero-copy demo.
        #[arg(long, default_value = "64M", value_parser = size_flag)]
        size: u64,
        /// Load duration per server model for the epoll demo.
        #[arg(long, default_value = "2s", value_parser = duration_flag)]
        duration: Duration,
        /// Client connections for the epoll demo.
        #[arg(long, default_value_t = 32)]
        connections: u32,
        /// Where the epoll demo writes its flame graph.
        #[arg(long, value_name = "DIR", default_value = ".")]
        pictures: PathBuf,
        #[command(flatten)]
        output: OutputArgs,
    },
    /// Print a shell's completion script, e.g. `tracer completions bash >
    /// /etc/bash_completion.d/tracer`.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Write the manual pages (tracer.1, tracer-attach.1, ...) into DIR: for packagers.
    #[command(hide = true)]
    Manpages {
        /// Where to write the pages (created if absent).
        dir: PathBuf,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum DemoWhich {
    Zerocopy,
    Epoll,
    All,
}

#[derive(Debug, Args)]
pub struct OutputArgs {
    /// Report format.
    #[arg(short, long, value_enum, default_value_t)]
    pub format: Format,
    /// Write the report to this file (CSV: a directory gets one file per section) instead
    /// of standard output.
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    /// Also draw the off-CPU stacks (`--stacks`) as an interactive flame graph (SVG).
    #[arg(long, value_name = "FILE.svg")]
    pub flamegraph: Option<PathBuf>,
    /// Also draw the blocked stacks joined with their wakers' (`--stacks`) as a flame graph.
    #[arg(long, value_name = "FILE.svg")]
    pub offwake: Option<PathBuf>,
    /// Also write the timeline as a Perfetto trace (open it in ui.perfetto.dev): each
    /// thread's runs, off-CPU time and why, syscalls, wakeups as arrows, softirqs per CPU,
    /// bytes copied. Turns on `--timeline`.
    #[arg(long, value_name = "FILE")]
    pub perfetto: Option<PathBuf>,
}

impl OutputArgs {
    /// Whether what is asked for is drawn from stacks.
    pub fn needs_stacks(&self) -> bool {
        self.format.needs_stacks() || self.flamegraph.is_some() || self.offwake.is_some()
    }

    /// Where the report goes, opened now.
    pub fn sink(&self) -> anyhow::Result<Sink> {
        Sink::open(self.output.as_deref(), self.format)
    }

    /// The flame graphs and the Perfetto trace asked for, opened now.
    pub fn pictures(&self) -> anyhow::Result<Pictures> {
        Pictures::open(self.flamegraph.as_deref(), self.offwake.as_deref(), self.perfetto.as_deref())
    }
}

/// What to trace, beyond a command: one of a PID, a cgroup or a name.
#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
pub struct TargetArgs {
    /// Process ID to trace.
    #[arg(short, long)]
    pub pid: Option<u32>,
    /// The processes of this cgroup (v2) and of the cgroups below it: those in it now and
    /// those that start in it later (a systemd service, a container).
    #[arg(long, value_name = "DIR")]
    pub cgroup: Option<PathBuf>,
    /// The processes of this name (/proc/PID/comm): those running now and those that
    /// start later.
    #[arg(long, value_name = "NAME")]
    pub comm: Option<String>,
}

/// What `record` and `top` trace: a PID, a cgroup, a name, or else a command launched.
#[derive(Debug, Args)]
pub struct TargetOrCommand {
    /// Process ID to trace (instead of a command).
    #[arg(short, long, conflicts_with_all = ["command", "cgroup", "comm"], required_unless_present_any = ["command", "cgroup", "comm"])]
    pub pid: Option<u32>,
    /// A cgroup's processes, as `attach --cgroup` (instead of a command).
    #[arg(long, value_name = "DIR", conflicts_with_all = ["command", "comm"])]
    pub cgroup: Option<PathBuf>,
    /// A name's processes, as `attach --comm` (instead of a command).
    #[arg(long, value_name = "NAME", conflicts_with = "command")]
    pub comm: Option<String>,
    /// The command to launch and trace (put `--` before it if it starts with `-`).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, value_name = "COMMAND")]
    pub command: Vec<OsString>,
}

#[derive(Debug, Args)]
pub struct TraceArgs {
    /// Also save the record stream to this file (replay it with `tracer report FILE`).
    #[arg(long, value_name = "FILE")]
    pub record: Option<PathBuf>,
    /// Print a fresh report every interval while tracing (JSON: one object per line).
    #[arg(long, value_parser = duration_flag)]
    pub interval: Option<Duration>,
}

/// What to trace and how much room the kernel gets for it.
#[derive(Debug, Args)]
pub struct KernelArgs {
    /// Only these report sections (comma-separated): only their programs are attached, so
    /// a trace costs what it shows. Sections left out are absent from the report.
    #[arg(long, value_enum, value_delimiter = ',', default_values_t = Section::ALL)]
    pub only: Vec<Section>,
    /// Ring buffer size in KiB (a power of two, at least 4): raise it if records are lost.
    #[arg(long, default_value_t = 4096, value_parser = parse_ring_kib)]
    pub ring_kib: u32,
    /// Threads of the target the kernel keeps state for at once.
    #[arg(long, default_value_t = Settings::default().max_threads, value_parser = clap::value_parser!(u32).range(64..=1 << 22))]
    pub max_threads: u32,
    /// Processes of the target the kernel keeps state for at once.
    #[arg(long, default_value_t = Settings::default().max_processes, value_parser = clap::value_parser!(u32).range(16..=1 << 22))]
    pub max_processes: u32,
    /// Capture where each thread of the target blocks (kernel and user stack at every
    /// switch-out) and what woke it (the waker's stacks): off-CPU time by stack, for
    /// `--format folded`, `--flamegraph` and the report's `stacks`.
    #[arg(long)]
    pub stacks: bool,
    /// Stream every time slice, syscall, wakeup and softirq of the target as it happens
    /// (for `--perfetto`, which turns it on; with `record`, kept for `report --perfetto`).
    #[arg(long)]
    pub timeline: bool,
    /// Distinct stacks the kernel keeps (with `--stacks`); more are counted as lost.
    #[arg(long, default_value_t = Settings::default().max_stacks, value_parser = clap::value_parser!(u32).range(256..=1 << 20))]
    pub max_stacks: u32,
    /// Leave out each syscall's time: with no section that needs a call's entry (copies,
    /// epoll, `--perfetto`), the syscalls section then costs one program per call instead
    /// of two and two clock reads (calls are counted as they return, as strace -c does).
    #[arg(long)]
    pub no_latency: bool,
    /// When the kernel measures the programs' run time (the report's `overhead`): on
    /// 10% of the trace and scaled, on throughout (exact; ~2 clock reads per program run
    /// on the whole machine), or not at all.
    #[arg(long, value_enum, default_value_t = StatsMode::Sampled)]
    pub bpf_stats: StatsMode,
    /// For the overhead benchmark: on the same tracepoints, programs that only filter
    /// the target and count per CPU (the floor a tracer cannot go below).
    #[arg(long, hide = true)]
    pub floor: bool,
}

impl KernelArgs {
    pub fn settings(&self, verbose: bool) -> Settings {
        Settings {
            ring_bytes: self.ring_kib * 1024,
            sections: self.only.clone(),
            floor: self.floor,
            verbose,
            max_threads: self.max_threads,
            max_processes: self.max_processes,
            bpf_stats: self.bpf_stats,
            stacks: self.stacks,
            max_stacks: self.max_stacks,
            timeline: self.timeline,
            latency: !self.no_latency,
        }
    }
}

/// The view redraws at most four times a second.
fn top_interval(text: &str) -> Result<Duration, String> {
    match duration_flag(text)? {
        d if d >= Duration::from_millis(250) => Ok(d),
        _ => Err(format!("`{text}` is too short: the view redraws at most 4 times a second (use 250ms or more)")),
    }
}

fn parse_ring_kib(text: &str) -> Result<u32, String> {
    match text.parse::<u32>() {
        Ok(k) if k >= 4 && k.is_power_of_two() && k <= 1 << 20 => Ok(k),
        _ => Err(format!("`{text}` must be a power of two between 4 and 1048576 (KiB)")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_redraws_at_most_four_times_a_second() {
        assert_eq!(top_interval("250ms"), Ok(Duration::from_millis(250)));
        assert!(top_interval("100ms").unwrap_err().contains("at most 4 times a second (use 250ms or more)"));
        assert!(top_interval("soon").is_err());
    }

    #[test]
    fn duration_errors_say_what_to_type() {
        assert_eq!(duration_flag("250ms"), Ok(Duration::from_millis(250)));
        assert!(duration_flag("ten").unwrap_err().contains("not a duration (try 10s"));
        assert!(duration_flag("3days").unwrap_err().contains("unknown unit"));
    }

    #[test]
    fn run_takes_the_rest_of_the_line_as_the_command() {
        let cli = Cli::try_parse_from(["tracer", "run", "--format", "json", "ls", "-l", "--format"]).unwrap();
        let Command::Run { output, command, .. } = cli.command else { panic!() };
        assert_eq!(output.format, Format::Json);
        assert_eq!(command, ["ls", "-l", "--format"]);
        let cli = Cli::try_parse_from(["tracer", "run", "--", "-weird"]).unwrap();
        assert!(matches!(cli.command, Command::Run { command, .. } if command == ["-weird"]));
    }

    #[test]
    fn bad_flags_are_rejected() {
        assert!(Cli::try_parse_from(["tracer", "attach"]).is_err());
        assert!(Cli::try_parse_from(["tracer", "attach", "--pid", "x"]).is_err());
        assert!(Cli::try_parse_from(["tracer", "attach", "--pid", "1", "--format", "xml"]).is_err());
        assert!(Cli::try_parse_from(["tracer", "attach", "--pid", "1", "--ring-kib", "1000"]).is_err());
        assert!(Cli::try_parse_from(["tracer", "run"]).is_err());
        assert!(Cli::try_parse_from(["tracer", "record", "-o", "x"]).is_err(), "a PID or a command");
        assert!(Cli::try_parse_from(["tracer", "record", "-o", "x", "--pid", "1", "ls"]).is_err(), "not both");
        assert!(Cli::try_parse_from(["tracer", "attach", "--pid", "1", "--comm", "nginx"]).is_err(), "one target");
        assert!(Cli::try_parse_from(["tracer", "record", "-o", "x", "--cgroup", "/c", "ls"]).is_err(), "not both");
        assert!(Cli::try_parse_from(["tracer", "demo", "ftp"]).is_err());
        assert!(Cli::try_parse_from(["tracer", "demo", "zerocopy", "--size", "lots"]).is_err());
    }

    #[test]
    fn record_and_demo_parse() {
        let cli = Cli::try_parse_from(["tracer", "record", "-o", "t.bin", "--", "sleep", "1"]).unwrap();
        assert!(matches!(
            cli.command,
            Command::Record { target: TargetOrCommand { pid: None, ref command, .. }, .. } if command == &["sleep", "1"]
        ));
        let cli = Cli::try_parse_from(["tracer", "record", "-o", "t.bin", "--comm", "nginx"]).unwrap();
        assert!(matches!(
            cli.command,
            Command::Record { target: TargetOrCommand { pid: None, comm: Some(ref c), .. }, .. } if c == "nginx"
        ));
        // `top` takes the same targets, and a command too.
        let cli = Cli::try_parse_from(["tracer", "top", "--", "epoll-server", "--port", "0"]).unwrap();
        assert!(matches!(
            cli.command,
            Command::Top { target: TargetOrCommand { pid: None, ref command, .. }, no_tui: false, .. }
                if command == &["epoll-server", "--port", "0"]
        ));
        assert!(Cli::try_parse_from(["tracer", "top", "--pid", "1", "ls"]).is_err(), "not both");
        assert!(Cli::try_parse_from(["tracer", "top"]).is_err(), "a target");
        let cli = Cli::try_parse_from(["tracer", "attach", "--cgroup", "/sys/fs/cgroup/a.slice"]).unwrap();
        assert!(matches!(
            cli.command,
            Command::Attach { target: TargetArgs { pid: None, cgroup: Some(_), comm: None }, .. }
        ));
        let cli = Cli::try_parse_from(["tracer", "demo", "zerocopy", "--size", "8M"]).unwrap();
        assert!(matches!(cli.command, Command::Demo { which: DemoWhich::Zerocopy, size: 8388608, .. }));
    }
}
