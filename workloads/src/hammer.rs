//! `hammer`: the load of the per-event cost benchmark. Each mode repeats one kind of
//! kernel event as tightly as it can and measures the process's own CPU time around it,
//! so a tracer's cost per event is the difference to an untraced run:
//!
//! - `syscall`: `getppid()` (the cheapest syscall: what a probe adds is most of its cost);
//! - `switch`: two threads on one CPU hand a futex back and forth: one op is one handoff
//!   (a `FUTEX_WAKE` that wakes the other thread, a `FUTEX_WAIT` that switches to it);
//! - `fault`: write-faults on fresh anonymous 4 KiB pages (THP off), mapped and unmapped
//!   in batches of 4096 pages.
//!
//! It prints `ready <pid>` and waits for a line on stdin before it starts, so an observer
//! can attach first; then one JSON line per mode: ops, the process's CPU ns, the ops the
//! kernel itself counted (context switches from getrusage, minor faults), and wall ns.
use std::{
    io::BufRead,
    sync::atomic::{AtomicU32, Ordering},
    time::Instant,
};

use clap::Parser;
use serde_json::json;

#[derive(Parser)]
#[command(about = "Repeat one kind of kernel event and measure its CPU cost")]
struct Args {
    /// Modes to run, in order: syscall, switch, fault.
    #[arg(long, value_delimiter = ',', default_value = "syscall,switch,fault")]
    modes: Vec<String>,
    /// Syscalls to make in `syscall` mode; the other modes do a tenth of it.
    #[arg(long, default_value_t = 2_000_000)]
    iterations: u64,
    /// Do not wait for a line on stdin.
    #[arg(long)]
    now: bool,
}

pub fn main() {
    let args = Args::parse();
    println!("ready {}", std::process::id());
    if !args.now {
        let mut line = String::new();
        let _ = std::io::stdin().lock().read_line(&mut line);
    }
    for mode in &args.modes {
        let (ops, kernel_ops) = match mode.as_str() {
            "syscall" => measure(|| syscalls(args.iterations), |_| None),
            "switch" => measure(|| handoffs(args.iterations / 10), |u| Some(u.ru_nvcsw + u.ru_nivcsw)),
            "fault" => measure(|| faults(args.iterations / 10), |u| Some(u.ru_minflt)),
            other => crate::fail("hammer", format!("unknown mode {other} (syscall, switch, fault)")),
        };
        println!(
            "{}",
            json!({ "mode": mode, "ops": ops.0, "cpu_ns": ops.1, "wall_ns": ops.2, "kernel_ops": kernel_ops })
        );
    }
}

/// Runs `work` (which returns its op count) and measures the process's CPU time, wall
/// time and the growth of the getrusage counter `counted` picks.
fn measure(
    work: impl FnOnce() -> u64,
    counted: impl Fn(&libc::rusage) -> Option<i64>,
) -> ((u64, u64, u64), Option<i64>) {
    let (u0, c0, t0) = (rusage(), cpu_ns(), Instant::now());
    let ops = work();
    let (c1, wall, u1) = (cpu_ns(), t0.elapsed().as_nanos() as u64, rusage());
    let kernel = counted(&u1).zip(counted(&u0)).map(|(a, b)| a - b);
    ((ops, c1 - c0, wall), kernel)
}

fn syscalls(n: u64) -> u64 {
    for _ in 0..n {
        // SAFETY: no arguments, no memory.
        unsafe { libc::getppid() };
    }
    n
}

/// `n` handoffs between this thread and a partner, both pinned to the CPU this one is on.
fn handoffs(n: u64) -> u64 {
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
fn faults(n: u64) -> u64 {
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

fn rusage() -> libc::rusage {
    // SAFETY: an out struct of the right type.
    unsafe {
        let mut u: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut u);
        u
    }
}

/// The whole process's CPU time (all threads), in ns.
fn cpu_ns() -> u64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: an out struct.
    unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}
