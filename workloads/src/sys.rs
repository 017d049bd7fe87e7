//! Counted system calls. Every I/O call a workload makes goes through [`Sys`], which issues
//! the raw syscall (by number, so the name counted is the kernel's: glibc's `select()` is
//! really `pselect6`, which a tracer would report under that name) and counts calls,
//! errors, `EAGAIN`s and the sum of what they returned. These counts are the ground truth
//! `tracer`'s tests compare against.
use std::{io, os::fd::RawFd};

use serde_json::{Map, Value, json};

/// What the sum of a call's non-negative returns means, and so its key in the JSON.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sum {
    /// Bytes for data calls (and, for the calls the first workloads counted, whatever they
    /// return: fds, 0s, addresses; kept so their JSON does not change).
    Bytes,
    /// Ready fds of a wait call; its calls that returned 0 are `timeouts`.
    Ready,
    /// Entries the kernel took: SQEs for io_uring_enter, iocbs for io_submit.
    Submitted,
    /// Completions reaped (io_getevents).
    Events,
    /// Nothing worth adding up (fds, signal numbers, 0): no sum key.
    Nothing,
}

macro_rules! calls {
    ($($variant:ident = $nr:ident, $name:literal, $sum:ident;)*) => {
        /// The syscalls the workloads make, by x86-64 name.
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        #[repr(usize)]
        pub enum Call { $($variant),* }

        impl Call {
            pub const ALL: &[Call] = &[$(Call::$variant),*];
            pub const fn name(self) -> &'static str { match self { $(Call::$variant => $name),* } }
            const fn nr(self) -> libc::c_long { match self { $(Call::$variant => libc::$nr),* } }
            pub const fn sum(self) -> Sum { match self { $(Call::$variant => Sum::$sum),* } }
            /// Wait-style calls return a count of ready fds, not bytes.
            pub const fn is_wait(self) -> bool { matches!(self.sum(), Sum::Ready) }
        }
    };
}

calls! {
    Read = SYS_read, "read", Bytes;
    Write = SYS_write, "write", Bytes;
    Pread64 = SYS_pread64, "pread64", Bytes;
    Pwrite64 = SYS_pwrite64, "pwrite64", Bytes;
    Socket = SYS_socket, "socket", Bytes;
    Bind = SYS_bind, "bind", Bytes;
    Listen = SYS_listen, "listen", Bytes;
    Connect = SYS_connect, "connect", Bytes;
    Accept4 = SYS_accept4, "accept4", Bytes;
    Setsockopt = SYS_setsockopt, "setsockopt", Bytes;
    Getsockname = SYS_getsockname, "getsockname", Bytes;
    Shutdown = SYS_shutdown, "shutdown", Bytes;
    Close = SYS_close, "close", Bytes;
    EpollCreate1 = SYS_epoll_create1, "epoll_create1", Bytes;
    EpollCtl = SYS_epoll_ctl, "epoll_ctl", Bytes;
    EpollWait = SYS_epoll_wait, "epoll_wait", Ready;
    Poll = SYS_poll, "poll", Ready;
    Select = SYS_select, "select", Ready;
    Eventfd2 = SYS_eventfd2, "eventfd2", Bytes;
    Pipe2 = SYS_pipe2, "pipe2", Bytes;
    Fcntl = SYS_fcntl, "fcntl", Bytes;
    Sendfile = SYS_sendfile, "sendfile", Bytes;
    Splice = SYS_splice, "splice", Bytes;
    Vmsplice = SYS_vmsplice, "vmsplice", Bytes;
    CopyFileRange = SYS_copy_file_range, "copy_file_range", Bytes;
    Mmap = SYS_mmap, "mmap", Bytes;
    Munmap = SYS_munmap, "munmap", Bytes;
    Madvise = SYS_madvise, "madvise", Bytes;
    Fdatasync = SYS_fdatasync, "fdatasync", Bytes;
    Fadvise64 = SYS_fadvise64, "fadvise64", Bytes;
    Ftruncate = SYS_ftruncate, "ftruncate", Bytes;
    Lseek = SYS_lseek, "lseek", Bytes;
    Openat = SYS_openat, "openat", Nothing;
    IoUringSetup = SYS_io_uring_setup, "io_uring_setup", Nothing;
    IoUringEnter = SYS_io_uring_enter, "io_uring_enter", Submitted;
    IoUringRegister = SYS_io_uring_register, "io_uring_register", Nothing;
    IoSetup = SYS_io_setup, "io_setup", Nothing;
    IoSubmit = SYS_io_submit, "io_submit", Submitted;
    IoGetevents = SYS_io_getevents, "io_getevents", Events;
    IoDestroy = SYS_io_destroy, "io_destroy", Nothing;
    RtSigtimedwait = SYS_rt_sigtimedwait, "rt_sigtimedwait", Nothing;
    RtTgsigqueueinfo = SYS_rt_tgsigqueueinfo, "rt_tgsigqueueinfo", Nothing;
    Tgkill = SYS_tgkill, "tgkill", Nothing;
    ClockNanosleep = SYS_clock_nanosleep, "clock_nanosleep", Nothing;
    Gettid = SYS_gettid, "gettid", Nothing;
    Getpid = SYS_getpid, "getpid", Nothing;
    Mprotect = SYS_mprotect, "mprotect", Nothing;
    Mincore = SYS_mincore, "mincore", Nothing;
    Fsync = SYS_fsync, "fsync", Nothing;
    SchedSetaffinity = SYS_sched_setaffinity, "sched_setaffinity", Nothing;
    Fork = SYS_fork, "fork", Nothing;
    Wait4 = SYS_wait4, "wait4", Nothing;
    Getrusage = SYS_getrusage, "getrusage", Nothing;
    SchedGetaffinity = SYS_sched_getaffinity, "sched_getaffinity", Nothing;
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stat {
    pub calls: u64,
    /// Failed calls other than EAGAIN.
    pub errors: u64,
    pub eagain: u64,
    /// Sum of non-negative return values: bytes for data calls, ready fds for waits.
    pub total: u64,
    /// Wait calls that returned 0 (timed out).
    pub zero: u64,
}

/// One thread's counts (each thread owns one; they are summed when threads join, so the
/// hot path has no shared counters).
#[derive(Clone, Debug)]
pub struct Sys {
    stats: [Stat; Call::ALL.len()],
}

impl Default for Sys {
    fn default() -> Self {
        Self { stats: [Stat::default(); Call::ALL.len()] }
    }
}

impl Sys {
    /// Issues syscall `call` with up to six arguments, counting it.
    pub fn call(&mut self, call: Call, args: [usize; 6]) -> io::Result<usize> {
        // SAFETY: callers pass arguments valid for `call` (pointers into live buffers).
        let ret = unsafe { libc::syscall(call.nr(), args[0], args[1], args[2], args[3], args[4], args[5]) };
        let result = if ret < 0 { Err(io::Error::last_os_error()) } else { Ok(ret as usize) };
        self.record(call, &result);
        result
    }

    /// Counts a call a library made for us (the io-uring crate's io_uring_enter, say),
    /// with its result.
    pub fn record(&mut self, call: Call, result: &io::Result<usize>) {
        let s = &mut self.stats[call as usize];
        s.calls += 1;
        match result {
            Err(err) if err.raw_os_error() == Some(libc::EAGAIN) => s.eagain += 1,
            Err(_) => s.errors += 1,
            Ok(ret) => {
                s.total += *ret as u64;
                s.zero += u64::from(*ret == 0 && call.is_wait());
            }
        }
    }

    pub fn stat(&self, call: Call) -> Stat {
        self.stats[call as usize]
    }

    pub fn add(&mut self, other: &Sys) {
        for (a, b) in self.stats.iter_mut().zip(other.stats.iter()) {
            a.calls += b.calls;
            a.errors += b.errors;
            a.eagain += b.eagain;
            a.total += b.total;
            a.zero += b.zero;
        }
    }

    /// `{"read": {"calls": .., "errors": .., "eagain": .., "bytes": ..}, "epoll_wait":
    /// {"calls": .., "ready": .., "timeouts": ..}, ...}` for every call made at least once;
    /// the sum's key is the call's [`Sum`] (none for [`Sum::Nothing`]).
    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        for &c in Call::ALL {
            let s = self.stat(c);
            if s.calls == 0 {
                continue;
            }
            let mut v = json!({"calls": s.calls, "errors": s.errors, "eagain": s.eagain});
            let key = match c.sum() {
                Sum::Bytes => Some("bytes"),
                Sum::Ready => Some("ready"),
                Sum::Submitted => Some("submitted"),
                Sum::Events => Some("events"),
                Sum::Nothing => None,
            };
            if let Some(key) = key {
                v[key] = s.total.into();
            }
            if c.is_wait() {
                v["timeouts"] = s.zero.into();
            }
            m.insert(c.name().to_owned(), v);
        }
        Value::Object(m)
    }

    // Typed wrappers for the calls used in more than one place.

    pub fn read(&mut self, fd: RawFd, buf: &mut [u8]) -> io::Result<usize> {
        self.call(Call::Read, [fd as usize, buf.as_mut_ptr() as usize, buf.len(), 0, 0, 0])
    }

    pub fn write(&mut self, fd: RawFd, buf: &[u8]) -> io::Result<usize> {
        self.call(Call::Write, [fd as usize, buf.as_ptr() as usize, buf.len(), 0, 0, 0])
    }

    /// Writes all of `buf` to a blocking fd, retrying partial writes and EINTR.
    pub fn write_all(&mut self, fd: RawFd, mut buf: &[u8]) -> io::Result<()> {
        while !buf.is_empty() {
            match self.write(fd, buf) {
                Ok(n) => buf = &buf[n..],
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    pub fn close(&mut self, fd: RawFd) {
        let _ = self.call(Call::Close, [fd as usize, 0, 0, 0, 0, 0]);
    }

    pub fn shutdown(&mut self, fd: RawFd, how: i32) {
        let _ = self.call(Call::Shutdown, [fd as usize, how as usize, 0, 0, 0, 0]);
    }

    pub fn pread(&mut self, fd: RawFd, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        self.call(Call::Pread64, [fd as usize, buf.as_mut_ptr() as usize, buf.len(), offset as usize, 0, 0])
    }

    pub fn pwrite(&mut self, fd: RawFd, buf: &[u8], offset: u64) -> io::Result<usize> {
        self.call(Call::Pwrite64, [fd as usize, buf.as_ptr() as usize, buf.len(), offset as usize, 0, 0])
    }

    pub fn eventfd(&mut self) -> io::Result<RawFd> {
        self.call(Call::Eventfd2, [0, libc::EFD_CLOEXEC as usize, 0, 0, 0, 0]).map(|fd| fd as RawFd)
    }

    /// Wakes whoever polls an eventfd (adds 1 to its counter).
    pub fn eventfd_signal(&mut self, fd: RawFd) -> io::Result<()> {
        self.write(fd, &1u64.to_ne_bytes()).map(drop)
    }

    /// Prints one line on stdout with a single write(2), counted like any other.
    pub fn print_line(&mut self, line: &str) -> io::Result<()> {
        let mut text = String::with_capacity(line.len() + 1);
        text.push_str(line);
        text.push('\n');
        self.write_all(1, text.as_bytes())
    }
}

/// Prints the final JSON summary. Its own write(2) is the one call the summary cannot
/// count: a tracer sees `syscalls.write.calls + 1` writes and `+ len(line)` bytes.
pub fn print_summary(sys: &mut Sys, summary: &Value) {
    let _ = sys.print_line(&summary.to_string());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_calls_bytes_errors_and_eagain() {
        let mut sys = Sys::default();
        let mut fds = [0i32; 2];
        // SAFETY: valid out array.
        assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_NONBLOCK | libc::O_CLOEXEC) }, 0);
        let mut buf = [0u8; 16];
        assert_eq!(sys.read(fds[0], &mut buf).unwrap_err().raw_os_error(), Some(libc::EAGAIN));
        assert_eq!(sys.write(fds[1], b"hello").unwrap(), 5);
        assert_eq!(sys.read(fds[0], &mut buf).unwrap(), 5);
        assert!(sys.read(-1, &mut buf).is_err());
        let r = sys.stat(Call::Read);
        assert_eq!((r.calls, r.errors, r.eagain, r.total), (3, 1, 1, 5));
        assert_eq!(sys.stat(Call::Write).total, 5);
        sys.close(fds[0]);
        sys.close(fds[1]);
        let j = sys.to_json();
        assert_eq!(j["read"]["bytes"], 5);
        assert_eq!(j["close"]["calls"], 2);
        assert!(j.get("mmap").is_none());
        let mut total = Sys::default();
        total.add(&sys);
        total.add(&sys);
        assert_eq!(total.stat(Call::Read).calls, 6);
    }

    #[test]
    fn names_are_the_kernels() {
        assert_eq!(Call::Select.name(), "select");
        assert_eq!(Call::Sendfile.name(), "sendfile");
        assert!(Call::EpollWait.is_wait() && !Call::Read.is_wait());
    }
}
