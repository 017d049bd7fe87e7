//! Read-only globals, overridden by the loader (`EbpfLoader::override_global`). They live in
//! a frozen `.rodata` map, so reading them costs a load, and the verifier knows their values.
use tracer_common::record::Offsets;

/// TID of the tracer thread that will fork the command of `tracer run` (0: none). Its
/// child joins the target set at birth, so no event of the command is missed.
#[unsafe(no_mangle)]
static LAUNCHER_TID: u32 = 0;

/// Kernel struct member offsets, from the running kernel's BTF.
#[unsafe(no_mangle)]
static OFFSETS: Offsets = Offsets::NONE;

#[inline(always)]
pub fn offsets() -> Offsets {
    // SAFETY: a plain static; volatile so the compiler does not fold the default value.
    unsafe { core::ptr::read_volatile(&OFFSETS) }
}
