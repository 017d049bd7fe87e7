//! Reading the kernel's memory and the probes' arguments: the one place that does it,
//! for every probe. A member's offset comes from the probe plan (`Offsets`, decided from
//! the kernel's BTF), and a member this kernel lacks reads as `None`, never as 0.
use tracer_common::kernel::Offsets;

/// A syscall argument from the `pt_regs` the syscall tracepoints get (x86-64 ABI: rdi,
/// rsi, rdx, r10, r8, r9). `regs` is a BTF-typed pointer, so the load is a plain one.
#[inline(always)]
pub fn arg(regs: *const u64, n: usize) -> u64 {
    // Word index of each register in struct pt_regs (arch/x86/include/asm/ptrace.h).
    const SLOTS: [usize; 6] = [14, 13, 12, 7, 9, 8];
    match SLOTS.get(n) {
        Some(&slot) => typed::<u64>(regs as u64, (slot * 8) as u32).unwrap_or(0),
        None => 0,
    }
}

/// The address of the member at `off` of the struct at `base`; `None` for a member this
/// kernel lacks (`Offsets::ABSENT`) or a null struct.
#[inline(always)]
fn member(base: u64, off: u32) -> Option<u64> {
    if off == Offsets::ABSENT || base == 0 {
        return None;
    }
    Some(base + u64::from(off))
}

/// The `T` at `base + off` in kernel memory, through `bpf_probe_read_kernel`; `None` for
/// a member this kernel lacks or an unreadable address.
#[inline(always)]
pub fn read<T>(base: u64, off: u32) -> Option<T> {
    // SAFETY: bpf_probe_read_kernel copes with any address.
    unsafe { aya_ebpf::helpers::bpf_probe_read_kernel(member(base, off)? as *const T) }.ok()
}

/// The `T` at `ptr + off` of a struct the kernel passed typed (a BTF tracepoint's
/// `struct task_struct *` or `struct pt_regs *` argument): a plain load the verifier
/// checks against the type (and the kernel guards like a probe read), not a helper call:
/// cheaper by a call and return, which is most of a bystander's cost in the scheduler
/// probes.
#[inline(always)]
pub fn typed<T>(ptr: u64, off: u32) -> Option<T> {
    // SAFETY: a typed kernel pointer; the verifier checks the field, faults read 0.
    Some(unsafe { core::ptr::read_volatile(member(ptr, off)? as *const T) })
}

/// Copies a `T` from kernel memory into `dst` with one helper call: the compiler would
/// copy a large `T` with an out-of-line memcpy, which older verifiers count as a second
/// stack frame.
#[inline(always)]
pub fn copy_in<T>(dst: *mut T, src: *const T) {
    // SAFETY: `dst` is valid for `size_of::<T>()` bytes (a map value or a ring slot);
    // bpf_probe_read_kernel copes with any `src`.
    unsafe {
        aya_ebpf::helpers::generated::bpf_probe_read_kernel(dst.cast(), size_of::<T>() as u32, src.cast());
    }
}

/// Stores 0, as a store of its own. The compiler merges neighbouring zero stores into a
/// memset, which the BPF backend emits as a call to an out-of-line function: a second
/// stack frame that older verifiers add to this one's (and refuse past 512 bytes).
#[inline(always)]
pub fn clear<T: Default>(place: &mut T) {
    // SAFETY: a valid, aligned place.
    unsafe { core::ptr::write_volatile(place, T::default()) };
}

/// The current task's comm, written straight into `dst` (no zeroed buffer on the stack).
#[inline(always)]
pub fn comm_into(dst: &mut [u8; 16]) {
    // SAFETY: `dst` has room for the 16 bytes the helper writes.
    unsafe { aya_ebpf::helpers::generated::bpf_get_current_comm(dst.as_mut_ptr().cast(), 16) };
}
