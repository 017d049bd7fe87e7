//! Wire records. Every record starts with [`Header`]; user space finds the kind at offset 0.

/// What a record is. Stored as a plain `u32` in [`Header::kind`] so that a newer kernel
/// object (or a corrupt file) can never produce an invalid enum value.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecordKind {
    /// Final counters of a thread, emitted by its last context switch.
    ThreadExit = 1,
    /// Counters of a thread still alive when the trace ended (taken from `THREADS` by user
    /// space, so a recording holds everything a report needs).
    ThreadSnapshot = 2,
}

impl RecordKind {
    pub const fn from_u32(v: u32) -> Option<Self> {
        match v {
            1 => Some(Self::ThreadExit),
            2 => Some(Self::ThreadSnapshot),
            _ => None,
        }
    }
}

/// Common header of every record: 24 bytes, 8-aligned.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Header {
    pub kind: u32,
    pub cpu: u32,
    pub tid: u32,
    pub tgid: u32,
    /// `bpf_ktime_get_ns()` (CLOCK_MONOTONIC) when the record was made.
    pub ts_ns: u64,
}

/// Context-switch counters of one thread (see [`crate::sched::classify_switch`]).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SwitchCounts {
    pub voluntary: u64,
    pub involuntary: u64,
}

/// Per-thread state kept in the kernel's `THREADS` map (key: tid).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ThreadState {
    pub tgid: u32,
    pub _pad: u32,
    pub comm: [u8; 16],
    pub switches: SwitchCounts,
}

/// A thread's counters: [`RecordKind::ThreadExit`] or [`RecordKind::ThreadSnapshot`].
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ThreadRecord {
    pub header: Header,
    pub state: ThreadState,
}

/// Field offsets inside tracepoint records, read from tracefs `format` files at start-up
/// (they change between kernel versions) and handed to the kernel programs as a global.
/// `u32::MAX` marks a field this kernel does not have.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Offsets {
    pub switch_prev_pid: u32,
    pub switch_prev_state: u32,
    pub switch_next_pid: u32,
    pub newtask_pid: u32,
    pub newtask_clone_flags: u32,
    pub exit_pid: u32,
    pub exit_group_dead: u32,
    pub _pad: u32,
}

impl Offsets {
    pub const ABSENT: u32 = u32::MAX;
    /// Values measured on Linux 6.18 (shared/kernel-notes.md); the loader always replaces
    /// them with what the running kernel's format files say.
    pub const LINUX_6_18: Self = Self {
        switch_prev_pid: 24,
        switch_prev_state: 32,
        switch_next_pid: 56,
        newtask_pid: 8,
        newtask_clone_flags: 32,
        exit_pid: 24,
        exit_group_dead: 32,
        _pad: 0,
    };
}

/// `clone(2)` flag: the new task is a thread of the caller's process.
pub const CLONE_THREAD: u64 = 0x0001_0000;

#[cfg(test)]
mod tests {
    use core::mem::{align_of, size_of};

    use super::*;

    #[test]
    fn layouts_have_no_implicit_padding() {
        assert_eq!(size_of::<Header>(), 24);
        assert_eq!(size_of::<SwitchCounts>(), 16);
        assert_eq!(size_of::<ThreadState>(), 4 + 4 + 16 + 16);
        assert_eq!(size_of::<ThreadRecord>(), 24 + 40);
        assert_eq!(size_of::<Offsets>(), 32);
        // Ring-buffer records must be at most 8-aligned.
        assert!(align_of::<ThreadRecord>() <= 8);
    }

    #[test]
    fn kinds_round_trip() {
        for k in [RecordKind::ThreadExit, RecordKind::ThreadSnapshot] {
            assert_eq!(RecordKind::from_u32(k as u32), Some(k));
        }
        assert_eq!(RecordKind::from_u32(0), None);
        assert_eq!(RecordKind::from_u32(999), None);
    }
}
