//! An io_uring instance whose every syscall is counted. The `io-uring` crate maps the rings
//! and lays out SQEs and CQEs; the syscalls it makes on our behalf (io_uring_setup, the ring
//! mmaps and munmaps, io_uring_enter, io_uring_register, close) are recorded in [`Sys`]
//! here, one for one, so the summary still holds every call the program made. Each SQE
//! carries its opcode in the low byte of its user_data, so every CQE is counted under the
//! opcode of the request that produced it ([`Stats`]).
mod buf_ring;
mod cqe;
mod probe;
mod stats;

use std::{io, time::Duration};

use io_uring::{IoUring, squeue, types};

pub use self::{
    buf_ring::BufRing,
    cqe::{Cqe, IORING_NOTIF_USAGE_ZC_COPIED, user_data},
    probe::{Feature, Kernel, refusal},
    stats::{Stats, op_name},
};
use crate::sys::{Call, Sys};

/// From linux/io_uring.h (the crate keeps its copy private).
pub const IORING_RECV_MULTISHOT: u16 = 1 << 1;
pub const IORING_SEND_ZC_REPORT_USAGE: u16 = 1 << 3;
const IORING_ENTER_GETEVENTS: u32 = 1 << 0;
const IORING_ENTER_SQ_WAKEUP: u32 = 1 << 1;
const IORING_ENTER_SQ_WAIT: u32 = 1 << 2;
const IORING_ENTER_EXT_ARG: u32 = 1 << 3;

/// With SQPOLL, how long the thread polls the CQ for a completion before it sleeps in
/// io_uring_enter (a busy server finds one within this and makes no syscall at all).
const SQPOLL_SPIN: Duration = Duration::from_micros(200);

pub struct Ring {
    ring: IoUring,
    pub stats: Stats,
    sqpoll: bool,
    /// Mappings the crate made for the rings (2 with IORING_FEAT_SINGLE_MMAP, else 3).
    mmaps: u32,
}

impl Ring {
    /// io_uring_setup with `entries` SQEs (SQPOLL with that idle time in ms if asked),
    /// then the crate's mmaps of the rings.
    pub fn new(sys: &mut Sys, entries: u32, sqpoll_idle_ms: Option<u32>) -> io::Result<Self> {
        let mut builder = IoUring::builder();
        if let Some(idle) = sqpoll_idle_ms {
            builder.setup_sqpoll(idle);
        }
        let ring = match builder.build(entries) {
            Ok(ring) => ring,
            Err(e) => {
                // The setup call is what fails in practice (EINVAL for a flag the kernel
                // lacks, EPERM, ENOMEM); a failed mmap after it would be one more call.
                sys.record(Call::IoUringSetup, &Err(io::Error::from_raw_os_error(e.raw_os_error().unwrap_or(0))));
                return Err(e);
            }
        };
        sys.record(Call::IoUringSetup, &Ok(0));
        let mmaps = if ring.params().is_feature_single_mmap() { 2 } else { 3 };
        for _ in 0..mmaps {
            sys.record(Call::Mmap, &Ok(0));
        }
        Ok(Self { ring, stats: Stats::default(), sqpoll: sqpoll_idle_ms.is_some(), mmaps })
    }

    pub fn fd(&self) -> i32 {
        use std::os::fd::AsRawFd;
        self.ring.as_raw_fd()
    }

    /// What this kernel offers: IORING_REGISTER_PROBE, and the ring's feature bits.
    pub fn kernel(&self, sys: &mut Sys) -> io::Result<Kernel> {
        let mut probe = io_uring::Probe::new();
        let r = self.ring.submitter().register_probe(&mut probe);
        sys.record(Call::IoUringRegister, &r.as_ref().map(|_| 0).map_err(copy_err));
        r?;
        let p = self.ring.params();
        Ok(Kernel {
            ops: (0..=u8::MAX).filter(|&op| probe.is_supported(op)).collect(),
            sqpoll_nonfixed: p.is_feature_sqpoll_nonfixed(),
            sqpoll: p.is_setup_sqpoll(),
        })
    }

    /// Registers a provided-buffer ring (IORING_REGISTER_PBUF_RING).
    pub fn register_buf_ring(&self, sys: &mut Sys, ring: &BufRing) -> io::Result<()> {
        // SAFETY: the BufRing's memory stays mapped until after this ring is closed.
        let r =
            unsafe { self.ring.submitter().register_buf_ring_with_flags(ring.addr(), ring.entries(), ring.bgid, 0) };
        sys.record(Call::IoUringRegister, &r.as_ref().map(|_| 0).map_err(copy_err));
        r
    }

    /// Queues an SQE for `token`; when the SQ is full, hands it to the kernel first.
    ///
    /// # Safety
    /// Buffers and fds the entry refers to must stay valid until its last CQE is reaped.
    pub unsafe fn push(&mut self, sys: &mut Sys, token: u64, entry: squeue::Entry) -> io::Result<()> {
        let op = entry.get_opcode() as u8;
        let entry = entry.user_data(user_data(token, op));
        loop {
            // SAFETY: the caller's contract.
            if unsafe { self.ring.submission().push(&entry) }.is_ok() {
                self.stats.sqe(op);
                return Ok(());
            }
            let flags = if self.sqpoll { IORING_ENTER_SQ_WAIT } else { 0 };
            self.enter(sys, 0, flags, None)?;
        }
    }

    /// Hands queued SQEs to the kernel and waits until at least `want` completions are in
    /// the CQ. With SQPOLL the kernel thread takes the SQEs: the ring wakes it
    /// only if it sleeps (IORING_SQ_NEED_WAKEUP), and polls the CQ a moment before it
    /// sleeps in the kernel itself.
    pub fn submit_and_wait(&mut self, sys: &mut Sys, want: u32) -> io::Result<()> {
        if !self.sqpoll {
            return self.enter(sys, want, IORING_ENTER_GETEVENTS, None).map(drop);
        }
        let wake = if self.ring.submission().need_wakeup() { IORING_ENTER_SQ_WAKEUP } else { 0 };
        let started = std::time::Instant::now();
        let ready = |r: &mut IoUring| r.completion().len() >= want as usize;
        while !ready(&mut self.ring) && started.elapsed() < SQPOLL_SPIN {
            std::hint::spin_loop();
        }
        if !ready(&mut self.ring) {
            self.enter(sys, want, IORING_ENTER_GETEVENTS | wake, None).map(drop)
        } else if wake != 0 {
            self.enter(sys, 0, wake, None).map(drop)
        } else {
            Ok(())
        }
    }

    /// Like [`Self::submit_and_wait`] but gives up after `timeout` (the wait fails with
    /// ETIME, counted as the enter's error).
    pub fn wait_timeout(&mut self, sys: &mut Sys, timeout: Duration) -> io::Result<()> {
        let ts = types::Timespec::from(timeout);
        let args = types::SubmitArgs::new().timespec(&ts);
        let wake = if self.sqpoll && self.ring.submission().need_wakeup() { IORING_ENTER_SQ_WAKEUP } else { 0 };
        self.enter(sys, 1, IORING_ENTER_GETEVENTS | IORING_ENTER_EXT_ARG | wake, Some(&args)).map(drop)
    }

    fn enter(
        &mut self,
        sys: &mut Sys,
        min_complete: u32,
        flags: u32,
        args: Option<&types::SubmitArgs<'_, '_>>,
    ) -> io::Result<usize> {
        let to_submit = self.ring.submission().len() as u32;
        let submitter = self.ring.submitter();
        // SAFETY: flags and the optional extended argument match (EXT_ARG iff args).
        let r = unsafe {
            match args {
                Some(a) => submitter.enter(to_submit, min_complete, flags, Some(a)),
                None => submitter.enter::<libc::sigset_t>(to_submit, min_complete, flags, None),
            }
        };
        sys.record(Call::IoUringEnter, &r.as_ref().copied().map_err(copy_err));
        self.stats.enter(min_complete, flags & IORING_ENTER_SQ_WAKEUP != 0, &r);
        r
    }

    /// Every completion waiting in the CQ, counted.
    pub fn reap(&mut self, out: &mut Vec<Cqe>) {
        out.clear();
        for c in self.ring.completion() {
            let data = c.user_data();
            let cqe = Cqe { token: data >> 8, op: data as u8, res: c.result(), flags: c.flags() };
            self.stats.cqe(&cqe);
            out.push(cqe);
        }
    }

    /// Unmaps the rings and closes the ring fd (the crate's Drop), counted. The kernel
    /// cancels whatever is still in flight.
    pub fn close(self, sys: &mut Sys) -> Stats {
        for _ in 0..self.mmaps {
            sys.record(Call::Munmap, &Ok(0));
        }
        sys.record(Call::Close, &Ok(0));
        let Self { ring, stats, .. } = self;
        drop(ring);
        stats
    }
}

fn copy_err(e: &io::Error) -> io::Error {
    io::Error::from_raw_os_error(e.raw_os_error().unwrap_or(0))
}
