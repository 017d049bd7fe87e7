//! Wakeups with known causes, and their account as JSON (the oracle of tests/wakeups.rs).
//!
//! 1. Ping-pong over a unix socketpair: the main thread waits in epoll_wait on its end,
//!    a peer thread writes one byte and waits in read(2) for the reply. Every wakeup of
//!    either thread is made by the other: unix sockets deliver in the writer's context.
//! 2. Timeouts: epoll_wait on an epoll set with nothing in it, so only its timer (an
//!    hrtimer, fired from the local timer interrupt) can end the wait.
use std::{os::fd::RawFd, thread};

fn check(ret: isize, what: &str) -> usize {
    assert!(ret >= 0, "{what}: {}", std::io::Error::last_os_error());
    ret as usize
}

/// The peer: writes a byte, waits for the reply. Its own frame (not inlined into the
/// thread's start), so the waker's user stack names it.
#[inline(never)]
fn ping(theirs: RawFd, rounds: usize) -> (i32, i64) {
    let mut b = [0u8; 1];
    for _ in 0..rounds {
        // SAFETY: plain syscalls on an fd this program owns.
        check(unsafe { libc::write(theirs, b"p".as_ptr().cast(), 1) }, "write");
        check(unsafe { libc::read(theirs, b.as_mut_ptr().cast(), 1) }, "read");
    }
    // Its sleeps: each one needed a wakeup to end.
    // SAFETY: a zeroed rusage is valid; getrusage fills it.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_THREAD, &mut ru) };
    (unsafe { libc::gettid() }, ru.ru_nvcsw)
}

fn main() {
    let mut args = std::env::args().skip(1);
    let rounds: usize = args.next().map_or(200, |a| a.parse().unwrap());
    let timeouts: usize = args.next().map_or(50, |a| a.parse().unwrap());
    let mut pair = [0 as RawFd; 2];
    // SAFETY: valid out array.
    check(
        unsafe { libc::socketpair(libc::AF_UNIX, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0, pair.as_mut_ptr()) }
            as isize,
        "socketpair",
    );
    let (mine, theirs) = (pair[0], pair[1]);
    let ino = |fd: RawFd| std::fs::read_link(format!("/proc/self/fd/{fd}")).unwrap().to_string_lossy().into_owned();
    let (my_socket, their_socket) = (ino(mine), ino(theirs));
    // SAFETY: plain syscalls on fds this program owns; buffers outlive the calls.
    let epfd = check(unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) } as isize, "epoll_create1") as RawFd;
    let mut ev = libc::epoll_event { events: libc::EPOLLIN as u32, u64: 0 };
    check(unsafe { libc::epoll_ctl(epfd, libc::EPOLL_CTL_ADD, mine, &mut ev) } as isize, "epoll_ctl");
    let peer = thread::spawn(move || ping(theirs, rounds));
    let mut events = [libc::epoll_event { events: 0, u64: 0 }; 4];
    let mut b = [0u8; 1];
    for _ in 0..rounds {
        check(unsafe { libc::epoll_wait(epfd, events.as_mut_ptr(), 4, -1) } as isize, "epoll_wait");
        check(unsafe { libc::read(mine, b.as_mut_ptr().cast(), 1) }, "read");
        check(unsafe { libc::write(mine, b"q".as_ptr().cast(), 1) }, "write");
    }
    let (peer_tid, peer_sleeps) = peer.join().unwrap();
    let empty = check(unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) } as isize, "epoll_create1") as RawFd;
    for _ in 0..timeouts {
        assert_eq!(unsafe { libc::epoll_wait(empty, events.as_mut_ptr(), 4, 2) }, 0, "nothing can be ready");
    }
    println!(
        r#"{{"pid":{},"main_tid":{},"peer_tid":{peer_tid},"peer_sleeps":{peer_sleeps},"rounds":{rounds},"timeouts":{timeouts},"main_socket":"{my_socket}","peer_socket":"{their_socket}"}}"#,
        std::process::id(),
        unsafe { libc::gettid() }
    );
}
