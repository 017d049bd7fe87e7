//! Page faults per mapping, from the kernel's `FAULTS` map (one record per process and
//! mapping) and the names user space gave the mapped files.
use std::collections::BTreeMap;

use tracer_common::record::{FaultStat, FaultTotals, FileNameRecord, REGION_FILE, REGION_HEAP, REGION_STACK};

use super::sched::comm_str;
use crate::report::{FaultRow, Faults};

#[derive(Clone, Debug, Default)]
pub struct FaultAnalysis {
    /// (region, dev, ino) -> totals, over all target processes.
    by_key: BTreeMap<(u32, u32, u64), FaultStat>,
    names: BTreeMap<(u32, u64), String>,
}

impl FaultAnalysis {
    pub fn push(&mut self, r: &FaultTotals) {
        let k = &r.key;
        self.by_key.entry((k.region, k.dev, k.ino)).or_default().add(&r.stat);
    }

    pub fn push_name(&mut self, r: &FileNameRecord) {
        let path = comm_str(&r.path);
        if !path.is_empty() {
            self.names.insert((r.dev, r.ino), path);
        }
    }

    fn label(&self, region: u32, dev: u32, ino: u64) -> String {
        match region {
            REGION_FILE => self
                .names
                .get(&(dev, ino))
                .cloned()
                .unwrap_or_else(|| format!("file {}:{} inode {ino}", dev >> 20, dev & 0xfffff)),
            REGION_HEAP => "[heap]".into(),
            REGION_STACK => "[stack]".into(),
            _ => "[anon]".into(),
        }
    }

    pub fn report(&self) -> Faults {
        let mut by_mapping: BTreeMap<String, FaultRow> = BTreeMap::new();
        let mut f = Faults::default();
        for (&(region, dev, ino), s) in &self.by_key {
            let label = self.label(region, dev, ino);
            let row =
                by_mapping.entry(label.clone()).or_insert_with(|| FaultRow { mapping: label, ..FaultRow::default() });
            for (total, row_field, v) in [
                (&mut f.minor, &mut row.minor, s.minor),
                (&mut f.major, &mut row.major, s.major),
                (&mut f.user_mode, &mut row.user_mode, s.user_mode),
                (&mut f.kernel_mode, &mut row.kernel_mode, s.kernel_mode),
                (&mut f.writes, &mut row.writes, s.writes),
            ] {
                *total += v;
                *row_field += v;
            }
            for (total, row_field, v) in [
                (&mut f.around_faults, &mut row.around_faults, s.around_faults),
                (&mut f.around_pages, &mut row.around_pages, s.around_pages),
                (&mut f.filled_pages, &mut row.filled_pages, s.filled_pages),
                (&mut f.disk_read_bytes, &mut row.disk_bytes, s.disk_bytes),
            ] {
                *total = Some(total.unwrap_or(0) + v);
                *row_field = Some(row_field.unwrap_or(0) + v);
            }
            f.uncounted += s.uncounted;
        }
        for total in [&mut f.around_faults, &mut f.around_pages, &mut f.filled_pages, &mut f.disk_read_bytes] {
            total.get_or_insert(0);
        }
        let mut rows: Vec<FaultRow> = by_mapping.into_values().filter(|r| r.minor + r.major > 0).collect();
        rows.sort_by_key(|r| std::cmp::Reverse(r.minor + r.major));
        if rows.iter().any(|m| m.mapping.starts_with('/')) {
            f.notes.push(format!(
                "one file fault maps many pages: fault-around maps up to 16 neighbours already in the page cache ({} faults did, {} pages), and a large page-cache folio is mapped whole (up to 2 MiB), so touching N pages of a file costs far fewer than N faults",
                f.around_faults.unwrap_or(0),
                f.around_pages.unwrap_or(0)
            ));
        }
        f.by_mapping = Some(rows);
        if f.major > 0 {
            f.notes.push("a major fault waited for a read, but readahead brings in many pages per read: major faults are not disk reads".into());
        }
        f
    }
}

#[cfg(test)]
mod tests {
    use tracer_common::record::{FaultKey, REGION_ANON, RecordKind};

    use super::*;
    use crate::decode::snapshot_header;

    fn totals(region: u32, ino: u64, minor: u64, major: u64, around: u64) -> FaultTotals {
        FaultTotals {
            header: snapshot_header(RecordKind::FaultTotals),
            key: FaultKey { tgid: 7, region, dev: (8 << 20) | 1, life: 1, ino },
            stat: FaultStat {
                minor,
                major,
                user_mode: minor + major,
                around_faults: around,
                around_pages: around * 16,
                ..FaultStat::default()
            },
        }
    }

    #[test]
    fn sums_names_and_explains() {
        let mut a = FaultAnalysis::default();
        a.push(&totals(REGION_FILE, 42, 250, 1, 240));
        a.push(&totals(REGION_FILE, 42, 6, 0, 0));
        a.push(&totals(REGION_ANON, 0, 4096, 0, 0));
        a.push(&totals(REGION_FILE, 43, 3, 0, 0));
        let mut name = FileNameRecord { dev: (8 << 20) | 1, ino: 42, ..FileNameRecord::default() };
        name.path[..9].copy_from_slice(b"/tmp/data");
        a.push_name(&name);
        let f = a.report();
        assert_eq!((f.minor, f.major, f.around_faults, f.around_pages), (4355, 1, Some(240), Some(3840)));
        let rows: Vec<(&str, u64, u64)> =
            f.by_mapping.iter().flatten().map(|r| (r.mapping.as_str(), r.minor, r.major)).collect();
        assert_eq!(rows, [("[anon]", 4096, 0), ("/tmp/data", 256, 1), ("file 8:1 inode 43", 3, 0)]);
        assert!(f.notes[0].starts_with("one file fault maps many pages: fault-around maps up to 16 neighbours already in the page cache (240 faults did, 3840 pages)"));
        assert!(f.notes[1].contains("major faults are not disk reads"));
    }
}
