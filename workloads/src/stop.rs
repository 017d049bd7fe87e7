//! Bounded runs: wait for `--duration`, SIGINT or SIGTERM, whichever comes first.
use std::time::Duration;

/// Blocks SIGINT and SIGTERM in the calling thread and every thread it spawns later, so
/// [`wait`] alone receives them. Call it first thing in `main`.
pub fn block_signals() {
    let set = signal_set();
    // SAFETY: valid sigset; no old set requested.
    unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) };
}

fn signal_set() -> libc::sigset_t {
    // SAFETY: sigemptyset initialises the set.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGINT);
        libc::sigaddset(&mut set, libc::SIGTERM);
        set
    }
}

/// Why a run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ended {
    Duration,
    Signal(i32),
}

/// Waits for the duration (forever if `None`) or a blocked signal.
pub fn wait(duration: Option<Duration>) -> Ended {
    let set = signal_set();
    loop {
        // SAFETY: valid set and timespec; no siginfo requested.
        let sig = unsafe {
            match duration {
                Some(d) => {
                    let ts =
                        libc::timespec { tv_sec: d.as_secs() as libc::time_t, tv_nsec: i64::from(d.subsec_nanos()) };
                    libc::sigtimedwait(&set, std::ptr::null_mut(), &ts)
                }
                None => libc::sigwaitinfo(&set, std::ptr::null_mut()),
            }
        };
        if sig > 0 {
            return Ended::Signal(sig);
        }
        if std::io::Error::last_os_error().raw_os_error() == Some(libc::EAGAIN) {
            return Ended::Duration;
        }
        // EINTR (e.g. a stop/continue): wait again. A resumed wait restarts the duration,
        // which can only make a run longer than asked, never unbounded.
    }
}
