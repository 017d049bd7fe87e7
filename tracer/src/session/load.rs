//! Loading the eBPF object and attaching its programs, with a clear failure when the
//! kernel refuses: missing privileges, a verifier's reason, a locked-down kernel.
use std::{
    collections::BTreeMap,
    os::fd::{AsFd, AsRawFd},
};

use anyhow::{Context, Result, bail};
use aya::{
    Ebpf,
    programs::{BtfTracePoint, ProgramError},
};

use crate::procfs;

/// The eBPF object, built by build.rs and embedded so the binary needs no source tree.
pub(super) static OBJECT: &[u8] = aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/tracer.bpf.o"));

pub(super) fn take(ebpf: &mut Ebpf, name: &str) -> Result<aya::maps::Map> {
    ebpf.take_map(name).with_context(|| format!("the eBPF object has no map {name} (build mismatch)"))
}

pub(super) fn attach(
    ebpf: &mut Ebpf,
    btf: &aya::Btf,
    prog: &str,
    tracepoint: &str,
    kernel: &str,
    verbose: bool,
) -> Result<()> {
    let program =
        ebpf.program_mut(prog).with_context(|| format!("the eBPF object has no program {prog} (build mismatch)"))?;
    let p: &mut BtfTracePoint = program.try_into()?;
    p.load(tracepoint, btf).map_err(|e| refused(e, prog, kernel, verbose))?;
    p.attach().map_err(|e| {
        explain_eperm(anyhow::Error::new(e).context(format!("attaching {prog} to tracepoint {tracepoint} failed")))
    })?;
    Ok(())
}

/// A program the kernel would not load, said in one line: which program, on which
/// kernel, and the verifier's reason (its whole log with `-v`).
fn refused(e: ProgramError, prog: &str, kernel: &str, verbose: bool) -> anyhow::Error {
    let reason = match &e {
        ProgramError::LoadError { io_error, verifier_log } => {
            verifier_reason(&verifier_log.to_string()).map(|r| (r, verifier_log.to_string(), io_error.raw_os_error()))
        }
        _ => None,
    };
    let Some((reason, log, errno)) = reason else {
        return explain_eperm(anyhow::Error::new(e).context(format!("loading program {prog} failed")));
    };
    let errno = errno.map_or_else(String::new, |n| format!(" ({})", std::io::Error::from_raw_os_error(n)));
    let mut msg = format!("the kernel's verifier refused program {prog} on Linux {kernel}{errno}: {reason}");
    if verbose {
        msg.push_str("\n--- verifier log ---\n");
        msg.push_str(log.trim_end());
    } else {
        msg.push_str(" (run with -v for the verifier's log)");
    }
    anyhow::anyhow!(msg)
}

/// The verifier's reason for refusing a program: the last line of its log that is not
/// its statistics ("processed N insns", "verification time", "stack depth"), a source
/// line or an instruction dump.
pub fn verifier_reason(log: &str) -> Option<String> {
    log.lines()
        .map(str::trim)
        .rev()
        .find(|l| {
            !l.is_empty()
                && !l.starts_with("processed ")
                && !l.starts_with("verification time")
                && !l.starts_with("stack depth")
                && !l.starts_with(';')
                && !l.starts_with("mark_precise")
                && !l.chars().next().is_some_and(|c| c.is_ascii_digit())
        })
        .map(str::to_owned)
}

/// Capability bits (linux/capability.h) that loading tracing programs needs.
const CAP_SYS_ADMIN: u32 = 21;
const CAP_PERFMON: u32 = 38;
const CAP_BPF: u32 = 39;
const PRIVILEGE_FIX: &str = "run tracer as root (sudo), or grant it CAP_BPF and CAP_PERFMON";

pub(super) fn check_privileges() -> Result<()> {
    let caps = procfs::effective_capabilities();
    let has = |bit: u32| caps & (1 << bit) != 0;
    if has(CAP_SYS_ADMIN) || (has(CAP_BPF) && has(CAP_PERFMON)) {
        return Ok(());
    }
    bail!("tracer needs privileges to load eBPF programs (missing CAP_BPF/CAP_PERFMON): {PRIVILEGE_FIX}")
}

/// EPERM after the privilege check passed: the privileges are there, so something else
/// (kernel lockdown, a security module) refused.
pub(super) fn explain_eperm(err: anyhow::Error) -> anyhow::Error {
    let eperm =
        err.chain().any(|c| c.downcast_ref::<std::io::Error>().is_some_and(|e| e.raw_os_error() == Some(libc::EPERM)));
    if eperm {
        err.context("the kernel refused with EPERM although tracer has the privileges to load eBPF programs: kernel lockdown (/sys/kernel/security/lockdown) or a security module forbids it")
    } else {
        err
    }
}

/// Each loaded program (those of sections not traced, or the floor's, are not) and its
/// fd's /proc/self/fdinfo (aya 0.14 does not expose `recursion_misses`).
pub(super) fn loaded(ebpf: &Ebpf) -> impl Iterator<Item = (&str, BTreeMap<String, u64>)> {
    ebpf.programs().filter_map(|(name, p)| Some((name, procfs::fdinfo(p.fd().ok()?.as_fd().as_raw_fd()))))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every program, as the oldest supported verifiers will see it: one stack frame (a
    /// call to another BPF function, such as an out-of-line memset, adds a frame, and
    /// before ~6.9 frames round up to 32 bytes) of at most 480 bytes.
    #[test]
    fn every_program_fits_the_oldest_verifiers() {
        let obj = aya_obj::Object::parse(OBJECT).unwrap();
        assert!(obj.programs.len() > 30, "{} programs", obj.programs.len());
        for (name, program) in &obj.programs {
            let f = &obj.functions[&program.function_key()];
            let mut depth = 0i64;
            let mut frame_pointers = [false; 11];
            for insn in &f.instructions {
                let (code, dst, src) = (insn.code, insn.dst_reg() as usize, insn.src_reg() as usize);
                // BPF_JMP | BPF_CALL with src BPF_PSEUDO_CALL: a call to a BPF function.
                assert!(!(code == 0x85 && src == 1), "{name} calls another BPF function: a second stack frame");
                let (class, mode) = (code & 0x07, code & 0xe0);
                // Loads from and stores to [r10 - off].
                if (class == 0x01 && src == 10) || (matches!(class, 0x02 | 0x03) && dst == 10) {
                    depth = depth.max(-i64::from(insn.off));
                }
                // r = r10, then r += -N: a stack buffer's address.
                if dst <= 10 {
                    if code == 0xbf {
                        frame_pointers[dst] = src == 10;
                    } else if code == 0x07 && frame_pointers[dst] {
                        depth = depth.max(-i64::from(insn.imm));
                    } else if class == 0x07 || class == 0x04 || mode == 0 && class == 0x01 {
                        frame_pointers[dst] = false;
                    }
                }
            }
            assert!(depth <= 480, "{name} uses {depth} bytes of stack (the limit for older verifiers: 480)");
        }
    }

    #[test]
    fn the_verifier_reason_is_its_last_word_not_its_statistics() {
        let log = "0: (79) r2 = *(u64 *)(r1 +8)\nfunc 'sched_switch' arg1 has btf_id 132 type STRUCT 'task_struct'\n3: (79) r7 = *(u64 *)(r1 +24)\nfunc 'sched_switch' doesn't have 4-th argument\nprocessed 4 insns (limit 1000000) max_states_per_insn 0\n";
        assert_eq!(verifier_reason(log).as_deref(), Some("func 'sched_switch' doesn't have 4-th argument"));
        let log = "combined stack size of 2 calls is 544. Too large\nverification time 644918 usec\nstack depth 488+0\nprocessed 37343 insns (limit 1000000) max_states_per_insn 8 total_states 982\n";
        assert_eq!(verifier_reason(log).as_deref(), Some("combined stack size of 2 calls is 544. Too large"));
        assert_eq!(verifier_reason("\n  \n"), None);
    }
}
