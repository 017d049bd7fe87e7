//! Map, program and global names, shared so neither side can drift from the other.

/// Ring buffer of finished records (kernel -> user).
pub const MAP_EVENTS: &str = "EVENTS";
/// Per-CPU count of records the kernel could not deliver (failed reservations, full maps).
pub const MAP_LOST: &str = "LOST";
/// TGIDs being traced (key: tgid, value: unused). Extended in the kernel on fork.
pub const MAP_TARGETS: &str = "TARGETS";
/// Per-thread state and counters (key: tid).
pub const MAP_THREADS: &str = "THREADS";

pub const PROG_SCHED_SWITCH: &str = "sched_switch";
pub const PROG_TASK_NEWTASK: &str = "task_newtask";
pub const PROG_PROCESS_EXIT: &str = "sched_process_exit";

/// Globals the loader overrides; see `tracer-ebpf/src/globals.rs` for their meaning.
pub const GLOBAL_LAUNCHER_TID: &str = "LAUNCHER_TID";
pub const GLOBAL_OFFSETS: &str = "OFFSETS";
