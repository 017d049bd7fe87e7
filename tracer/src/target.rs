//! What to trace: an existing process (by PID), the processes of a cgroup or of a name
//! (those there now, and those that exec there later), or a command the tracer launches.
use std::{
    ffi::OsString,
    fs,
    os::fd::{AsRawFd, FromRawFd, OwnedFd},
    path::Path,
};

use tokio::io::{Interest, unix::AsyncFd};

use anyhow::{Context, Result, bail};

/// The process a report is about.
#[derive(Clone, Debug)]
pub struct ProcessInfo {
    pub pid: u32,
    pub comm: String,
    /// The command line, or `[comm]` for a kernel thread.
    pub command: String,
}

/// Looks up a running process, with a clear error when there is none.
pub fn describe(pid: u32) -> Result<ProcessInfo> {
    if pid == 0 {
        bail!("PID 0 is the idle task, not a process: pass the PID of a running process (see `ps`)");
    }
    if pid == std::process::id() {
        bail!("tracer cannot trace itself (PID {pid}): pass the PID of another process");
    }
    let Ok(comm) = fs::read_to_string(format!("/proc/{pid}/comm")) else {
        bail!("no such process: PID {pid} is not running (check it with `ps -p {pid}`)");
    };
    let comm = comm.trim_end().to_owned();
    let cmdline = fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    let command = join_cmdline(&cmdline).unwrap_or_else(|| format!("[{comm}]"));
    Ok(ProcessInfo { pid, comm, command })
}

/// /proc/PID/cmdline (NUL-separated) as one line.
fn join_cmdline(raw: &[u8]) -> Option<String> {
    let parts: Vec<String> =
        raw.split(|&b| b == 0).filter(|p| !p.is_empty()).map(|p| String::from_utf8_lossy(p).into_owned()).collect();
    (!parts.is_empty()).then(|| parts.join(" "))
}

/// Every process in cgroup `dir` (v2) and below it, now; and the directory, open, for
/// the kernel to match processes that exec in it later.
pub fn cgroup(dir: &Path) -> Result<(Vec<u32>, fs::File)> {
    if !dir.join("cgroup.procs").is_file() || !cgroup2_mounts().iter().any(|m| dir.starts_with(m)) {
        let mounts = cgroup2_mounts();
        let root = mounts
            .first()
            .map_or("(none mounted: mount -t cgroup2 none /sys/fs/cgroup)".into(), |m| m.display().to_string());
        bail!(
            "{} is not a cgroup v2 directory: pass one under the cgroup2 mount, {root} (a systemd service: {root}/system.slice/NAME.service)",
            dir.display()
        );
    }
    let mut pids = Vec::new();
    let mut dirs = vec![dir.to_path_buf()];
    while let Some(d) = dirs.pop() {
        let procs = fs::read_to_string(d.join("cgroup.procs")).unwrap_or_default();
        pids.extend(procs.lines().filter_map(|l| l.trim().parse::<u32>().ok()));
        for e in fs::read_dir(&d).into_iter().flatten().flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                dirs.push(e.path());
            }
        }
    }
    pids.retain(|&p| p != std::process::id());
    let file = fs::File::open(dir).with_context(|| format!("cannot open {}", dir.display()))?;
    Ok((pids, file))
}

/// Where cgroup v2 is mounted (/sys/fs/cgroup, or /sys/fs/cgroup/unified on hybrid hosts).
pub fn cgroup2_mounts() -> Vec<std::path::PathBuf> {
    let mounts = fs::read_to_string("/proc/self/mounts").unwrap_or_default();
    mounts
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split(' ').collect();
            (f.len() > 2 && f[2] == "cgroup2").then(|| f[1].into())
        })
        .collect()
}

/// Every process named `comm` now (its kernel name: at most 15 bytes).
pub fn by_comm(comm: &str) -> Result<Vec<u32>> {
    if comm.is_empty() || comm.len() > 15 || comm.contains('/') {
        bail!(
            "--comm {comm:?}: a process name as /proc/PID/comm shows it (1 to 15 bytes, no '/'); the kernel cuts longer names to 15 bytes"
        );
    }
    let mut pids = Vec::new();
    for e in fs::read_dir("/proc")?.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else { continue };
        let name = fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
        if name.trim_end_matches('\n') == comm && pid != std::process::id() {
            pids.push(pid);
        }
    }
    Ok(pids)
}

/// A launched command's words as one line, for the report.
pub fn command_line(words: &[OsString]) -> String {
    words.iter().map(|w| w.to_string_lossy()).collect::<Vec<_>>().join(" ")
}

/// A pidfd that becomes readable when the process exits (Linux 5.3+).
pub fn pidfd(pid: u32) -> Result<OwnedFd> {
    // SAFETY: plain syscall; on success the fd is ours.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid as libc::pid_t, 0) };
    if fd < 0 {
        bail!("no such process: PID {pid} exited before tracing started ({})", std::io::Error::last_os_error());
    }
    // SAFETY: a fresh fd returned by the kernel.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

/// Registers an owned fd with the reactor for readability.
pub fn readable<T: AsRawFd>(inner: T) -> std::io::Result<AsyncFd<T>> {
    // SAFETY: `inner` owns its fd and keeps it open and unchanged until the AsyncFd (which
    // now owns `inner`) is dropped.
    Ok(unsafe { AsyncFd::register_with_interest(inner, Interest::READABLE) }?)
}

/// The calling thread's TID.
pub fn gettid() -> u32 {
    // SAFETY: no arguments, cannot fail.
    unsafe { libc::gettid() as u32 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cmdline_is_joined_and_empty_is_none() {
        assert_eq!(join_cmdline(b"nginx\0-g\0daemon off;\0").as_deref(), Some("nginx -g daemon off;"));
        assert_eq!(join_cmdline(b""), None);
    }

    #[test]
    fn silly_pids_are_explained() {
        assert!(describe(0).unwrap_err().to_string().contains("idle task"));
        assert!(describe(std::process::id()).unwrap_err().to_string().contains("cannot trace itself"));
    }
}
