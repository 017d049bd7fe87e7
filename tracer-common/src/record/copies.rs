//! Copies: the copy ledger's paths, what each moved, and the mappings that tell mmap+write
//! from read+write.
use super::envelope::Header;

/// splice/vmsplice/tee fd facts, in [`InFlight::flags`].
pub const SPLICE_IN_PIPE: u32 = 1;
pub const SPLICE_OUT_PIPE: u32 = 2;
/// vmsplice on a pipe's write end: user pages gifted to the pipe, not copied.
pub const VMSPLICE_GIFT: u32 = 4;
/// The call received from a socket (sock:sock_recv_length fired inside it).
pub const SOCK_RECV: u32 = 8;
/// An execve of a command `run` launched, entered before it exec'd: counted only if it
/// succeeds (the failed ones are the launcher's PATH search).
pub const EXEC_PENDING: u32 = 16;

/// [`RecordKind::PathTotals`]: `path` is a [`Path`] index.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PathTotals {
    pub header: Header,
    pub path: u32,
    pub _pad: u32,
    pub stat: PathStat,
}

/// File mappings a process made while traced, for telling mmap+write from read+write.
pub const MAX_MAPS: usize = 4;

#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MapRange {
    pub start: u64,
    pub end: u64,
}

/// Copy-ledger paths (index of the per-CPU array `LEDGER`); names match `zerocopy --mode`.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Path {
    ReadWrite = 0,
    MmapWrite = 1,
    Sendfile = 2,
    Splice = 3,
    Vmsplice = 4,
    CopyFileRange = 5,
    /// Socket receives: the one CPU copy (skb -> user) every receiver makes.
    Recv = 6,
}

impl Path {
    pub const ALL: [Path; 7] = [
        Path::ReadWrite,
        Path::MmapWrite,
        Path::Sendfile,
        Path::Splice,
        Path::Vmsplice,
        Path::CopyFileRange,
        Path::Recv,
    ];

    pub const fn name(self) -> &'static str {
        match self {
            Path::ReadWrite => "read-write",
            Path::MmapWrite => "mmap-write",
            Path::Sendfile => "sendfile",
            Path::Splice => "splice",
            Path::Vmsplice => "vmsplice",
            Path::CopyFileRange => "copy-file-range",
            Path::Recv => "recv",
        }
    }
}

/// What one path moved (see the kernel's `copies` probe for the rules).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PathStat {
    pub calls: u64,
    /// Bytes delivered to their destination (counted once per payload).
    pub bytes_out: u64,
    /// Bytes brought into user memory.
    pub bytes_in: u64,
    /// Bytes the CPU copied kernel -> user and user -> kernel.
    pub cpu_k2u: u64,
    pub cpu_u2k: u64,
    /// Bytes moved without a user-space copy.
    pub zero_copy: u64,
}
