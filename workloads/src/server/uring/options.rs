//! The io-uring mode's own flags, as each ring thread gets them.

/// --sqpoll, --multishot and --send-zc.
#[derive(Clone, Copy, Debug)]
pub struct Options {
    pub sqpoll: Option<u32>,
    pub multishot: bool,
    pub send_zc: bool,
}
