//! What a server thread did besides its syscalls, summed over threads when they join.
use crate::sys::Sys;

#[derive(Clone, Copy, Debug, Default)]
pub struct Tally {
    pub connections: u64,
    /// select mode: connections refused because their fd was >= FD_SETSIZE.
    pub refused: u64,
    /// Reads that returned data (each is echoed back).
    pub requests: u64,
    pub bytes_received: u64,
    pub bytes_sent: u64,
    /// Failed calls that were the stop itself (accept(2) on the shut-down listening
    /// socket): still in `syscalls`, as a tracer sees them, but not counted as `errors`.
    pub stop_errors: u64,
}

impl Tally {
    pub fn add(&mut self, o: &Tally) {
        self.connections += o.connections;
        self.refused += o.refused;
        self.requests += o.requests;
        self.bytes_received += o.bytes_received;
        self.bytes_sent += o.bytes_sent;
        self.stop_errors += o.stop_errors;
    }
}

/// What a server thread hands back when it ends: its syscall counts and its tally.
pub type Done = (Sys, Tally);
