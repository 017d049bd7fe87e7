//! The file to send: the one `--file` names, or a generated one written with pwrite64 (so
//! setup never mixes with the transfer's calls); and `--cold`'s eviction before each copy.
use std::{
    fs::{File, OpenOptions},
    os::fd::AsRawFd,
    path::PathBuf,
};

use super::{
    args::{Args, PROGRAM},
    checksum::Checksum,
};
use crate::{
    fail,
    sys::{Call, Sys},
};

/// Content of the generated file: cheap, and not all the same byte.
pub fn generated(offset: u64, out: &mut [u8]) {
    for (i, b) in out.iter_mut().enumerate() {
        let p = offset + i as u64;
        *b = (p ^ (p >> 11) ^ (p >> 23)) as u8;
    }
}

pub struct Source {
    pub file: File,
    pub size: u64,
    /// Checksum of one copy, known up front for a generated file.
    pub checksum: Option<u64>,
    pub temp: Option<PathBuf>,
}

pub fn open_source(a: &Args, setup: &mut Sys) -> Source {
    if let Some(path) = &a.file {
        let file = File::open(path)
            .unwrap_or_else(|e| fail(PROGRAM, format_args!("cannot read {} ({e}): check the path", path.display())));
        let size = file.metadata().map(|m| m.len()).unwrap_or(0);
        if size == 0 {
            fail(PROGRAM, format_args!("{} is empty or not a regular file: nothing to send", path.display()));
        }
        return Source { file, size, checksum: None, temp: None };
    }
    let size = a.size.unwrap_or(16 << 20);
    let path = a.dir.join(format!("zerocopy-{}.src", std::process::id()));
    let file = OpenOptions::new().read(true).write(true).create_new(true).open(&path).unwrap_or_else(|e| {
        fail(PROGRAM, format_args!("cannot create {} ({e}): pick a writable --dir", path.display()))
    });
    // Written with pwrite64, so a tracer can tell setup from the transfer's write(2)s.
    let mut buf = vec![0u8; 1 << 20];
    let mut sum = Checksum::default();
    let mut off = 0;
    while off < size {
        let len = (size - off).min(buf.len() as u64) as usize;
        generated(off, &mut buf[..len]);
        sum.update(&buf[..len]);
        let mut done = 0;
        while done < len {
            match setup.pwrite(file.as_raw_fd(), &buf[done..len], off + done as u64) {
                Ok(n) => done += n,
                Err(e) => fail(PROGRAM, format_args!("writing {} failed ({e})", path.display())),
            }
        }
        off += len as u64;
    }
    Source { file, size, checksum: Some(sum.finish()), temp: Some(path) }
}

/// --cold: write back and evict the file's pages so the next copy reads from disk.
pub fn drop_cache(a: &Args, src: &Source, setup: &mut Sys) {
    if a.cold {
        let fd = src.file.as_raw_fd() as usize;
        let _ = setup.call(Call::Fdatasync, [fd, 0, 0, 0, 0, 0]);
        let _ = setup.call(Call::Fadvise64, [fd, 0, 0, libc::POSIX_FADV_DONTNEED as usize, 0, 0]);
    }
}
