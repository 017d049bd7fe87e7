//! x86-64 syscall numbers the tracer treats specially, and the classification both sides
//! share: which calls move data (and which way), which are zero-copy, which wait on epoll.
pub use crate::syscall_names::NAMES;

/// Slots in the per-syscall stats array (x86-64 numbers are below 512).
pub const SLOTS: u32 = 512;

pub const READ: u64 = 0;
pub const WRITE: u64 = 1;
pub const MMAP: u64 = 9;
pub const MUNMAP: u64 = 11;
pub const PREAD64: u64 = 17;
pub const PWRITE64: u64 = 18;
pub const READV: u64 = 19;
pub const WRITEV: u64 = 20;
pub const SENDFILE: u64 = 40;
pub const SENDTO: u64 = 44;
pub const RECVFROM: u64 = 45;
pub const SENDMSG: u64 = 46;
pub const RECVMSG: u64 = 47;
pub const RT_SIGRETURN: u64 = 15;
pub const CLONE: u64 = 56;
pub const FORK: u64 = 57;
pub const VFORK: u64 = 58;
pub const CLONE3: u64 = 435;
pub const EXECVE: u64 = 59;
pub const EXECVEAT: u64 = 322;
pub const EPOLL_WAIT: u64 = 232;
pub const EPOLL_CTL: u64 = 233;
pub const SPLICE: u64 = 275;
pub const TEE: u64 = 276;
pub const VMSPLICE: u64 = 278;
pub const EPOLL_PWAIT: u64 = 281;
pub const PREADV: u64 = 295;
pub const PWRITEV: u64 = 296;
pub const COPY_FILE_RANGE: u64 = 326;
pub const PREADV2: u64 = 327;
pub const PWRITEV2: u64 = 328;
pub const EPOLL_PWAIT2: u64 = 441;

/// How a syscall moves data, if it does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DataClass {
    None,
    /// Kernel -> user memory, copied by the CPU (read, recv families).
    In,
    /// User -> kernel memory, copied by the CPU (write, send families).
    Out,
    Sendfile,
    Splice,
    Tee,
    Vmsplice,
    CopyFileRange,
}

/// recvmmsg/sendmmsg return a message count, not bytes, so they are not data calls here.
pub const fn data_class(nr: u64) -> DataClass {
    match nr {
        READ | PREAD64 | READV | RECVFROM | RECVMSG | PREADV | PREADV2 => DataClass::In,
        WRITE | PWRITE64 | WRITEV | SENDTO | SENDMSG | PWRITEV | PWRITEV2 => DataClass::Out,
        SENDFILE => DataClass::Sendfile,
        SPLICE => DataClass::Splice,
        TEE => DataClass::Tee,
        VMSPLICE => DataClass::Vmsplice,
        COPY_FILE_RANGE => DataClass::CopyFileRange,
        _ => DataClass::None,
    }
}

pub const POLL: u64 = 7;
pub const SELECT: u64 = 23;
pub const PSELECT6: u64 = 270;
pub const PPOLL: u64 = 271;

/// Calls that make a task: its child returns from them too (0), through the syscall exit.
pub const fn is_fork(nr: u64) -> bool {
    matches!(nr, CLONE | FORK | VFORK | CLONE3)
}

/// Calls that wait for readiness and return how many fds (events) are ready.
pub const fn is_readiness_wait(nr: u64) -> bool {
    matches!(nr, POLL | SELECT | PSELECT6 | PPOLL) || is_epoll_wait(nr)
}

pub const fn is_epoll_wait(nr: u64) -> bool {
    matches!(nr, EPOLL_WAIT | EPOLL_PWAIT | EPOLL_PWAIT2)
}

/// Write-family calls that take a buffer pointer as their second argument (the others take
/// an iovec or a msghdr).
pub const fn out_buffer_is_arg1(nr: u64) -> bool {
    matches!(nr, WRITE | PWRITE64 | SENDTO)
}

/// A syscall's name ("syscall_N" for a number this table does not know).
#[cfg(feature = "user")]
pub fn name(nr: u32) -> alloc::borrow::Cow<'static, str> {
    match NAMES.get(nr as usize) {
        Some(n) if !n.is_empty() => alloc::borrow::Cow::Borrowed(n),
        _ => alloc::borrow::Cow::Owned(alloc::format!("syscall_{nr}")),
    }
}

/// The bucket of a log2 latency histogram: bucket b holds [2^b, 2^(b+1)) ns, bucket 0 also
/// holds 0, the last bucket everything above.
pub const LATENCY_BUCKETS: usize = 32;

#[inline(always)]
pub const fn log2_bucket(ns: u64) -> usize {
    let b = 63 - (ns | 1).leading_zeros() as usize;
    if b >= LATENCY_BUCKETS { LATENCY_BUCKETS - 1 } else { b }
}

/// `epoll_ctl` operations and the event flags worth reporting.
pub const EPOLL_CTL_ADD: u64 = 1;
pub const EPOLL_CTL_DEL: u64 = 2;
pub const EPOLL_CTL_MOD: u64 = 3;
pub const EPOLLEXCLUSIVE: u32 = 1 << 28;
pub const EPOLLWAKEUP: u32 = 1 << 29;
pub const EPOLLONESHOT: u32 = 1 << 30;
pub const EPOLLET: u32 = 1 << 31;

/// Syscalls return -errno in [-4095, -1].
#[inline(always)]
pub fn is_error(ret: i64) -> bool {
    (-4095..0).contains(&ret)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_match_the_numbers_used() {
        for (nr, name) in [
            (READ, "read"),
            (WRITE, "write"),
            (SENDFILE, "sendfile"),
            (EPOLL_WAIT, "epoll_wait"),
            (EPOLL_CTL, "epoll_ctl"),
            (SPLICE, "splice"),
            (TEE, "tee"),
            (VMSPLICE, "vmsplice"),
            (EPOLL_PWAIT, "epoll_pwait"),
            (COPY_FILE_RANGE, "copy_file_range"),
            (EPOLL_PWAIT2, "epoll_pwait2"),
            (PREADV2, "preadv2"),
            (EXECVE, "execve"),
            (MUNMAP, "munmap"),
        ] {
            assert_eq!(NAMES[nr as usize], name);
        }
        assert!(NAMES.len() <= SLOTS as usize);
    }

    #[test]
    fn classes() {
        assert_eq!(data_class(RECVMSG), DataClass::In);
        assert_eq!(data_class(PWRITEV2), DataClass::Out);
        assert_eq!(data_class(MMAP), DataClass::None);
        assert_eq!(data_class(307), DataClass::None, "sendmmsg returns a message count");
        assert!(is_epoll_wait(EPOLL_PWAIT2) && !is_epoll_wait(EPOLL_CTL));
    }

    #[test]
    fn buckets() {
        assert_eq!(log2_bucket(0), 0);
        assert_eq!(log2_bucket(1), 0);
        assert_eq!(log2_bucket(2), 1);
        assert_eq!(log2_bucket(1023), 9);
        assert_eq!(log2_bucket(1024), 10);
        assert_eq!(log2_bucket(u64::MAX), LATENCY_BUCKETS - 1);
    }
}
