//! The probe plan: which programs this kernel takes, in which variant, and what each
//! report section can give here. Decided once at start-up from the kernel's BTF (the
//! argument lists of its BTF tracepoints, the members of its structs), never from its
//! version number, so a kernel nobody tested (Ubuntu's 5.15, RHEL's 5.14) gets what its
//! types allow.
//!
//! Every program is in [`PROBES`] with the sections that need it. [`plan`] resolves
//! them against a [`Btf`]: a program whose tracepoint is missing is left out, a fact
//! with a second source uses it (a [`Features`] variant), and a figure with none is
//! listed as unavailable, so the report shows `null` and says why instead of a 0.
use std::collections::BTreeMap;

use anyhow::{Context, Result, bail};
use tracer_common::{
    kernel::{
        Features, GROUP_DEAD_FROM_ARG, GROUP_DEAD_FROM_SIGNAL, ORDER_BYTE, ORDER_IN_FLAGS_1, ORDER_NONE, Offsets,
        SEQ_COUNT, SEQ_COUNTER, STATE_FROM_ARG, STATE_FROM_TASK, VMA_MAPLE, VMA_NONE, VMA_RBTREE,
    },
    names::*,
};

use crate::{
    btf::{Btf, Fact},
    sections::{Coverage, Figure, Section, Status},
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

use Section::*;

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
const MEMBERS: &[(&str, &str)] = &[
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

/// The resolved plan for one kernel.
#[derive(Clone, Debug)]
pub struct Plan {
    /// The kernel's release (`uname -r`), for the notes.
    pub kernel: String,
    pub offsets: Offsets,
    pub features: Features,
    /// (program, tracepoint) to attach, in registry order.
    pub programs: Vec<(&'static str, &'static str)>,
    /// Per section asked for.
    pub coverage: BTreeMap<Section, Coverage>,
    /// Figures this kernel cannot give (the report shows them as null).
    pub unavailable: Vec<Figure>,
    /// The kernel skips a program's run when the program is already running on that CPU
    /// (struct bpf_prog has `active`, 5.18+ for BTF tracepoints); older kernels let the
    /// runs nest, so none is ever missed.
    pub kernel_skips: bool,
}

/// What the user asked the kernel for.
#[derive(Clone, Copy, Debug)]
pub struct Ask<'a> {
    pub sections: &'a [Section],
    /// Each syscall's time: a second program (sys_enter) and two clock reads per call.
    pub latency: bool,
    /// The timeline's syscall slices (`--perfetto`), which need each call's entry too.
    pub timeline: bool,
}

impl<'a> Ask<'a> {
    /// These sections, with every figure in them.
    pub fn sections(sections: &'a [Section]) -> Self {
        Ask { sections, latency: true, timeline: false }
    }
}

/// Resolves the registry for what was asked against the kernel's BTF.
pub fn plan(btf: &Btf, kernel: &str, ask: &Ask<'_>) -> Result<Plan> {
    let sections = ask.sections;
    let mut p = Planner { btf, kernel, plan: Plan::empty(kernel, sections) };
    p.lifecycle()?;
    p.syscalls_and_copies(ask);
    p.wakers();
    p.softirq();
    p.faults();
    p.sched();
    p.plan.kernel_skips = p.offset("bpf_prog", "active").is_some();
    let Planner { mut plan, .. } = p;
    let wanted = |probe: &Probe| probe.sections.iter().any(|s| sections.contains(s));
    let chosen: Vec<(&str, &str)> = plan.programs.clone();
    // Keep registry order and only what the asked-for sections need.
    plan.programs = PROBES
        .iter()
        .filter(|probe| wanted(probe) && chosen.iter().any(|&(prog, _)| prog == probe.program))
        .map(|probe| (probe.program, probe.tracepoint))
        .collect();
    plan.unavailable.sort();
    plan.unavailable.dedup();
    Ok(plan)
}

impl Plan {
    fn empty(kernel: &str, sections: &[Section]) -> Self {
        Plan {
            kernel: kernel.to_owned(),
            offsets: Offsets::NONE,
            features: Features::NONE,
            programs: Vec::new(),
            coverage: sections.iter().map(|&s| (s, Coverage::default())).collect(),
            unavailable: Vec::new(),
            kernel_skips: true,
        }
    }
}

struct Planner<'a> {
    btf: &'a Btf,
    kernel: &'a str,
    plan: Plan,
}

impl Planner<'_> {
    fn args(&self, tracepoint: &str) -> Option<usize> {
        self.btf.tracepoint_args(tracepoint)
    }

    /// Attaches `program` if this kernel has its tracepoint with at least `min_args`.
    fn attach(&mut self, program: &'static str, min_args: usize) -> bool {
        let probe = PROBES.iter().find(|p| p.program == program).expect("a registered program");
        let ok = self.args(probe.tracepoint).is_some_and(|n| n >= min_args);
        if ok {
            self.plan.programs.push((program, probe.tracepoint));
        }
        ok
    }

    fn offset(&self, s: &str, m: &str) -> Option<u32> {
        // Fixtures keep only declared facts: an undeclared one would read as missing there.
        debug_assert!(MEMBERS.contains(&(s, m)), "{s}.{m} is not in plan::MEMBERS");
        self.btf.member_offset(s, m).ok()
    }

    /// All of them, or none (a chain of reads is only as good as its weakest link).
    fn offsets<const N: usize>(&self, members: [(&str, &str); N]) -> Option<[u32; N]> {
        let mut out = [0; N];
        for (o, (s, m)) in out.iter_mut().zip(members) {
            *o = self.offset(s, m)?;
        }
        Some(out)
    }

    /// Marks `section` degraded (unless worse) with a note naming the kernel.
    fn degrade(&mut self, section: Section, note: String) {
        let kernel = self.kernel;
        if let Some(c) = self.plan.coverage.get_mut(&section) {
            c.status = c.status.max(Status::Degraded);
            c.notes.push(format!("{note} (Linux {kernel})"));
        }
    }

    fn unavailable(&mut self, section: Section, note: String) {
        let kernel = self.kernel;
        if let Some(c) = self.plan.coverage.get_mut(&section) {
            c.status = Status::Unavailable;
            c.notes.push(format!("{note} (Linux {kernel})"));
        }
    }

    /// The programs every section needs to follow the target: without them nothing works.
    fn lifecycle(&mut self) -> Result<()> {
        let [pid, tgid] = self
            .offsets([("task_struct", "pid"), ("task_struct", "tgid")])
            .context("tracer does not support this kernel: task_struct has no pid/tgid in its BTF")?;
        (self.plan.offsets.task_pid, self.plan.offsets.task_tgid) = (pid, tgid);
        let switch = self.args("sched_switch").context("this kernel has no BTF tracepoint sched_switch")?;
        if switch >= 4 {
            self.plan.features.switch_state = STATE_FROM_ARG;
        } else {
            // Before 5.18 sched_switch has no prev_state: the tracepoint itself reads
            // prev->state (__state since 5.14).
            let state = self.offset("task_struct", "__state").or_else(|| self.offset("task_struct", "state"));
            self.plan.offsets.task_state = state.context("task_struct has neither __state nor state")?;
            self.plan.features.switch_state = STATE_FROM_TASK;
        }
        for (program, args) in [(PROG_SCHED_SWITCH, 3), (PROG_TASK_NEWTASK, 2), (PROG_PROCESS_EXEC, 0)] {
            if !self.attach(program, args) {
                bail!("this kernel has no BTF tracepoint {program}, which every trace needs");
            }
        }
        // Without group_dead (before 6.16) a process's end is signal->live reaching 0.
        if self.args("sched_process_exit").is_some_and(|n| n >= 2) {
            self.plan.features.group_dead = GROUP_DEAD_FROM_ARG;
            self.attach(PROG_PROCESS_EXIT, 2);
        } else if let Some([signal, live]) = self.offsets([("task_struct", "signal"), ("signal_struct", "live")]) {
            (self.plan.offsets.task_signal, self.plan.offsets.signal_live) = (signal, live);
            self.plan.features.group_dead = GROUP_DEAD_FROM_SIGNAL;
            self.attach(PROG_PROCESS_EXIT, 1);
        }
        Ok(())
    }

    fn syscalls_and_copies(&mut self, ask: &Ask<'_>) {
        if !ask.latency {
            self.plan.unavailable.push(Figure::SyscallLatency);
            if let Some(c) = self.plan.coverage.get_mut(&Syscalls) {
                c.notes.push("latency not measured (--no-latency)".into());
            }
        }
        let entries = ask.latency || ask.timeline || ask.sections.iter().any(|s| matches!(s, Copies | Epoll));
        if !entries && self.attach(PROG_SYS_EXIT_COUNT, 2) {
            // Nor state per thread, unless a section keeps some (then sched_switch
            // takes each row out at the thread's end).
            if ask.sections.iter().all(|&s| s == Syscalls) {
                self.plan.features.stateless = 1;
                self.plan.programs.retain(|&(prog, _)| prog != PROG_SCHED_SWITCH);
            }
            if let Some(c) = self.plan.coverage.get_mut(&Syscalls) {
                c.notes.push(
                    "calls counted as they return (sys_exit only): exit, exit_group and calls cut short by the \
                     process's end are not counted; calls under way when the trace began are; a call a debugger \
                     skipped counts as rt_sigreturn"
                        .into(),
                );
            }
            return;
        }
        let syscalls = self.attach(PROG_SYS_ENTER, 2) & self.attach(PROG_SYS_EXIT, 2);
        if !syscalls {
            for s in [Syscalls, Copies, Epoll] {
                self.unavailable(s, "no raw_syscalls sys_enter/sys_exit BTF tracepoints".into());
            }
            return;
        }
        // The fd -> inode walk: pipes for splice legs, sockets for receives.
        let fds = self.offsets([
            ("task_struct", "files"),
            ("files_struct", "fdt"),
            ("fdtable", "fd"),
            ("fdtable", "max_fds"),
            ("file", "f_inode"),
            ("file", "f_mode"),
            ("inode", "i_mode"),
        ]);
        if let Some(v) = fds {
            let o = &mut self.plan.offsets;
            (o.task_files, o.files_fdt, o.fdt_fd, o.fdt_max_fds, o.file_inode, o.file_mode, o.inode_mode) =
                (v[0], v[1], v[2], v[3], v[4], v[5], v[6]);
        } else {
            self.degrade(Copies, "splice legs cannot tell pipes from files: the fd table's layout is unknown".into());
        }
        if !self.attach(PROG_SOCK_RECV, 0) {
            if fds.is_some() {
                // An exact equivalent: a receive is a read from a socket fd.
                self.plan.features.recv_by_fd = 1;
            } else {
                self.degrade(Copies, "socket receives are not told from file reads: no sock_recv_length tracepoint and no fd table layout".into());
            }
        }
        if !self.attach(PROG_SKB_COPY, 2) {
            self.plan.unavailable.push(Figure::SocketCopyBytes);
            self.degrade(Copies, "no skb_copy_datagram_iovec tracepoint: socket copy bytes are not measured".into());
        }
        match self.offsets([("request", "__data_len"), ("request", "cmd_flags")]) {
            Some([len, flags]) if self.attach(PROG_BLOCK_ISSUE, 1) => {
                (self.plan.offsets.request_data_len, self.plan.offsets.request_cmd_flags) = (len, flags);
            }
            _ => {
                self.plan.unavailable.push(Figure::DiskBytes);
                self.degrade(
                    Copies,
                    "no block_rq_issue tracepoint or struct request layout: disk DMA is not measured".into(),
                );
            }
        }
        match self.offset("net_device", "flags") {
            Some(flags) if self.attach(PROG_NET_XMIT, 4) => self.plan.offsets.netdev_flags = flags,
            _ => {
                self.plan.unavailable.push(Figure::NicBytes);
                self.degrade(Copies, "no net_dev_xmit tracepoint or net_device layout: NIC DMA is not measured".into());
            }
        }
    }

    fn wakers(&mut self) {
        if !self.attach(PROG_SCHED_WAKING, 1) {
            self.unavailable(Wakeups, "no sched_waking BTF tracepoint".into());
        }
        self.attach(PROG_SCHED_WAKEUP, 1);
        self.attach(PROG_SCHED_WAKEUP_NEW, 1);
        if !(self.attach(PROG_SOFTIRQ_EXIT, 1) & self.attach(PROG_SOFTIRQ_ENTRY, 1)) {
            self.degrade(
                Wakeups,
                "no softirq_entry/exit tracepoints: softirq wakeups look like the task they interrupted".into(),
            );
        }
        if !(self.attach(PROG_IRQ_EXIT, 0) & self.attach(PROG_IRQ_ENTRY, 1)) {
            self.degrade(
                Wakeups,
                "no irq_handler_entry/exit tracepoints: hardirq wakeups look like the task they interrupted".into(),
            );
        }
        // x86's local timer and irq_work vectors.
        let _ = self.attach(PROG_TIMER_EXIT, 0) & self.attach(PROG_TIMER_ENTRY, 1);
        let _ = self.attach(PROG_IRQ_WORK_EXIT, 0) & self.attach(PROG_IRQ_WORK_ENTRY, 1);
        if !(self.attach(PROG_HRTIMER_EXIT, 0) & self.attach(PROG_HRTIMER_ENTRY, 0)) {
            self.degrade(Wakeups, "no hrtimer_expire_entry/exit tracepoints: a timer that expires outside the local APIC timer interrupt counts as a hardirq".into());
        }
        let socket = self.offsets([("sock", "sk_socket"), ("socket", "file"), ("file", "f_inode"), ("inode", "i_ino")]);
        let Some([sk_socket, socket_file, f_inode, i_ino]) = socket else {
            self.plan.unavailable.push(Figure::WakeupSockets);
            self.degrade(
                Epoll,
                "wakeups are not traced to their socket: the sock/socket/file layout is unknown".into(),
            );
            return;
        };
        let o = &mut self.plan.offsets;
        (o.sock_socket, o.socket_file, o.file_inode, o.inode_ino) = (sk_socket, socket_file, f_inode, i_ino);
        self.attach(PROG_SOCK_SET_STATE, 1);
        if self.attach(PROG_SK_DATA_READY, 1) {
            return;
        }
        if self.attach(PROG_TCP_PROBE, 1) {
            self.degrade(
                Epoll,
                "no sk_data_ready tracepoint: wakeups are traced to TCP sockets by their segments (tcp_probe), so a wakeup by a unix socket or by a new connection on a listening socket has no socket".into(),
            );
        } else {
            self.plan.unavailable.push(Figure::WakeupSockets);
            self.degrade(
                Epoll,
                "no sk_data_ready or tcp_probe tracepoint: wakeups are not traced to their socket".into(),
            );
        }
    }

    fn softirq(&mut self) {
        if !self.plan.programs.iter().any(|&(p, _)| p == PROG_SOFTIRQ_ENTRY) {
            self.unavailable(Softirq, "no softirq_entry/exit BTF tracepoints".into());
        }
        if !self.attach(PROG_SOFTIRQ_RAISE, 1) {
            self.plan.unavailable.push(Figure::RaiseWait);
            self.degrade(Softirq, "no softirq_raise tracepoint: raise-to-run waits are not measured".into());
        }
    }

    fn faults(&mut self) {
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

    /// The kernel's own scheduling counters, where it has them.
    fn sched(&mut self) {
        match (self.offset("task_struct", "se"), self.offset("sched_entity", "sum_exec_runtime")) {
            (Some(se), Some(runtime)) => self.plan.offsets.task_exec_runtime = se + runtime,
            _ => self.degrade(
                Sched,
                "on-CPU time is wall time between switches, not the task clock: se.sum_exec_runtime is unknown".into(),
            ),
        }
        match self.offsets([("task_struct", "sched_info"), ("sched_info", "pcount"), ("sched_info", "run_delay")]) {
            Some([info, pcount, delay]) => {
                (self.plan.offsets.task_pcount, self.plan.offsets.task_run_delay) = (info + pcount, info + delay);
            }
            None => self.degrade(Sched, "time slices and run-queue waits are counted from switch events: sched_info is unknown (CONFIG_SCHED_INFO)".into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use tracer_common::kernel::SEQ_NONE;

    use super::*;

    /// The minimized BTF of each kernel of the matrix (`cargo xtask vm --fixtures`).
    fn fixture(name: &str) -> Btf {
        let path = format!("{}/tests/btf/{name}.btf", env!("CARGO_MANIFEST_DIR"));
        Btf::parse(&std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))).unwrap()
    }

    fn status(p: &Plan, s: Section) -> Status {
        p.coverage[&s].status
    }

    fn has(p: &Plan, program: &str) -> bool {
        p.programs.iter().any(|&(prog, _)| prog == program)
    }

    #[test]
    fn linux_6_18_takes_every_program_exactly() {
        let p = plan(&fixture("6.18"), "6.18", &Ask::sections(&Section::ALL)).unwrap();
        for s in Section::ALL {
            assert_eq!(status(&p, s), Status::Exact, "{s:?}: {:?}", p.coverage[&s]);
        }
        assert!(p.unavailable.is_empty());
        assert!(!has(&p, PROG_TCP_PROBE), "sk_data_ready makes it unneeded");
        assert_eq!(p.features.switch_state, STATE_FROM_ARG);
        assert_eq!(p.features.group_dead, GROUP_DEAD_FROM_ARG);
        assert_eq!((p.features.recv_by_fd, p.features.vma_lookup), (0, VMA_MAPLE));
        assert_eq!(p.features.vma_seq, SEQ_COUNT, "mm_lock_seq is a seqcount_t");
        assert_eq!(p.features.folio_order, ORDER_IN_FLAGS_1);
        assert_eq!(p.offsets.task_pid + 4, p.offsets.task_tgid);
    }

    #[test]
    fn linux_6_12_reads_group_dead_from_the_signal_struct() {
        let p = plan(&fixture("6.12"), "6.12", &Ask::sections(&Section::ALL)).unwrap();
        assert_eq!(p.features.group_dead, GROUP_DEAD_FROM_SIGNAL);
        assert_ne!(p.offsets.signal_live, Offsets::ABSENT);
        for s in Section::ALL {
            assert_eq!(status(&p, s), Status::Exact, "{s:?}: {:?}", p.coverage[&s]);
        }
    }

    #[test]
    fn linux_6_1_degrades_socket_names_and_fault_around_only() {
        let p = plan(&fixture("6.1"), "6.1.0", &Ask::sections(&Section::ALL)).unwrap();
        assert_eq!(p.features.switch_state, STATE_FROM_ARG);
        assert_eq!(p.features.recv_by_fd, 1, "no sock_recv_length: receives by their fd");
        assert_eq!(p.features.vma_lookup, VMA_MAPLE);
        assert_eq!(p.features.folio_order, ORDER_BYTE, "folio->_folio_order");
        assert!(has(&p, PROG_TCP_PROBE) && !has(&p, PROG_SK_DATA_READY) && !has(&p, PROG_FILEMAP_MAP_PAGES));
        assert_eq!(p.unavailable, [Figure::FaultAround]);
        for (s, want) in
            [(Syscalls, Status::Exact), (Copies, Status::Exact), (Sched, Status::Exact), (Softirq, Status::Exact)]
        {
            assert_eq!(status(&p, s), want, "{s:?}: {:?}", p.coverage[&s]);
        }
        assert_eq!(status(&p, Epoll), Status::Degraded);
        assert!(
            p.coverage[&Epoll].notes[0].contains("unix socket")
                && p.coverage[&Epoll].notes[0].ends_with("(Linux 6.1.0)")
        );
        assert_eq!(status(&p, Faults), Status::Degraded);
        assert!(p.coverage[&Faults].notes[0].contains("fault-around"));
    }

    #[test]
    fn linux_5_10_reads_the_switch_state_and_walks_the_rbtree() {
        let p = plan(&fixture("5.10"), "5.10", &Ask::sections(&Section::ALL)).unwrap();
        assert_eq!(p.features.switch_state, STATE_FROM_TASK);
        assert_eq!(p.offsets.task_state, fixture("5.10").member_offset("task_struct", "state").unwrap());
        assert_eq!(p.features.vma_lookup, VMA_RBTREE);
        assert_ne!(p.offsets.vma_rb, Offsets::ABSENT);
        assert_eq!(p.features.vma_seq, SEQ_NONE, "no mm_lock_seq: every fault walks the tree");
        assert_eq!(p.features.folio_order, ORDER_BYTE, "page[1].compound_order");
        assert!(p.offsets.folio_order >= 64, "past the head page");
        assert_eq!(p.unavailable, [Figure::FaultAround]);
        assert_eq!(status(&p, Sched), Status::Exact);
        assert_eq!(status(&p, Copies), Status::Exact);
    }

    #[test]
    fn only_the_sections_asked_for_attach_their_programs() {
        let p = plan(&fixture("6.18"), "6.18", &Ask::sections(&[Syscalls])).unwrap();
        let programs: Vec<&str> = p.programs.iter().map(|&(prog, _)| prog).collect();
        assert_eq!(
            programs,
            [PROG_SCHED_SWITCH, PROG_TASK_NEWTASK, PROG_PROCESS_EXIT, PROG_PROCESS_EXEC, PROG_SYS_ENTER, PROG_SYS_EXIT]
        );
        assert_eq!(p.coverage.keys().copied().collect::<Vec<_>>(), [Syscalls]);
    }

    #[test]
    fn without_latency_syscalls_alone_take_one_program_on_sys_exit() {
        let programs = |ask: &Ask<'_>| -> Vec<&str> {
            plan(&fixture("5.10"), "5.10", ask).unwrap().programs.iter().map(|&(prog, _)| prog).collect()
        };
        let lean = Ask { sections: &[Syscalls, Sched], latency: false, timeline: false };
        let p = plan(&fixture("5.10"), "5.10", &lean).unwrap();
        assert!(p.programs.contains(&(PROG_SYS_EXIT_COUNT, "sys_exit")));
        assert!(!p.programs.iter().any(|&(prog, _)| prog == PROG_SYS_ENTER || prog == PROG_SYS_EXIT));
        assert!(p.programs.iter().any(|&(prog, _)| prog == PROG_SCHED_SWITCH) && p.features.stateless == 0);
        // Syscalls alone keep no state per thread, so no sched_switch has to end it.
        let alone = Ask { sections: &[Syscalls], latency: false, timeline: false };
        assert_eq!(programs(&alone), [PROG_TASK_NEWTASK, PROG_PROCESS_EXIT, PROG_PROCESS_EXEC, PROG_SYS_EXIT_COUNT]);
        assert_eq!(plan(&fixture("5.10"), "5.10", &alone).unwrap().features.stateless, 1);
        assert!(p.unavailable.contains(&Figure::SyscallLatency));
        assert_eq!(status(&p, Syscalls), Status::Exact, "what it gives is exact; the notes say what it leaves out");
        // A call's entry is still needed by epoll and copies, and by the timeline.
        for ask in [
            Ask { sections: &[Syscalls, Epoll], latency: false, timeline: false },
            Ask { sections: &[Syscalls], latency: false, timeline: true },
            Ask::sections(&[Syscalls]),
        ] {
            let chosen = programs(&ask);
            assert!(chosen.contains(&PROG_SYS_ENTER) && chosen.contains(&PROG_SYS_EXIT), "{ask:?}");
            assert!(!chosen.contains(&PROG_SYS_EXIT_COUNT), "{ask:?}");
            let latency = !plan(&fixture("5.10"), "5.10", &ask).unwrap().unavailable.contains(&Figure::SyscallLatency);
            assert_eq!(latency, ask.latency, "{ask:?}: latency is null exactly when not asked for");
        }
    }
}
