//! Named counters and the maps whose fullness is counted: slots of per-CPU arrays.
use super::envelope::Header;

/// [`RecordKind::CounterTotal`]: `index` is a [`Counter`].
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CounterTotal {
    pub header: Header,
    pub index: u32,
    pub _pad: u32,
    pub value: u64,
}

/// Maps whose fullness is counted (per-CPU array `MAP_FULL`, index: slot): an entry the
/// kernel could not create is a fact lost, and the remedy depends on the map.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MapSlot {
    Threads = 0,
    Targets = 1,
    WakeEdges = 2,
    Faults = 3,
    Stacks = 4,
    OffCpu = 5,
}

impl MapSlot {
    pub const ALL: [MapSlot; 6] =
        [MapSlot::Threads, MapSlot::Targets, MapSlot::WakeEdges, MapSlot::Faults, MapSlot::Stacks, MapSlot::OffCpu];

    /// The map's name, as `names.rs` has it.
    pub const fn map(self) -> &'static str {
        match self {
            MapSlot::Threads => crate::names::MAP_THREADS,
            MapSlot::Targets => crate::names::MAP_TARGETS,
            MapSlot::WakeEdges => crate::names::MAP_WAKE_EDGES,
            MapSlot::Faults => crate::names::MAP_FAULTS,
            MapSlot::Stacks => crate::names::MAP_STACKS,
            MapSlot::OffCpu => crate::names::MAP_OFFCPU,
        }
    }
}

/// Named slots of the per-CPU counter array `COUNTERS`.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Counter {
    /// skb -> user bytes copied in the target's socket receives (skb_copy_datagram_iovec).
    SockCopyBytes = 0,
    /// Block requests the target issued: bytes read / written (disk DMA).
    DiskReadBytes = 1,
    DiskWriteBytes = 2,
    /// Bytes the target handed to a real (non-loopback) network device (NIC DMA).
    NicTxBytes = 3,
    EpollCtlAdd = 4,
    EpollCtlMod = 5,
    EpollCtlDel = 6,
    /// Flags seen in epoll_ctl ADD/MOD.
    EpollFlagEt = 7,
    EpollFlagOneshot = 8,
    EpollFlagExclusive = 9,
    EpollFlagWakeup = 10,
    /// Tracepoint hits of the target counted by the benchmark floor's programs.
    FloorHits = 11,
    /// Stacks the kernel could not capture (`bpf_get_stack` failed: a user stack that
    /// could not be read, e.g. paged out).
    StackKernelFailed = 12,
    StackUserFailed = 13,
}

pub const COUNTERS: u32 = 16;

impl Counter {
    pub const ALL: [Counter; 14] = [
        Counter::SockCopyBytes,
        Counter::DiskReadBytes,
        Counter::DiskWriteBytes,
        Counter::NicTxBytes,
        Counter::EpollCtlAdd,
        Counter::EpollCtlMod,
        Counter::EpollCtlDel,
        Counter::EpollFlagEt,
        Counter::EpollFlagOneshot,
        Counter::EpollFlagExclusive,
        Counter::EpollFlagWakeup,
        Counter::FloorHits,
        Counter::StackKernelFailed,
        Counter::StackUserFailed,
    ];

    pub const fn from_u32(v: u32) -> Option<Self> {
        if (v as usize) < Self::ALL.len() { Some(Self::ALL[v as usize]) } else { None }
    }
}
