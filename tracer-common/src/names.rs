//! Map, program and global names, shared so neither side can drift from the other.

/// Ring buffer of finished records (kernel -> user).
pub const MAP_EVENTS: &str = "EVENTS";
/// Per-CPU count of records the kernel could not deliver (ring buffer full).
pub const MAP_LOST: &str = "LOST";
/// Per-CPU count of entries the kernel could not create, per map (`record::MapSlot`).
pub const MAP_FULL: &str = "MAP_FULL";
/// TGIDs being traced (key: tgid, value: `ProcState`). Extended in the kernel on fork.
pub const MAP_TARGETS: &str = "TARGETS";
/// The same set as a bitmap indexed by TGID (`record::target_bit`): the test every
/// process on the machine pays at every event, so the cheapest there is (an array
/// lookup the verifier inlines, no hashing).
pub const MAP_TARGET_BITS: &str = "TARGET_BITS";
/// Per-thread state and counters (key: tid).
pub const MAP_THREADS: &str = "THREADS";
/// Per-CPU statistics per syscall number.
pub const MAP_SYSCALLS: &str = "SYSCALLS";
/// Per-CPU copy ledger per data path.
pub const MAP_LEDGER: &str = "LEDGER";
/// Per-CPU named counters (`record::Counter`).
pub const MAP_COUNTERS: &str = "COUNTERS";
/// Waker -> wakee edges.
pub const MAP_WAKE_EDGES: &str = "WAKE_EDGES";
/// Per-CPU switches by the syscall the thread was in.
pub const MAP_SWITCHES: &str = "SWITCHES";
/// Per-CPU softirq statistics by vector.
pub const MAP_SOFTIRQS: &str = "SOFTIRQS";
/// Page faults by process and mapping.
pub const MAP_FAULTS: &str = "FAULTS";
/// The benchmark floor's per-CPU hit count.
pub const MAP_FLOOR: &str = "FLOOR";
/// With `--stacks`: stacks by hash (`record::StackFrames`), allocated as they come.
pub const MAP_STACKS: &str = "STACKS";
/// With `--stacks`: off-CPU time by (thread, blocked stacks, waker stacks).
pub const MAP_OFFCPU: &str = "OFFCPU";
/// Whether stacks are captured (1) or not (0); the verifier drops the code when 0.
pub const GLOBAL_STACKS: &str = "STACKS_ON";
/// Whether timeline events are streamed (1, `--perfetto`) or not (0).
pub const GLOBAL_TIMELINE: &str = "TIMELINE_ON";
/// `attach --cgroup`: slot 0 holds the cgroup whose processes join the target set.
pub const MAP_CGROUP: &str = "CGROUP";
/// How a process joins the target set at its exec (`record::JOIN_*`).
pub const GLOBAL_JOIN: &str = "JOIN";
/// `attach --comm`: the name (NUL-padded, 16 bytes) whose processes join the target set.
pub const GLOBAL_JOIN_COMM: &str = "JOIN_COMM";

// Program names are the BTF tracepoints they attach to.
pub const PROG_SCHED_SWITCH: &str = "sched_switch";
pub const PROG_TASK_NEWTASK: &str = "task_newtask";
pub const PROG_PROCESS_EXIT: &str = "sched_process_exit";
pub const PROG_PROCESS_EXEC: &str = "sched_process_exec";
pub const PROG_SYS_ENTER: &str = "sys_enter";
pub const PROG_SYS_EXIT: &str = "sys_exit";
/// `--no-latency` where no section needs a call's entry: sys_exit alone (on `sys_exit`).
pub const PROG_SYS_EXIT_COUNT: &str = "sys_exit_count";
pub const PROG_SKB_COPY: &str = "skb_copy_datagram_iovec";
pub const PROG_SOCK_RECV: &str = "sock_recv_length";
pub const PROG_BLOCK_ISSUE: &str = "block_rq_issue";
pub const PROG_NET_XMIT: &str = "net_dev_xmit";
pub const PROG_SCHED_WAKING: &str = "sched_waking";
pub const PROG_SCHED_WAKEUP: &str = "sched_wakeup";
pub const PROG_SCHED_WAKEUP_NEW: &str = "sched_wakeup_new";
pub const PROG_SOFTIRQ_ENTRY: &str = "softirq_entry";
pub const PROG_SOFTIRQ_EXIT: &str = "softirq_exit";
pub const PROG_SOFTIRQ_RAISE: &str = "softirq_raise";
pub const PROG_IRQ_ENTRY: &str = "irq_handler_entry";
pub const PROG_IRQ_EXIT: &str = "irq_handler_exit";
pub const PROG_TIMER_ENTRY: &str = "local_timer_entry";
pub const PROG_TIMER_EXIT: &str = "local_timer_exit";
pub const PROG_IRQ_WORK_ENTRY: &str = "irq_work_entry";
pub const PROG_IRQ_WORK_EXIT: &str = "irq_work_exit";
pub const PROG_HRTIMER_ENTRY: &str = "hrtimer_expire_entry";
pub const PROG_HRTIMER_EXIT: &str = "hrtimer_expire_exit";
pub const PROG_SK_DATA_READY: &str = "sk_data_ready";
pub const PROG_SOCK_SET_STATE: &str = "inet_sock_set_state";
pub const PROG_TCP_PROBE: &str = "tcp_probe";
pub const PROG_FAULT_USER: &str = "page_fault_user";
pub const PROG_FAULT_KERNEL: &str = "page_fault_kernel";
pub const PROG_FILEMAP_MAP_PAGES: &str = "mm_filemap_map_pages";
pub const PROG_FILEMAP_ADD: &str = "mm_filemap_add_to_page_cache";

/// Every program, in the order of its slot in `MAP_HITS`.
pub const PROGRAMS: [&str; 32] = [
    PROG_SCHED_SWITCH,
    PROG_TASK_NEWTASK,
    PROG_PROCESS_EXIT,
    PROG_PROCESS_EXEC,
    PROG_SYS_ENTER,
    PROG_SYS_EXIT,
    PROG_SYS_EXIT_COUNT,
    PROG_SKB_COPY,
    PROG_SOCK_RECV,
    PROG_BLOCK_ISSUE,
    PROG_NET_XMIT,
    PROG_SCHED_WAKING,
    PROG_SCHED_WAKEUP,
    PROG_SCHED_WAKEUP_NEW,
    PROG_SOFTIRQ_ENTRY,
    PROG_SOFTIRQ_EXIT,
    PROG_SOFTIRQ_RAISE,
    PROG_IRQ_ENTRY,
    PROG_IRQ_EXIT,
    PROG_TIMER_ENTRY,
    PROG_TIMER_EXIT,
    PROG_IRQ_WORK_ENTRY,
    PROG_IRQ_WORK_EXIT,
    PROG_HRTIMER_ENTRY,
    PROG_HRTIMER_EXIT,
    PROG_SK_DATA_READY,
    PROG_SOCK_SET_STATE,
    PROG_TCP_PROBE,
    PROG_FAULT_USER,
    PROG_FAULT_KERNEL,
    PROG_FILEMAP_MAP_PAGES,
    PROG_FILEMAP_ADD,
];

/// Per-CPU runs of each program (slot: `program_slot`), counted by the program itself:
/// exact at ~1 ns per run, where the kernel's own run statistics cost ~35 ns (`cost.rs`).
pub const MAP_HITS: &str = "HITS";

/// The slot of program `name` in `PROGRAMS` (evaluated at compile time; a name not in it
/// does not compile).
pub const fn program_slot(name: &str) -> u32 {
    let mut i = 0;
    while i < PROGRAMS.len() {
        if eq(PROGRAMS[i].as_bytes(), name.as_bytes()) {
            return i as u32;
        }
        i += 1;
    }
    panic!("not a program name")
}

const fn eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

/// Slot 0: the TID of the tracer thread about to fork the command of `run`; the kernel
/// adds that thread's next child to the target set and clears the slot (so nothing else
/// the tracer starts is traced). Slot 1: that child's TID until it execs (its calls
/// before are the launcher's), for the program that has no per-thread state.
pub const MAP_LAUNCHER: &str = "LAUNCHER";

/// Globals the loader overrides; see `kernel.rs` for their meaning.
pub const GLOBAL_OFFSETS: &str = "OFFSETS";
pub const GLOBAL_FEATURES: &str = "FEATURES";
pub const GLOBAL_WAKEUP_BYTES: &str = "WAKEUP_BYTES";
