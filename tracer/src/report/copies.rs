//! The `copies` section: bytes copied by the CPU versus moved without a copy, per path.
use serde::{Deserialize, Serialize};

/// Bytes the CPU copied between user and kernel memory, bytes moved without that copy,
/// and per data path the textbook model beside what the kernel showed.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Copies {
    pub cpu_copy_bytes: u64,
    pub zero_copy_bytes: u64,
    /// Measured by the kernel: skb -> user bytes in socket receives.
    pub socket_copy_bytes: Option<u64>,
    /// Measured: block I/O the target issued (disk DMA), and bytes sent through real NICs.
    pub disk_read_bytes: Option<u64>,
    pub disk_write_bytes: Option<u64>,
    pub nic_tx_bytes: Option<u64>,
    pub paths: Vec<PathRow>,
    /// Where the model and this kernel disagree.
    pub notes: Vec<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PathRow {
    /// read-write, mmap-write, sendfile, splice, vmsplice, copy-file-range, recv.
    pub path: String,
    pub calls: u64,
    /// Bytes delivered (for recv: received), each payload once.
    pub bytes: u64,
    pub bytes_in: u64,
    /// Measured: 2 per call.
    pub mode_switches: u64,
    /// The textbook model, per transfer: mode switches, CPU copies, DMA copies.
    pub model_mode_switches: u64,
    pub cpu_copies: u64,
    pub dma_copies: u64,
    /// Measured: bytes the CPU copied between user and kernel memory on this path, and
    /// bytes that moved without such a copy.
    pub cpu_copied_bytes: u64,
    pub zero_copy_bytes: u64,
    pub note: String,
}
