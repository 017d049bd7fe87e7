//! /proc: every file the tracer reads there, each read and parsed in one place. A file
//! that is gone (its process exited) or unreadable reads as `None` or empty: the callers
//! decide what that means.
use std::{collections::BTreeMap, fs, io, os::fd::RawFd};

/// Whose mount table, process or task.
#[derive(Clone, Copy, Debug)]
pub enum Proc {
    /// The tracer itself (`/proc/self`).
    Own,
    Pid(u32),
}

impl Proc {
    fn dir(self) -> String {
        match self {
            Self::Own => "/proc/self".into(),
            Self::Pid(pid) => format!("/proc/{pid}"),
        }
    }
}

/// What the tracer reads of /proc/PID/task/TID/stat.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TaskStat {
    /// The thread's name, NUL-padded as the kernel holds it (at most 15 bytes).
    pub comm: [u8; 16],
    /// The state letter (field 3): `R`, `S`, `D`, `T`, ...
    pub state: u8,
    /// Minor and major faults the thread took (fields 10 and 12).
    pub minflt: u64,
    pub majflt: u64,
}

/// /proc/TGID/task/TID/stat of a live thread.
pub fn task_stat(tgid: u32, tid: u32) -> Option<TaskStat> {
    parse_task_stat(&fs::read(format!("/proc/{tgid}/task/{tid}/stat")).ok()?)
}

/// `tid (comm) S ppid ...`: the comm may hold spaces and parentheses (and bytes that are
/// not UTF-8); it ends at the last ')'. Numeric fields that do not parse read as 0.
pub fn parse_task_stat(stat: &[u8]) -> Option<TaskStat> {
    let (open, close) = (stat.iter().position(|&b| b == b'(')?, stat.iter().rposition(|&b| b == b')')?);
    let name = stat.get(open + 1..close)?;
    let mut comm = [0u8; 16];
    let n = name.len().min(15);
    comm[..n].copy_from_slice(&name[..n]);
    let state = *stat.get(close + 2)?;
    // Fields after the state: field 4 (ppid) is the first.
    let rest = String::from_utf8_lossy(stat.get(close + 1..)?);
    let fields: Vec<u64> = rest.split_whitespace().skip(1).map(|x| x.parse().unwrap_or(0)).collect();
    Some(TaskStat { comm, state, minflt: *fields.get(6)?, majflt: *fields.get(8)? })
}

/// The threads of process `tgid` now (/proc/TGID/task).
pub fn task_ids(tgid: u32) -> Vec<u32> {
    numbered_entries(&format!("/proc/{tgid}/task"))
}

/// Every process now (/proc).
pub fn pids() -> io::Result<Vec<u32>> {
    fs::read_dir("/proc")?;
    Ok(numbered_entries("/proc"))
}

fn numbered_entries(dir: &str) -> Vec<u32> {
    fs::read_dir(dir).into_iter().flatten().filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok()).collect()
}

/// /proc/PID/comm, without its newline; None if the process is gone.
pub fn comm(pid: u32) -> Option<String> {
    fs::read_to_string(format!("/proc/{pid}/comm")).ok().map(|c| c.trim_end_matches('\n').to_owned())
}

/// /proc/PID/cmdline (NUL-separated) as one line; None for a kernel thread's (empty).
pub fn cmdline(pid: u32) -> Option<String> {
    parse_cmdline(&fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default())
}

/// NUL-separated words as one line.
pub fn parse_cmdline(raw: &[u8]) -> Option<String> {
    let parts: Vec<String> =
        raw.split(|&b| b == 0).filter(|p| !p.is_empty()).map(|p| String::from_utf8_lossy(p).into_owned()).collect();
    (!parts.is_empty()).then(|| parts.join(" "))
}

/// Whether process `pid` has a memory map now (it is empty while the process exits).
pub fn has_memory_map(pid: u32) -> bool {
    fs::read_to_string(format!("/proc/{pid}/maps")).is_ok_and(|m| !m.is_empty())
}

/// One mountinfo line: filesystem `dev` (the kernel's dev_t), the directory of it that is
/// mounted (`root`), where (`point`), and for an overlay its layer directories (upper
/// first, then the lower ones), as the mounter named them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mount {
    pub dev: u32,
    pub root: String,
    pub point: String,
    pub layers: Vec<String>,
}

/// /proc/PID/mountinfo.
pub fn mountinfo(of: Proc) -> io::Result<Vec<Mount>> {
    fs::read_to_string(format!("{}/mountinfo", of.dir())).map(|t| parse_mountinfo(&t))
}

/// /proc/PID/mountinfo: `id parent major:minor root point ... - fstype source options`,
/// paths with octal escapes.
pub fn parse_mountinfo(text: &str) -> Vec<Mount> {
    text.lines()
        .filter_map(|line| {
            let mut f = line.split(' ').skip(2);
            let (major, minor) = f.next()?.split_once(':')?;
            let dev = (major.parse::<u32>().ok()? << 20) | minor.parse::<u32>().ok()?;
            let (root, point) = (unescape(f.next()?), unescape(f.next()?));
            let mut tail = line.split_once(" - ").map(|(_, t)| t.split(' ')).into_iter().flatten();
            let layers = match (tail.next(), tail.nth(1)) {
                (Some("overlay"), Some(options)) => overlay_layers(options),
                _ => Vec::new(),
            };
            Some(Mount { dev, root, point, layers })
        })
        .collect()
}

/// An overlay's `upperdir=`, then its lower layers: `lowerdir=A:B` (`::` before data-only
/// layers), or one `lowerdir+=`/`datadir+=` each (6.8+). A comma inside a path is shown
/// octal-escaped and a colon as the mounter's `\:` (its backslash escaped, `\134:`), so
/// splitting on the bare ones is exact.
fn overlay_layers(options: &str) -> Vec<String> {
    let mut upper = Vec::new();
    let mut lower = Vec::new();
    for option in options.split(',') {
        match option.split_once('=') {
            Some(("upperdir", dir)) => upper.push(unescape(dir)),
            Some(("lowerdir", dirs)) => lower.extend(split_lowerdirs(dirs).map(|d| unescape(d).replace("\\:", ":"))),
            Some(("lowerdir+" | "datadir+", dir)) => lower.push(unescape(dir)),
            _ => {}
        }
    }
    upper.extend(lower);
    upper
}

/// `lowerdir=`'s paths: split at each colon not escaped (`\134:`), empty ones dropped.
fn split_lowerdirs(dirs: &str) -> impl Iterator<Item = &str> {
    let mut start = 0;
    let ends = dirs.match_indices(':').map(|(i, _)| i).filter(|&i| !dirs[..i].ends_with("\\134"));
    ends.chain([dirs.len()])
        .map(move |end| {
            let dir = &dirs[start..end];
            start = end + 1;
            dir
        })
        .filter(|d| !d.is_empty())
}

/// Undoes the kernel's `\ooo` escapes of space, tab, newline and backslash.
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let octal = b.get(i + 1..i + 4).filter(|d| b[i] == b'\\' && d.iter().all(|c| (b'0'..=b'7').contains(c)));
        match octal {
            Some(d) => {
                out.push(d.iter().fold(0u8, |v, c| v.wrapping_mul(8) + (c - b'0')));
                i += 4;
            }
            None => {
                out.push(b[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Where filesystems of type `fstype` are mounted, from the tracer's /proc/self/mounts.
pub fn mount_points(fstype: &str) -> Vec<std::path::PathBuf> {
    let mounts = fs::read_to_string("/proc/self/mounts").unwrap_or_default();
    mounts
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split(' ').collect();
            (f.len() > 2 && f[2] == fstype).then(|| f[1].into())
        })
        .collect()
}

/// The numeric fields of one of the tracer's fds' /proc/self/fdinfo (a BPF program's:
/// `run_cnt`, `run_time_ns`, `recursion_misses`); empty if it cannot be read.
pub fn fdinfo(fd: RawFd) -> BTreeMap<String, u64> {
    parse_fdinfo(&fs::read_to_string(format!("/proc/self/fdinfo/{fd}")).unwrap_or_default())
}

/// `key:\tvalue` lines; those whose value is not a number are left out.
pub fn parse_fdinfo(text: &str) -> BTreeMap<String, u64> {
    text.lines()
        .filter_map(|l| {
            let (key, value) = l.split_once(':')?;
            Some((key.to_owned(), value.trim().parse().ok()?))
        })
        .collect()
}

/// The tracer's effective capabilities (`CapEff` of /proc/self/status), 0 if unknown.
pub fn effective_capabilities() -> u64 {
    let status = fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .and_then(|hex| u64::from_str_radix(hex.trim(), 16).ok())
        .unwrap_or(0)
}

/// The running kernel's release (`uname -r`).
pub fn kernel_release() -> String {
    fs::read_to_string("/proc/sys/kernel/osrelease").map_or_else(|_| "unknown".into(), |s| s.trim().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_task_stat_with_an_odd_name() {
        let line = b"4243 (spin ) (x\xff) S 4242 4242 4242 0 -1 4194560 17 0 3 0 5 6 0 0 20 0 2 0 100 0 0\n";
        let s = parse_task_stat(line).unwrap();
        assert_eq!(&s.comm[..10], b"spin ) (x\xff");
        assert_eq!((s.state, s.minflt, s.majflt), (b'S', 17, 3));
        assert_eq!(parse_task_stat(b"1 (cut) S 0 0"), None, "too short: no fault counts");
    }

    #[test]
    fn cmdline_is_joined_and_empty_is_none() {
        assert_eq!(parse_cmdline(b"nginx\0-g\0daemon off;\0").as_deref(), Some("nginx -g daemon off;"));
        assert_eq!(parse_cmdline(b""), None);
    }

    #[test]
    fn fdinfo_fields_are_numbers_by_key() {
        let f = parse_fdinfo("pos:\t0\nflags:\t02000002\nprog_type:\t26\nrun_time_ns:\t1234\nprog_tag:\tabc\n");
        assert_eq!(f.get("run_time_ns"), Some(&1234));
        assert_eq!(f.get("prog_type"), Some(&26));
        assert_eq!(f.get("prog_tag"), None);
    }

    #[test]
    fn reads_the_tracers_own_files() {
        let me = std::process::id();
        assert!(pids().unwrap().contains(&me));
        // SAFETY: gettid has no arguments and cannot fail.
        let tid = unsafe { libc::gettid() } as u32;
        assert!(task_ids(me).contains(&me) && task_ids(me).contains(&tid));
        let stat = task_stat(me, tid).unwrap();
        assert_eq!(stat.state, b'R', "the thread reading its own stat is running");
        assert!(task_stat(me, me).unwrap().minflt > 0, "the main thread faulted the program in");
        assert!(!mountinfo(Proc::Own).unwrap().is_empty());
        assert!(has_memory_map(me));
        assert!(cmdline(me).is_some() && comm(me).is_some());
    }
}
