//! `--stacks`: where a target thread blocks and what woke it.
//!
//! At a target thread's switch-out its kernel and user stacks are captured; at a wakeup
//! of a target thread, the waker's (its user stack only when the waker is a task: an
//! interrupt has none of its own). A stack is kept once in `STACKS`, keyed by a hash of
//! its frames (not a kernel stack map, whose buckets silently refuse a second stack that
//! lands on an occupied one); the first time a stack is kept, user space is told, so it
//! names the frames while the process still lives. At the thread's next switch-in the
//! time it was off CPU is booked in `OFFCPU` under those stacks.
//!
//! Captures that fail and rows that find a map full are counted, never dropped silently.
#![expect(
    clippy::needless_borrows_for_generic_args,
    reason = "aya-ebpf's map methods take `impl Borrow`: a key or value passed by value is copied onto the 512-byte BPF stack, which the probes that inline these calls then exceed (page_fault_kernel, sched_switch, sys_enter); borrowed, it is not copied"
)]
use aya_ebpf::{
    EbpfContext,
    bindings::{BPF_F_USER_STACK, BPF_NOEXIST},
    helpers::generated::{bpf_get_current_task, bpf_get_stack},
    programs::BtfTracePointContext,
};
use tracer_common::record::{
    Counter, MapSlot, OffCpuKey, OffCpuStat, RecordKind, STACK_DEPTH, STACK_HASH_SEED, StackSeen, ThreadStacks,
    ThreadState, Waker, stack_hash_step,
};

use crate::{
    globals::{off, stacks_on},
    maps::{EEXIST, OFFCPU, STACK_SCRATCH, STACKS, count, count_full, header, reserve, submit},
};

/// Where `t` blocks now (its switch-out; the current task is `t`'s). `woken`: the wakeup
/// of this very sleep already came (from another CPU, between the dequeue and this
/// tracepoint), so its waker is kept; any other is an older sleep's.
#[inline(always)]
pub fn on_block(ctx: &BtfTracePointContext, t: &mut ThreadState, tid: u32, woken: bool) {
    if !stacks_on() {
        return;
    }
    t.stacks.kernel = capture(ctx, false, tid, t.tgid);
    t.stacks.user = capture(ctx, true, tid, t.tgid);
    if !woken {
        forget_waker(&mut t.stacks);
    }
}

/// What is waking `w` now: the current context's stacks (a task's user stack too).
#[inline(always)]
pub fn on_wake(ctx: &BtfTracePointContext, w: &mut ThreadState, waker: &Waker) {
    if !stacks_on() {
        return;
    }
    let (tid, tgid) = if waker.kind == tracer_common::record::WAKER_TASK { (waker.id, waker.extra) } else { (0, 0) };
    w.stacks.waker_kernel = capture(ctx, false, tid, tgid);
    w.stacks.waker_user = if tid != 0 { capture(ctx, true, tid, tgid) } else { 0 };
    (w.stacks.waker_kind, w.stacks.waker_id) = (waker.kind, waker.id);
}

/// `t` (thread `tid`) runs again after `off_ns` off CPU: book it under its stacks.
#[inline(always)]
pub fn on_run(t: &mut ThreadState, tid: u32, off_ns: u64) {
    if !stacks_on() || (t.stacks.kernel | t.stacks.user) == 0 {
        return;
    }
    if t.stacks.waker_kernel == 0 {
        // A waker with no kernel stack: its capture failed (counted), or another CPU's
        // wakeup of this thread is writing the waker as this switch-in reads it. Either
        // way the waker is not known whole: the stretch is booked without one.
        forget_waker(&mut t.stacks);
    }
    let key = OffCpuKey { tgid: t.tgid, tid, stacks: t.stacks };
    // SAFETY: fields of a live, exclusive reference (volatile: see `forget_waker`).
    unsafe {
        core::ptr::write_volatile(&mut t.stacks.kernel, 0);
        core::ptr::write_volatile(&mut t.stacks.user, 0);
    }
    forget_waker(&mut t.stacks);
    let mut err = None;
    if OFFCPU.get_ptr_mut(&key).is_none() {
        // EEXIST (another CPU made it) is found below; a full map is not.
        err = OFFCPU.insert(&key, &ZERO, u64::from(BPF_NOEXIST)).err();
    }
    let Some(s) = OFFCPU.get_ptr_mut(&key) else {
        count_full(MapSlot::OffCpu, err);
        return;
    };
    // SAFETY: a map value; one thread's rows are written by that thread's switches.
    unsafe {
        (*s).ns += off_ns;
        (*s).count += 1;
    }
}

/// Field by field, volatile: LLVM would merge plain stores into an out-of-line memset, a
/// second stack frame the older verifiers refuse.
#[inline(always)]
fn forget_waker(s: &mut ThreadStacks) {
    // SAFETY: fields of a live, exclusive reference.
    unsafe {
        core::ptr::write_volatile(&mut s.waker_kernel, 0);
        core::ptr::write_volatile(&mut s.waker_user, 0);
        core::ptr::write_volatile(&mut s.waker_kind, 0);
        core::ptr::write_volatile(&mut s.waker_id, 0);
    }
}

static ZERO: OffCpuStat = OffCpuStat { ns: 0, count: 0 };

/// The current stack (user or kernel), kept in `STACKS`; its hash, or 0 if it could not
/// be captured or kept (counted).
#[inline(always)]
fn capture(ctx: &BtfTracePointContext, user: bool, tid: u32, tgid: u32) -> u64 {
    if user && !has_user_memory() {
        return 0; // a kernel thread, or a thread past exit_mm(): no user stack to take
    }
    let Some(buf) = STACK_SCRATCH.get_ptr_mut(0) else { return 0 };
    // SAFETY: this CPU's scratch slot; nothing else runs here until we return.
    let buf = unsafe { &mut *buf };
    let flags = if user { u64::from(BPF_F_USER_STACK) } else { 0 };
    let size = (STACK_DEPTH * 8) as u32;
    // SAFETY: a buffer of `size` bytes in a map value.
    let n = unsafe { bpf_get_stack(ctx.as_ptr(), buf.ips.as_mut_ptr().cast(), size, flags) };
    if n <= 0 {
        count(if user { Counter::StackUserFailed } else { Counter::StackKernelFailed }, 1);
        return 0;
    }
    let frames = (n as u64 / 8) as u32;
    let mut h = stack_hash_step(STACK_HASH_SEED, u64::from(user));
    for i in 0..STACK_DEPTH {
        if i as u32 >= frames {
            break;
        }
        h = stack_hash_step(h, buf.ips[i]);
    }
    let h = if h == 0 { 1 } else { h };
    (buf.len, buf.user) = (frames, u32::from(user));
    // SAFETY: the value is not read.
    if unsafe { STACKS.get(&h) }.is_none() {
        match STACKS.insert(&h, buf, u64::from(BPF_NOEXIST)) {
            Ok(()) => announce(h, tid, tgid),
            Err(e) if e == -EEXIST => {} // another CPU kept it first
            Err(e) => {
                count_full(MapSlot::Stacks, Some(e));
                return 0;
            }
        }
    }
    h
}

/// Whether the current task has a user address space (`task->mm`).
#[inline(always)]
fn has_user_memory() -> bool {
    // SAFETY: a plain helper.
    let task = unsafe { bpf_get_current_task() };
    let mm = off!(task_mm);
    // Without the offset, try the capture (and count it if it fails).
    mm == tracer_common::kernel::Offsets::ABSENT || super::kernel::read::<u64>(task, mm).is_some_and(|mm| mm != 0)
}

/// Tells user space a stack is new (and whose it is, to name its user frames).
#[inline(always)]
fn announce(hash: u64, tid: u32, tgid: u32) {
    if let Some(mut entry) = reserve::<StackSeen>() {
        let r = entry.as_mut_ptr();
        // SAFETY: a reserved ring slot of the right size.
        unsafe {
            (*r).header = header(RecordKind::StackSeen as u32, tid, tgid);
            (*r).hash = hash;
        }
        submit(entry);
    }
}
