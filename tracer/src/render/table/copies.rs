//! The copies section of the table.
use std::fmt::Write;

use super::cells::{Grid, bytes, opt};
use crate::report::Copies;

pub(super) fn render(s: &mut String, c: &Copies) {
    if c.paths.is_empty() {
        return;
    }
    let _ = writeln!(
        s,
        "\nCopies: {} copied by the CPU between user and kernel memory, {} moved without that copy",
        bytes(c.cpu_copy_bytes),
        bytes(c.zero_copy_bytes)
    );
    let _ = writeln!(
        s,
        "measured by the kernel: socket receives copied {}; disk DMA {} read, {} written; NIC DMA {}",
        opt(c.socket_copy_bytes, bytes),
        opt(c.disk_read_bytes, bytes),
        opt(c.disk_write_bytes, bytes),
        opt(c.nic_tx_bytes, bytes)
    );
    let mut g = Grid::new(
        &["path", "calls", "bytes", "mode switches", "model: switches/CPU/DMA copies", "CPU-copied", "zero-copy"],
        1,
    );
    for p in &c.paths {
        g.row(vec![
            p.path.clone(),
            p.calls.to_string(),
            bytes(p.bytes),
            p.mode_switches.to_string(),
            format!("{} / {} / {}", p.model_mode_switches, p.cpu_copies, p.dma_copies),
            bytes(p.cpu_copied_bytes),
            bytes(p.zero_copy_bytes),
        ]);
    }
    let _ = writeln!(s, "{g}");
    for p in &c.paths {
        let _ = writeln!(s, "  {}: {}", p.path, p.note);
    }
    for n in &c.notes {
        let _ = writeln!(s, "note: {n}");
    }
}
