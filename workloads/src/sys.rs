//! Counted system calls. Every I/O call a workload makes goes through [`Sys`], which issues
//! the raw syscall (by number, so the name counted is the kernel's: glibc's `select()` is
//! really `pselect6`, which a tracer would report under that name) and counts calls,
//! errors, `EAGAIN`s and the sum of what they returned. These counts are the ground truth
//! `tracer`'s tests compare against.
use std::{io, os::fd::RawFd};

use serde_json::{Map, Value, json};

macro_rules! calls {
    ($($variant:ident = $nr:ident, $name:literal, $wait:literal;)*) => {
        /// The syscalls the workloads make, by x86-64 name.
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        #[repr(usize)]
        pub enum Call { $($variant),* }

        impl Call {
            pub const ALL: &[Call] = &[$(Call::$variant),*];
            pub const fn name(self) -> &'static str { match self { $(Call::$variant => $name),* } }
            const fn nr(self) -> libc::c_long { match self { $(Call::$variant => libc::$nr),* } }
            /// Wait-style calls return a count of ready fds, not bytes.
            pub const fn is_wait(self) -> bool { match self { $(Call::$variant => $wait),* } }
        }
    };
}

calls! {
    Read = SYS_read, "read", false;
    Write = SYS_write, "write", false;
    Pread64 = SYS_pread64, "pread64", false;
    Pwrite64 = SYS_pwrite64, "pwrite64", false;
    Socket = SYS_socket, "socket", false;
    Bind = SYS_bind, "bind", false;
    Listen = SYS_listen, "listen", false;
    Connect = SYS_connect, "connect", false;
    Accept4 = SYS_accept4, "accept4", false;
    Setsockopt = SYS_setsockopt, "setsockopt", false;
    Getsockname = SYS_getsockname, "getsockname", false;
    Shutdown = SYS_shutdown, "shutdown", false;
    Close = SYS_close, "close", false;
    EpollCreate1 = SYS_epoll_create1, "epoll_create1", false;
    EpollCtl = SYS_epoll_ctl, "epoll_ctl", false;
    EpollWait = SYS_epoll_wait, "epoll_wait", true;
    Poll = SYS_poll, "poll", true;
    Select = SYS_select, "select", true;
    Eventfd2 = SYS_eventfd2, "eventfd2", false;
    Pipe2 = SYS_pipe2, "pipe2", false;
    Fcntl = SYS_fcntl, "fcntl", false;
    Sendfile = SYS_sendfile, "sendfile", false;
    Splice = SYS_splice, "splice", false;
    Vmsplice = SYS_vmsplice, "vmsplice", false;
    CopyFileRange = SYS_copy_file_range, "copy_file_range", false;
    Mmap = SYS_mmap, "mmap", false;
    Munmap = SYS_munmap, "munmap", false;
    Madvise = SYS_madvise, "madvise", false;
    Fdatasync = SYS_fdatasync, "fdatasync", false;
    Fadvise64 = SYS_fadvise64, "fadvise64", false;
    Ftruncate = SYS_ftruncate, "ftruncate", false;
    Lseek = SYS_lseek, "lseek", false;
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
        let s = &mut self.stats[call as usize];
        s.calls += 1;
        if ret < 0 {
            let err = io::Error::last_os_error();
            if err.raw_os_error() == Some(libc::EAGAIN) {
                s.eagain += 1;
            } else {
                s.errors += 1;
            }
            return Err(err);
        }
        s.total += ret as u64;
        s.zero += u64::from(ret == 0 && call.is_wait());
        Ok(ret as usize)
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
    /// {"calls": .., "ready": .., "timeouts": ..}, ...}` for every call made at least once.
    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        for &c in Call::ALL {
            let s = self.stat(c);
            if s.calls == 0 {
                continue;
            }
            let v = if c.is_wait() {
                json!({"calls": s.calls, "errors": s.errors, "eagain": s.eagain, "ready": s.total, "timeouts": s.zero})
            } else {
                json!({"calls": s.calls, "errors": s.errors, "eagain": s.eagain, "bytes": s.total})
            };
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
