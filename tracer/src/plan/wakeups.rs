//! Who woke a thread: the wakeup programs and the interrupt context they read.
use tracer_common::names::*;

use super::planner::Planner;
use crate::sections::{Figure, Section::*};

impl Planner<'_> {
    pub(super) fn wakers(&mut self) {
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
}
