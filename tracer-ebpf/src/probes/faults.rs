//! Page faults on user addresses, per process and mapping (docs/kernel-notes.md, "Page faults").
//!
//! An exception (`page_fault_user`, or `page_fault_kernel` on a user address: a write()
//! from an mmap'd buffer faults inside copy_from_user) opens a pending fault on the
//! thread and finds the VMA holding the address, which says what the fault is in: a file
//! (which one), the heap, the main stack or anonymous memory, exactly as
//! /proc/PID/maps would label it. `filemap` events during the fault add how many pages
//! fault-around mapped and the page cache filled; the thread's next event (another
//! fault, a syscall, its exit) closes it, and the task's own `min_flt`/`maj_flt`
//! counters say whether the kernel counted it as minor, major or not at all.
//!
//! The VMA is found by walking the process's VMA tree: a maple tree (6.1+) or a
//! red-black tree, by [`Features::vma_lookup`](tracer_common::kernel::Features). The
//! walk happens before the fault takes the mmap lock; the tree's nodes are freed only
//! after an RCU grace period, and every read is a probe read, so a concurrent change
//! costs at worst one fault's label. Where the mm has a lock sequence (6.4+), each thread
//! remembers its last VMA while the sequence stands: most faults land in the VMA of the
//! one before, and then need one read instead of a walk.
#![expect(
    clippy::needless_borrows_for_generic_args,
    reason = "aya-ebpf's map methods take `impl Borrow`: a key or value passed by value is copied onto the 512-byte BPF stack, which the probes that inline these calls then exceed (page_fault_kernel, sched_switch, sys_enter); borrowed, it is not copied"
)]
use aya_ebpf::{
    bindings::BPF_NOEXIST,
    helpers::{bpf_get_current_pid_tgid, generated::bpf_get_current_task},
    macros::btf_tracepoint,
    programs::BtfTracePointContext,
};
use tracer_common::{
    kernel::{
        MAPLE_ARANGE_64, MAPLE_LEAF_64, MAPLE_RANGE_64, ORDER_BYTE, ORDER_IN_FLAGS_1, SEQ_COUNTER, SEQ_NONE, VMA_MAPLE,
        VMA_RBTREE,
    },
    record::{
        FaultKey, FaultStat, MapSlot, PendingFault, REGION_ANON, REGION_FILE, REGION_HEAP, REGION_STACK, ThreadState,
        VmaCache,
    },
};

use super::kernel::{clear, read};
use crate::{
    globals::{off, variant},
    maps::{FAULTS, ZERO_FAULTS, count_full, current_thread, hit, target_state, thread_state},
};

/// Addresses from here up are the kernel's (x86-64, 4-level and 5-level paging).
const USER_TOP: u64 = 0x0000_8000_0000_0000;
/// Levels of a maple tree walked: a tree of 10-way internal nodes and 16-way leaves this
/// deep holds far more VMAs than a process may have (vm.max_map_count, 65530 by default).
const MAPLE_DEPTH: usize = 8;
/// Slots of a maple_range_64 node, the widest kind (64-bit).
const MAPLE_SLOTS: u64 = 16;
/// A red-black tree of 65530 VMAs is at most 2 * log2(65531) ~ 32 deep.
const RB_DEPTH: usize = 40;
/// A fault below the main stack's VMA, this close to its top, grows the stack.
const STACK_GROWTH: u64 = 64 << 20;

/// page_fault_user(unsigned long address, struct pt_regs *regs, unsigned long error_code)
#[btf_tracepoint(function = "page_fault_user")]
pub fn page_fault_user(ctx: BtfTracePointContext) -> i32 {
    hit!("page_fault_user");
    on_fault(ctx.arg(0), ctx.arg(2));
    0
}

/// page_fault_kernel(...): only faults on user addresses are the target's.
#[btf_tracepoint(function = "page_fault_kernel")]
pub fn page_fault_kernel(ctx: BtfTracePointContext) -> i32 {
    hit!("page_fault_kernel");
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
    let Some(p) = target_state(tgid) else { return };
    let life = p.life;
    let Some(t) = thread_state(pid_tgid as u32, tgid) else { return };
    finish(t);
    if t.pending_exec != 0 {
        return; // the launcher's, before the command exec'd
    }
    // SAFETY: plain helper.
    let task = unsafe { bpf_get_current_task() };
    let (Some(min0), Some(maj0)) = (read::<u64>(task, off!(task_min_flt)), read::<u64>(task, off!(task_maj_flt)))
    else {
        return;
    };
    let mm = read::<u64>(task, off!(task_mm)).unwrap_or(0);
    locate(&mut t.vma, mm, address);
    let f = &mut t.fault;
    f.active = 1;
    f.life = life;
    f.error_code = error_code as u32;
    f.min0 = min0;
    f.maj0 = maj0;
    (f.region, f.dev, f.ino) = (t.vma.region, t.vma.dev, t.vma.ino);
    clear(&mut f.around_pages);
    clear(&mut f.filled_pages);
    clear(&mut f.disk_bytes);
}

/// Points `c` at what `address` is in: the cached VMA if the mm's VMAs did not change
/// since it was looked up, else the one the tree walk finds (a new file is named at its
/// first fault).
#[inline(always)]
fn locate(c: &mut VmaCache, mm: u64, address: u64) {
    // The sequence, or NO_SEQ: no cache on this kernel, or a change under way. (A plain
    // integer, not an Option: the compiler may read an Option's payload on the None path,
    // and the verifier refuses a read of an unset register.)
    const NO_SEQ: u64 = u64::MAX;
    let kind = variant!(vma_seq);
    let seq = match read::<u32>(mm, off!(mm_lock_seq)) {
        Some(s) if kind != SEQ_NONE && (kind == SEQ_COUNTER || s & 1 == 0) => u64::from(s),
        _ => NO_SEQ,
    };
    if c.valid != 0 && seq != NO_SEQ && u64::from(c.seq) == seq && c.start <= address && address < c.end {
        if c.region != REGION_FILE {
            c.region = anon_region(mm, c.start, c.end); // the heap's bounds move
        }
        return;
    }
    c.valid = 0;
    let vma = match variant!(vma_lookup) {
        VMA_MAPLE => maple_find(mm, address),
        VMA_RBTREE => rb_find(mm, address),
        _ => None,
    };
    let Some(vma) = vma.filter(|&v| v != 0) else {
        // In no VMA: a fault just below the main stack grows it; anything else is an
        // error the kernel will not count.
        let top = read::<u64>(mm, off!(mm_start_stack)).unwrap_or(0);
        c.region = if address < top && top - address < STACK_GROWTH { REGION_STACK } else { REGION_ANON };
        (c.dev, c.ino) = (0, 0);
        return;
    };
    (c.start, c.end) = (read::<u64>(vma, off!(vma_start)).unwrap_or(0), read::<u64>(vma, off!(vma_end)).unwrap_or(0));
    let file = read::<u64>(vma, off!(vma_file)).unwrap_or(0);
    let inode = read::<u64>(file, off!(file_inode)).unwrap_or(0);
    (c.dev, c.ino) = (0, 0);
    c.region = if inode != 0 {
        c.ino = read::<u64>(inode, off!(inode_ino)).unwrap_or(0);
        c.dev = read::<u64>(inode, off!(inode_sb)).and_then(|sb| read::<u32>(sb, off!(sb_dev))).unwrap_or(0);
        super::names::name_once(inode, c.dev, c.ino);
        REGION_FILE
    } else {
        anon_region(mm, c.start, c.end)
    };
    if seq != NO_SEQ {
        (c.valid, c.seq) = (1, seq as u32);
    }
}

/// /proc/PID/maps' labels for an anonymous VMA: [heap] where it spans the brk area,
/// [stack] where it holds the main thread's stack top.
#[inline(always)]
fn anon_region(mm: u64, start: u64, end: u64) -> u32 {
    let (start_brk, brk) = (read::<u64>(mm, off!(mm_start_brk)), read::<u64>(mm, off!(mm_brk)));
    if let (Some(start_brk), Some(brk)) = (start_brk, brk) {
        if start <= brk && end >= start_brk {
            return REGION_HEAP;
        }
    }
    match read::<u64>(mm, off!(mm_start_stack)) {
        Some(top) if start <= top && end >= top => REGION_STACK,
        _ => REGION_ANON,
    }
}

/// The VMA holding `address` in the mm's maple tree (`mtree_lookup_walk`): at each node,
/// the first slot whose pivot (the last index it covers) reaches the address; leaves
/// hold VMAs, or NULL for the gaps between them.
#[inline(always)]
fn maple_find(mm: u64, address: u64) -> Option<u64> {
    let mut entry = read::<u64>(mm, off!(mm_vmas))?;
    // The root is a node when it is an internal entry (low bits 10) above 4096; anything
    // else is an empty tree or a single entry at index 0, which no user address is. Below
    // it, every slot of a non-leaf node holds a node (low byte: type << 3 | 4).
    if entry & 3 != 2 || entry <= 4096 {
        return None;
    }
    let mut max = u64::MAX;
    for _ in 0..MAPLE_DEPTH {
        let node = entry & !0xff;
        let kind = (entry >> 3) & 0xf;
        let (pivots, slots, end) = if kind == MAPLE_ARANGE_64 {
            let end = u64::from(read::<u8>(node, off!(maple_arange_meta))?);
            (off!(maple_arange_pivot), off!(maple_arange_slot), end)
        } else if kind == MAPLE_RANGE_64 || kind == MAPLE_LEAF_64 {
            let (pivots, slots) = (off!(maple_range_pivot), off!(maple_range_slot));
            // ma_data_end(): a last pivot of 0 means the node is not full, and then its
            // metadata (which shares the last slot) holds the end.
            let last = read::<u64>(node, pivots + 8 * (MAPLE_SLOTS as u32 - 2))?;
            let end = if last == 0 {
                u64::from(read::<u8>(node, off!(maple_range_meta))?)
            } else if last == max {
                MAPLE_SLOTS - 2
            } else {
                MAPLE_SLOTS - 1
            };
            (pivots, slots, end)
        } else {
            return None;
        };
        let end = end.min(MAPLE_SLOTS - 1);
        let mut offset = end;
        for i in 0..MAPLE_SLOTS - 1 {
            if i >= end {
                break;
            }
            let pivot = read::<u64>(node, pivots + 8 * i as u32)?;
            if pivot >= address {
                offset = i;
                max = pivot;
                break;
            }
        }
        entry = read::<u64>(node, slots + 8 * offset as u32)?;
        if kind == MAPLE_LEAF_64 {
            return Some(entry);
        }
    }
    None
}

/// The VMA holding `address` in the mm's red-black tree (before 6.1).
#[inline(always)]
fn rb_find(mm: u64, address: u64) -> Option<u64> {
    let mut node = read::<u64>(mm, off!(mm_vmas))?;
    for _ in 0..RB_DEPTH {
        if node == 0 {
            return None;
        }
        let vma = node - u64::from(off!(vma_rb));
        if address < read::<u64>(vma, off!(vma_start))? {
            node = read::<u64>(node, off!(rb_left))?;
        } else if address >= read::<u64>(vma, off!(vma_end))? {
            node = read::<u64>(node, off!(rb_right))?;
        } else {
            return Some(vma);
        }
    }
    None
}

/// Closes the thread's pending fault, if any: the task's counters say what it was. Runs
/// in the thread's own context (its next fault, syscall, or exit).
#[inline(always)]
pub fn finish(t: &mut ThreadState) {
    if t.fault.active == 0 {
        return;
    }
    t.fault.active = 0;
    // SAFETY: plain helper.
    let task = unsafe { bpf_get_current_task() };
    let (Some(min), Some(maj)) = (read::<u64>(task, off!(task_min_flt)), read::<u64>(task, off!(task_maj_flt))) else {
        return;
    };
    if let Some(s) = fault_stat(&t.fault.key(t.tgid, t.fault.life)) {
        s.add(&t.fault.outcome(min, maj));
    }
}

#[inline(always)]
fn fault_stat(key: &FaultKey) -> Option<&'static mut FaultStat> {
    // EEXIST: another thread of the process created it first.
    let mut err = None;
    if FAULTS.get_ptr_mut(key).is_none() {
        err = FAULTS.insert(key, &ZERO_FAULTS, u64::from(BPF_NOEXIST)).err();
    }
    let Some(s) = FAULTS.get_ptr_mut(key) else {
        count_full(MapSlot::Faults, err);
        return None;
    };
    // SAFETY: a map value; a process's faults in one mapping may race across its threads
    // (a lost increment, never a crash), as a per-CPU map cannot key by mapping.
    Some(unsafe { &mut *s })
}

/// The pending fault of the current thread, if it is a target's.
#[inline(always)]
fn pending() -> Option<&'static mut PendingFault> {
    let (_, t) = current_thread()?;
    (t.fault.active != 0).then_some(&mut t.fault)
}

/// mm_filemap_map_pages(mapping, index, last_index) (6.12+): fault-around mapped the
/// pages of [index, last_index] already in the page cache, so the next touches will not
/// fault.
#[btf_tracepoint(function = "mm_filemap_map_pages")]
pub fn mm_filemap_map_pages(ctx: BtfTracePointContext) -> i32 {
    hit!("mm_filemap_map_pages");
    if let Some(f) = pending() {
        let (first, last): (u64, u64) = (ctx.arg(1), ctx.arg(2));
        f.around_pages += last.saturating_sub(first) + 1;
    }
    0
}

/// mm_filemap_add_to_page_cache(struct folio *folio) (a `struct page *` before folios):
/// the fault read a page (or a large folio: 1 << order pages) into the page cache.
#[btf_tracepoint(function = "mm_filemap_add_to_page_cache")]
pub fn mm_filemap_add_to_page_cache(ctx: BtfTracePointContext) -> i32 {
    hit!("mm_filemap_add_to_page_cache");
    if let Some(f) = pending() {
        let folio: u64 = ctx.arg(0);
        let head = read::<u64>(folio, 0).is_some_and(|flags| flags & (1 << (off!(pg_head) & 63)) != 0);
        let order = match variant!(folio_order) {
            _ if !head => 0,
            ORDER_IN_FLAGS_1 => read::<u64>(folio, off!(folio_order)).map_or(0, |f| f & 0xff),
            ORDER_BYTE => read::<u8>(folio, off!(folio_order)).map_or(0, u64::from),
            _ => 0,
        };
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
