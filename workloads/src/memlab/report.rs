//! What a mode hands back, and the JSON line `memlab` prints of it.
use std::time::Instant;

use serde_json::{Value, json};

use super::{
    args::PROGRAM,
    phase::{Phase, RUNTIME_PAGES},
    region::PAGE,
};
use crate::sys::Sys;

/// What a mode hands back: its phases and its own keys.
pub struct Report {
    pub phases: Vec<Phase>,
    pub extra: Vec<(&'static str, Value)>,
}

impl Report {
    /// Prints the summary line of a run of `mode` over `pages` pages begun at `started`.
    pub fn print(self, sys: &mut Sys, mode: &str, pages: usize, started: Instant) {
        let mut summary = json!({
            "program": PROGRAM,
            "mode": mode,
            "pages": pages,
            "page_size": PAGE,
            "runtime_pages": RUNTIME_PAGES,
            "phases": self.phases.iter().map(Phase::to_json).collect::<Vec<_>>(),
        });
        for (key, value) in self.extra {
            summary[key] = value;
        }
        summary["duration_ns"] = json!(started.elapsed().as_nanos() as u64);
        summary["syscalls"] = sys.to_json();
        crate::sys::print_summary(sys, &summary);
    }
}
