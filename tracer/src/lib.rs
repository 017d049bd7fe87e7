//! `tracer`: what a process's I/O costs inside the kernel, traced with eBPF.
//!
//! Data flows one way: kernel programs (`tracer-ebpf`) -> ring buffer and maps
//! ([`collect`]) -> [`decode`] -> [`analysis`] (pure folds into a [`report::Report`]) ->
//! [`report`] rendering (table, JSON, CSV). [`session`] loads and attaches the programs,
//! [`target`] resolves what to trace, [`tracefs`] reads this kernel's tracepoint formats.

pub mod analysis;
pub mod btf;
pub mod cli;
pub mod collect;
pub mod decode;
pub mod demo;
pub mod layout;
pub mod mappings;
pub mod recording;
pub mod report;
pub mod session;
pub mod target;
pub mod trace;
