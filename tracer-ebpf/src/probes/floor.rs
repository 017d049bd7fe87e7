//! The floor for the overhead benchmark: on every tracepoint the tracer uses, a program
//! that only filters the target and counts per CPU (docs/kernel-notes.md, "What tracing costs"). What the real
//! programs cost beyond this is the tracer's own overhead.
use aya_ebpf::{helpers::bpf_get_current_pid_tgid, macros::btf_tracepoint, programs::BtfTracePointContext};

use crate::maps::{FLOOR, is_target};

#[inline(always)]
fn count() -> i32 {
    if is_target((bpf_get_current_pid_tgid() >> 32) as u32) {
        if let Some(c) = FLOOR.get_ptr_mut(0) {
            // SAFETY: per-CPU slot.
            unsafe { *c += 1 };
        }
    }
    0
}

macro_rules! floor {
    ($($name:ident => $tp:literal),* $(,)?) => {
        $(
            #[btf_tracepoint(function = $tp)]
            pub fn $name(_ctx: BtfTracePointContext) -> i32 {
                count()
            }
        )*
    };
}

floor! {
    floor_sys_enter => "sys_enter",
    floor_sys_exit => "sys_exit",
    floor_sched_switch => "sched_switch",
    floor_task_newtask => "task_newtask",
    floor_sched_process_exit => "sched_process_exit",
    floor_sched_waking => "sched_waking",
    floor_sched_wakeup => "sched_wakeup",
    floor_sched_wakeup_new => "sched_wakeup_new",
    floor_softirq_entry => "softirq_entry",
    floor_softirq_exit => "softirq_exit",
    floor_softirq_raise => "softirq_raise",
    floor_irq_handler_entry => "irq_handler_entry",
    floor_irq_handler_exit => "irq_handler_exit",
    floor_local_timer_entry => "local_timer_entry",
    floor_local_timer_exit => "local_timer_exit",
    floor_irq_work_entry => "irq_work_entry",
    floor_irq_work_exit => "irq_work_exit",
    floor_hrtimer_expire_entry => "hrtimer_expire_entry",
    floor_hrtimer_expire_exit => "hrtimer_expire_exit",
    floor_sk_data_ready => "sk_data_ready",
    floor_inet_sock_set_state => "inet_sock_set_state",
    floor_sock_recv_length => "sock_recv_length",
    floor_skb_copy_datagram_iovec => "skb_copy_datagram_iovec",
    floor_block_rq_issue => "block_rq_issue",
    floor_net_dev_xmit => "net_dev_xmit",
    floor_page_fault_user => "page_fault_user",
    floor_page_fault_kernel => "page_fault_kernel",
    floor_tcp_probe => "tcp_probe",
    floor_mm_filemap_map_pages => "mm_filemap_map_pages",
    floor_mm_filemap_add_to_page_cache => "mm_filemap_add_to_page_cache",
}
