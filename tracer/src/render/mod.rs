//! Renderers: the report (`crate::report`) as a table, JSON, CSV, folded stacks, flame
//! graphs, OpenMetrics and a Perfetto trace, and where each output goes. They show the
//! model's figures and compute none of their own.
pub mod csv;
pub mod demo;
pub mod folded;
pub mod metrics;
pub mod perfetto;
pub mod sink;
pub mod table;
pub mod top;

use std::io::Write;

use crate::report::Report;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    #[default]
    Table,
    Json,
    Csv,
    /// Off-CPU stacks, folded (with `--stacks`): for flamegraph.pl or inferno.
    Folded,
    /// Blocked stacks joined with their wakers', folded (with `--stacks`).
    FoldedOffwake,
}

impl Format {
    /// Whether this format is made of the stacks alone.
    pub fn needs_stacks(self) -> bool {
        matches!(self, Self::Folded | Self::FoldedOffwake)
    }
}

/// The CSV rendering split into its sections: (name, CSV text) pairs.
pub fn csv_sections(report: &Report) -> std::io::Result<Vec<(String, Vec<u8>)>> {
    csv::sections(report)
}

pub fn render(report: &Report, format: Format, out: &mut dyn Write) -> std::io::Result<()> {
    match format {
        Format::Table => writeln!(out, "{}", table::render(report)),
        Format::Json => {
            serde_json::to_writer_pretty(&mut *out, report)?;
            writeln!(out)
        }
        Format::Csv => csv::render(report, out),
        Format::Folded | Format::FoldedOffwake => {
            let graph = if format == Format::Folded { folded::Graph::OffCpu } else { folded::Graph::OffWake };
            folded::render(report.stacks.as_ref().ok_or_else(no_stacks)?, graph, out)
        }
    }
}

/// A folded view or a flame graph of a trace taken without `--stacks`.
pub fn no_stacks() -> std::io::Error {
    std::io::Error::other("this trace has no stacks: trace with --stacks")
}
