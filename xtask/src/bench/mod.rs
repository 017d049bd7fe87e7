//! `cargo xtask bench`: what tracing costs. `events`: CPU time per kernel event;
//! `load`: throughput kept at full load beside the floor and the peers; `pipeline`: the
//! user-space path (criterion); `--soak 10m`: memory and losses over a long run. Not
//! tests: they assert nothing, they print what they measured.
use std::time::Duration;

use clap::{Args, ValueEnum};

use crate::{
    apt, build_for,
    sh::{Result, cargo, run},
};

mod events;
mod load;
mod observer;
mod soak;

/// The peers the benchmark measures beside the tracer.
const PEERS: &[&str] = &["libbpf-tools", "bpftrace", "redis-server", "redis-tools"];

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Part {
    Events,
    Load,
    Pipeline,
}

#[derive(Args)]
pub struct Options {
    /// One benchmark (default: all three).
    #[arg(value_enum)]
    part: Option<Part>,
    /// Interleaved rounds (default: 5 for events, 3 for load).
    #[arg(long)]
    rounds: Option<usize>,
    /// Seconds of load per run.
    #[arg(long, default_value_t = 5)]
    seconds: u64,
    /// Client connections under load.
    #[arg(long, default_value_t = 32)]
    connections: u32,
    /// getppid calls per events run (the other modes do a tenth).
    #[arg(long, default_value_t = 2_000_000)]
    iterations: u64,
    /// Only the floor and the tracer in the events bench.
    #[arg(long)]
    no_peers: bool,
    /// An extra tracer configuration with only these sections, e.g. syscalls,sched (repeatable).
    #[arg(long = "only")]
    groups: Vec<String>,
    /// Exactly these configurations, `;`-separated (untraced is always first), e.g.
    /// 'syscount;tracer:syscalls --no-latency': more rounds of a few when the full set's
    /// spread hides their difference.
    #[arg(long, value_parser = configs)]
    configs: Option<Configs>,
    /// The server under load: the bundled epoll-server, or redis-server under redis-benchmark GET.
    #[arg(long, default_value = "epoll", value_parser = ["epoll", "redis"])]
    target: String,
    /// A long run of `tracer serve` under thread churn instead (10m, 600s).
    #[arg(long, value_parser = length)]
    soak: Option<Duration>,
}

#[derive(Clone)]
struct Configs(Vec<String>);

impl Options {
    fn load_rounds(&self) -> usize {
        self.rounds.unwrap_or(3)
    }

    fn events_rounds(&self) -> usize {
        self.rounds.unwrap_or(5)
    }
}

pub fn bench(o: &Options) -> Result {
    let bin = build_for("bench")?;
    apt::install(PEERS)?;
    if let Some(length) = o.soak {
        return soak::soak(&bin, length);
    }
    let all = o.part.is_none();
    if all || o.part == Some(Part::Events) {
        events::events(&bin, o)?;
    }
    if all || o.part == Some(Part::Load) {
        load::throughput(&bin, o)?;
    }
    if all || o.part == Some(Part::Pipeline) {
        run(cargo().args(["bench", "--quiet", "--package", "tracer", "--bench", "pipeline"]))?;
    }
    Ok(())
}

fn configs(list: &str) -> std::result::Result<Configs, String> {
    let mut configs = vec!["untraced".to_owned()];
    configs.extend(list.split(';').map(str::trim).filter(|c| !c.is_empty() && *c != "untraced").map(String::from));
    Ok(Configs(configs))
}

fn length(text: &str) -> std::result::Result<Duration, String> {
    tracer_common::units::parse_duration(text).map_err(|e| format!("{text} {}", e.hint(true)))
}
