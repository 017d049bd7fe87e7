//! A phase of a memlab run: the process's own getrusage fault counters and the clock
//! read around one piece of work, so the deltas count that work's faults alone.
//!
//! Between a phase's markers the runtime touches no page of its own: the work is one call
//! of a page loop whose code and stack frames were run (and so faulted in) by a warm-up
//! call just before ([`warm_up`]), and the clock and getrusage are called once before the
//! first sample, so their code (vDSO, vvar and libc pages, not mapped yet in a forked
//! child) is present and the page holding the result is written before the counters are
//! sampled. The warm-up also writes 64 KiB of stack below the
//! caller (after fork() every stack page is copy-on-write). The tests allow
//! [`RUNTIME_PAGES`] for a code or stack page the warm-up did not reach.
use std::time::Instant;

use serde_json::{Map, Value, json};

use super::region::{read_pages, write_pages};
use crate::sys::{Call, Sys};

/// Pages the runtime may touch between a phase's markers (see the module doc).
pub const RUNTIME_PAGES: u64 = 2;

#[derive(Clone, Copy, Debug, Default)]
pub struct Faults {
    pub minflt: u64,
    pub majflt: u64,
}

pub fn rusage(sys: &mut Sys, who: i32) -> Faults {
    // SAFETY: plain data.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    let _ = sys.call(Call::Getrusage, [who as usize, &raw mut u as usize, 0, 0, 0, 0]);
    Faults { minflt: u.ru_minflt as u64, majflt: u.ru_majflt as u64 }
}

/// What one phase did: its name, fault deltas, time, and the mode's own facts.
pub struct Phase {
    pub name: &'static str,
    pub faults: Faults,
    pub ns: u64,
    pub facts: Map<String, Value>,
}

impl Phase {
    /// Runs `work` (given `sys` for its own calls) between two samples of the process's
    /// fault counters.
    pub fn measure(sys: &mut Sys, name: &'static str, work: impl FnOnce(&mut Sys)) -> Self {
        // A first clock read and getrusage outside the window: in a forked child the vDSO,
        // vvar and libc pages they run on are not mapped yet (fork copies no PTEs of
        // file-backed or special mappings), and the result's page may be copy-on-write.
        let _ = Instant::now();
        let _ = rusage(sys, libc::RUSAGE_SELF);
        let before = rusage(sys, libc::RUSAGE_SELF);
        let started = Instant::now();
        work(sys);
        let ns = started.elapsed().as_nanos() as u64;
        let after = rusage(sys, libc::RUSAGE_SELF);
        let faults = Faults { minflt: after.minflt - before.minflt, majflt: after.majflt - before.majflt };
        Self { name, faults, ns, facts: Map::new() }
    }

    pub fn fact(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.facts.insert(key.into(), value.into());
        self
    }

    pub fn to_json(&self) -> Value {
        let mut v =
            json!({"name": self.name, "minflt": self.faults.minflt, "majflt": self.faults.majflt, "ns": self.ns});
        v.as_object_mut().expect("an object").extend(self.facts.clone());
        v
    }
}

/// Runs the page loops once on a scratch page, so their code is present before a measured
/// phase runs them, and writes the stack below the caller (after a fork every stack page
/// is copy-on-write), so the phase's own frames are present and writable.
pub fn warm_up(scratch: *mut u8) {
    write_pages(scratch, 1, 1);
    let _ = read_pages(scratch, 1);
    let mut stack = [0u8; STACK_WARM];
    for i in (0..STACK_WARM).step_by(4096) {
        // SAFETY: within the array.
        unsafe { stack.as_mut_ptr().add(i).write_volatile(1) };
    }
    std::hint::black_box(&mut stack);
}

/// How much stack below its caller [`warm_up`] writes: far more than a phase's frames.
const STACK_WARM: usize = 64 << 10;
