//! A completion, decoded, and the user_data each SQE carries (the caller's token above the
//! opcode byte) by which its CQEs are told apart.
use io_uring::cqueue;

/// From linux/io_uring.h (the crate keeps its copy private): in a SEND_ZC notification's
/// res, the kernel copied the data after all.
pub const IORING_NOTIF_USAGE_ZC_COPIED: u32 = 1 << 31;

/// user_data for a request: the caller's token above the opcode byte.
pub const fn user_data(token: u64, opcode: u8) -> u64 {
    (token << 8) | opcode as u64
}

/// A completion, decoded.
#[derive(Clone, Copy, Debug)]
pub struct Cqe {
    pub token: u64,
    pub op: u8,
    pub res: i32,
    pub flags: u32,
}

impl Cqe {
    /// More completions will follow for the same request (multishot, or SEND_ZC's
    /// notification).
    pub fn more(&self) -> bool {
        cqueue::more(self.flags)
    }

    /// SEND_ZC's second CQE: the buffer is the caller's again.
    pub fn notif(&self) -> bool {
        cqueue::notif(self.flags)
    }

    pub fn buffer(&self) -> Option<u16> {
        cqueue::buffer_select(self.flags)
    }
}
