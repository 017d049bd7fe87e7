//! The `faults` section: page faults of the target, by mapping.
use serde::{Deserialize, Serialize};

/// Page faults of the target on user addresses: taken in user mode, or by the kernel
/// touching user memory (copy_from_user inside a write() from a mapping).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Faults {
    pub minor: u64,
    pub major: u64,
    /// Exceptions the kernel did not count as a fault (spurious, or retried).
    pub uncounted: u64,
    pub user_mode: u64,
    pub kernel_mode: u64,
    pub writes: u64,
    /// File faults that went through fault-around, and the pages it mapped for them.
    pub around_faults: Option<u64>,
    pub around_pages: Option<u64>,
    /// Page-cache pages the faults filled, and the disk bytes read while they waited.
    pub filled_pages: Option<u64>,
    pub disk_read_bytes: Option<u64>,
    /// File path, [heap], [stack] (the main thread's) or [anon].
    pub by_mapping: Option<Vec<FaultRow>>,
    pub notes: Vec<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaultRow {
    pub mapping: String,
    pub minor: u64,
    pub major: u64,
    pub user_mode: u64,
    pub kernel_mode: u64,
    pub writes: u64,
    pub around_faults: Option<u64>,
    pub around_pages: Option<u64>,
    pub filled_pages: Option<u64>,
    pub disk_bytes: Option<u64>,
}
