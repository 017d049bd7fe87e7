//! The programs `tracer` ships to trace: `epoll-server` (an echo server in epoll LT/ET,
//! poll, select, thread-per-connection, io_uring and signal-driven modes), `epoll-client`
//! (its load generator), `zerocopy` (a file sent over loopback TCP by read+write,
//! mmap+write, sendfile, splice, vmsplice, native AIO or io_uring, or copied with
//! copy_file_range), `memlab` (copy-on-write, the zero page, TLB shootdowns and major
//! faults, each a known number of times) and `hammer` (one kind of kernel event as
//! tightly as it goes, for the per-event cost benchmark).
//!
//! Each counts every I/O syscall it makes ([`sys::Sys`]) and prints, when it ends, one JSON
//! line saying what it did: the ground truth `tracer`'s tests hold its numbers against.
pub mod args;
pub mod client;
pub mod hammer;
pub mod memlab;
pub mod net;
pub mod server;
pub mod stop;
pub mod sys;
pub mod uring;
pub mod zerocopy;

/// Exits with one line on stderr: `<program>: error: <message>`.
pub fn fail(program: &str, message: impl std::fmt::Display) -> ! {
    eprintln!("{program}: error: {message}");
    std::process::exit(1)
}
