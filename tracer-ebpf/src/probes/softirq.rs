//! Interrupt context per CPU, for attributing wakeups (docs/kernel-notes.md, "Interrupt
//! context"): which softirq is running, whether a hardirq / the local timer / an irq_work
//! is, and which socket just got data. BPF cannot read `preempt_count`, so the state is
//! tracked from the entry/exit tracepoints. Also the softirq statistics (system-wide):
//! count and time per vector per CPU, raise -> entry wait, and the runs that woke a target
//! thread.
use aya_ebpf::{helpers::bpf_ktime_get_ns, macros::btf_tracepoint, programs::BtfTracePointContext};
use tracer_common::record::{CpuState, NO_SOFTIRQ, SOFTIRQ_VECTORS, WAKER_HARDIRQ, WAKER_IRQ_WORK, WAKER_TIMER};

use crate::maps::{SOFTIRQS, cpu_state, hit};

#[btf_tracepoint(function = "softirq_raise")]
pub fn softirq_raise(ctx: BtfTracePointContext) -> i32 {
    hit!("softirq_raise");
    let vec: u64 = ctx.arg(0);
    if let Some(c) = cpu_state() {
        if let Some(t) = c.raised_at.get_mut(vec as usize) {
            if *t == 0 {
                // SAFETY: plain helper.
                *t = unsafe { bpf_ktime_get_ns() };
            }
        }
    }
    0
}

#[btf_tracepoint(function = "softirq_entry")]
pub fn softirq_entry(ctx: BtfTracePointContext) -> i32 {
    hit!("softirq_entry");
    let vec: u64 = ctx.arg(0);
    let (Some(c), true) = (cpu_state(), vec < u64::from(SOFTIRQ_VECTORS)) else { return 0 };
    let now = unsafe { bpf_ktime_get_ns() };
    c.softirq = vec as u32;
    c.softirq_t0 = now;
    c.softirq_wakeups = 0;
    c.seq += 1;
    if let Some(raised) = c.raised_at.get_mut(vec as usize) {
        if *raised != 0 {
            if let Some(s) = SOFTIRQS.get_ptr_mut(vec as u32) {
                // SAFETY: per-CPU slot.
                let s = unsafe { &mut *s };
                s.raise_wait_ns += now.saturating_sub(*raised);
                s.raised += 1;
            }
            *raised = 0;
        }
    }
    0
}

#[btf_tracepoint(function = "softirq_exit")]
pub fn softirq_exit(ctx: BtfTracePointContext) -> i32 {
    hit!("softirq_exit");
    let vec: u64 = ctx.arg(0);
    let Some(c) = cpu_state() else { return 0 };
    if c.softirq == vec as u32 {
        if let Some(s) = SOFTIRQS.get_ptr_mut(vec as u32) {
            // SAFETY: per-CPU slot.
            let s = unsafe { &mut *s };
            let took = unsafe { bpf_ktime_get_ns() }.saturating_sub(c.softirq_t0);
            s.count += 1;
            s.time_ns += took;
            if c.softirq_wakeups > 0 {
                s.target_runs += 1;
                s.target_ns += took;
                s.target_wakeups += u64::from(c.softirq_wakeups);
            }
        }
        super::timeline::softirq(c.softirq_t0, vec as u32);
    }
    c.softirq = NO_SOFTIRQ;
    c.seq += 1;
    0
}

#[inline(always)]
fn hardirq(kind: u32, id: u32) {
    if let Some(c) = cpu_state() {
        c.hardirq = kind;
        c.hardirq_id = id;
    }
}

#[btf_tracepoint(function = "irq_handler_entry")]
pub fn irq_handler_entry(ctx: BtfTracePointContext) -> i32 {
    hit!("irq_handler_entry");
    let irq: u64 = ctx.arg(0);
    hardirq(WAKER_HARDIRQ, irq as u32);
    0
}

#[btf_tracepoint(function = "irq_handler_exit")]
pub fn irq_handler_exit(_ctx: BtfTracePointContext) -> i32 {
    hit!("irq_handler_exit");
    hardirq(0, 0);
    0
}

#[btf_tracepoint(function = "local_timer_entry")]
pub fn local_timer_entry(ctx: BtfTracePointContext) -> i32 {
    hit!("local_timer_entry");
    let vector: u64 = ctx.arg(0);
    hardirq(WAKER_TIMER, vector as u32);
    0
}

#[btf_tracepoint(function = "local_timer_exit")]
pub fn local_timer_exit(_ctx: BtfTracePointContext) -> i32 {
    hit!("local_timer_exit");
    hardirq(0, 0);
    0
}

#[btf_tracepoint(function = "irq_work_entry")]
pub fn irq_work_entry(ctx: BtfTracePointContext) -> i32 {
    hit!("irq_work_entry");
    let vector: u64 = ctx.arg(0);
    hardirq(WAKER_IRQ_WORK, vector as u32);
    0
}

#[btf_tracepoint(function = "irq_work_exit")]
pub fn irq_work_exit(_ctx: BtfTracePointContext) -> i32 {
    hit!("irq_work_exit");
    hardirq(0, 0);
    0
}

/// hrtimer_expire_entry(struct hrtimer *timer, ktime_t *now): an hrtimer's callback
/// runs (sleeps, poll and epoll timeouts end here), in whatever interrupt expired it.
#[btf_tracepoint(function = "hrtimer_expire_entry")]
pub fn hrtimer_expire_entry(_ctx: BtfTracePointContext) -> i32 {
    hit!("hrtimer_expire_entry");
    if let Some(c) = cpu_state() {
        c.hrtimer = 1;
    }
    0
}

#[btf_tracepoint(function = "hrtimer_expire_exit")]
pub fn hrtimer_expire_exit(_ctx: BtfTracePointContext) -> i32 {
    hit!("hrtimer_expire_exit");
    if let Some(c) = cpu_state() {
        c.hrtimer = 0;
    }
    0
}

/// sk_data_ready(const struct sock *sk): data reached a socket; ep_poll_callback and the
/// wakeup of its waiter follow in the same context. System-wide, so kept to a few stores.
#[btf_tracepoint(function = "sk_data_ready")]
pub fn sk_data_ready(ctx: BtfTracePointContext) -> i32 {
    hit!("sk_data_ready");
    socket_event(ctx.arg(0));
    0
}

/// inet_sock_set_state(const struct sock *sk, int oldstate, int newstate): a FIN or RST
/// arrived (tcp_fin, tcp_reset), and sk_state_change, not sk_data_ready, wakes the
/// socket's waiters next. Rare (connection set-up and tear-down).
#[btf_tracepoint(function = "inet_sock_set_state")]
pub fn inet_sock_set_state(ctx: BtfTracePointContext) -> i32 {
    hit!("inet_sock_set_state");
    socket_event(ctx.arg(0));
    0
}

/// tcp_probe(struct sock *sk, struct sk_buff *skb): a segment reached an established TCP
/// socket. Attached only where sk_data_ready is missing (before Linux 6.x): the last
/// socket a NET_RX run saw before a wakeup is the one whose data woke it, but a new
/// connection (the listener) and unix sockets go unnamed.
#[btf_tracepoint(function = "tcp_probe")]
pub fn tcp_probe(ctx: BtfTracePointContext) -> i32 {
    hit!("tcp_probe");
    socket_event(ctx.arg(0));
    0
}

#[inline(always)]
fn socket_event(sk: u64) {
    if let Some(c) = cpu_state() {
        c.sdr_sk = sk;
        c.sdr_ctx = wake_context(c);
    }
}

/// Who is running on this CPU, as far as a wakeup chain goes: the softirq invocation, or
/// the task (an interrupt in between does not end a task's chain).
#[inline(always)]
pub fn wake_context(c: &CpuState) -> u64 {
    if c.softirq != NO_SOFTIRQ {
        c.seq
    } else {
        (1 << 63) | (aya_ebpf::helpers::bpf_get_current_pid_tgid() & 0xffff_ffff)
    }
}

/// A context switch: no hardirq spans one (resynchronise), and it ends any wakeup chain.
#[inline(always)]
pub fn on_switch() {
    if let Some(c) = cpu_state() {
        c.hardirq = 0;
        c.hrtimer = 0;
        c.seq += 1;
        c.sdr_sk = 0;
    }
}
