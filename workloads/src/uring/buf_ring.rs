//! A provided-buffer ring (IORING_REGISTER_PBUF_RING, 5.19): buffers the kernel picks from
//! for each multishot RECV completion, and that the program hands back once it has sent
//! their bytes on. Its memory is mapped and unmapped with counted calls.
use std::{io, sync::atomic};

use crate::sys::{Call, Sys};

/// One ring entry, as linux/io_uring.h lays out `struct io_uring_buf`; the ring's tail is
/// the last 16 bits of entry 0 (`struct io_uring_buf_ring`).
#[repr(C)]
struct Entry {
    addr: u64,
    len: u32,
    bid: u16,
    resv: u16,
}

pub struct BufRing {
    pub bgid: u16,
    /// Power of two, at most 32768.
    entries: u16,
    pub buf_len: u32,
    ring: *mut Entry,
    bufs: *mut u8,
    tail: u16,
}

// SAFETY: the mappings belong to the BufRing alone; moving it to the thread that uses the
// ring moves them with it.
unsafe impl Send for BufRing {}

impl BufRing {
    /// `entries` buffers of `buf_len` bytes, all handed to the kernel (after registration).
    pub fn new(sys: &mut Sys, bgid: u16, entries: u16, buf_len: u32) -> io::Result<Self> {
        assert!(entries.is_power_of_two());
        let ring = map(sys, usize::from(entries) * size_of::<Entry>())? as *mut Entry;
        let bufs = map(sys, usize::from(entries) * buf_len as usize)?;
        let mut r = Self { bgid, entries, buf_len, ring, bufs, tail: 0 };
        for bid in 0..entries {
            r.give(bid);
        }
        Ok(r)
    }

    pub fn addr(&self) -> u64 {
        self.ring as u64
    }

    pub fn entries(&self) -> u16 {
        self.entries
    }

    /// The bytes the kernel put in buffer `bid`.
    pub fn buf(&self, bid: u16, len: usize) -> *const u8 {
        assert!(bid < self.entries && len <= self.buf_len as usize);
        // SAFETY: within the buffers' mapping.
        unsafe { self.bufs.add(usize::from(bid) * self.buf_len as usize) }
    }

    /// Hands buffer `bid` back to the kernel.
    pub fn give(&mut self, bid: u16) {
        let slot = usize::from(self.tail & (self.entries - 1));
        // SAFETY: `slot` < entries, within the ring's mapping; the kernel reads an entry only
        // once the tail published below covers it.
        unsafe {
            let e = self.ring.add(slot);
            (*e).addr = self.buf(bid, 0) as u64;
            (*e).len = self.buf_len;
            (*e).bid = bid;
            self.tail = self.tail.wrapping_add(1);
            let tail = &*(self.ring.cast::<u8>().add(14) as *const atomic::AtomicU16);
            tail.store(self.tail, atomic::Ordering::Release);
        }
    }

    /// Unmaps the ring and the buffers (after the io_uring that used them is closed).
    pub fn unmap(self, sys: &mut Sys) {
        let ring_len = usize::from(self.entries) * size_of::<Entry>();
        let _ = sys.call(Call::Munmap, [self.ring as usize, ring_len, 0, 0, 0, 0]);
        let _ =
            sys.call(Call::Munmap, [self.bufs as usize, usize::from(self.entries) * self.buf_len as usize, 0, 0, 0, 0]);
    }
}

fn map(sys: &mut Sys, len: usize) -> io::Result<*mut u8> {
    let prot = (libc::PROT_READ | libc::PROT_WRITE) as usize;
    let flags = (libc::MAP_PRIVATE | libc::MAP_ANONYMOUS) as usize;
    sys.call(Call::Mmap, [0, len, prot, flags, usize::MAX, 0]).map(|a| a as *mut u8)
}
