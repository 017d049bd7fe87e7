//! Types and pure logic shared by the kernel programs (`tracer-ebpf`) and user space
//! (`tracer`). Everything that crosses the kernel/user boundary is defined here once:
//! `#[repr(C)]`, no implicit padding, plain integers only.
#![no_std]

pub mod names;
pub mod record;
pub mod sched;
pub mod units;

#[cfg(feature = "user")]
mod user;
