//! SIGINT and SIGTERM, from the tracer's first instruction to its last: blocked at once
//! (so one that comes while the programs load is kept, not fatal) and read from a
//! signalfd, which says who sent each one.
//!
//! Who matters for `run`: Ctrl-C in a terminal signals the whole foreground process group,
//! the command as well as the tracer, so passing it on would give the command a second
//! SIGINT (to many servers: "quit now"); a `kill` aimed at the tracer alone reaches only
//! it, so it is passed on, as the same signal.
use std::{
    cell::Cell,
    io,
    mem::MaybeUninit,
    os::fd::{AsRawFd, FromRawFd, OwnedFd},
};

use tokio::io::unix::AsyncFd;

/// A signal the tracer received.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Received {
    pub signo: i32,
    /// Sent by a process (kill, a supervisor), not by the terminal to its process group.
    pub by_process: bool,
}

pub struct Signals {
    fd: AsyncFd<OwnedFd>,
    /// One read ahead by [`Signals::peek`], handed out next.
    stash: Cell<Option<Received>>,
}

/// The signals a trace ends on.
const STOP: [i32; 2] = [libc::SIGINT, libc::SIGTERM];

fn set() -> libc::sigset_t {
    // SAFETY: sigemptyset initialises the set; sigaddset takes valid signal numbers.
    unsafe {
        let mut set = MaybeUninit::<libc::sigset_t>::uninit();
        libc::sigemptyset(set.as_mut_ptr());
        for s in STOP {
            libc::sigaddset(set.as_mut_ptr(), s);
        }
        set.assume_init()
    }
}

/// Blocks SIGINT and SIGTERM in the calling thread and every thread it starts after.
/// Call first thing in `main`, before any thread exists.
pub fn block() {
    let set = set();
    // SAFETY: a valid set; the old mask is not wanted.
    unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) };
}

/// In a child between fork and exec: the command starts with them unblocked, as it
/// would without the tracer. Async-signal-safe.
pub fn unblock_in_child() -> io::Result<()> {
    let set = set();
    // SAFETY: a valid set.
    match unsafe { libc::pthread_sigmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut()) } {
        0 => Ok(()),
        e => Err(io::Error::from_raw_os_error(e)),
    }
}

impl Signals {
    /// A signalfd for the blocked signals (those already pending included).
    pub fn new() -> io::Result<Self> {
        let set = set();
        // SAFETY: a valid set; a new fd is returned or -1.
        let fd = unsafe { libc::signalfd(-1, &set, libc::SFD_NONBLOCK | libc::SFD_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: a fresh fd that is ours.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        Ok(Self { fd: crate::target::readable(fd)?, stash: Cell::new(None) })
    }

    /// Whether a signal came already (it stays to be handed out).
    pub fn peek(&self) -> bool {
        if self.stash.get().is_none() {
            self.stash.set(read(self.fd.get_ref().as_raw_fd()).ok());
        }
        self.stash.get().is_some()
    }

    /// The next signal.
    pub async fn recv(&self) -> io::Result<Received> {
        if let Some(r) = self.stash.take() {
            return Ok(r);
        }
        loop {
            let mut guard = self.fd.readable().await?;
            match guard.try_io(|fd| read(fd.get_ref().as_raw_fd())) {
                Ok(r) => return r,
                Err(_would_block) => continue,
            }
        }
    }
}

fn read(fd: i32) -> io::Result<Received> {
    let mut info = MaybeUninit::<libc::signalfd_siginfo>::zeroed();
    let size = size_of::<libc::signalfd_siginfo>();
    // SAFETY: reading one siginfo into a buffer of its size.
    let n = unsafe { libc::read(fd, info.as_mut_ptr().cast(), size) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the kernel wrote a whole siginfo (signalfd reads are all or nothing).
    let info = unsafe { info.assume_init() };
    // SI_USER (kill), SI_QUEUE (sigqueue) and SI_TKILL come from a process; the terminal's
    // SIGINT to its foreground group is SI_KERNEL.
    let by_process = matches!(info.ssi_code, libc::SI_USER | libc::SI_QUEUE | libc::SI_TKILL);
    Ok(Received { signo: info.ssi_signo as i32, by_process })
}
