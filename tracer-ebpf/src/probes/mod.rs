//! One module per subsystem. `syscalls` dispatches every syscall of the target to
//! `epoll` and `copies`; `sched` counts switches and on/off-CPU time and marks epoll waits
//! that block; `wakeups` attributes each wakeup using the per-CPU interrupt context that
//! `softirq` tracks (with the softirq statistics).
pub mod copies;
pub mod epoll;
pub mod faults;
pub mod floor;
pub mod kernel;
pub mod names;
pub mod sched;
pub mod softirq;
pub mod stacks;
pub mod syscalls;
pub mod timeline;
pub mod wakeups;
