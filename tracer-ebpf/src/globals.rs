//! Read-only globals, overridden by the loader (`EbpfLoader::override_global`). They live in
//! a frozen `.rodata` map, so reading one costs a load, the verifier knows its value, and
//! a branch on a [`Features`] value that this kernel cannot take is never verified.
//!
//! Read them one field at a time ([`off!`], [`variant!`]): a copy of the whole struct
//! would sit on the 512-byte stack.
use tracer_common::kernel::{Features, Offsets};

/// Kernel struct member offsets, from the running kernel's BTF.
#[unsafe(no_mangle)]
pub static OFFSETS: Offsets = Offsets::NONE;

/// Which variant of a kernel-dependent read this kernel needs.
#[unsafe(no_mangle)]
pub static FEATURES: Features = Features::NONE;

/// Above this much unread data, a submit wakes the consumer at once; below it the
/// consumer polls on a timer (per-record wakeups cost ~5x the record itself,
/// docs/kernel-notes.md, "What tracing costs"). A quarter of the ring, set by the loader.
#[unsafe(no_mangle)]
pub static WAKEUP_BYTES: u64 = 1 << 20;

/// 1 with `--stacks`: the stack code runs; 0 (the default) and the verifier drops it.
#[unsafe(no_mangle)]
pub static STACKS_ON: u32 = 0;

/// Whether stacks are captured.
#[inline(always)]
pub fn stacks_on() -> bool {
    // SAFETY: a plain static; volatile so the compiler does not fold the default value.
    unsafe { core::ptr::read_volatile(&raw const STACKS_ON) != 0 }
}

/// 1 with `--perfetto`: timeline events are streamed; 0 (the default) and the verifier
/// drops that code.
#[unsafe(no_mangle)]
pub static TIMELINE_ON: u32 = 0;

/// Whether timeline events are streamed.
#[inline(always)]
pub fn timeline_on() -> bool {
    // SAFETY: as for `stacks_on`.
    unsafe { core::ptr::read_volatile(&raw const TIMELINE_ON) != 0 }
}

/// `record::JOIN_*`: how a process joins the target set at its exec.
#[unsafe(no_mangle)]
pub static JOIN: u32 = 0;

/// With `JOIN_COMM`: the name, NUL-padded (as `task_struct.comm`).
#[unsafe(no_mangle)]
pub static JOIN_COMM: [u64; 2] = [0; 2];

/// How processes join at exec.
#[inline(always)]
pub fn join() -> u32 {
    // SAFETY: as for `stacks_on`.
    unsafe { core::ptr::read_volatile(&raw const JOIN) }
}

/// Word `i` of the joining name.
#[inline(always)]
pub fn join_comm(i: usize) -> u64 {
    // SAFETY: as above; `i` is 0 or 1.
    unsafe { core::ptr::read_volatile((&raw const JOIN_COMM).cast::<u64>().add(i & 1)) }
}

/// One member offset: `off!(task_pid)`.
macro_rules! off {
    ($field:ident) => {{
        #[allow(unused_unsafe)]
        // SAFETY: a plain static; volatile so the compiler does not fold the default value.
        let v = unsafe { core::ptr::read_volatile(&raw const $crate::globals::OFFSETS.$field) };
        v
    }};
}

/// Which variant this kernel needs: `variant!(switch_state)`.
macro_rules! variant {
    ($field:ident) => {{
        #[allow(unused_unsafe)]
        // SAFETY: as for `off!`.
        let v = unsafe { core::ptr::read_volatile(&raw const $crate::globals::FEATURES.$field) };
        v
    }};
}

pub(crate) use {off, variant};
