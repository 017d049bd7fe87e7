//! `tracer`: what a process's I/O costs inside the kernel, traced with eBPF.
//!
//! Data flows one way: kernel programs (`tracer-ebpf`) -> ring buffer and maps
//! ([`collect`]) -> [`decode`] -> [`analysis`] (pure folds into a [`report::Report`], the
//! model) <- [`render`] (table, JSON, CSV, flame graphs, metrics, Perfetto). [`plan`]
//! decides from the kernel's BTF what to load, [`session`] loads and attaches it,
//! [`target`] resolves what to trace.
#![warn(clippy::undocumented_unsafe_blocks)]

pub mod analysis;
pub mod btf;
pub mod check;
pub mod cli;
pub mod collect;
pub mod cost;
pub mod decode;
pub mod demo;
pub mod manual;
pub mod mappings;
pub mod output;
pub mod plan;
pub mod procfs;
pub mod recording;
pub mod render;
pub mod report;
pub mod sections;
pub mod serve;
pub mod session;
pub mod signals;
pub mod symbols;
pub mod target;
pub mod top;
pub mod trace;
