//! Loopback TCP sockets through counted syscalls. Everything binds or connects to
//! 127.0.0.1 only: the workloads never send a packet off the machine.
use std::{io, os::fd::RawFd};

use crate::sys::{Call, Sys};

fn loopback(port: u16) -> libc::sockaddr_in {
    libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: port.to_be(),
        sin_addr: libc::in_addr { s_addr: u32::from(std::net::Ipv4Addr::LOCALHOST).to_be() },
        sin_zero: [0; 8],
    }
}

fn tcp_socket(sys: &mut Sys, nonblocking: bool) -> io::Result<RawFd> {
    let flags = libc::SOCK_STREAM | libc::SOCK_CLOEXEC | if nonblocking { libc::SOCK_NONBLOCK } else { 0 };
    sys.call(Call::Socket, [libc::AF_INET as usize, flags as usize, 0, 0, 0, 0]).map(|fd| fd as RawFd)
}

/// A listening socket on 127.0.0.1:`port` (0: any free port) and the port it got.
pub fn listen(sys: &mut Sys, port: u16, nonblocking: bool) -> io::Result<(RawFd, u16)> {
    let fd = tcp_socket(sys, nonblocking)?;
    let one: libc::c_int = 1;
    sys.call(
        Call::Setsockopt,
        [fd as usize, libc::SOL_SOCKET as usize, libc::SO_REUSEADDR as usize, &raw const one as usize, 4, 0],
    )?;
    let addr = loopback(port);
    let len = size_of::<libc::sockaddr_in>();
    if let Err(e) = sys.call(Call::Bind, [fd as usize, &raw const addr as usize, len, 0, 0, 0]) {
        sys.close(fd);
        return Err(e);
    }
    sys.call(Call::Listen, [fd as usize, 4096, 0, 0, 0, 0])?;
    let mut bound = loopback(0);
    let mut bound_len = len as libc::socklen_t;
    sys.call(Call::Getsockname, [fd as usize, &raw mut bound as usize, &raw mut bound_len as usize, 0, 0, 0])?;
    Ok((fd, u16::from_be(bound.sin_port)))
}

/// Accepts one connection; the new socket is non-blocking when asked.
pub fn accept(sys: &mut Sys, listen_fd: RawFd, nonblocking: bool) -> io::Result<RawFd> {
    let flags = libc::SOCK_CLOEXEC | if nonblocking { libc::SOCK_NONBLOCK } else { 0 };
    sys.call(Call::Accept4, [listen_fd as usize, 0, 0, flags as usize, 0, 0]).map(|fd| fd as RawFd)
}

/// A blocking connection to 127.0.0.1:`port`.
pub fn connect(sys: &mut Sys, port: u16) -> io::Result<RawFd> {
    let fd = tcp_socket(sys, false)?;
    let addr = loopback(port);
    let len = size_of::<libc::sockaddr_in>();
    if let Err(e) = sys.call(Call::Connect, [fd as usize, &raw const addr as usize, len, 0, 0, 0]) {
        sys.close(fd);
        return Err(e);
    }
    Ok(fd)
}

/// Sets or clears O_NONBLOCK.
pub fn set_nonblocking(sys: &mut Sys, fd: RawFd, on: bool) -> io::Result<()> {
    let flags = sys.call(Call::Fcntl, [fd as usize, libc::F_GETFL as usize, 0, 0, 0, 0])?;
    let flags = if on { flags | libc::O_NONBLOCK as usize } else { flags & !(libc::O_NONBLOCK as usize) };
    sys.call(Call::Fcntl, [fd as usize, libc::F_SETFL as usize, flags, 0, 0, 0]).map(drop)
}
