//! The page faults section of the table.
use std::fmt::Write;

use super::cells::{Grid, TOP_ROWS, bytes, opt};
use crate::report::Faults;

pub(super) fn render(s: &mut String, f: &Faults) {
    if f.minor + f.major == 0 {
        return;
    }
    let _ = writeln!(
        s,
        "\nPage faults: {} minor, {} major ({} in user mode, {} by the kernel on user memory, {} writes); {} page-cache pages filled, {} read from disk",
        f.minor,
        f.major,
        f.user_mode,
        f.kernel_mode,
        f.writes,
        opt(f.filled_pages, |n| n.to_string()),
        opt(f.disk_read_bytes, bytes)
    );
    let mut g =
        Grid::new(&["mapping", "minor", "major", "user", "kernel", "fault-around pages", "filled pages", "disk"], 1);
    for m in f.by_mapping.iter().flatten().take(TOP_ROWS) {
        g.row(vec![
            m.mapping.clone(),
            m.minor.to_string(),
            m.major.to_string(),
            m.user_mode.to_string(),
            m.kernel_mode.to_string(),
            opt(m.around_pages, |n| n.to_string()),
            opt(m.filled_pages, |n| n.to_string()),
            opt(m.disk_bytes, bytes),
        ]);
    }
    let _ = writeln!(s, "{g}");
    for n in &f.notes {
        let _ = writeln!(s, "note: {n}");
    }
}
