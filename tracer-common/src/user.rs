//! User-space only: lets aya copy these types in and out of maps.
use crate::record::{Header, Offsets, SwitchCounts, ThreadRecord, ThreadState};

// SAFETY: all are #[repr(C)], Copy, made of integers, with no implicit padding (checked by
// `layouts_have_no_implicit_padding`), so every bit pattern is valid.
unsafe impl aya::Pod for Header {}
unsafe impl aya::Pod for SwitchCounts {}
unsafe impl aya::Pod for ThreadState {}
unsafe impl aya::Pod for ThreadRecord {}
unsafe impl aya::Pod for Offsets {}
