//! Stacks (`--stacks`): the frames the kernel keeps, their hash, and off-CPU time per
//! (thread, blocked stack, waker stack).
use super::{envelope::Header, state::ThreadStacks};

/// Frames a stack keeps at most (the kernel's PERF_MAX_STACK_DEPTH).
pub const STACK_DEPTH: usize = 127;

/// One stack in `STACKS` (key: its hash, [`stack_hash`]): `len` frames, innermost first.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StackFrames {
    pub len: u32,
    /// 1: user-space addresses.
    pub user: u32,
    pub ips: [u64; STACK_DEPTH],
}

/// FNV-1a over the frames, with the user flag folded in (a kernel and a user stack with
/// the same addresses are different stacks). Never 0: 0 means "no stack".
#[inline(always)]
pub const fn stack_hash_step(h: u64, ip: u64) -> u64 {
    (h ^ ip).wrapping_mul(0x0000_0100_0000_01b3)
}
pub const STACK_HASH_SEED: u64 = 0xcbf2_9ce4_8422_2325;

/// The hash of `ips` as the kernel computes it (user space checks records with it).
pub fn stack_hash(ips: &[u64], user: bool) -> u64 {
    let mut h = stack_hash_step(STACK_HASH_SEED, u64::from(user));
    for &ip in ips {
        h = stack_hash_step(h, ip);
    }
    h.max(1)
}

/// [`RecordKind::StackSeen`]: a new stack in `STACKS`, first captured in process
/// `header.tgid`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StackSeen {
    pub header: Header,
    pub hash: u64,
}

/// Key of `OFFCPU`: a thread, the stacks it blocked in, and the stacks of what woke it
/// (hashes; 0 = not captured), with the waker's kind and id (a task's TID, a softirq's
/// vector, an IRQ number: as in [`Waker`]).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct OffCpuKey {
    pub tgid: u32,
    pub tid: u32,
    pub stacks: ThreadStacks,
}

#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OffCpuStat {
    /// From the switch-out to the next switch-in.
    pub ns: u64,
    pub count: u64,
}

/// [`RecordKind::OffCpuTotals`].
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OffCpuTotals {
    pub header: Header,
    pub key: OffCpuKey,
    pub stat: OffCpuStat,
}
