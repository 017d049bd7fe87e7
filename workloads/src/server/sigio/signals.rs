//! The signals `--mode sigio` runs on, by role, and blocking them so that they stay queued
//! for a reactor to take.

/// The signals, by role: readiness of a socket, a handed-over connection, the stop, and
/// the kernel's overflow fallback.
#[derive(Clone, Copy, Debug)]
pub struct Signals {
    pub io: i32,
    pub handoff: i32,
    pub stop: i32,
    pub overflow: i32,
}

impl Signals {
    pub fn get() -> Self {
        // libc's SIGRTMIN() is the first real-time signal glibc leaves to programs.
        let rt = libc::SIGRTMIN();
        Self { io: rt, handoff: rt + 1, stop: libc::SIGUSR1, overflow: libc::SIGIO }
    }

    pub fn set(&self) -> libc::sigset_t {
        // SAFETY: sigemptyset initialises the set.
        unsafe {
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            for sig in [self.io, self.handoff, self.stop, self.overflow] {
                libc::sigaddset(&mut set, sig);
            }
            set
        }
    }
}

/// Blocks the mode's signals in the calling thread and the threads it spawns later, so
/// they stay queued until a reactor takes them. Call it before any thread starts.
pub fn block_signals() {
    let set = Signals::get().set();
    // SAFETY: a valid set; no old set requested.
    unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) };
}
