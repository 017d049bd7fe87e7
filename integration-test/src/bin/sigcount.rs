//! `sigcount FILE`: appends a line to FILE for every SIGINT and SIGTERM it receives, each
//! one as it comes (the handler writes it), prints "ready" and waits to be killed. The
//! oracle of how many signals a command really got.
use std::{ffi::CString, sync::atomic::AtomicI32};

static FD: AtomicI32 = AtomicI32::new(-1);

extern "C" fn note(sig: libc::c_int) {
    let line: &[u8] = if sig == libc::SIGINT { b"INT\n" } else { b"TERM\n" };
    // SAFETY: write(2) is async-signal-safe; the fd stays open for the process's life.
    unsafe { libc::write(FD.load(std::sync::atomic::Ordering::Relaxed), line.as_ptr().cast(), line.len()) };
}

fn main() {
    let path = CString::new(std::env::args().nth(1).expect("FILE")).unwrap();
    // SAFETY: a NUL-terminated path; plain syscalls.
    unsafe {
        let fd = libc::open(path.as_ptr(), libc::O_WRONLY | libc::O_CREAT | libc::O_APPEND, 0o644);
        assert!(fd >= 0);
        FD.store(fd, std::sync::atomic::Ordering::Relaxed);
        for sig in [libc::SIGINT, libc::SIGTERM] {
            libc::signal(sig, note as extern "C" fn(libc::c_int) as libc::sighandler_t);
        }
    }
    println!("ready");
    loop {
        std::thread::sleep(std::time::Duration::from_secs(1));
    }
}
