//! The loads `hammer` repeats: a cheap syscall, a futex handoff between two threads on one
//! CPU, and write faults on fresh anonymous pages.
use std::sync::atomic::{AtomicU32, Ordering};

pub fn syscalls(n: u64) -> u64 {
    for _ in 0..n {
        // SAFETY: no arguments, no memory.
        unsafe { libc::getppid() };
    }
    n
}

/// `n` handoffs between this thread and a partner, both pinned to the CPU this one is on.
pub fn handoffs(n: u64) -> u64 {
    static TURN: AtomicU32 = AtomicU32::new(0);
    TURN.store(0, Ordering::SeqCst);
    // SAFETY: plain syscall.
    let cpu = unsafe { libc::sched_getcpu() }.max(0) as usize;
    pin(cpu);
    let partner = std::thread::spawn(move || {
        pin(cpu);
        play(&TURN, 1, n);
    });
    play(&TURN, 0, n);
    partner.join().unwrap();
    n * 2
}

/// Waits for `turn == me`, then hands the turn to the other side and wakes it, `n` times.
fn play(turn: &AtomicU32, me: u32, n: u64) {
    for _ in 0..n {
        while turn.load(Ordering::Acquire) != me {
            futex(turn, libc::FUTEX_WAIT | libc::FUTEX_PRIVATE_FLAG, 1 - me);
        }
        turn.store(1 - me, Ordering::Release);
        futex(turn, libc::FUTEX_WAKE | libc::FUTEX_PRIVATE_FLAG, 1);
    }
}

fn futex(word: &AtomicU32, op: i32, val: u32) {
    // SAFETY: a valid futex word; no timeout.
    unsafe { libc::syscall(libc::SYS_futex, word.as_ptr(), op, val, std::ptr::null::<libc::timespec>()) };
}

fn pin(cpu: usize) {
    // SAFETY: a zeroed set with one CPU, for the calling thread.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        libc::sched_setaffinity(0, size_of::<libc::cpu_set_t>(), &set);
    }
}

/// At least `n` write faults on fresh anonymous pages.
pub fn faults(n: u64) -> u64 {
    const PAGES: u64 = 4096;
    let page = 4096;
    let len = (PAGES * page) as usize;
    let mut done = 0;
    while done < n {
        // SAFETY: a fresh private mapping, written page by page, then unmapped.
        unsafe {
            let p = libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            );
            assert_ne!(p, libc::MAP_FAILED, "mmap");
            libc::madvise(p, len, libc::MADV_NOHUGEPAGE);
            for i in 0..PAGES {
                p.cast::<u8>().add((i * page) as usize).write_volatile(1);
            }
            libc::munmap(p, len);
        }
        done += PAGES;
    }
    done
}
