//! `cargo xtask bench`'s options: which part, how long, which configurations.
use std::time::Duration;

use clap::{Args, ValueEnum};

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Part {
    Events,
    Load,
    Pipeline,
}

#[derive(Args)]
pub struct Options {
    /// One benchmark (default: all three).
    #[arg(value_enum)]
    pub part: Option<Part>,
    /// Interleaved rounds (default: 5 for events, 3 for load).
    #[arg(long)]
    pub rounds: Option<usize>,
    /// Seconds of load per run.
    #[arg(long, default_value_t = 5)]
    pub seconds: u64,
    /// Client connections under load.
    #[arg(long, default_value_t = 32)]
    pub connections: u32,
    /// getppid calls per events run (the other modes do a tenth).
    #[arg(long, default_value_t = 2_000_000)]
    pub iterations: u64,
    /// Only the floor and the tracer in the events bench.
    #[arg(long)]
    pub no_peers: bool,
    /// An extra tracer configuration with only these sections, e.g. syscalls,sched (repeatable).
    #[arg(long = "only")]
    pub groups: Vec<String>,
    /// Exactly these configurations, `;`-separated (untraced is always first), e.g.
    /// 'syscount;tracer:syscalls --no-latency;top:250ms' (`top:INTERVAL`: `tracer top` in a
    /// tmux pane, redrawing every INTERVAL): more rounds of a few when the full set's
    /// spread hides their difference.
    #[arg(long, value_parser = configs)]
    pub configs: Option<Configs>,
    /// The server under load: the bundled epoll-server, or redis-server under redis-benchmark GET.
    #[arg(long, default_value = "epoll", value_parser = ["epoll", "redis"])]
    pub target: String,
    /// A long run of `tracer serve` under thread churn instead (10m, 600s).
    #[arg(long, value_parser = length)]
    pub soak: Option<Duration>,
}

#[derive(Clone)]
pub struct Configs(pub Vec<String>);

impl Options {
    pub fn load_rounds(&self) -> usize {
        self.rounds.unwrap_or(3)
    }

    pub fn events_rounds(&self) -> usize {
        self.rounds.unwrap_or(5)
    }
}

fn configs(list: &str) -> Result<Configs, String> {
    let mut configs = vec!["untraced".to_owned()];
    configs.extend(list.split(';').map(str::trim).filter(|c| !c.is_empty() && *c != "untraced").map(String::from));
    Ok(Configs(configs))
}

fn length(text: &str) -> Result<Duration, String> {
    tracer_common::units::parse_duration(text).map_err(|e| format!("{text} {}", e.hint(true)))
}
