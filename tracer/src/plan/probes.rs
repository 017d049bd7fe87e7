//! The registry: every program, its tracepoint and the sections that need it, and every
//! kernel fact (struct member) the plan may read.
use tracer_common::names::*;

use crate::{
    btf::Fact,
    sections::Section::{self, *},
};

/// One program: the BTF tracepoint it attaches to, the arguments it reads, and the
/// sections whose figures need it.
pub struct Probe {
    pub program: &'static str,
    pub tracepoint: &'static str,
    /// Arguments the program reads in its first variant (fewer: see `plan`).
    pub args: usize,
    pub sections: &'static [Section],
}

/// Every section follows the target's processes and threads through these.
const LIFECYCLE: &[Section] = &[Syscalls, Copies, Epoll, Sched, Wakeups, Softirq, Faults];
const WAKERS: &[Section] = &[Wakeups, Epoll];

/// The registry. Order matters where noted: exits attach before their entries, so an
/// interrupt caught between the two cannot leave its CPU marked "inside" it.
pub const PROBES: &[Probe] = &[
    Probe { program: PROG_SCHED_SWITCH, tracepoint: "sched_switch", args: 4, sections: LIFECYCLE },
    Probe { program: PROG_TASK_NEWTASK, tracepoint: "task_newtask", args: 2, sections: LIFECYCLE },
    Probe { program: PROG_PROCESS_EXIT, tracepoint: "sched_process_exit", args: 2, sections: LIFECYCLE },
    Probe { program: PROG_PROCESS_EXEC, tracepoint: "sched_process_exec", args: 0, sections: LIFECYCLE },
    Probe { program: PROG_SYS_ENTER, tracepoint: "sys_enter", args: 2, sections: &[Syscalls, Copies, Epoll] },
    Probe { program: PROG_SYS_EXIT, tracepoint: "sys_exit", args: 2, sections: &[Syscalls, Copies, Epoll] },
    // Instead of the two above when nothing needs a call's entry (`Ask::latency`).
    Probe { program: PROG_SYS_EXIT_COUNT, tracepoint: "sys_exit", args: 2, sections: &[Syscalls] },
    Probe { program: PROG_SCHED_WAKING, tracepoint: "sched_waking", args: 1, sections: &[Sched, Wakeups, Epoll] },
    Probe { program: PROG_SCHED_WAKEUP, tracepoint: "sched_wakeup", args: 1, sections: &[Sched, Wakeups] },
    Probe { program: PROG_SCHED_WAKEUP_NEW, tracepoint: "sched_wakeup_new", args: 1, sections: &[Sched, Wakeups] },
    Probe { program: PROG_SOFTIRQ_EXIT, tracepoint: "softirq_exit", args: 1, sections: &[Softirq, Wakeups, Epoll] },
    Probe { program: PROG_SOFTIRQ_ENTRY, tracepoint: "softirq_entry", args: 1, sections: &[Softirq, Wakeups, Epoll] },
    Probe { program: PROG_SOFTIRQ_RAISE, tracepoint: "softirq_raise", args: 1, sections: &[Softirq] },
    Probe { program: PROG_IRQ_EXIT, tracepoint: "irq_handler_exit", args: 0, sections: WAKERS },
    Probe { program: PROG_IRQ_ENTRY, tracepoint: "irq_handler_entry", args: 1, sections: WAKERS },
    // x86 only: the local APIC timer (hrtimers) and irq_work interrupts.
    Probe { program: PROG_TIMER_EXIT, tracepoint: "local_timer_exit", args: 0, sections: WAKERS },
    Probe { program: PROG_TIMER_ENTRY, tracepoint: "local_timer_entry", args: 1, sections: WAKERS },
    Probe { program: PROG_IRQ_WORK_EXIT, tracepoint: "irq_work_exit", args: 0, sections: WAKERS },
    Probe { program: PROG_IRQ_WORK_ENTRY, tracepoint: "irq_work_entry", args: 1, sections: WAKERS },
    // Any hrtimer expiring: the timer's wakeups whatever interrupt runs them.
    Probe { program: PROG_HRTIMER_EXIT, tracepoint: "hrtimer_expire_exit", args: 0, sections: WAKERS },
    Probe { program: PROG_HRTIMER_ENTRY, tracepoint: "hrtimer_expire_entry", args: 0, sections: WAKERS },
    // The socket a wakeup came from: sk_data_ready where the kernel has it, else TCP
    // segments (tcp_probe); inet_sock_set_state for FIN and RST either way.
    Probe { program: PROG_SK_DATA_READY, tracepoint: "sk_data_ready", args: 1, sections: WAKERS },
    Probe { program: PROG_TCP_PROBE, tracepoint: "tcp_probe", args: 1, sections: WAKERS },
    Probe { program: PROG_SOCK_SET_STATE, tracepoint: "inet_sock_set_state", args: 1, sections: WAKERS },
    Probe { program: PROG_SOCK_RECV, tracepoint: "sock_recv_length", args: 0, sections: &[Copies] },
    Probe { program: PROG_SKB_COPY, tracepoint: "skb_copy_datagram_iovec", args: 2, sections: &[Copies] },
    Probe { program: PROG_BLOCK_ISSUE, tracepoint: "block_rq_issue", args: 1, sections: &[Copies, Faults] },
    Probe { program: PROG_NET_XMIT, tracepoint: "net_dev_xmit", args: 4, sections: &[Copies] },
    Probe { program: PROG_FAULT_USER, tracepoint: "page_fault_user", args: 3, sections: &[Faults] },
    Probe { program: PROG_FAULT_KERNEL, tracepoint: "page_fault_kernel", args: 3, sections: &[Faults] },
    Probe { program: PROG_FILEMAP_MAP_PAGES, tracepoint: "mm_filemap_map_pages", args: 3, sections: &[Faults] },
    Probe { program: PROG_FILEMAP_ADD, tracepoint: "mm_filemap_add_to_page_cache", args: 1, sections: &[Faults] },
];

/// What the plan may ask of a kernel's BTF: kept, per kernel of the matrix, as minimized
/// fixtures (`Btf::minimize`) so the plan is unit-tested for each.
pub fn facts() -> Vec<Fact> {
    let mut facts: Vec<Fact> = PROBES.iter().map(|p| Fact::Tracepoint(p.tracepoint)).collect();
    facts.extend(MEMBERS.iter().map(|&(s, m)| Fact::Member(s, m)));
    facts.extend(["PG_head"].map(Fact::Enumerator));
    facts
}

/// Every struct member the plan reads.
pub(super) const MEMBERS: &[(&str, &str)] = &[
    ("task_struct", "pid"),
    ("task_struct", "tgid"),
    ("task_struct", "__state"),
    ("task_struct", "state"),
    ("task_struct", "files"),
    ("task_struct", "mm"),
    ("task_struct", "signal"),
    ("task_struct", "se"),
    ("task_struct", "sched_info"),
    ("task_struct", "min_flt"),
    ("task_struct", "maj_flt"),
    ("sched_entity", "sum_exec_runtime"),
    ("sched_info", "pcount"),
    ("sched_info", "run_delay"),
    ("signal_struct", "live"),
    ("files_struct", "fdt"),
    ("fdtable", "fd"),
    ("fdtable", "max_fds"),
    ("file", "f_inode"),
    ("file", "f_mode"),
    ("inode", "i_mode"),
    ("inode", "i_ino"),
    ("inode", "i_sb"),
    ("inode", "i_dentry"),
    ("super_block", "s_dev"),
    ("request", "__data_len"),
    ("request", "cmd_flags"),
    ("net_device", "flags"),
    ("sock", "sk_socket"),
    ("socket", "file"),
    ("mm_struct", "start_brk"),
    ("mm_struct", "brk"),
    ("mm_struct", "start_stack"),
    ("mm_struct", "mm_mt"),
    ("mm_struct", "mm_rb"),
    ("mm_struct", "mm_lock_seq"),
    ("maple_tree", "ma_root"),
    ("maple_range_64", "pivot"),
    ("maple_range_64", "slot"),
    ("maple_range_64", "meta"),
    ("maple_arange_64", "pivot"),
    ("maple_arange_64", "slot"),
    ("maple_arange_64", "meta"),
    ("rb_root", "rb_node"),
    ("rb_node", "rb_left"),
    ("rb_node", "rb_right"),
    ("vm_area_struct", "vm_start"),
    ("vm_area_struct", "vm_end"),
    ("vm_area_struct", "vm_file"),
    ("vm_area_struct", "vm_rb"),
    ("folio", "_flags_1"),
    ("folio", "_folio_order"),
    ("page", "compound_order"),
    ("dentry", "d_u"),
    ("dentry", "d_parent"),
    ("dentry", "d_name"),
    ("dentry", "d_hash"),
    ("bpf_prog", "active"),
];
