//! Names of stack frames, with blazesym: kernel frames from kallsyms, user frames from
//! the ELF symbols and DWARF of the files a process maps (through /proc/PID/map_files,
//! so a deleted or namespaced file still resolves), and perf-PID.map files where a JIT
//! writes them. blazesym is maintained with the kernel's BPF tooling (libbpf-rs, bpftrace
//! use it), caches each parsed file, and demangles Rust and C++.
//!
//! A user stack is named from its process's memory map, so user space names each stack
//! as soon as the kernel reports it new, and keeps each process's map as last read: a
//! stack taken as the process exits is named from the files the map points to.
use blazesym::{
    Pid,
    symbolize::{
        Input, Symbolized, Symbolizer,
        cache::{self, Cache},
        source::{Kernel, Process, Source},
    },
};

use crate::procfs;

/// The name of a frame nothing could name.
pub const UNKNOWN: &str = "[unknown]";

pub struct Symbols {
    symbolizer: Symbolizer,
}

impl Default for Symbols {
    fn default() -> Self {
        Self::new()
    }
}

impl Symbols {
    /// Reads the kernel's symbols at once (a second or so of kallsyms parsing that must
    /// not fall in the trace, where it would hold up naming user stacks).
    pub fn new() -> Self {
        let s = Self { symbolizer: Symbolizer::new() };
        let _ = s.kernel(&[0]);
        s
    }

    /// Keeps process `pid`'s memory map as it is now, to name its stacks after it has
    /// gone (its map, read as it exits, is empty: an empty one is not kept).
    pub fn keep(&self, pid: u32) {
        if procfs::has_memory_map(pid) {
            let mut keep = cache::Process::new(Pid::from(pid));
            keep.cache_perf_map = false;
            let _ = self.symbolizer.cache(&Cache::Process(keep));
        }
    }

    /// Names of `ips` (innermost first, as the kernel captured them): kernel addresses,
    /// or user addresses of process `pid`. Inlined calls become frames of their own. A
    /// frame that cannot be named is [`UNKNOWN`]; the count of those is returned too.
    pub fn name(&self, ips: &[u64], user: bool, pid: u32) -> (Vec<String>, usize) {
        // Every frame but the innermost is a return address: the call is just before it.
        let addrs: Vec<u64> =
            ips.iter().enumerate().map(|(i, &ip)| if i == 0 { ip } else { ip.saturating_sub(1) }).collect();
        let named = if user { self.user(&addrs, pid) } else { self.kernel(&addrs) };
        let mut frames = Vec::with_capacity(addrs.len());
        let mut unknown = 0;
        for i in 0..addrs.len() {
            match named.get(i) {
                Some(Symbolized::Sym(sym)) => {
                    // Inlined calls, innermost first, then the function they are in.
                    frames.extend(sym.inlined.iter().rev().map(|f| f.name.to_string()));
                    frames.push(sym.name.to_string());
                }
                _ => {
                    unknown += 1;
                    frames.push(UNKNOWN.to_owned());
                }
            }
        }
        if !user {
            // The innermost frames are the probe itself (the BPF program, the tracepoint's
            // trampoline): not where the thread was. The program's own address may be
            // named after whatever kernel symbol precedes it, so everything up to the
            // last trampoline frame goes.
            let is_probe = |f: &String| PROBE_FRAMES.iter().any(|p| f.starts_with(p));
            let probe = frames.iter().take(PROBE_DEPTH).rposition(is_probe).map_or(0, |i| i + 1);
            frames.drain(..probe);
        }
        (frames, unknown)
    }

    fn kernel(&self, addrs: &[u64]) -> Vec<Symbolized<'_>> {
        self.symbolizer.symbolize(&Source::Kernel(Kernel::default()), Input::AbsAddr(addrs)).unwrap_or_default()
    }

    /// A user stack of process `pid`: through its /proc entries while it lives; once it
    /// is gone (or going: its map_files vanish as it exits), through the map kept by
    /// [`Symbols::keep`] and the files' paths.
    fn user(&self, addrs: &[u64], pid: u32) -> Vec<Symbolized<'_>> {
        let pid = Pid::from(pid);
        if let Ok(named) = self.symbolizer.symbolize(&Source::Process(Process::new(pid)), Input::AbsAddr(addrs)) {
            return named;
        }
        let mut kept = Process::new(pid);
        kept.map_files = false;
        self.symbolizer.symbolize(&Source::Process(kept), Input::AbsAddr(addrs)).unwrap_or_default()
    }
}

/// Frames of the tracing machinery, innermost in every kernel stack the probes take.
const PROBE_FRAMES: [&str; 4] = ["bpf_prog_", "bpf_trace_run", "__traceiter_", "__bpf_trace_"];
/// How deep the probe's own frames go: program, bpf_trace_run, trampoline(s).
const PROBE_DEPTH: usize = 5;

#[cfg(test)]
mod tests {
    use super::*;

    #[inline(never)]
    fn marker_function_for_the_symbolizer() -> u64 {
        marker_function_for_the_symbolizer as *const () as u64
    }

    /// This test process's own code, named through its /proc entries (no root needed).
    #[test]
    fn names_this_processs_own_function() {
        let addr = marker_function_for_the_symbolizer();
        let (frames, unknown) = Symbols::new().name(&[addr, 1], true, std::process::id());
        assert!(frames[0].contains("marker_function_for_the_symbolizer"), "{frames:?}");
        assert_eq!((frames[1].as_str(), unknown), (UNKNOWN, 1), "address 1 is in nothing");
    }
}
