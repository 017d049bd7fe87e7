//! Naming the files a target maps. The kernel reports each file mmap with its device and
//! inode; the name comes from /proc while it still exists: the mapping's own
//! /proc/PID/map_files entry, the fd it was mapped through, and every file mapping in
//! /proc/PID/maps (which also covers the executable and mappings made before an attach).
use std::{collections::BTreeSet, fs};

use tracer_common::record::{FileMapRecord, RecordKind};

use crate::decode::snapshot_header;

/// A record with a name, plus one per file mapping /proc/PID/maps shows now.
pub fn name(r: &FileMapRecord) -> Vec<FileMapRecord> {
    let tgid = r.header.tgid;
    let mut named = *r;
    let map_file = format!("/proc/{tgid}/map_files/{:x}-{:x}", r.addr, r.addr + r.len);
    let via_fd = format!("/proc/{tgid}/fd/{}", r.fd);
    if let Some(path) = [map_file, via_fd].iter().find_map(|p| fs::read_link(p).ok()) {
        set_path(&mut named, &path.to_string_lossy());
    }
    let mut out = vec![named];
    out.extend(from_maps(tgid));
    out
}

/// Every file mapping of process `tgid` now, as named records (empty if it is gone).
pub fn from_maps(tgid: u32) -> Vec<FileMapRecord> {
    let text = fs::read_to_string(format!("/proc/{tgid}/maps")).unwrap_or_default();
    let mut seen = BTreeSet::new();
    parse_maps(&text)
        .into_iter()
        .filter(|m| seen.insert((m.dev, m.ino)))
        .map(|mut m| {
            m.header = snapshot_header(RecordKind::FileMap);
            m.header.tgid = tgid;
            m
        })
        .collect()
}

/// File-backed lines of a /proc/PID/maps text: `start-end perms offset major:minor inode
/// path`. The device becomes the kernel's dev_t (major << 20 | minor).
pub fn parse_maps(text: &str) -> Vec<FileMapRecord> {
    text.lines()
        .filter_map(|line| {
            let mut f = line.split_whitespace();
            let range = f.next()?;
            let (_perms, _offset, dev, ino) = (f.next()?, f.next()?, f.next()?, f.next()?.parse::<u64>().ok()?);
            let path = f.collect::<Vec<_>>().join(" ");
            if ino == 0 || !path.starts_with('/') {
                return None;
            }
            let (start, end) = range.split_once('-')?;
            let (major, minor) = dev.split_once(':')?;
            let mut r = FileMapRecord {
                addr: u64::from_str_radix(start, 16).ok()?,
                len: u64::from_str_radix(end, 16).ok()?.checked_sub(u64::from_str_radix(start, 16).ok()?)?,
                ino,
                dev: (u32::from_str_radix(major, 16).ok()? << 20) | u32::from_str_radix(minor, 16).ok()?,
                fd: -1,
                ..FileMapRecord::default()
            };
            set_path(&mut r, &path);
            Some(r)
        })
        .collect()
}

fn set_path(r: &mut FileMapRecord, path: &str) {
    let bytes = path.as_bytes();
    let n = bytes.len().min(r.path.len() - 1);
    r.path = [0; 256];
    r.path[..n].copy_from_slice(&bytes[..n]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_file_lines_and_skips_the_rest() {
        let text = "\
55d0c8a00000-55d0c8a2c000 r--p 00000000 fd:01 1835092                    /usr/bin/zerocopy
7f1c2a000000-7f1c2b000000 r--s 00000000 fd:01 2621443                    /tmp/zerocopy-1.src (deleted)
7f1c2c000000-7f1c2c021000 rw-p 00000000 00:00 0 
7ffd6b7a2000-7ffd6b7c3000 rw-p 00000000 00:00 0                          [stack]
";
        let m = parse_maps(text);
        assert_eq!(m.len(), 2);
        assert_eq!((m[0].dev, m[0].ino, m[0].len), ((0xfd << 20) | 1, 1835092, 0x2c000));
        let path = String::from_utf8_lossy(&m[1].path);
        assert!(path.starts_with("/tmp/zerocopy-1.src (deleted)\0"));
    }

    #[test]
    fn names_files_of_a_live_process() {
        let me = from_maps(std::process::id());
        let exe = std::fs::read_link("/proc/self/exe").unwrap();
        assert!(me.iter().any(|m| String::from_utf8_lossy(&m.path).trim_end_matches('\0') == exe.to_string_lossy()));
        assert!(from_maps(u32::MAX - 1).is_empty());
    }
}
