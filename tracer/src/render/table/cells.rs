//! What every table is made of: the grid, and how figures are shown in its cells.
use comfy_table::{CellAlignment, ContentArrangement, Table, presets::UTF8_FULL_CONDENSED};

/// Rows shown per table, the busiest (JSON and CSV have all).
pub(super) const TOP_ROWS: usize = 25;

/// A comfy-table with the house preset and numeric columns (from `numeric_from` on)
/// right-aligned: every table the tracer prints.
pub struct Grid(Table);

impl Grid {
    pub fn new(header: &[&str], numeric_from: usize) -> Self {
        let mut t = Table::new();
        t.load_preset(UTF8_FULL_CONDENSED).set_content_arrangement(ContentArrangement::Disabled).set_header(header);
        for i in numeric_from..header.len() {
            if let Some(c) = t.column_mut(i) {
                c.set_cell_alignment(CellAlignment::Right);
            }
        }
        Self(t)
    }

    pub fn row(&mut self, cells: Vec<String>) {
        self.0.add_row(cells);
    }
}

impl std::fmt::Display for Grid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// A figure this kernel cannot give.
pub(super) fn opt(v: Option<u64>, show: impl Fn(u64) -> String) -> String {
    v.map_or_else(|| "n/a".into(), show)
}

pub fn duration(ns: u64) -> String {
    match ns {
        0..1_000 => format!("{ns} ns"),
        1_000..1_000_000 => format!("{:.1} us", ns as f64 / 1e3),
        1_000_000..1_000_000_000 => format!("{:.1} ms", ns as f64 / 1e6),
        _ => format!("{:.3} s", ns as f64 / 1e9),
    }
}

pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut v = n as f64 / 1024.0;
    let mut unit = 0;
    while v >= 1024.0 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    format!("{v:.1} {}", UNITS[unit])
}
