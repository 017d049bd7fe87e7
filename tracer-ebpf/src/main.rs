//! Kernel side of `tracer`: tracepoint programs that filter the target in the kernel, keep
//! per-thread state in maps, and send only finished records to user space.
#![no_std]
#![no_main]
// `atomic_xadd`: the BPF target has no atomic types with read-modify-write methods.
#![allow(internal_features)]
#![feature(core_intrinsics)]

mod globals;
mod maps;
mod probes;

/// eBPF programs cannot unwind. Any panic path left in the code makes the verifier reject
/// the program ("last insn is not an exit or jmp"), so an unexpected panic shows up at
/// load time, never at run time.
#[cfg(not(test))]
#[panic_handler]
fn panic(_info: &core::panic::PanicInfo) -> ! {
    loop {}
}
