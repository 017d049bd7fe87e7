//! `shootdown`: T threads pinned to T different CPUs share a region. Thread 0 changes it R
//! times while the others keep reading it: `--op mprotect` takes write access away
//! (PROT_READ) and gives it back, `--op munmap` maps, writes and unmaps a region of its
//! own beside the shared one (a reader touching an unmapped page would die). Each revoking
//! change (the PROT_READ, the munmap) leaves stale translations in the TLB of every CPU
//! running this mm, so the kernel must flush them there: on x86 by an IPI, counted in the
//! TLB line of /proc/interrupts on the receiving CPU.
//!
//! What lower bound is sound: an IPI goes only to CPUs that run this mm at that moment
//! (a CPU in lazy TLB mode is skipped and flushes when it switches back), a paravirtual
//! guest (KVM's PV TLB flush) skips vCPUs the host has preempted and has them flush when
//! they run again, and AMD's INVLPGB flushes remotely without any IPI. So no count above
//! zero is guaranteed by R alone. The run reports the changes a reader was seen running
//! across (`witnessed`: its pass counter moved during the revoking syscall): there the
//! reader's CPU ran this mm, so an IPI was due. On this kernel (6.18, KVM guest) the
//! readers' CPUs took exactly one IPI per witnessed munmap and two per witnessed mprotect
//! pair (giving write access back flushes too); the tests hold the count to at least the
//! witnessed changes, less a tenth for a reader preempted inside the syscall after it was
//! seen to run.
use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    thread,
    time::{Duration, Instant},
};

use serde_json::{Value, json};

use super::{
    args::{Op, fail},
    interrupts,
    phase::{Phase, rusage, warm_up},
    region::{Region, read_pages, write_pages},
    report::Report,
};
use crate::sys::{Call, Sys};

/// The readers' shared state: stop flag, passes over the region, pages read.
#[derive(Default)]
struct Readers {
    stop: AtomicBool,
    passes: AtomicU64,
    touches: AtomicU64,
    /// The readers' own faults (getrusage RUSAGE_THREAD over their loops): a read that
    /// meets a PTE while mprotect rewrites it (x86 clears it for a moment) faults, and
    /// waits for the change to end.
    minflt: AtomicU64,
    /// Readers that have taken their last sample (after `stop`).
    done: AtomicU64,
}

pub struct Plan {
    pub pages: usize,
    /// None: 2, or 1 on a single CPU.
    pub threads: Option<usize>,
    pub changes: u64,
    pub op: Op,
    pub limit: Duration,
}

pub fn run(sys: &mut Sys, plan: &Plan, scratch: &Region) -> Report {
    let cpus = allowed_cpus(sys);
    let threads = plan.threads.unwrap_or(cpus.len().min(2));
    if threads > cpus.len() {
        fail(format_args!("--threads {threads} needs as many CPUs, this process may run on {}", cpus.len()));
    }
    pin(sys, cpus[0]);
    let shared = Arc::new(Region::anon(sys, plan.pages).unwrap_or_else(|e| fail(format_args!("mmap: {e}"))));
    write_pages(shared.addr, plan.pages, 1);
    let readers = Arc::new(Readers::default());
    let handles: Vec<_> = cpus[1..threads]
        .iter()
        .map(|&cpu| {
            let (shared, readers) = (shared.clone(), readers.clone());
            thread::spawn(move || read_until_stopped(cpu, &shared, &readers))
        })
        .collect();
    // Wait for every reader's first pass, so they run before the first change.
    while handles.len() as u64 > 0 && readers.passes.load(Ordering::Acquire) < handles.len() as u64 {
        std::hint::spin_loop();
    }
    warm_up(scratch.addr);
    let before = interrupts::tlb_shootdowns();
    let (mut made, mut witnessed) = (0u64, 0u64);
    // The readers stop and take their last sample inside the phase: a reader's fault that
    // met the last change completes (and is counted) after that change returns, so the
    // readers' window must end before the process's does, or that fault is theirs alone.
    let phase = Phase::measure(sys, "changes", |sys| {
        (made, witnessed) = change(sys, plan, &shared, &readers);
        readers.stop.store(true, Ordering::Release);
        while readers.done.load(Ordering::Acquire) < handles.len() as u64 {
            std::hint::spin_loop();
        }
    });
    let after = interrupts::tlb_shootdowns();
    let mut reader_sys = Sys::default();
    for h in handles {
        reader_sys.add(&h.join().expect("reader thread panicked"));
    }
    sys.add(&reader_sys);
    let tlb = match (before, after) {
        (Some(b), Some(a)) => {
            let delta: Vec<u64> = a.iter().zip(&b).map(|(a, b)| a - b).collect();
            let others: u64 = cpus[1..threads].iter().map(|&c| delta.get(c).copied().unwrap_or(0)).sum();
            json!({"before": b, "after": a, "delta": delta.iter().sum::<u64>(), "delta_reader_cpus": others})
        }
        _ => Value::Null,
    };
    let phase = phase
        .fact("changes", made)
        .fact("witnessed", witnessed)
        .fact("touches", readers.touches.load(Ordering::Acquire))
        .fact("reader_minflt", readers.minflt.load(Ordering::Acquire));
    Report {
        phases: vec![phase],
        extra: vec![
            ("op", json!(if plan.op == Op::Mprotect { "mprotect" } else { "munmap" })),
            ("threads", json!(threads)),
            ("cpus", json!(&cpus[..threads])),
            ("changes_asked", json!(plan.changes)),
            ("tlb_interrupts", tlb),
        ],
    }
}

/// The changer's loop; returns (revoking changes made, of which witnessed by a reader).
fn change(sys: &mut Sys, plan: &Plan, shared: &Region, readers: &Readers) -> (u64, u64) {
    let started = Instant::now();
    let (mut made, mut witnessed) = (0, 0);
    while made < plan.changes && started.elapsed() < plan.limit {
        let seen = readers.passes.load(Ordering::Acquire);
        match plan.op {
            Op::Mprotect => {
                shared.protect(sys, libc::PROT_READ).unwrap_or_else(|e| fail(format_args!("mprotect: {e}")));
                witnessed += u64::from(readers.passes.load(Ordering::Acquire) != seen);
                shared
                    .protect(sys, libc::PROT_READ | libc::PROT_WRITE)
                    .unwrap_or_else(|e| fail(format_args!("mprotect: {e}")));
            }
            Op::Munmap => {
                let own = Region::anon(sys, plan.pages).unwrap_or_else(|e| fail(format_args!("mmap: {e}")));
                write_pages(own.addr, plan.pages, 1);
                let seen = readers.passes.load(Ordering::Acquire).max(seen);
                own.unmap(sys);
                witnessed += u64::from(readers.passes.load(Ordering::Acquire) != seen);
            }
        }
        made += 1;
    }
    (made, witnessed)
}

fn read_until_stopped(cpu: usize, shared: &Region, readers: &Readers) -> Sys {
    let mut sys = Sys::default();
    pin(&mut sys, cpu);
    // A first pass and sample before the changer starts (it waits for the first count
    // below): the thread's own stack and code faults stay out of its count.
    let _ = read_pages(shared.addr, shared.pages);
    let _ = rusage(&mut sys, libc::RUSAGE_THREAD);
    let start = rusage(&mut sys, libc::RUSAGE_THREAD);
    while !readers.stop.load(Ordering::Acquire) {
        let _ = read_pages(shared.addr, shared.pages);
        readers.touches.fetch_add(shared.pages as u64, Ordering::Relaxed);
        readers.passes.fetch_add(1, Ordering::Release);
    }
    let end = rusage(&mut sys, libc::RUSAGE_THREAD);
    readers.minflt.fetch_add(end.minflt - start.minflt, Ordering::Release);
    readers.done.fetch_add(1, Ordering::Release);
    sys
}

/// The CPUs this process may run on (sched_getaffinity), in order.
fn allowed_cpus(sys: &mut Sys) -> Vec<usize> {
    // SAFETY: plain data.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    let args = [0, size_of::<libc::cpu_set_t>(), &raw mut set as usize, 0, 0, 0];
    sys.call(Call::SchedGetaffinity, args).unwrap_or_else(|e| fail(format_args!("sched_getaffinity: {e}")));
    // SAFETY: reading bits of an initialised set.
    (0..libc::CPU_SETSIZE as usize).filter(|&c| unsafe { libc::CPU_ISSET(c, &set) }).collect()
}

/// Pins the calling thread to `cpu`.
fn pin(sys: &mut Sys, cpu: usize) {
    // SAFETY: plain data.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: `cpu` < CPU_SETSIZE (it came from allowed_cpus).
    unsafe { libc::CPU_SET(cpu, &mut set) };
    let args = [0, size_of::<libc::cpu_set_t>(), &raw const set as usize, 0, 0, 0];
    sys.call(Call::SchedSetaffinity, args)
        .unwrap_or_else(|e| fail(format_args!("sched_setaffinity to CPU {cpu}: {e}")));
}
