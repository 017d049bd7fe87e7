//! Types and pure logic shared by the kernel programs (`tracer-ebpf`) and user space
//! (`tracer`). Everything that crosses the kernel/user boundary is defined here once:
//! `#[repr(C)]`, no implicit padding, plain integers only.
#![no_std]
#![warn(clippy::undocumented_unsafe_blocks)]

#[cfg(feature = "alloc")]
extern crate alloc;

pub mod kernel;
pub mod names;
pub mod record;
pub mod sched;
mod syscall_names;
pub mod syscalls;
pub mod units;

#[cfg(feature = "user")]
mod user;
