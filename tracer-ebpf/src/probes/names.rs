//! Naming a faulted file in the kernel. User space could read /proc/PID/map_files or
//! /proc/PID/maps instead, but both take the target's mmap lock: the target's next mmap
//! or fault then waits for the tracer (it showed up as the target's waker). Here the
//! name comes from the dentry tree at the file's first fault, once per file.
#![expect(
    clippy::needless_borrows_for_generic_args,
    reason = "aya-ebpf's map methods take `impl Borrow`: a key or value passed by value is copied onto the 512-byte BPF stack, which the probes that inline these calls then exceed (page_fault_kernel, sched_switch, sys_enter); borrowed, it is not copied"
)]
use aya_ebpf::helpers::{bpf_get_current_pid_tgid, generated::bpf_probe_read_kernel_str};
use tracer_common::record::{
    FILE_NAME_BYTES, FileNameRecord, NAME_DELETED, NAME_KERNEL_FORM, NAME_TRUNCATED, RecordKind,
};

use super::kernel::read;
use crate::{
    globals::off,
    maps::{NAMED, header, reserve, submit},
};

/// Directory levels walked: deeper paths are reported cut short.
const DEPTH: usize = 24;
/// Names are written at an offset below `STARTS`, each at most `NAME` long (NAME_MAX +
/// NUL), so every write stays inside the record's `path` (the verifier checks the
/// largest offset plus the largest length): paths up to 767 bytes are whole.
const STARTS: u32 = 512;
const NAME: u32 = 256;

/// Sends the name of file (dev, ino), whose inode is at `inode`, unless it was sent.
#[inline(always)]
pub fn name_once(inode: u64, dev: u32, ino: u64) {
    let key = [ino, u64::from(dev)];
    // SAFETY: the value is not read.
    if unsafe { NAMED.get(&key) }.is_some() || NAMED.insert(&key, &0, 0).is_err() {
        return;
    }
    let Some(mut entry) = reserve::<FileNameRecord>() else { return };
    let r = entry.as_mut_ptr();
    let pid_tgid = bpf_get_current_pid_tgid();
    // SAFETY: a reserved ring slot of the right size, written field by field (the record
    // is too large for the stack).
    unsafe {
        (*r).header = header(RecordKind::FileName as u32, pid_tgid as u32, (pid_tgid >> 32) as u32);
        (*r).ino = ino;
        (*r).dev = dev;
        let out = (*r).path.as_mut_ptr();
        let (flags, end) = walk(inode, out);
        (*r).flags = flags;
        // An empty name ends the list: the ring slot holds whatever an older record left
        // there, and the reader takes names until an empty one. Every name starts below
        // STARTS and is at most NAME long, so the names end below FILE_NAME_BYTES; the mask
        // shows the verifier so.
        *out.add(end as usize & (FILE_NAME_BYTES - 1)) = 0;
    }
    submit(entry);
}

/// Writes the names from one of the inode's dentries up to its filesystem's root into
/// `out`, leaf first, each NUL-terminated; returns the `NAME_*` flags and where the
/// names end.
#[inline(always)]
fn walk(inode: u64, out: *mut u8) -> (u32, u32) {
    let Some(alias) = read::<u64>(inode, off!(inode_dentry)).filter(|&a| a != 0) else { return (NAME_KERNEL_FORM, 0) };
    let mut dentry = alias - u64::from(off!(dentry_alias));
    let mut flags = NAME_KERNEL_FORM;
    if read::<u64>(dentry, off!(dentry_hash) + 8) == Some(0) {
        flags |= NAME_DELETED;
    }
    let mut pos: u32 = 0;
    for _ in 0..DEPTH {
        let Some(parent) = read::<u64>(dentry, off!(dentry_parent)) else { return (flags | NAME_TRUNCATED, pos) };
        if parent == dentry {
            return (flags, pos);
        }
        // qstr: { hash_len: u64, name: *const u8 }
        let Some(name) = read::<u64>(dentry, off!(dentry_name) + 8) else { return (flags | NAME_TRUNCATED, pos) };
        if pos >= STARTS {
            return (flags | NAME_TRUNCATED, pos);
        }
        // SAFETY: the masked offset plus NAME bytes stays inside `path`.
        let n =
            unsafe { bpf_probe_read_kernel_str(out.add((pos & (STARTS - 1)) as usize).cast(), NAME, name as *const _) };
        if n <= 0 {
            return (flags | NAME_TRUNCATED, pos);
        }
        pos += n as u32;
        dentry = parent;
    }
    (flags | NAME_TRUNCATED, pos)
}
