//! `epoll-server`: a TCP echo server on 127.0.0.1 in the modes the select/poll/epoll
//! comparison needs. With `--threads 1` one reactor owns the listening socket (as Redis
//! does); with N it is a single acceptor thread handing connections to N reactors through
//! a queue and an eventfd (as memcached and Netty do). `blocking` is thread-per-connection.
use std::{
    collections::{BTreeMap, HashMap, HashSet},
    io,
    os::fd::RawFd,
    sync::{Arc, Mutex},
    thread,
    time::{Duration, Instant},
};

use clap::{Parser, ValueEnum};
use serde_json::json;

use crate::{
    args, fail, net,
    stop::{self, Ended},
    sys::{Call, Sys},
};

const PROGRAM: &str = "epoll-server";
const BUF: usize = 64 << 10;
const MAX_EVENTS: usize = 256;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Mode {
    /// epoll, level-triggered: one read per readiness; unread data is reported again.
    EpollLt,
    /// epoll, edge-triggered: every readiness is drained until EAGAIN.
    EpollEt,
    /// poll(2) over every fd on every call.
    Poll,
    /// select(2); refuses connections whose fd is >= FD_SETSIZE.
    Select,
    /// A blocking thread per connection.
    Blocking,
}

/// TCP echo server on 127.0.0.1. Prints `listening on 127.0.0.1:PORT ...` first, and a JSON
/// summary of what it did when it stops (--duration, SIGINT or SIGTERM).
#[derive(Debug, Parser)]
#[command(name = PROGRAM, version)]
pub struct Args {
    /// Port to listen on (0: any free port, printed on the first line).
    #[arg(long, default_value_t = 0)]
    pub port: u16,
    #[arg(long, value_enum, default_value_t = Mode::EpollLt)]
    pub mode: Mode,
    /// Reactor threads (1: single reactor; N: one acceptor and N reactors). Not for blocking.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=64))]
    pub threads: u32,
    /// Stop after this long (default: run until SIGINT/SIGTERM).
    #[arg(long, value_parser = args::duration)]
    pub duration: Option<Duration>,
}

/// What a thread did besides its syscalls.
#[derive(Clone, Copy, Debug, Default)]
struct Tally {
    connections: u64,
    /// select mode: connections refused because their fd was >= FD_SETSIZE.
    refused: u64,
    /// Reads that returned data (each is echoed back).
    requests: u64,
    bytes_received: u64,
    bytes_sent: u64,
    /// Failed calls that were the stop itself (accept(2) on the shut-down listening
    /// socket): still in `syscalls`, as a tracer sees them, but not counted as `errors`.
    stop_errors: u64,
}

impl Tally {
    fn add(&mut self, o: &Tally) {
        self.connections += o.connections;
        self.refused += o.refused;
        self.requests += o.requests;
        self.bytes_received += o.bytes_received;
        self.bytes_sent += o.bytes_sent;
        self.stop_errors += o.stop_errors;
    }
}

type Done = (Sys, Tally);

pub fn main() {
    stop::block_signals();
    let args: Args = args::parse(PROGRAM);
    if args.mode == Mode::Blocking && args.threads > 1 {
        fail(PROGRAM, "--threads is for the reactor modes; blocking mode uses one thread per connection");
    }
    let started = Instant::now();
    let mut sys = Sys::default();
    let single_reactor = args.mode != Mode::Blocking && args.threads == 1;
    let (listen_fd, port) = net::listen(&mut sys, args.port, single_reactor).unwrap_or_else(|e| {
        fail(PROGRAM, format_args!("cannot listen on 127.0.0.1:{} ({e}): is the port in use? try --port 0", args.port))
    });
    let stop_fd = sys.eventfd().unwrap_or_else(|e| fail(PROGRAM, format_args!("eventfd: {e}")));
    let mode_name = args.mode.to_possible_value().unwrap().get_name().to_owned();
    let _ = sys.print_line(&format!("listening on 127.0.0.1:{port} mode={mode_name} threads={}", args.threads));

    let live = Arc::new(Mutex::new(HashSet::new()));
    let workers: Vec<thread::JoinHandle<Done>> = if args.mode == Mode::Blocking {
        let live = live.clone();
        vec![thread::spawn(move || blocking_acceptor(listen_fd, &live))]
    } else if single_reactor {
        vec![thread::spawn(move || Reactor::new(args.mode, stop_fd, Some(listen_fd), None).run())]
    } else {
        let inboxes: Vec<Arc<Inbox>> = (0..args.threads).map(|_| Arc::new(Inbox::new(&mut sys))).collect();
        let mut w: Vec<_> = inboxes
            .iter()
            .map(|inbox| {
                let inbox = inbox.clone();
                thread::spawn(move || Reactor::new(args.mode, stop_fd, None, Some(inbox)).run())
            })
            .collect();
        w.push(thread::spawn(move || acceptor(listen_fd, &inboxes)));
        w
    };

    let ended = stop::wait(args.duration);
    // Wake every reactor (stop_fd is level-triggered and never read); where a thread is
    // blocked in accept(2), shut the listening socket down to unblock it; in blocking mode
    // also every connection thread's read(2).
    let _ = sys.eventfd_signal(stop_fd);
    if !single_reactor {
        sys.shutdown(listen_fd, libc::SHUT_RDWR);
    }
    for &fd in live.lock().unwrap().iter() {
        sys.shutdown(fd, libc::SHUT_RDWR);
    }
    let mut tally = Tally::default();
    for w in workers {
        let (s, t) = w.join().expect("worker thread panicked");
        sys.add(&s);
        tally.add(&t);
    }
    sys.close(listen_fd);
    sys.close(stop_fd);
    let waits = [Call::EpollWait, Call::Poll, Call::Select].map(|c| sys.stat(c));
    let errors: u64 = Call::ALL.iter().map(|&c| sys.stat(c).errors).sum::<u64>() - tally.stop_errors;
    let summary = json!({
        "program": PROGRAM,
        "mode": mode_name,
        "threads": args.threads,
        "port": port,
        "ended": match ended { Ended::Duration => "duration".to_owned(), Ended::Signal(s) => signal_name(s) },
        "duration_ns": started.elapsed().as_nanos() as u64,
        "connections": tally.connections,
        "refused": tally.refused,
        "requests": tally.requests,
        "bytes_received": tally.bytes_received,
        "bytes_sent": tally.bytes_sent,
        "waits": waits.iter().map(|s| s.calls).sum::<u64>(),
        "events_returned": waits.iter().map(|s| s.total).sum::<u64>(),
        "timeouts": waits.iter().map(|s| s.zero).sum::<u64>(),
        "errors": errors,
        "syscalls": sys.to_json(),
    });
    crate::sys::print_summary(&mut sys, &summary);
}

fn signal_name(sig: i32) -> String {
    match sig {
        libc::SIGINT => "SIGINT".into(),
        libc::SIGTERM => "SIGTERM".into(),
        s => format!("signal {s}"),
    }
}

/// Connections handed from the acceptor to one reactor.
struct Inbox {
    /// Non-blocking eventfd the reactor polls; the acceptor adds 1 per handed connection.
    fd: RawFd,
    queue: Mutex<Vec<RawFd>>,
}

impl Inbox {
    fn new(sys: &mut Sys) -> Self {
        let fd = sys
            .call(Call::Eventfd2, [0, (libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) as usize, 0, 0, 0, 0])
            .unwrap_or_else(|e| fail(PROGRAM, format_args!("eventfd: {e}"))) as RawFd;
        Self { fd, queue: Mutex::new(Vec::new()) }
    }
}

/// Multi-reactor acceptor: blocking accept(2), connections dealt round-robin.
fn acceptor(listen_fd: RawFd, inboxes: &[Arc<Inbox>]) -> Done {
    let mut sys = Sys::default();
    let stopped = Tally { stop_errors: 1, ..Tally::default() };
    for i in 0.. {
        match net::accept(&mut sys, listen_fd, true) {
            Ok(fd) => {
                let inbox = &inboxes[i % inboxes.len()];
                inbox.queue.lock().unwrap().push(fd);
                let _ = sys.eventfd_signal(inbox.fd);
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted || is_transient_accept_error(&e) => {}
            Err(_) => break, // the listening socket was shut down: stopping
        }
    }
    for inbox in inboxes {
        sys.close(inbox.fd);
    }
    (sys, stopped)
}

fn is_transient_accept_error(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::ECONNABORTED | libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM))
}

/// Blocking mode: a thread per connection, each doing read(2) then write(2) until EOF.
fn blocking_acceptor(listen_fd: RawFd, live: &Arc<Mutex<HashSet<RawFd>>>) -> Done {
    let mut sys = Sys::default();
    let mut tally = Tally { stop_errors: 1, ..Tally::default() };
    let mut threads = Vec::new();
    loop {
        match net::accept(&mut sys, listen_fd, false) {
            Ok(fd) => {
                tally.connections += 1;
                live.lock().unwrap().insert(fd);
                let live = live.clone();
                threads.push(thread::spawn(move || echo_blocking(fd, &live)));
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted || is_transient_accept_error(&e) => {}
            Err(_) => break,
        }
    }
    for t in threads {
        let (s, t) = t.join().expect("connection thread panicked");
        sys.add(&s);
        tally.add(&t);
    }
    (sys, tally)
}

fn echo_blocking(fd: RawFd, live: &Mutex<HashSet<RawFd>>) -> Done {
    let mut sys = Sys::default();
    let mut tally = Tally::default();
    let mut buf = vec![0u8; BUF];
    loop {
        match sys.read(fd, &mut buf) {
            Ok(0) => break,
            Ok(n) => {
                tally.requests += 1;
                tally.bytes_received += n as u64;
                if sys.write_all(fd, &buf[..n]).is_err() {
                    break;
                }
                tally.bytes_sent += n as u64;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => break,
        }
    }
    // Leave the shared set before closing, so the stopping thread never shuts down a
    // reused fd number.
    live.lock().unwrap().remove(&fd);
    sys.close(fd);
    (sys, tally)
}

/// What a reactor wants to hear about an fd.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Want {
    read: bool,
    write: bool,
}

const READ: Want = Want { read: true, write: false };
const WRITE: Want = Want { read: false, write: true };

#[derive(Clone, Copy, Debug)]
struct Ready {
    fd: RawFd,
    read: bool,
    write: bool,
}

/// The readiness APIs, behind one interface.
enum Poller {
    Epoll {
        epfd: RawFd,
        edge: bool,
        events: Vec<libc::epoll_event>,
    },
    /// poll and select rebuild their arguments from this set on every call, as they must.
    Scan {
        select: bool,
        interest: BTreeMap<RawFd, Want>,
    },
}

impl Poller {
    fn new(sys: &mut Sys, mode: Mode) -> Self {
        match mode {
            Mode::EpollLt | Mode::EpollEt => {
                let epfd = sys
                    .call(Call::EpollCreate1, [libc::EPOLL_CLOEXEC as usize, 0, 0, 0, 0, 0])
                    .unwrap_or_else(|e| fail(PROGRAM, format_args!("epoll_create1: {e}")))
                    as RawFd;
                let empty = libc::epoll_event { events: 0, u64: 0 };
                Self::Epoll { epfd, edge: mode == Mode::EpollEt, events: vec![empty; MAX_EVENTS] }
            }
            Mode::Poll | Mode::Select => Self::Scan { select: mode == Mode::Select, interest: BTreeMap::new() },
            Mode::Blocking => unreachable!("blocking mode has no reactor"),
        }
    }

    /// `edge` applies to connections and the listening socket; control fds stay
    /// level-triggered.
    fn ctl(&mut self, sys: &mut Sys, op: i32, fd: RawFd, want: Want, edge_ok: bool) {
        match self {
            Self::Epoll { epfd, edge, .. } => {
                let mut flags = 0u32;
                if want.read {
                    flags |= libc::EPOLLIN as u32;
                }
                if want.write {
                    flags |= libc::EPOLLOUT as u32;
                }
                if *edge && edge_ok {
                    flags |= libc::EPOLLET as u32;
                }
                let mut ev = libc::epoll_event { events: flags, u64: fd as u64 };
                let _ =
                    sys.call(Call::EpollCtl, [*epfd as usize, op as usize, fd as usize, &raw mut ev as usize, 0, 0]);
            }
            Self::Scan { interest, .. } => {
                if op == libc::EPOLL_CTL_DEL {
                    interest.remove(&fd);
                } else {
                    interest.insert(fd, want);
                }
            }
        }
    }

    fn add(&mut self, sys: &mut Sys, fd: RawFd, want: Want, edge_ok: bool) {
        self.ctl(sys, libc::EPOLL_CTL_ADD, fd, want, edge_ok);
    }

    fn modify(&mut self, sys: &mut Sys, fd: RawFd, want: Want) {
        self.ctl(sys, libc::EPOLL_CTL_MOD, fd, want, true);
    }

    fn remove(&mut self, sys: &mut Sys, fd: RawFd) {
        self.ctl(sys, libc::EPOLL_CTL_DEL, fd, READ, true);
    }

    /// Blocks until something is ready; fills `out`.
    fn wait(&mut self, sys: &mut Sys, out: &mut Vec<Ready>) {
        out.clear();
        match self {
            Self::Epoll { epfd, events, .. } => {
                let args = [*epfd as usize, events.as_mut_ptr() as usize, events.len(), -1isize as usize, 0, 0];
                let n = sys.call(Call::EpollWait, args).unwrap_or(0);
                out.extend(events[..n].iter().map(|e| {
                    let bits = e.events;
                    let hup = bits & (libc::EPOLLHUP | libc::EPOLLERR) as u32 != 0;
                    Ready {
                        fd: e.u64 as RawFd,
                        read: hup || bits & libc::EPOLLIN as u32 != 0,
                        write: hup || bits & libc::EPOLLOUT as u32 != 0,
                    }
                }));
            }
            Self::Scan { select: false, interest } => {
                let mut fds: Vec<libc::pollfd> = interest
                    .iter()
                    .map(|(&fd, w)| libc::pollfd {
                        fd,
                        events: if w.read { libc::POLLIN } else { 0 } | if w.write { libc::POLLOUT } else { 0 },
                        revents: 0,
                    })
                    .collect();
                if sys.call(Call::Poll, [fds.as_mut_ptr() as usize, fds.len(), -1isize as usize, 0, 0, 0]).is_ok() {
                    out.extend(fds.iter().filter(|p| p.revents != 0).map(|p| {
                        let hup = p.revents & (libc::POLLHUP | libc::POLLERR | libc::POLLNVAL) != 0;
                        Ready {
                            fd: p.fd,
                            read: hup || p.revents & libc::POLLIN != 0,
                            write: hup || p.revents & libc::POLLOUT != 0,
                        }
                    }));
                }
            }
            Self::Scan { select: true, interest } => {
                // SAFETY: fd_set is plain data; FD_* only touch fds < FD_SETSIZE, which
                // `Reactor::adopt` guarantees for every fd in `interest`.
                unsafe {
                    let mut rset: libc::fd_set = std::mem::zeroed();
                    let mut wset: libc::fd_set = std::mem::zeroed();
                    let mut nfds = 0;
                    for (&fd, w) in interest.iter() {
                        if w.read {
                            libc::FD_SET(fd, &mut rset);
                        }
                        if w.write {
                            libc::FD_SET(fd, &mut wset);
                        }
                        nfds = nfds.max(fd + 1);
                    }
                    let args = [nfds as usize, &raw mut rset as usize, &raw mut wset as usize, 0, 0, 0];
                    if sys.call(Call::Select, args).is_ok() {
                        out.extend(interest.keys().filter_map(|&fd| {
                            let (r, w) = (libc::FD_ISSET(fd, &rset), libc::FD_ISSET(fd, &wset));
                            (r || w).then_some(Ready { fd, read: r, write: w })
                        }));
                    }
                }
            }
        }
    }

    fn close(&mut self, sys: &mut Sys) {
        if let Self::Epoll { epfd, .. } = self {
            sys.close(*epfd);
        }
    }
}

/// An echo connection: bytes read but not yet written back wait in `out`; while they do,
/// the connection is not read (backpressure), only watched for writability.
#[derive(Default)]
struct Conn {
    out: Vec<u8>,
    sent: usize,
}

impl Conn {
    fn pending(&self) -> bool {
        self.sent < self.out.len()
    }
}

struct Reactor {
    sys: Sys,
    tally: Tally,
    mode: Mode,
    poller: Poller,
    stop_fd: RawFd,
    listen_fd: Option<RawFd>,
    inbox: Option<Arc<Inbox>>,
    conns: HashMap<RawFd, Conn>,
    buf: Vec<u8>,
    warned_fd_setsize: bool,
}

impl Reactor {
    fn new(mode: Mode, stop_fd: RawFd, listen_fd: Option<RawFd>, inbox: Option<Arc<Inbox>>) -> Self {
        let control = [Some(stop_fd), listen_fd, inbox.as_ref().map(|i| i.fd)];
        if let Some(fd) =
            control.into_iter().flatten().find(|&fd| mode == Mode::Select && fd >= libc::FD_SETSIZE as RawFd)
        {
            fail(
                PROGRAM,
                format_args!(
                    "select cannot watch the server's own fd {fd} (FD_SETSIZE is {}): too many open fds; use --mode poll or epoll-lt",
                    libc::FD_SETSIZE
                ),
            );
        }
        let mut sys = Sys::default();
        let mut poller = Poller::new(&mut sys, mode);
        poller.add(&mut sys, stop_fd, READ, false);
        if let Some(fd) = listen_fd {
            poller.add(&mut sys, fd, READ, true);
        }
        if let Some(inbox) = &inbox {
            poller.add(&mut sys, inbox.fd, READ, false);
        }
        Self {
            sys,
            tally: Tally::default(),
            mode,
            poller,
            stop_fd,
            listen_fd,
            inbox,
            conns: HashMap::new(),
            buf: vec![0u8; BUF],
            warned_fd_setsize: false,
        }
    }

    fn run(mut self) -> Done {
        let mut ready = Vec::with_capacity(MAX_EVENTS);
        'outer: loop {
            self.poller.wait(&mut self.sys, &mut ready);
            for &r in &ready {
                if r.fd == self.stop_fd {
                    break 'outer;
                } else if Some(r.fd) == self.listen_fd {
                    self.accept_ready();
                } else if self.inbox.as_ref().is_some_and(|i| i.fd == r.fd) {
                    self.take_inbox();
                } else {
                    self.conn_ready(r);
                }
            }
        }
        let fds: Vec<RawFd> = self.conns.keys().copied().collect();
        for fd in fds {
            self.close_conn(fd);
        }
        self.poller.close(&mut self.sys);
        (self.sys, self.tally)
    }

    fn accept_ready(&mut self) {
        let fd = self.listen_fd.unwrap();
        loop {
            match net::accept(&mut self.sys, fd, true) {
                Ok(conn) => self.adopt(conn),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => break, // EAGAIN: drained
            }
            if self.mode != Mode::EpollEt {
                break; // level-triggered: the next wait reports a still-pending connection
            }
        }
    }

    fn take_inbox(&mut self) {
        let inbox = self.inbox.clone().unwrap();
        let mut counter = [0u8; 8];
        let _ = self.sys.read(inbox.fd, &mut counter);
        let fds: Vec<RawFd> = std::mem::take(&mut *inbox.queue.lock().unwrap());
        for fd in fds {
            self.adopt(fd);
        }
    }

    fn adopt(&mut self, fd: RawFd) {
        if self.mode == Mode::Select && fd >= libc::FD_SETSIZE as RawFd {
            if !self.warned_fd_setsize {
                eprintln!(
                    "{PROGRAM}: select cannot watch fd {fd} (FD_SETSIZE is {}): refusing such connections; use --mode poll or epoll-lt",
                    libc::FD_SETSIZE
                );
                self.warned_fd_setsize = true;
            }
            self.tally.refused += 1;
            self.sys.close(fd);
            return;
        }
        self.tally.connections += 1;
        self.conns.insert(fd, Conn::default());
        self.poller.add(&mut self.sys, fd, READ, true);
    }

    fn conn_ready(&mut self, r: Ready) {
        let Some(conn) = self.conns.get(&r.fd) else { return };
        if conn.pending() {
            if r.write {
                self.flush(r.fd);
            }
        } else if r.read {
            self.read_ready(r.fd);
        }
    }

    /// Level-triggered modes read once per readiness; edge-triggered drains to EAGAIN (or
    /// until the peer stops reading its echoes and our output backs up).
    fn read_ready(&mut self, fd: RawFd) {
        loop {
            match self.sys.read(fd, &mut self.buf) {
                Ok(0) => return self.close_conn(fd),
                Ok(n) => {
                    if !self.echo(fd, n) {
                        return;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(_) => return self.close_conn(fd),
            }
            if self.mode != Mode::EpollEt || self.conns.get(&fd).is_none_or(Conn::pending) {
                return;
            }
        }
    }

    /// Writes back `buf[..n]`; what the socket does not take waits in the connection's
    /// output. Returns false if the connection was closed.
    fn echo(&mut self, fd: RawFd, n: usize) -> bool {
        self.tally.requests += 1;
        self.tally.bytes_received += n as u64;
        let mut off = 0;
        while off < n {
            match self.sys.write(fd, &self.buf[off..n]) {
                Ok(m) => off += m,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(_) => {
                    self.close_conn(fd);
                    return false;
                }
            }
        }
        self.tally.bytes_sent += off as u64;
        if off < n {
            let conn = self.conns.get_mut(&fd).unwrap();
            conn.out.clear();
            conn.out.extend_from_slice(&self.buf[off..n]);
            conn.sent = 0;
            self.poller.modify(&mut self.sys, fd, WRITE);
        }
        true
    }

    fn flush(&mut self, fd: RawFd) {
        let conn = self.conns.get_mut(&fd).unwrap();
        while conn.pending() {
            match self.sys.write(fd, &conn.out[conn.sent..]) {
                Ok(m) => {
                    conn.sent += m;
                    self.tally.bytes_sent += m as u64;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(_) => return self.close_conn(fd),
            }
        }
        // Drained: listen for input again. For epoll-et the MOD re-arms the edge, and
        // epoll reports the socket at once if data arrived meanwhile.
        self.poller.modify(&mut self.sys, fd, READ);
    }

    fn close_conn(&mut self, fd: RawFd) {
        if self.conns.remove(&fd).is_some() {
            self.poller.remove(&mut self.sys, fd);
            self.sys.close(fd);
        }
    }
}
