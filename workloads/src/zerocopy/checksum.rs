//! The checksum every copy of the file is checked with, and the verifying read of a file.
use std::os::fd::RawFd;

use crate::sys::Sys;

/// An order-sensitive checksum that gives the same value however the bytes are chunked:
/// the sum of each little-endian 64-bit word times an odd weight that depends on its
/// position. Fast enough (several GB/s) not to be the bottleneck it is meant to measure.
#[derive(Clone, Debug, Default)]
pub struct Checksum {
    acc: u64,
    words: u64,
    partial: [u8; 8],
    plen: usize,
}

impl Checksum {
    pub fn update(&mut self, mut data: &[u8]) {
        if self.plen > 0 {
            let take = (8 - self.plen).min(data.len());
            self.partial[self.plen..self.plen + take].copy_from_slice(&data[..take]);
            self.plen += take;
            data = &data[take..];
            if self.plen < 8 {
                return;
            }
            self.word(u64::from_le_bytes(self.partial));
            self.plen = 0;
        }
        let mut words = data.chunks_exact(8);
        for w in &mut words {
            self.word(u64::from_le_bytes(w.try_into().unwrap()));
        }
        let rest = words.remainder();
        self.partial[..rest.len()].copy_from_slice(rest);
        self.plen = rest.len();
    }

    fn word(&mut self, w: u64) {
        self.acc =
            self.acc.wrapping_add(w.wrapping_mul(self.words.wrapping_mul(2).wrapping_add(0x9e37_79b9_7f4a_7c15) | 1));
        self.words += 1;
    }

    pub fn finish(&self) -> u64 {
        let mut tail = [0u8; 8];
        tail[..self.plen].copy_from_slice(&self.partial[..self.plen]);
        let mut c = self.clone();
        if self.plen > 0 {
            c.word(u64::from_le_bytes(tail));
        }
        c.acc ^ (self.words * 8 + self.plen as u64)
    }
}

/// Checksums of `copies` back-to-back copies of `size` bytes in `fd`, read with pread64.
pub fn checksums(sys: &mut Sys, fd: RawFd, size: u64, copies: u64) -> Vec<u64> {
    let mut buf = vec![0u8; 1 << 20];
    (0..copies)
        .map(|copy| {
            let mut sum = Checksum::default();
            let mut off = 0;
            while off < size {
                let len = (size - off).min(buf.len() as u64) as usize;
                match sys.pread(fd, &mut buf[..len], copy * size + off) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        sum.update(&buf[..n]);
                        off += n as u64;
                    }
                }
            }
            sum.finish()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksum_ignores_chunking_but_not_order() {
        // Not all the same byte, so that swapping two of them changes the sum.
        let data: Vec<u8> = (0..10_007u64).map(|i| (i * 7 + i / 251) as u8).collect();
        let mut whole = Checksum::default();
        whole.update(&data);
        for split in [1, 3, 7, 8, 9, 4096, 10_000] {
            let mut parts = Checksum::default();
            for piece in data.chunks(split) {
                parts.update(piece);
            }
            assert_eq!(parts.finish(), whole.finish(), "split {split}");
        }
        let mut swapped = data.clone();
        swapped.swap(0, 8);
        let mut other = Checksum::default();
        other.update(&swapped);
        assert_ne!(other.finish(), whole.finish());
        let mut shorter = Checksum::default();
        shorter.update(&data[..10_006]);
        assert_ne!(shorter.finish(), whole.finish());
    }
}
