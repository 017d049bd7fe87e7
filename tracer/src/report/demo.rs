//! `tracer demo`'s comparison: one row per zero-copy path and per server model, measured
//! live (`crate::demo`), shown by `crate::render::demo`.
use std::path::PathBuf;

use serde::Serialize;

#[derive(Debug, Serialize)]
pub struct CopyRow {
    pub mode: String,
    /// Calls on the mode's path, and their user<->kernel mode switches (2 each).
    pub syscalls: u64,
    pub mode_switches: u64,
    /// The textbook's per-transfer counts beside the measured copies per byte delivered.
    pub model_cpu_copies: u64,
    pub cpu_copies_per_byte: f64,
    pub model_dma_copies: u64,
    pub dma_copies_per_byte: f64,
    pub cpu_copied_bytes: u64,
    pub zero_copy_bytes: u64,
    pub context_switches: u64,
    pub page_faults: u64,
    pub wall_ns: u64,
    pub mib_per_s: f64,
}

/// One server model under load.
#[derive(Debug, Serialize)]
pub struct ServerRow {
    pub mode: String,
    pub reactors: u32,
    pub requests_per_s: f64,
    pub syscalls_per_request: f64,
    /// None for the blocking model, which waits in read(2), not for readiness.
    pub ready_events_per_wait: Option<f64>,
    pub wakeups_per_request: f64,
    pub context_switches_per_request: f64,
    /// The most frequent waker of the server's threads, and its share.
    pub woken_by: String,
}

#[derive(Debug, Default, Serialize)]
pub struct Demo {
    pub zerocopy: Vec<CopyRow>,
    pub epoll: Vec<ServerRow>,
    /// Files written beside the tables (the epoll server's flame graph).
    pub pictures: Vec<PathBuf>,
    pub notes: Vec<String>,
}
