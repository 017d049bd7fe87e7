//! One module per subsystem. `syscalls` dispatches every syscall of the target to
//! `epoll` and `copies`; `sched` counts switches and on/off-CPU time and marks epoll waits
//! that block; `wakeups` attributes each wakeup using the per-CPU interrupt context that
//! `irq` tracks.
pub mod copies;
pub mod epoll;
pub mod faults;
pub mod floor;
pub mod irq;
pub mod names;
pub mod sched;
pub mod syscalls;
pub mod wakeups;

/// A syscall argument from the `pt_regs` the syscall tracepoints get (x86-64 ABI: rdi,
/// rsi, rdx, r10, r8, r9). `regs` is a BTF-typed pointer, so the load is a plain one.
#[inline(always)]
pub fn arg(regs: *const u64, n: usize) -> u64 {
    // Word index of each register in struct pt_regs (arch/x86/include/asm/ptrace.h).
    const SLOTS: [usize; 6] = [14, 13, 12, 7, 9, 8];
    match SLOTS.get(n) {
        // SAFETY: in-bounds field of the kernel's pt_regs.
        Some(&slot) => unsafe { aya_ebpf::helpers::bpf_probe_read_kernel(regs.add(slot)).unwrap_or(0) },
        None => 0,
    }
}

/// The u32 at `base + off` in kernel memory; `None` for a member this kernel lacks
/// (`Offsets::ABSENT`) or an unreadable address.
#[inline(always)]
pub fn read_u32(base: u64, off: u32) -> Option<u32> {
    if off == tracer_common::record::Offsets::ABSENT || base == 0 {
        return None;
    }
    // SAFETY: bpf_probe_read_kernel copes with any address.
    unsafe { aya_ebpf::helpers::bpf_probe_read_kernel((base + u64::from(off)) as *const u32) }.ok()
}

/// The u64 at `base + off` in kernel memory, like [`read_u32`].
#[inline(always)]
pub fn read_u64(base: u64, off: u32) -> Option<u64> {
    if off == tracer_common::record::Offsets::ABSENT || base == 0 {
        return None;
    }
    // SAFETY: bpf_probe_read_kernel copes with any address.
    unsafe { aya_ebpf::helpers::bpf_probe_read_kernel((base + u64::from(off)) as *const u64) }.ok()
}
