//! The sender's side of each mode: one copy of the file into the socket (or, for
//! copy-file-range, into the destination file).
use std::{
    io,
    os::fd::{AsRawFd, RawFd},
};

use super::{
    args::{Mode, PROGRAM},
    mapping::Mapping,
    pipe::Pipe,
    source::Source,
};
use crate::{
    fail,
    sys::{Call, Sys},
};

pub fn send_copy(sys: &mut Sys, mode: Mode, src: &Source, sock: RawFd, chunk: u64) -> io::Result<()> {
    let fd = src.file.as_raw_fd();
    match mode {
        Mode::ReadWrite => {
            sys.call(Call::Lseek, [fd as usize, 0, libc::SEEK_SET as usize, 0, 0, 0])?;
            let mut buf = vec![0u8; chunk as usize];
            let mut left = src.size;
            while left > 0 {
                let want = left.min(chunk) as usize;
                let n = sys.read(fd, &mut buf[..want])?;
                if n == 0 {
                    return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "the file shrank"));
                }
                sys.write_all(sock, &buf[..n])?;
                left -= n as u64;
            }
        }
        Mode::MmapWrite => {
            let map = Mapping::new(sys, fd, src.size)?;
            let mut off = 0;
            while off < src.size {
                let len = (src.size - off).min(chunk) as usize;
                sys.write_all(sock, &map.bytes()[off as usize..off as usize + len])?;
                off += len as u64;
            }
            map.unmap(sys);
        }
        Mode::Sendfile => {
            let mut off: libc::off_t = 0;
            while (off as u64) < src.size {
                let len = (src.size - off as u64).min(chunk) as usize;
                sys.call(Call::Sendfile, [sock as usize, fd as usize, &raw mut off as usize, len, 0, 0])?;
            }
        }
        Mode::Splice => {
            let pipe = Pipe::new(sys, chunk)?;
            let mut off: libc::loff_t = 0;
            while (off as u64) < src.size {
                let len = (src.size - off as u64).min(chunk) as usize;
                let flags = (libc::SPLICE_F_MOVE | libc::SPLICE_F_MORE) as usize;
                let n = sys.call(Call::Splice, [fd as usize, &raw mut off as usize, pipe.w as usize, 0, len, flags])?;
                pipe.drain_to(sys, sock, n)?;
            }
            pipe.close(sys);
        }
        Mode::Vmsplice => {
            let map = Mapping::new(sys, fd, src.size)?;
            let pipe = Pipe::new(sys, chunk)?;
            let mut off = 0usize;
            while (off as u64) < src.size {
                let len = (src.size - off as u64).min(chunk) as usize;
                let iov = libc::iovec { iov_base: map.bytes()[off..].as_ptr() as *mut _, iov_len: len };
                let n = sys.call(Call::Vmsplice, [pipe.w as usize, &raw const iov as usize, 1, 0, 0, 0])?;
                pipe.drain_to(sys, sock, n)?;
                off += n;
            }
            pipe.close(sys);
            map.unmap(sys);
        }
        Mode::CopyFileRange => unreachable!("handled without a socket"),
        Mode::AioRead | Mode::IoUring => unreachable!("sent by their engines (aio.rs, uring.rs)"),
    }
    Ok(())
}

pub fn copy_file_range(sys: &mut Sys, src: &Source, dst: RawFd, dst_start: u64, chunk: u64) {
    let (mut off_in, mut off_out): (libc::loff_t, libc::loff_t) = (0, dst_start as libc::loff_t);
    while (off_in as u64) < src.size {
        let len = (src.size - off_in as u64).min(chunk) as usize;
        let args =
            [src.file.as_raw_fd() as usize, &raw mut off_in as usize, dst as usize, &raw mut off_out as usize, len, 0];
        match sys.call(Call::CopyFileRange, args) {
            Ok(0) => fail(PROGRAM, "copy_file_range made no progress"),
            Ok(_) => {}
            Err(e) => fail(PROGRAM, format_args!("copy_file_range failed ({e})")),
        }
    }
}
