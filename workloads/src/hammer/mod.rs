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
mod loads;

use std::{io::BufRead, time::Instant};

use clap::Parser;
use serde_json::json;

use self::loads::{faults, handoffs, syscalls};

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
