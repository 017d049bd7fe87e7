//! `epoll-client`'s command line.
use std::time::Duration;

use clap::Parser;

use crate::args;

pub const PROGRAM: &str = "epoll-client";

/// Load generator for epoll-server: echoes verified byte for byte; prints a JSON summary.
#[derive(Clone, Debug, Parser)]
#[command(name = PROGRAM, version)]
pub struct Args {
    /// Server port on 127.0.0.1.
    #[arg(long)]
    pub port: u16,
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub connections: u32,
    /// Message size (e.g. 64, 4k, 1M).
    #[arg(long, default_value = "64", value_parser = args::size)]
    pub size: u64,
    /// Messages in flight per connection.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=4096))]
    pub pipeline: u32,
    /// Total requests over all connections (default 10000 unless --duration is given).
    #[arg(long, conflicts_with = "duration")]
    pub requests: Option<u64>,
    /// Send for this long instead of a fixed number of requests.
    #[arg(long, value_parser = args::duration)]
    pub duration: Option<Duration>,
    /// Worker threads sharing the connections.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=64))]
    pub threads: u32,
}
