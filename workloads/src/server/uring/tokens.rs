//! The tokens the reactor and the acceptor rings both use.

/// Tokens of the requests that are not a connection's (connections are their slot, below
/// 2^32, with a provided buffer's id above it).
pub const STOP: u64 = (1 << 56) - 1;
pub const LISTEN: u64 = STOP - 1;
pub const CANCEL: u64 = STOP - 2;
/// The CQE a MSG_RING from the acceptor posts in a reactor's ring.
pub const HANDOFF: u64 = STOP - 3;
