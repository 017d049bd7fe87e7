//! The pipe of the splice paths, sized to hold one chunk.
use std::{io, os::fd::RawFd};

use crate::sys::{Call, Sys};

pub struct Pipe {
    pub r: RawFd,
    pub w: RawFd,
}

impl Pipe {
    pub fn new(sys: &mut Sys, chunk: u64) -> io::Result<Self> {
        let mut fds = [0i32; 2];
        sys.call(Call::Pipe2, [fds.as_mut_ptr() as usize, libc::O_CLOEXEC as usize, 0, 0, 0, 0])?;
        if chunk > 64 << 10 {
            sys.call(Call::Fcntl, [fds[1] as usize, libc::F_SETPIPE_SZ as usize, chunk as usize, 0, 0, 0])?;
        }
        Ok(Self { r: fds[0], w: fds[1] })
    }

    /// Moves `n` bytes from the pipe to the socket.
    pub fn drain_to(&self, sys: &mut Sys, sock: RawFd, mut n: usize) -> io::Result<()> {
        while n > 0 {
            let flags = (libc::SPLICE_F_MOVE | libc::SPLICE_F_MORE) as usize;
            n -= sys.call(Call::Splice, [self.r as usize, 0, sock as usize, 0, n, flags])?;
        }
        Ok(())
    }

    pub fn close(self, sys: &mut Sys) {
        sys.close(self.r);
        sys.close(self.w);
    }
}
