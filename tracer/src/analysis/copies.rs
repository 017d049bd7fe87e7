//! The copy ledger: per data path, what the kernel measured beside what the textbook
//! model says the path costs.
use std::collections::BTreeMap;

use tracer_common::record::{Counter, Path, PathStat};

use crate::report::{Copies, PathRow};

/// The textbook model per transfer: (mode switches, CPU copies, DMA copies, note).
fn model(path: Path) -> (u64, u64, u64, &'static str) {
    match path {
        Path::ReadWrite => {
            (4, 2, 2, "read: disk/NIC -DMA-> kernel -CPU-> user; write: user -CPU-> kernel -DMA-> device")
        }
        Path::MmapWrite => (4, 1, 2, "the mapping shares the page cache; write copies it once into the socket/file"),
        Path::Sendfile => (
            2,
            1,
            2,
            "textbook: 1 CPU copy into the socket buffer; 0 with scatter-gather DMA, which 6.x always uses (MSG_SPLICE_PAGES)",
        ),
        Path::Splice => {
            (2, 0, 2, "pages move through a pipe by reference; counted once, on the leg that leaves the pipe")
        }
        Path::Vmsplice => (2, 0, 2, "user pages are gifted to a pipe and spliced on without a copy"),
        Path::CopyFileRange => {
            (2, 0, 2, "no user copy; without reflink the kernel copies page cache to page cache itself")
        }
        Path::Recv => (2, 1, 1, "the receiver's copy: skb -CPU-> user (on loopback there is no NIC DMA)"),
    }
}

#[derive(Clone, Debug, Default)]
pub struct CopyAnalysis {
    paths: BTreeMap<u32, PathStat>,
    counters: BTreeMap<u32, u64>,
}

impl CopyAnalysis {
    pub fn push_path(&mut self, path: u32, stat: PathStat) {
        self.paths.insert(path, stat);
    }

    pub fn push_counter(&mut self, c: Counter, value: u64) {
        self.counters.insert(c as u32, value);
    }

    fn counter(&self, c: Counter) -> u64 {
        self.counters.get(&(c as u32)).copied().unwrap_or(0)
    }

    pub fn report(&self) -> Copies {
        let mut rows = Vec::new();
        let (mut cpu, mut zc) = (0, 0);
        for p in Path::ALL {
            let Some(s) = self.paths.get(&(p as u32)).filter(|s| s.calls > 0) else { continue };
            let (switches, cpu_copies, dma_copies, note) = model(p);
            cpu += s.cpu_k2u + s.cpu_u2k;
            zc += s.zero_copy;
            rows.push(PathRow {
                path: p.name().to_owned(),
                calls: s.calls,
                bytes: if p == Path::Recv { s.bytes_in } else { s.bytes_out },
                bytes_in: s.bytes_in,
                mode_switches: 2 * s.calls,
                model_mode_switches: switches,
                cpu_copies,
                dma_copies,
                cpu_copied_bytes: s.cpu_k2u + s.cpu_u2k,
                zero_copy_bytes: s.zero_copy,
                note: note.to_owned(),
            });
        }
        let (nic, disk_read) = (self.counter(Counter::NicTxBytes), self.counter(Counter::DiskReadBytes));
        let mut notes = Vec::new();
        if !rows.is_empty() && nic == 0 {
            notes.push(
                "no NIC DMA measured: loopback moves skbs in memory, so the model's DMA copies to a NIC did not happen"
                    .to_owned(),
            );
        }
        if rows.iter().any(|r| r.path != "recv") && disk_read == 0 {
            notes.push(
                "no disk reads: the data came from the page cache, so the model's disk DMA did not happen".to_owned(),
            );
        }
        Copies {
            cpu_copy_bytes: cpu,
            zero_copy_bytes: zc,
            socket_copy_bytes: Some(self.counter(Counter::SockCopyBytes)),
            disk_read_bytes: Some(disk_read),
            disk_write_bytes: Some(self.counter(Counter::DiskWriteBytes)),
            nic_tx_bytes: Some(nic),
            paths: rows,
            notes,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_cpu_and_zero_copy_bytes_and_models_each_path() {
        let mut a = CopyAnalysis::default();
        a.push_path(
            Path::ReadWrite as u32,
            PathStat { calls: 4, bytes_out: 100, bytes_in: 100, cpu_k2u: 100, cpu_u2k: 100, zero_copy: 0 },
        );
        a.push_path(
            Path::Sendfile as u32,
            PathStat { calls: 2, bytes_out: 300, zero_copy: 300, ..PathStat::default() },
        );
        a.push_path(Path::Recv as u32, PathStat { calls: 3, bytes_in: 400, cpu_k2u: 400, ..PathStat::default() });
        a.push_path(Path::Splice as u32, PathStat::default());
        a.push_counter(Counter::SockCopyBytes, 400);
        let c = a.report();
        assert_eq!((c.cpu_copy_bytes, c.zero_copy_bytes, c.socket_copy_bytes), (600, 300, Some(400)));
        let names: Vec<&str> = c.paths.iter().map(|p| p.path.as_str()).collect();
        assert_eq!(names, ["read-write", "sendfile", "recv"], "paths with no calls are left out");
        let rw = &c.paths[0];
        assert_eq!(
            (rw.bytes, rw.mode_switches, rw.cpu_copies, rw.dma_copies, rw.cpu_copied_bytes),
            (100, 8, 2, 2, 200)
        );
        assert_eq!(c.paths[2].bytes, 400, "recv delivers what it brought in");
        assert_eq!(c.notes.len(), 2, "no NIC and no disk DMA on a warm loopback run");
    }
}
