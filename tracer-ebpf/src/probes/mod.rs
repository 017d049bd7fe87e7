//! One module per subsystem.
pub mod sched;
