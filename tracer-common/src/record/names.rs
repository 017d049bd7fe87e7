//! File names: the name of a file a target faulted in, as the kernel sends it.
use super::envelope::Header;

/// [`RecordKind::FileName`]: the name of file (dev, ino). The kernel names a file at its
/// first fault from the dentry tree, so the tracer never reads the target's
/// /proc/PID/maps or map_files during a trace: both take the target's mmap lock and stall
/// it (the tracer showed up as its waker). In kernel form ([`NAME_KERNEL_FORM`]) `path`
/// holds the dentry names leaf first, each NUL-terminated, up to the root of the file's
/// filesystem; user space turns that into the absolute path (adding the mount point) and
/// keeps that form in recordings.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileNameRecord {
    pub header: Header,
    pub ino: u64,
    pub dev: u32,
    /// `NAME_*` bits.
    pub flags: u32,
    pub path: [u8; FILE_NAME_BYTES],
}

pub const FILE_NAME_BYTES: usize = 1024;
/// `path` is dentry names, leaf first, as the kernel walked them.
pub const NAME_KERNEL_FORM: u32 = 1;
/// The file was unlinked (its dentry is unhashed): /proc says " (deleted)".
pub const NAME_DELETED: u32 = 2;
/// The walk stopped before the filesystem's root (a very deep or long path).
pub const NAME_TRUNCATED: u32 = 4;

impl Default for FileNameRecord {
    fn default() -> Self {
        Self { header: Header::default(), ino: 0, dev: 0, flags: 0, path: [0; FILE_NAME_BYTES] }
    }
}
