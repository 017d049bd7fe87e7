//! Page faults: the fault programs, the VMA walk, page-cache fills.
use tracer_common::{
    kernel::{ORDER_BYTE, ORDER_IN_FLAGS_1, ORDER_NONE, SEQ_COUNT, SEQ_COUNTER, VMA_MAPLE, VMA_NONE, VMA_RBTREE},
    names::*,
};

use super::planner::Planner;
use crate::sections::{Figure, Section::*};

impl Planner<'_> {
    pub(super) fn faults(&mut self) {
        let counters = self.offsets([("task_struct", "min_flt"), ("task_struct", "maj_flt"), ("task_struct", "mm")]);
        let exceptions = self.args("page_fault_user").is_some() && self.args("page_fault_kernel").is_some();
        let Some([min_flt, maj_flt, mm]) = counters.filter(|_| exceptions) else {
            self.unavailable(
                Faults,
                "no exceptions:page_fault_user/kernel BTF tracepoints (x86 only) or task fault counters".into(),
            );
            return;
        };
        self.attach(PROG_FAULT_USER, 3);
        self.attach(PROG_FAULT_KERNEL, 3);
        let o = &mut self.plan.offsets;
        (o.task_min_flt, o.task_maj_flt, o.task_mm) = (min_flt, maj_flt, mm);
        self.vmas();
        match self.offsets([
            ("inode", "i_dentry"),
            ("dentry", "d_u"),
            ("dentry", "d_parent"),
            ("dentry", "d_name"),
            ("dentry", "d_hash"),
        ]) {
            // d_alias is the first member of the d_u union.
            Some(v) => {
                let o = &mut self.plan.offsets;
                (o.inode_dentry, o.dentry_alias, o.dentry_parent, o.dentry_name, o.dentry_hash) =
                    (v[0], v[1], v[2], v[3], v[4]);
            }
            None => self.degrade(
                Faults,
                "faulted files are named by device and inode only: the dentry layout is unknown".into(),
            ),
        }
        if !self.attach(PROG_FILEMAP_MAP_PAGES, 3) {
            self.plan.unavailable.push(Figure::FaultAround);
            self.degrade(
                Faults,
                "no filemap:mm_filemap_map_pages tracepoint: the pages fault-around mapped are not measured (file faults themselves are)".into(),
            );
        }
        self.page_cache_fills();
        if !self.plan.programs.iter().any(|&(p, _)| p == PROG_BLOCK_ISSUE) {
            self.plan.unavailable.push(Figure::DiskBytes);
        }
    }

    /// How a fault's address is found among the VMAs: the maple tree (6.1+) or the
    /// red-black tree, and what tells the heap, the stack and files apart.
    fn vmas(&mut self) {
        let common = self.offsets([
            ("vm_area_struct", "vm_start"),
            ("vm_area_struct", "vm_end"),
            ("vm_area_struct", "vm_file"),
            ("mm_struct", "start_brk"),
            ("mm_struct", "brk"),
            ("mm_struct", "start_stack"),
            ("file", "f_inode"),
            ("inode", "i_ino"),
            ("inode", "i_sb"),
            ("super_block", "s_dev"),
        ]);
        let maple = self.offsets([
            ("mm_struct", "mm_mt"),
            ("maple_tree", "ma_root"),
            ("maple_range_64", "pivot"),
            ("maple_range_64", "slot"),
            ("maple_range_64", "meta"),
            ("maple_arange_64", "pivot"),
            ("maple_arange_64", "slot"),
            ("maple_arange_64", "meta"),
        ]);
        let rbtree = self.offsets([
            ("mm_struct", "mm_rb"),
            ("rb_root", "rb_node"),
            ("vm_area_struct", "vm_rb"),
            ("rb_node", "rb_left"),
            ("rb_node", "rb_right"),
        ]);
        let Some(c) = common else {
            self.plan.unavailable.push(Figure::FaultMappings);
            self.degrade(Faults, "faults are not told apart by mapping: the VMA layout is unknown".into());
            return;
        };
        let o = &mut self.plan.offsets;
        (o.vma_start, o.vma_end, o.vma_file, o.mm_start_brk, o.mm_brk, o.mm_start_stack) =
            (c[0], c[1], c[2], c[3], c[4], c[5]);
        (o.file_inode, o.inode_ino, o.inode_sb, o.sb_dev) = (c[6], c[7], c[8], c[9]);
        if let Some(m) = maple {
            o.mm_vmas = m[0] + m[1];
            (o.maple_range_pivot, o.maple_range_slot, o.maple_range_meta) = (m[2], m[3], m[4]);
            (o.maple_arange_pivot, o.maple_arange_slot, o.maple_arange_meta) = (m[5], m[6], m[7]);
            self.plan.features.vma_lookup = VMA_MAPLE;
        } else if let Some(r) = rbtree {
            (o.mm_vmas, o.vma_rb, o.rb_left, o.rb_right) = (r[0] + r[1], r[2], r[3], r[4]);
            self.plan.features.vma_lookup = VMA_RBTREE;
        } else {
            self.plan.features.vma_lookup = VMA_NONE;
            self.plan.unavailable.push(Figure::FaultMappings);
            self.degrade(
                Faults,
                "faults are not told apart by mapping: the VMA tree is neither a maple nor a red-black tree".into(),
            );
        }
        // With a lock sequence (6.4+), a thread's last VMA is reused while it stands.
        if let Some(seq) = self.offset("mm_struct", "mm_lock_seq") {
            self.plan.offsets.mm_lock_seq = seq;
            // A seqcount_t (6.12+) is a struct; an int (6.4-6.11) is not.
            let count = self.btf.member_is_struct("mm_struct", "mm_lock_seq");
            self.plan.features.vma_seq = if count { SEQ_COUNT } else { SEQ_COUNTER };
        }
    }

    /// Page-cache fills: 1 << order pages per folio (or compound page) added.
    fn page_cache_fills(&mut self) {
        if !self.attach(PROG_FILEMAP_ADD, 1) {
            self.plan.unavailable.push(Figure::FilledPages);
            self.degrade(
                Faults,
                "no mm_filemap_add_to_page_cache tracepoint: page-cache fills are not measured".into(),
            );
            return;
        }
        let Ok(head) = self.btf.enum_value("PG_head") else {
            self.degrade(Faults, "page-cache fills count folios, not pages: PG_head is unknown".into());
            return;
        };
        self.plan.offsets.pg_head = head as u32;
        // Where a large folio's order lives: _flags_1's low byte (6.6+), folio->_folio_order
        // (6.1), or the second page's compound_order (before folios).
        let (order, kind) = if let Some(off) = self.offset("folio", "_folio_order") {
            (Some(off), ORDER_BYTE)
        } else if let Some(off) = self.offset("folio", "_flags_1") {
            (Some(off), ORDER_IN_FLAGS_1)
        } else {
            let page = self.btf.struct_size("page");
            (page.zip(self.offset("page", "compound_order")).map(|(size, off)| size + off), ORDER_BYTE)
        };
        match order {
            Some(off) => (self.plan.offsets.folio_order, self.plan.features.folio_order) = (off, kind),
            None => {
                self.plan.features.folio_order = ORDER_NONE;
                self.degrade(Faults, "page-cache fills count folios, not pages: the folio order is not found".into());
            }
        }
    }
}
