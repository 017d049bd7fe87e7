//! Page faults on user addresses, per process and mapping (shared/kernel-notes.md §3d).
//!
//! An exception (`page_fault_user`, or `page_fault_kernel` on a user address: a write()
//! from an mmap'd buffer faults inside copy_from_user) opens a pending fault on the
//! thread; `filemap` events during it say it is file-backed (and which file), how many
//! pages fault-around mapped and the page cache filled; the thread's next event (another
//! fault, a syscall, its exit) closes it, and the task's own `min_flt`/`maj_flt` counters
//! say whether the kernel counted it as minor, major or not at all (spurious, retried).
use aya_ebpf::{
    bindings::BPF_NOEXIST,
    helpers::{bpf_get_current_pid_tgid, generated::bpf_get_current_task},
    macros::btf_tracepoint,
    programs::BtfTracePointContext,
};
use tracer_common::record::{
    FaultKey, FaultStat, Offsets, PendingFault, REGION_ANON, REGION_FILE, REGION_HEAP, REGION_STACK, ThreadState,
};

use super::{read_u32, read_u64};
use crate::{
    globals::offsets,
    maps::{FAULTS, THREADS, count_lost, is_target, thread_state},
};

/// Addresses from here up are the kernel's (x86-64, 4-level and 5-level paging).
const USER_TOP: u64 = 0x0000_8000_0000_0000;

/// page_fault_user(unsigned long address, struct pt_regs *regs, unsigned long error_code)
#[btf_tracepoint(function = "page_fault_user")]
pub fn page_fault_user(ctx: BtfTracePointContext) -> i32 {
    on_fault(ctx.arg(0), ctx.arg(2));
    0
}

/// page_fault_kernel(...): only faults on user addresses are the target's.
#[btf_tracepoint(function = "page_fault_kernel")]
pub fn page_fault_kernel(ctx: BtfTracePointContext) -> i32 {
    let address: u64 = ctx.arg(0);
    if address < USER_TOP {
        on_fault(address, ctx.arg(2));
    }
    0
}

#[inline(always)]
fn on_fault(address: u64, error_code: u64) {
    let pid_tgid = bpf_get_current_pid_tgid();
    let tgid = (pid_tgid >> 32) as u32;
    if !is_target(tgid) {
        return;
    }
    let Some(t) = thread_state(pid_tgid as u32, tgid) else { return };
    // SAFETY: this thread's own map value.
    let t = unsafe { &mut *t };
    finish(t);
    let o = offsets();
    // SAFETY: plain helper.
    let task = unsafe { bpf_get_current_task() };
    let (Some(min0), Some(maj0)) = (read_u64(task, o.task_min_flt), read_u64(task, o.task_maj_flt)) else { return };
    t.fault = PendingFault {
        active: 1,
        region: anon_region(task, address),
        error_code: error_code as u32,
        min0,
        maj0,
        ..PendingFault::default()
    };
}

/// [heap] between start_brk and brk; [stack] above mmap_base (the main thread's stack on
/// x86-64: mmaps grow down from mmap_base, the stack sits above it); else [anon].
#[inline(always)]
fn anon_region(task: u64, address: u64) -> u32 {
    let o = offsets();
    let Some(mm) = read_u64(task, o.task_mm) else { return REGION_ANON };
    let (start_brk, brk, base) = (read_u64(mm, o.mm_start_brk), read_u64(mm, o.mm_brk), read_u64(mm, o.mm_mmap_base));
    match (start_brk, brk, base) {
        (Some(s), Some(b), _) if s <= address && address < b => REGION_HEAP,
        (_, _, Some(base)) if address >= base => REGION_STACK,
        _ => REGION_ANON,
    }
}

/// Closes the thread's pending fault, if any: the task's counters say what it was. Runs
/// in the thread's own context (its next fault, syscall, or exit).
#[inline(always)]
pub fn finish(t: &mut ThreadState) {
    if t.fault.active == 0 {
        return;
    }
    t.fault.active = 0;
    let o = offsets();
    // SAFETY: plain helper.
    let task = unsafe { bpf_get_current_task() };
    let (Some(min), Some(maj)) = (read_u64(task, o.task_min_flt), read_u64(task, o.task_maj_flt)) else { return };
    if let Some(s) = fault_stat(&t.fault.key(t.tgid)) {
        s.add(&t.fault.outcome(min, maj));
    }
}

#[inline(always)]
fn fault_stat(key: &FaultKey) -> Option<&'static mut FaultStat> {
    if FAULTS.get_ptr_mut(key).is_none()
        && FAULTS.insert(key, &FaultStat::default(), u64::from(BPF_NOEXIST)).is_err()
        && FAULTS.get_ptr_mut(key).is_none()
    {
        count_lost();
        return None;
    }
    // SAFETY: a map value; a process's faults in one mapping may race across its threads
    // (a lost increment, never a crash), as a per-CPU map cannot key by mapping.
    FAULTS.get_ptr_mut(key).map(|p| unsafe { &mut *p })
}

/// The pending fault of the current thread, if it is a target's.
#[inline(always)]
fn pending() -> Option<&'static mut PendingFault> {
    let tid = bpf_get_current_pid_tgid() as u32;
    // SAFETY: this thread's own map value.
    let t = unsafe { &mut *THREADS.get_ptr_mut(&tid)? };
    (t.fault.active != 0).then_some(&mut t.fault)
}

/// The fault is in file `mapping`: name it by device and inode.
#[inline(always)]
fn in_file(f: &mut PendingFault, mapping: u64) {
    // One fault is in one file: fault-around and the fault itself both report it.
    if f.region == REGION_FILE {
        return;
    }
    let o = offsets();
    let Some(inode) = read_u64(mapping, o.mapping_host) else { return };
    f.region = REGION_FILE;
    f.ino = read_u64(inode, o.inode_ino).unwrap_or(0);
    f.dev = read_u64(inode, o.inode_sb).and_then(|sb| read_u32(sb, o.sb_dev)).unwrap_or(0);
    super::names::name_once(inode, f.dev, f.ino);
}

/// mm_filemap_fault(struct address_space *mapping, pgoff_t index): a file page fault.
#[btf_tracepoint(function = "mm_filemap_fault")]
pub fn mm_filemap_fault(ctx: BtfTracePointContext) -> i32 {
    if let Some(f) = pending() {
        in_file(f, ctx.arg(0));
    }
    0
}

/// mm_filemap_map_pages(mapping, index, last_index): fault-around mapped the pages of
/// [index, last_index] already in the page cache, so the next touches will not fault.
#[btf_tracepoint(function = "mm_filemap_map_pages")]
pub fn mm_filemap_map_pages(ctx: BtfTracePointContext) -> i32 {
    if let Some(f) = pending() {
        in_file(f, ctx.arg(0));
        let (first, last): (u64, u64) = (ctx.arg(1), ctx.arg(2));
        f.around_pages += last.saturating_sub(first) + 1;
    }
    0
}

/// mm_filemap_add_to_page_cache(struct folio *folio): the fault read a page (or a large
/// folio: 1 << order pages) into the page cache.
#[btf_tracepoint(function = "mm_filemap_add_to_page_cache")]
pub fn mm_filemap_add_to_page_cache(ctx: BtfTracePointContext) -> i32 {
    if let Some(f) = pending() {
        let folio: u64 = ctx.arg(0);
        let o = offsets();
        let large =
            o.pg_head != Offsets::ABSENT && read_u64(folio, 0).is_some_and(|flags| flags & (1 << o.pg_head) != 0);
        let order = if large { read_u64(folio, o.folio_flags_1).map_or(0, |f| f & 0xff) } else { 0 };
        f.filled_pages += 1 << order.min(20);
    }
    0
}

/// Disk bytes a block request issued during a fault read (see `copies::block_rq_issue`).
#[inline(always)]
pub fn add_disk_bytes(bytes: u64) {
    if let Some(f) = pending() {
        f.disk_bytes += bytes;
    }
}
