//! clap value parsers shared by the workloads (same spellings as `tracer`'s flags).
use std::time::Duration;

use tracer_common::units;

pub fn duration(text: &str) -> Result<Duration, String> {
    units::parse_duration(text).map_err(|e| format!("`{text}` {}", e.hint(true)))
}

pub fn size(text: &str) -> Result<u64, String> {
    units::parse_size(text).map_err(|e| format!("`{text}` {}", e.hint(false)))
}

/// Parses the command line; a bad flag is one line on stderr and exit status 2.
pub fn parse<T: clap::Parser>(program: &str) -> T {
    T::try_parse().unwrap_or_else(|e| {
        if !e.use_stderr() {
            let _ = e.print();
            std::process::exit(0);
        }
        let text = e.render().to_string();
        let line: Vec<&str> =
            text.lines().map(str::trim).take_while(|l| !l.starts_with("Usage:")).filter(|l| !l.is_empty()).collect();
        eprintln!("{program}: {} (see `{program} --help`)", line.join("; "));
        std::process::exit(2)
    })
}
