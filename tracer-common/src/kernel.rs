//! What the programs need to know about the running kernel, decided by user space from
//! the kernel's BTF at start-up and handed to the programs as read-only globals.
//!
//! aya has no CO-RE for Rust programs (aya #349), so struct members are located by
//! [`Offsets`]; where the source of a fact differs between kernels, [`Features`] says
//! which one this kernel has. Both live in a frozen `.rodata` map: the verifier knows
//! their values, so the branch a kernel cannot take (an argument its tracepoint lacks, a
//! member its structs lack) is dead code it never checks.

/// Kernel struct member offsets, read from vmlinux BTF. [`Offsets::ABSENT`] marks a
/// member this kernel does not have; the programs then skip what needs it.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Offsets {
    // struct task_struct
    pub task_pid: u32,
    pub task_tgid: u32,
    /// `__state` (5.14+) or `state`: the low 32 bits are the same on both.
    pub task_state: u32,
    pub task_files: u32,
    pub task_mm: u32,
    pub task_signal: u32,
    /// se.sum_exec_runtime: the kernel's own on-CPU clock of a task (it leaves out
    /// interrupt and hypervisor steal time, as /proc/PID/task/TID/schedstat does).
    pub task_exec_runtime: u32,
    /// sched_info.{pcount, run_delay} (CONFIG_SCHED_INFO): the kernel's count of time
    /// slices and its run-queue wait, what schedstat fields 3 and 2 show.
    pub task_pcount: u32,
    pub task_run_delay: u32,
    pub task_min_flt: u32,
    pub task_maj_flt: u32,
    /// signal_struct.live: threads of the process not yet exiting (0: the last one is).
    pub signal_live: u32,
    // current->files->fdt->fd[n]->f_inode->i_mode: whether an fd is a pipe or a socket.
    pub files_fdt: u32,
    pub fdt_fd: u32,
    pub fdt_max_fds: u32,
    pub file_inode: u32,
    pub file_mode: u32,
    pub inode_mode: u32,
    pub inode_ino: u32,
    pub inode_sb: u32,
    pub sb_dev: u32,
    /// struct request: bytes and operation of a block request (disk DMA).
    pub request_data_len: u32,
    pub request_cmd_flags: u32,
    /// struct net_device: flags (IFF_LOOPBACK) of the device a packet leaves by.
    pub netdev_flags: u32,
    /// sk->sk_socket->file: the socket a wakeup came from (then ->f_inode->i_ino).
    pub sock_socket: u32,
    pub socket_file: u32,
    // struct mm_struct: where the heap and the main thread's stack are, and its VMAs.
    pub mm_start_brk: u32,
    pub mm_brk: u32,
    pub mm_start_stack: u32,
    /// mm_mt.ma_root (maple tree, 6.1+) or mm_rb.rb_node (red-black tree).
    pub mm_vmas: u32,
    /// mm_lock_seq: bumped by every change to the mm's VMAs (6.4+; see
    /// [`Features::vma_seq`]).
    pub mm_lock_seq: u32,
    pub vma_start: u32,
    pub vma_end: u32,
    pub vma_file: u32,
    /// Red-black tree: vm_area_struct.vm_rb and rb_node.rb_left/rb_right.
    pub vma_rb: u32,
    pub rb_left: u32,
    pub rb_right: u32,
    /// Maple tree nodes: pivots, slots and metadata of maple_range_64 (leaves and
    /// ranges) and maple_arange_64 (internal nodes of allocation trees such as mm_mt).
    pub maple_range_pivot: u32,
    pub maple_range_slot: u32,
    pub maple_range_meta: u32,
    pub maple_arange_pivot: u32,
    pub maple_arange_slot: u32,
    pub maple_arange_meta: u32,
    /// Page cache fills: the PG_head bit, and where a large folio keeps its order
    /// (see [`Features::folio_order`]).
    pub pg_head: u32,
    pub folio_order: u32,
    /// inode->i_dentry.first (a dentry's d_u.d_alias), then ->d_parent and ->d_name up to
    /// the filesystem's root: a faulted file's name. d_hash.pprev is NULL once unlinked.
    pub inode_dentry: u32,
    pub dentry_alias: u32,
    pub dentry_parent: u32,
    pub dentry_name: u32,
    pub dentry_hash: u32,
}

impl Offsets {
    pub const ABSENT: u32 = u32::MAX;
    pub const NONE: Self = Self {
        task_pid: Self::ABSENT,
        task_tgid: Self::ABSENT,
        task_state: Self::ABSENT,
        task_files: Self::ABSENT,
        task_mm: Self::ABSENT,
        task_signal: Self::ABSENT,
        task_exec_runtime: Self::ABSENT,
        task_pcount: Self::ABSENT,
        task_run_delay: Self::ABSENT,
        task_min_flt: Self::ABSENT,
        task_maj_flt: Self::ABSENT,
        signal_live: Self::ABSENT,
        files_fdt: Self::ABSENT,
        fdt_fd: Self::ABSENT,
        fdt_max_fds: Self::ABSENT,
        file_inode: Self::ABSENT,
        file_mode: Self::ABSENT,
        inode_mode: Self::ABSENT,
        inode_ino: Self::ABSENT,
        inode_sb: Self::ABSENT,
        sb_dev: Self::ABSENT,
        request_data_len: Self::ABSENT,
        request_cmd_flags: Self::ABSENT,
        netdev_flags: Self::ABSENT,
        sock_socket: Self::ABSENT,
        socket_file: Self::ABSENT,
        mm_start_brk: Self::ABSENT,
        mm_brk: Self::ABSENT,
        mm_start_stack: Self::ABSENT,
        mm_vmas: Self::ABSENT,
        mm_lock_seq: Self::ABSENT,
        vma_start: Self::ABSENT,
        vma_end: Self::ABSENT,
        vma_file: Self::ABSENT,
        vma_rb: Self::ABSENT,
        rb_left: Self::ABSENT,
        rb_right: Self::ABSENT,
        maple_range_pivot: Self::ABSENT,
        maple_range_slot: Self::ABSENT,
        maple_range_meta: Self::ABSENT,
        maple_arange_pivot: Self::ABSENT,
        maple_arange_slot: Self::ABSENT,
        maple_arange_meta: Self::ABSENT,
        pg_head: Self::ABSENT,
        folio_order: Self::ABSENT,
        inode_dentry: Self::ABSENT,
        dentry_alias: Self::ABSENT,
        dentry_parent: Self::ABSENT,
        dentry_name: Self::ABSENT,
        dentry_hash: Self::ABSENT,
    };
}

/// Which source a program uses for a fact whose source differs between kernels.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Features {
    /// `sched_switch`'s previous task state: [`STATE_FROM_ARG`] (its 4th argument,
    /// 5.18+) or [`STATE_FROM_TASK`] (`prev->__state`/`state`, which the tracepoint
    /// itself reads on older kernels).
    pub switch_state: u32,
    /// Whether a `sched_process_exit` ends its process: [`GROUP_DEAD_FROM_ARG`] (its 2nd
    /// argument, 6.16+) or [`GROUP_DEAD_FROM_SIGNAL`] (`signal->live` is 0: do_exit
    /// decrements it before the tracepoint).
    pub group_dead: u32,
    /// 1: tag socket receives by their fd's inode at syscall entry (kernels without
    /// `sock:sock_recv_length`); 0: the tracepoint tags them.
    pub recv_by_fd: u32,
    /// How a fault's address is found among the process's VMAs: [`VMA_MAPLE`],
    /// [`VMA_RBTREE`] or [`VMA_NONE`].
    pub vma_lookup: u32,
    /// Where a large page-cache folio keeps its order: [`ORDER_IN_FLAGS_1`] (low byte of
    /// `folio->_flags_1`), [`ORDER_BYTE`] (the byte at `Offsets::folio_order`:
    /// `folio->_folio_order` or `page[1].compound_order`), or [`ORDER_NONE`].
    pub folio_order: u32,
    /// How `mm_lock_seq` counts: [`SEQ_NONE`] (no such member: faults walk the VMA tree
    /// every time), [`SEQ_COUNTER`] (an int bumped when a change ends, 6.4-6.11) or
    /// [`SEQ_COUNT`] (a seqcount: odd while a change is under way, 6.12+).
    pub vma_seq: u32,
    /// 1: no per-thread state (syscalls alone without latency: `sys_exit_count` needs
    /// none, and with no `sched_switch` attached nothing would remove a thread's row).
    pub stateless: u32,
}

pub const STATE_FROM_ARG: u32 = 0;
pub const STATE_FROM_TASK: u32 = 1;
pub const GROUP_DEAD_FROM_ARG: u32 = 0;
pub const GROUP_DEAD_FROM_SIGNAL: u32 = 1;
pub const VMA_NONE: u32 = 0;
pub const VMA_MAPLE: u32 = 1;
pub const VMA_RBTREE: u32 = 2;
pub const ORDER_NONE: u32 = 0;
pub const ORDER_IN_FLAGS_1: u32 = 1;
pub const ORDER_BYTE: u32 = 2;
pub const SEQ_NONE: u32 = 0;
pub const SEQ_COUNTER: u32 = 1;
pub const SEQ_COUNT: u32 = 2;

/// enum maple_type (lib/maple_tree.c): node kinds in a maple tree's encoded pointers.
pub const MAPLE_LEAF_64: u64 = 1;
pub const MAPLE_RANGE_64: u64 = 2;
pub const MAPLE_ARANGE_64: u64 = 3;

impl Features {
    pub const NONE: Self = Self {
        switch_state: STATE_FROM_ARG,
        group_dead: GROUP_DEAD_FROM_ARG,
        recv_by_fd: 0,
        vma_lookup: VMA_NONE,
        folio_order: ORDER_NONE,
        vma_seq: SEQ_NONE,
        stateless: 0,
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_implicit_padding() {
        assert_eq!(size_of::<Offsets>(), 50 * 4);
        assert_eq!(size_of::<Features>(), 7 * 4);
    }
}
