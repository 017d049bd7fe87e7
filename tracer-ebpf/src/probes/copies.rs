//! The copy ledger: which path each data-moving syscall took, how many bytes the CPU
//! copied between user and kernel memory, and how many moved without such a copy.
//!
//! Rules (per call, at exit, `ret` > 0 for bytes):
//! - read/recv families: CPU copy kernel -> user; `recv` from a socket (tagged by
//!   sock:sock_recv_length inside the call), else `read-write`.
//! - write/send families: CPU copy user -> kernel; `mmap-write` when the source buffer lies
//!   in a file mapping the process made while traced (tracked from mmap/munmap; library
//!   mappings by ld.so excluded), else `read-write`.
//! - sendfile, copy_file_range: their own paths, zero-copy bytes.
//! - splice: a payload crossing a pipe is counted once, on the leg whose output is not a
//!   pipe; that leg belongs to `vmsplice` when user pages fed the pipe, else to `splice`.
//!   vmsplice into a pipe is a call of the `vmsplice` path (its bytes are counted when
//!   spliced out); vmsplice out of a pipe copies to user memory (`read-write`).
//! - tee duplicates pipe to pipe: a call of the `splice` path, no bytes of its own.
//!
//! Which end of a splice is a pipe needs the fd's inode: a walk of
//! current->files->fdt->fd[n]->f_inode with offsets from vmlinux BTF, done only for
//! splice/vmsplice, never for the hot read/write calls.
#![expect(
    clippy::needless_borrows_for_generic_args,
    reason = "aya-ebpf's map methods take `impl Borrow`: a key or value passed by value is copied onto the 512-byte BPF stack, which the probes that inline these calls then exceed (page_fault_kernel, sched_switch, sys_enter); borrowed, it is not copied"
)]
use aya_ebpf::{
    helpers::{bpf_probe_read_user, generated::bpf_get_current_task},
    macros::btf_tracepoint,
    programs::BtfTracePointContext,
};
use tracer_common::{
    record::{
        Counter, MapRange, Path, ProcState, SOCK_RECV, SPLICE_IN_PIPE, SPLICE_OUT_PIPE, ThreadState, VMSPLICE_GIFT,
    },
    syscalls::{DataClass, MMAP, MUNMAP, SENDMSG, data_class, is_error, out_buffer_is_arg1},
};

use super::kernel::{arg, clear, read};
use crate::{
    globals::{off, variant},
    maps::{PIPE_FEEDERS, count, hit, ledger, target_state},
};

const S_IFMT: u16 = 0o170000;
const S_IFIFO: u16 = 0o010000;
const S_IFSOCK: u16 = 0o140000;
const FMODE_WRITE: u32 = 0x2;
const MAP_ANONYMOUS: u64 = 0x20;
/// glibc's ld.so maps libraries with MAP_COPY = MAP_PRIVATE | MAP_DENYWRITE; applications
/// never pass MAP_DENYWRITE (the kernel ignores it), so it tells library mappings apart.
const MAP_DENYWRITE: u64 = 0x0800;
const PROT_EXEC: u64 = 0x4;
/// include/linux/blk_types.h: the low 8 bits of cmd_flags are the operation.
const REQ_OP_MASK: u32 = 0xff;
const REQ_OP_READ: u32 = 0;
const REQ_OP_WRITE: u32 = 1;
const IFF_LOOPBACK: u32 = 0x8;

pub fn enter(t: &mut ThreadState, regs: *const u64, nr: u64) {
    t.sys.path = Path::ReadWrite as u32;
    match data_class(nr) {
        // Without sock:sock_recv_length, a receive is a read from a socket fd.
        DataClass::In if variant!(recv_by_fd) != 0 => {
            if fd_inode(arg(regs, 0)).and_then(|(inode, _)| inode_mode(inode)).is_some_and(|m| m & S_IFMT == S_IFSOCK) {
                t.sys.flags |= SOCK_RECV;
            }
        }
        DataClass::Out => {
            let mapped = target_state(t.tgid).is_some_and(|p| has_maps(p) && in_maps(p, out_buffer(regs, nr)));
            if mapped {
                t.sys.path = Path::MmapWrite as u32;
            }
        }
        DataClass::Splice => {
            let (fd_in, fd_out) = (arg(regs, 0), arg(regs, 2));
            if let Some(inode) = pipe_inode(fd_in).map(|(inode, _)| inode) {
                t.sys.flags |= SPLICE_IN_PIPE;
                t.sys.args[0] = inode;
            }
            if let Some(inode) = pipe_inode(fd_out).map(|(inode, _)| inode) {
                t.sys.flags |= SPLICE_OUT_PIPE;
                t.sys.args[1] = inode;
            }
        }
        DataClass::Vmsplice => {
            if let Some((inode, fmode)) = pipe_inode(arg(regs, 0)) {
                if fmode & FMODE_WRITE != 0 {
                    t.sys.flags |= VMSPLICE_GIFT;
                    t.sys.args[0] = inode;
                }
            }
        }
        _ if nr == MMAP => t.sys.args = [arg(regs, 1), arg(regs, 2), arg(regs, 3), arg(regs, 4)],
        _ if nr == MUNMAP => {
            if let Some(p) = target_state(t.tgid) {
                unmap(p, arg(regs, 0));
            }
        }
        _ => {}
    }
}

pub fn exit(t: &mut ThreadState, nr: u64, ret: i64) -> (u64, u64) {
    let bytes = if is_error(ret) || ret < 0 { 0 } else { ret as u64 };
    match data_class(nr) {
        DataClass::In => {
            let path = if t.sys.flags & SOCK_RECV != 0 { Path::Recv } else { Path::ReadWrite };
            book(path, 1, 0, bytes, bytes, 0, 0)
        }
        DataClass::Out => {
            let path = if t.sys.path == Path::MmapWrite as u32 { Path::MmapWrite } else { Path::ReadWrite };
            book(path, 1, bytes, 0, 0, bytes, 0)
        }
        DataClass::Sendfile => book(Path::Sendfile, 1, bytes, 0, 0, 0, bytes),
        DataClass::CopyFileRange => book(Path::CopyFileRange, 1, bytes, 0, 0, 0, bytes),
        DataClass::Tee => book(Path::Splice, 1, 0, 0, 0, 0, 0),
        DataClass::Splice => {
            let flags = t.sys.flags;
            if flags & SPLICE_OUT_PIPE != 0 {
                // An input leg: the payload is counted when it leaves the pipe.
                if bytes > 0 {
                    let _ = PIPE_FEEDERS.insert(&t.sys.args[1], &(Path::Splice as u32), 0);
                }
                book(Path::Splice, 1, 0, 0, 0, 0, 0)
            } else {
                let fed_by_user_pages = flags & SPLICE_IN_PIPE != 0
                    // SAFETY: a plain map value.
                    && unsafe { PIPE_FEEDERS.get(&t.sys.args[0]) }.is_some_and(|&p| p == Path::Vmsplice as u32);
                let path = if fed_by_user_pages { Path::Vmsplice } else { Path::Splice };
                book(path, 1, bytes, 0, 0, 0, bytes)
            }
        }
        DataClass::Vmsplice => {
            if t.sys.flags & VMSPLICE_GIFT != 0 {
                if bytes > 0 {
                    let _ = PIPE_FEEDERS.insert(&t.sys.args[0], &(Path::Vmsplice as u32), 0);
                }
                book(Path::Vmsplice, 1, 0, 0, 0, 0, 0)
            } else {
                book(Path::ReadWrite, 1, 0, bytes, bytes, 0, 0)
            }
        }
        DataClass::None if nr == MMAP && bytes > 0 => {
            let [len, prot, flags, fd] = t.sys.args;
            if (fd as i64) >= 0 && flags & (MAP_ANONYMOUS | MAP_DENYWRITE) == 0 && prot & PROT_EXEC == 0 {
                if let Some(p) = target_state(t.tgid) {
                    track_map(p, bytes, len);
                }
            }
            (0, 0)
        }
        DataClass::None => (0, 0),
    }
}

/// Books a call on `path`; returns the bytes it had the CPU copy and moved without that.
#[inline(always)]
fn book(path: Path, calls: u64, out: u64, inp: u64, k2u: u64, u2k: u64, zc: u64) -> (u64, u64) {
    if let Some(l) = ledger(path as u32) {
        l.calls += calls;
        l.bytes_out += out;
        l.bytes_in += inp;
        l.cpu_k2u += k2u;
        l.cpu_u2k += u2k;
        l.zero_copy += zc;
    }
    (k2u + u2k, zc)
}

/// The first source buffer of a write-family call.
fn out_buffer(regs: *const u64, nr: u64) -> u64 {
    if out_buffer_is_arg1(nr) {
        return arg(regs, 1);
    }
    // writev/pwritev*: arg1 is the iovec; sendmsg: arg1 is a msghdr whose msg_iov is at 16.
    let mut iov = arg(regs, 1);
    if nr == SENDMSG {
        // SAFETY: probe_read_user copes with any address.
        iov = unsafe { bpf_probe_read_user((iov + 16) as *const u64) }.unwrap_or(0);
    }
    // SAFETY: as above; iov_base is the first word of struct iovec.
    unsafe { bpf_probe_read_user(iov as *const u64) }.unwrap_or(0)
}

#[inline(always)]
fn has_maps(p: &ProcState) -> bool {
    p.maps.iter().any(|m| m.end != 0)
}

fn in_maps(p: &ProcState, addr: u64) -> bool {
    p.maps.iter().any(|m| m.start <= addr && addr < m.end)
}

fn track_map(p: &mut ProcState, start: u64, len: u64) {
    // Fill a free slot, or replace the oldest (slot 0) when all are taken.
    let slot = p.maps.iter().position(|m| m.end == 0).unwrap_or(0);
    if let Some(m) = p.maps.get_mut(slot) {
        *m = MapRange { start, end: start + len };
    }
}

fn unmap(p: &mut ProcState, start: u64) {
    for m in p.maps.iter_mut() {
        if m.end != 0 && m.start == start {
            clear(&mut m.start);
            clear(&mut m.end);
        }
    }
}

/// (inode address, f_mode) of fd `fd` of the current task if it is a pipe. Inlined: BPF
/// functions can only return what fits in a register.
#[inline(always)]
fn pipe_inode(fd: u64) -> Option<(u64, u32)> {
    let (inode, fmode) = fd_inode(fd)?;
    (inode_mode(inode)? & S_IFMT == S_IFIFO).then_some((inode, fmode))
}

#[inline(always)]
fn inode_mode(inode: u64) -> Option<u16> {
    read::<u16>(inode, off!(inode_mode))
}

/// (inode address, f_mode) of fd `fd` of the current task.
#[inline(always)]
fn fd_inode(fd: u64) -> Option<(u64, u32)> {
    // SAFETY: plain helper.
    let task = unsafe { bpf_get_current_task() };
    let fdt = read::<u64>(read::<u64>(task, off!(task_files))?, off!(files_fdt))?;
    if fd >= u64::from(read::<u32>(fdt, off!(fdt_max_fds))?) {
        return None;
    }
    let file = read::<u64>(read::<u64>(fdt, off!(fdt_fd))? + fd * 8, 0)?;
    Some((read::<u64>(file, off!(file_inode))?, read::<u32>(file, off!(file_mode))?))
}

/// skb_copy_datagram_iovec(const struct sk_buff *skb, int len): bytes the kernel copied
/// from socket buffers into the target's memory.
#[btf_tracepoint(function = "skb_copy_datagram_iovec")]
pub fn skb_copy_datagram_iovec(ctx: BtfTracePointContext) -> i32 {
    hit!("skb_copy_datagram_iovec");
    if crate::maps::is_target(current_tgid()) {
        let len: u64 = ctx.arg(1);
        count(Counter::SockCopyBytes, u64::from((len as i32).max(0) as u32));
    }
    0
}

/// sock_recv_length(struct sock *sk, int ret, int flags): a socket receive (read, recv*,
/// vmsplice on a socket) of a target thread. Tags the syscall in flight so its bytes go to
/// the `recv` path.
#[btf_tracepoint(function = "sock_recv_length")]
pub fn sock_recv_length(_ctx: BtfTracePointContext) -> i32 {
    hit!("sock_recv_length");
    if let Some((_, t)) = crate::maps::current_thread() {
        t.sys.flags |= SOCK_RECV;
    }
    0
}

/// block_rq_issue(struct request *rq): disk DMA the target caused, counted when the
/// request is issued in its context (synchronous reads and readahead; writeback is issued
/// later by kernel threads and is not the target's).
#[btf_tracepoint(function = "block_rq_issue")]
pub fn block_rq_issue(ctx: BtfTracePointContext) -> i32 {
    hit!("block_rq_issue");
    if crate::maps::is_target(current_tgid()) {
        let rq: u64 = ctx.arg(0);
        let (Some(bytes), Some(flags)) =
            (read::<u32>(rq, off!(request_data_len)), read::<u32>(rq, off!(request_cmd_flags)))
        else {
            return 0;
        };
        match flags & REQ_OP_MASK {
            REQ_OP_READ => {
                count(Counter::DiskReadBytes, u64::from(bytes));
                super::faults::add_disk_bytes(u64::from(bytes));
            }
            REQ_OP_WRITE => count(Counter::DiskWriteBytes, u64::from(bytes)),
            _ => {}
        }
    }
    0
}

/// net_dev_xmit(struct sk_buff *skb, int rc, struct net_device *dev, unsigned int len):
/// NIC DMA the target caused, i.e. packets it handed to a device other than loopback.
#[btf_tracepoint(function = "net_dev_xmit")]
pub fn net_dev_xmit(ctx: BtfTracePointContext) -> i32 {
    hit!("net_dev_xmit");
    if crate::maps::is_target(current_tgid()) {
        let dev: u64 = ctx.arg(2);
        let len: u64 = ctx.arg(3);
        if read::<u32>(dev, off!(netdev_flags)).is_some_and(|f| f & IFF_LOOPBACK == 0) {
            count(Counter::NicTxBytes, len & 0xffff_ffff);
        }
    }
    0
}

#[inline(always)]
fn current_tgid() -> u32 {
    (aya_ebpf::helpers::bpf_get_current_pid_tgid() >> 32) as u32
}
