//! Where the renderings go: the report to stdout, a file or (CSV) a directory of
//! per-section files; the flame graphs and the Perfetto trace to theirs. Every file is
//! opened before tracing (a bad path fails before anything is attached) and replaced only
//! once written whole.
use std::{
    io::{self, Write},
    path::Path,
};

use anyhow::{Context, Result};

use super::{
    Format, csv_sections,
    folded::{self, Graph},
    no_stacks, perfetto, render,
};
use crate::{analysis::timeline::Timeline, output::AtomicFile, report::Report};

/// Where a report goes: stdout, a file, or (CSV) a directory of per-section files.
/// Opened before tracing, so a bad path fails before anything is attached; a file is
/// replaced only once the whole report is written.
pub enum Sink {
    Stdout,
    File(AtomicFile),
    Dir(std::path::PathBuf),
}

impl Sink {
    /// `output`: the file or directory asked for (None: stdout).
    pub fn open(output: Option<&Path>, format: Format) -> Result<Self> {
        Ok(match output {
            None => Self::Stdout,
            Some(p) if p.is_dir() => {
                anyhow::ensure!(
                    format == Format::Csv,
                    "{} is a directory: only --format csv writes one file per section there",
                    p.display()
                );
                Self::Dir(p.to_owned())
            }
            Some(p) => Self::File(AtomicFile::create(p, "report")?),
        })
    }

    pub fn write(self, r: &Report, format: Format) -> Result<()> {
        match self {
            Self::Dir(dir) => write_sections(&dir, r),
            sink => {
                let mut buf = Vec::new();
                render(r, format, &mut buf)?;
                sink.write_bytes(&buf)
            }
        }
    }

    pub fn write_text(self, text: &str) -> Result<()> {
        self.write_bytes(text.as_bytes())
    }

    pub fn write_bytes(self, bytes: &[u8]) -> Result<()> {
        match self {
            Self::Stdout => {
                let mut w = io::stdout().lock();
                w.write_all(bytes)?;
                w.flush()?;
            }
            Self::File(mut w) => {
                w.write_all(bytes).context("cannot write the report")?;
                w.commit()?;
            }
            Self::Dir(dir) => anyhow::bail!("{} is a directory: write this report to a file", dir.display()),
        }
        Ok(())
    }
}

fn write_sections(dir: &Path, r: &Report) -> Result<()> {
    for (name, bytes) in csv_sections(r)? {
        let path = dir.join(format!("{name}.csv"));
        std::fs::write(&path, bytes).with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(())
}

/// The flame graphs and the Perfetto trace asked for, opened before tracing like the
/// report's file.
pub struct Pictures {
    graphs: Vec<(AtomicFile, Graph)>,
    perfetto: Option<AtomicFile>,
}

impl Pictures {
    /// `flamegraph` and `offwake`: where to draw the off-CPU and the off-wake flame graph;
    /// `perfetto`: where to write the timeline.
    pub fn open(flamegraph: Option<&Path>, offwake: Option<&Path>, perfetto: Option<&Path>) -> Result<Self> {
        let mut graphs = Vec::new();
        for (path, graph) in [(flamegraph, Graph::OffCpu), (offwake, Graph::OffWake)] {
            if let Some(p) = path {
                graphs.push((AtomicFile::create(p, "flame graph")?, graph));
            }
        }
        let perfetto = perfetto.map(|p| AtomicFile::create(p, "Perfetto trace")).transpose()?;
        Ok(Self { graphs, perfetto })
    }

    pub fn write(self, r: &Report, timeline: &Timeline) -> Result<()> {
        for (mut file, graph) in self.graphs {
            let stacks = r.stacks.as_ref().ok_or_else(no_stacks)?;
            folded::flamegraph(stacks, graph, &mut file).context("cannot write the flame graph")?;
            file.commit()?;
        }
        if let Some(mut file) = self.perfetto {
            perfetto::write(timeline, r, &mut file).context("cannot write the Perfetto trace")?;
            file.commit()?;
            if timeline.dropped > 0 {
                eprintln!(
                    "tracer: warning: the Perfetto trace holds the first {} timeline events; {} more were not kept (trace a shorter window)",
                    timeline.events.len(),
                    timeline.dropped
                );
            }
        }
        Ok(())
    }
}
