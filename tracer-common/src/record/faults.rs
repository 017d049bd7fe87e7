//! Page faults: the fault a thread is handling, the `FAULTS` map's rows, and the VMA cache.
use super::envelope::Header;

/// Where a faulting address lives.
pub const REGION_ANON: u32 = 0;
pub const REGION_HEAP: u32 = 1;
pub const REGION_STACK: u32 = 2;
pub const REGION_FILE: u32 = 3;

/// The fault a thread is handling: from its exception to the next event of the thread,
/// when the task's own fault counters say what it was.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PendingFault {
    /// 1 while a fault is pending.
    pub active: u32,
    pub region: u32,
    /// File faults: the file's device and inode.
    pub dev: u32,
    /// The exception's error code (bit 1: write, bit 2: user mode).
    pub error_code: u32,
    pub ino: u64,
    /// The faulting process's life (see `FaultKey`).
    pub life: u32,
    pub _pad: u32,
    /// The task's min_flt and maj_flt when the fault began.
    pub min0: u64,
    pub maj0: u64,
    /// Pages fault-around mapped, page-cache pages filled and disk bytes read for it.
    pub around_pages: u64,
    pub filled_pages: u64,
    pub disk_bytes: u64,
}

/// Page-fault error code bits (x86): a write, taken in user mode.
pub const FAULT_WRITE: u32 = 0x2;
pub const FAULT_USER: u32 = 0x4;

impl PendingFault {
    /// Where the fault was, as a `FAULTS` key.
    pub const fn key(&self, tgid: u32, life: u32) -> FaultKey {
        FaultKey { tgid, region: self.region, dev: self.dev, life, ino: self.ino }
    }

    /// What the fault was, from the task's `min_flt`/`maj_flt` after it: a major or minor
    /// fault with its details, or one the kernel did not count. Shared by the kernel
    /// (the thread's next event) and user space (a fault still open at the end).
    pub const fn outcome(&self, min_flt: u64, maj_flt: u64) -> FaultStat {
        let mut s = FaultStat {
            minor: 0,
            major: 0,
            uncounted: 0,
            user_mode: 0,
            kernel_mode: 0,
            writes: 0,
            around_faults: 0,
            around_pages: 0,
            filled_pages: 0,
            disk_bytes: 0,
        };
        if maj_flt > self.maj0 {
            s.major = 1;
        } else if min_flt > self.min0 {
            s.minor = 1;
        } else {
            s.uncounted = 1;
            return s;
        }
        if self.error_code & FAULT_USER != 0 {
            s.user_mode = 1;
        } else {
            s.kernel_mode = 1;
        }
        s.writes = (self.error_code & FAULT_WRITE != 0) as u64;
        s.around_faults = (self.around_pages > 0) as u64;
        s.around_pages = self.around_pages;
        s.filled_pages = self.filled_pages;
        s.disk_bytes = self.disk_bytes;
        s
    }
}

/// Key of the `FAULTS` map: one process's faults in one kind of region (one file). The
/// process's `life` tells a reused PID apart, so user space can take a dead process's
/// rows out of the map without racing its successor.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FaultKey {
    pub tgid: u32,
    pub region: u32,
    pub dev: u32,
    pub life: u32,
    pub ino: u64,
}

#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FaultStat {
    pub minor: u64,
    pub major: u64,
    /// Exceptions the kernel did not count as a fault (spurious, or retried).
    pub uncounted: u64,
    /// Taken in user mode, or by the kernel on a user address (copy_from_user in write).
    pub user_mode: u64,
    pub kernel_mode: u64,
    pub writes: u64,
    /// Faults that went through fault-around, and the pages it mapped.
    pub around_faults: u64,
    pub around_pages: u64,
    pub filled_pages: u64,
    pub disk_bytes: u64,
}

impl FaultStat {
    pub fn add(&mut self, o: &FaultStat) {
        self.minor += o.minor;
        self.major += o.major;
        self.uncounted += o.uncounted;
        self.user_mode += o.user_mode;
        self.kernel_mode += o.kernel_mode;
        self.writes += o.writes;
        self.around_faults += o.around_faults;
        self.around_pages += o.around_pages;
        self.filled_pages += o.filled_pages;
        self.disk_bytes += o.disk_bytes;
    }
}

/// [`RecordKind::FaultTotals`].
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FaultTotals {
    pub header: Header,
    pub key: FaultKey,
    pub stat: FaultStat,
}

/// The VMA a thread's last fault was in and what it is, so the next fault in it needs no
/// tree walk: good while the mm's lock sequence (`mm_lock_seq`, bumped by every change to
/// its VMAs) has not moved. Kernels without one walk at every fault: a VMA's struct, its
/// file's and its inode's can all be freed and reused, so no pointer proves it current.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VmaCache {
    /// 1: holds a VMA, looked up at sequence `seq`.
    pub valid: u32,
    pub seq: u32,
    pub start: u64,
    pub end: u64,
    pub ino: u64,
    /// `REGION_*`, and for files their device.
    pub region: u32,
    pub dev: u32,
    pub _pad: u64,
}
