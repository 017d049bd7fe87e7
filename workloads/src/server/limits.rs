//! How much one call may move: bytes per read of a connection, events per wait.

/// Bytes one read of a connection asks for (and the size of its echo buffer).
pub const BUF: usize = 64 << 10;
/// Readiness events one epoll_wait reports at most.
pub const MAX_EVENTS: usize = 256;
