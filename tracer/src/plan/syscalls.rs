//! Syscalls, and the copy ledger that rides on the syscall programs.
use tracer_common::names::*;

use super::planner::{Ask, Planner};
use crate::sections::{Figure, Section::*};

impl Planner<'_> {
    pub(super) fn syscalls_and_copies(&mut self, ask: &Ask<'_>) {
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
}
