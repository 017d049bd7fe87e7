//! `--perfetto`: the timeline's events as the kernel sent them, kept in order of arrival
//! up to a bound (a long trace of a busy target sends millions); those past it are counted,
//! and the report says how many.
use tracer_common::record::{CpuSlice, SoftirqSlice, SyscallSlice, WakeEvent};

use crate::decode::Record;

/// Events kept by default: ~64 bytes each, so at most ~256 MiB.
pub const MAX_EVENTS: usize = 4_000_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    Cpu(CpuSlice),
    Syscall(SyscallSlice),
    Wake(WakeEvent),
    Softirq(SoftirqSlice),
}

#[derive(Clone, Debug)]
pub struct Timeline {
    pub events: Vec<Event>,
    /// Events past `limit`, not kept.
    pub dropped: u64,
    limit: usize,
}

impl Default for Timeline {
    fn default() -> Self {
        Self::with_limit(MAX_EVENTS)
    }
}

impl Timeline {
    pub fn with_limit(limit: usize) -> Self {
        Self { events: Vec::new(), dropped: 0, limit }
    }

    pub fn push(&mut self, record: &Record) {
        let event = match record {
            Record::CpuSlice(r) => Event::Cpu(*r),
            Record::SyscallSlice(r) => Event::Syscall(*r),
            Record::Wake(r) => Event::Wake(*r),
            Record::SoftirqSlice(r) => Event::Softirq(*r),
            _ => return,
        };
        if self.events.len() < self.limit {
            self.events.push(event);
        } else {
            self.dropped += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_events_up_to_its_bound_and_counts_the_rest() {
        let mut t = Timeline::with_limit(2);
        for i in 0..5 {
            t.push(&Record::CpuSlice(CpuSlice { start_ns: i, ..CpuSlice::default() }));
        }
        t.push(&Record::Epoll(Default::default()));
        assert_eq!(t.events.len(), 2);
        assert_eq!(t.dropped, 3, "the other kinds are not the timeline's");
        assert_eq!(t.events[1], Event::Cpu(CpuSlice { start_ns: 1, ..CpuSlice::default() }));
    }
}
