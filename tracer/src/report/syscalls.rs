//! The `syscalls` section: every syscall the target made.
use serde::{Deserialize, Serialize};

use super::latency::LatencyBucket;

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyscallRow {
    pub name: String,
    /// x86-64 syscall number.
    pub nr: u32,
    /// Calls entered while traced.
    pub count: u64,
    /// Calls that returned -errno.
    pub errors: u64,
    /// Bytes returned by data-moving calls (read/write/send/recv families, sendfile,
    /// splice, tee, vmsplice, copy_file_range).
    pub bytes: u64,
    /// Ready fds (events) returned by readiness calls (epoll_wait, poll, select, ...).
    pub ready: u64,
    /// Time inside the calls that returned while traced (null: `--no-latency`).
    pub total_ns: Option<u64>,
    pub returned: u64,
    /// Log2 latency histogram: calls that took [from_ns, 2 * from_ns) (null:
    /// `--no-latency`).
    pub latency: Option<Vec<LatencyBucket>>,
}
