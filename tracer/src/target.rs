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

use crate::procfs;

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
    let Some(comm) = procfs::comm(pid) else {
        bail!("no such process: PID {pid} is not running (check it with `ps -p {pid}`)");
    };
    let command = procfs::cmdline(pid).unwrap_or_else(|| format!("[{comm}]"));
    Ok(ProcessInfo { pid, comm, command })
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
    procfs::mount_points("cgroup2")
}

/// Every process named `comm` now (its kernel name: at most 15 bytes).
pub fn by_comm(comm: &str) -> Result<Vec<u32>> {
    if comm.is_empty() || comm.len() > 15 || comm.contains('/') {
        bail!(
            "--comm {comm:?}: a process name as /proc/PID/comm shows it (1 to 15 bytes, no '/'); the kernel cuts longer names to 15 bytes"
        );
    }
    let mut pids = Vec::new();
    for pid in procfs::pids()? {
        if procfs::comm(pid).is_some_and(|name| name == comm) && pid != std::process::id() {
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
    fn silly_pids_are_explained() {
        assert!(describe(0).unwrap_err().to_string().contains("idle task"));
        assert!(describe(std::process::id()).unwrap_err().to_string().contains("cannot trace itself"));
    }
}
