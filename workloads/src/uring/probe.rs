//! Whether the running kernel has what a mode asks of io_uring, decided from what the
//! kernel itself reports: the opcodes IORING_REGISTER_PROBE lists and the ring's feature
//! bits (a setup flag it lacks already failed io_uring_setup). A missing feature is a
//! refusal the program prints and exits on, never a quiet fallback.
use io_uring::opcode;

use super::stats::op_name;

/// What the kernel reported.
#[derive(Clone, Debug, Default)]
pub struct Kernel {
    /// Opcodes IORING_REGISTER_PROBE marks supported.
    pub ops: Vec<u8>,
    /// IORING_FEAT_SQPOLL_NONFIXED (5.11): an SQPOLL ring may use plain fds.
    pub sqpoll_nonfixed: bool,
    /// The ring was set up with SQPOLL.
    pub sqpoll: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Feature {
    /// An opcode the probe must list.
    Op(u8),
    /// SQPOLL with plain (unregistered) fds.
    SqpollNonfixed,
    /// IORING_RECV_MULTISHOT (6.0). The probe has no bit for request flags; IORING_OP_SEND_ZC
    /// came in the same release (6.0), so its presence stands for it. A kernel that still
    /// refused the flag would fail the first RECV with EINVAL, which the server reports.
    RecvMultishot,
}

impl Feature {
    fn present(self, k: &Kernel) -> bool {
        match self {
            Self::Op(op) => k.ops.contains(&op),
            Self::SqpollNonfixed => !k.sqpoll || k.sqpoll_nonfixed,
            Self::RecvMultishot => k.ops.contains(&opcode::SendZc::CODE),
        }
    }

    fn describe(self) -> String {
        match self {
            Self::Op(op) => format!("IORING_OP_{} (Linux {})", op_name(op), op_since(op)),
            Self::SqpollNonfixed => "SQPOLL on plain fds (IORING_FEAT_SQPOLL_NONFIXED, Linux 5.11)".into(),
            Self::RecvMultishot => "multishot recv (IORING_RECV_MULTISHOT, Linux 6.0)".into(),
        }
    }
}

/// The release that brought each opcode the workloads use.
fn op_since(op: u8) -> &'static str {
    match op {
        opcode::PollAdd::CODE => "5.1",
        opcode::Accept::CODE | opcode::AsyncCancel::CODE => "5.5",
        opcode::Read::CODE | opcode::Write::CODE | opcode::Send::CODE | opcode::Recv::CODE => "5.6",
        opcode::MsgRingData::CODE => "5.18",
        opcode::SendZc::CODE => "6.0",
        _ => "?",
    }
}

/// The first of `needs` (each with the option that needs it) the kernel lacks, as the one
/// line to exit with; None when everything is there.
pub fn refusal(needs: &[(Feature, &str)], k: &Kernel) -> Option<String> {
    needs
        .iter()
        .find(|(f, _)| !f.present(k))
        .map(|(f, why)| format!("this kernel lacks {}, which {why} needs", f.describe()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kernel(ops: &[u8]) -> Kernel {
        Kernel { ops: ops.to_vec(), sqpoll_nonfixed: true, sqpoll: false }
    }

    const BASE: [u8; 5] = [
        opcode::Accept::CODE,
        opcode::Recv::CODE,
        opcode::Send::CODE,
        opcode::PollAdd::CODE,
        opcode::AsyncCancel::CODE,
    ];

    #[test]
    fn a_kernel_with_everything_is_not_refused() {
        let mut ops = BASE.to_vec();
        ops.extend([opcode::SendZc::CODE, opcode::MsgRingData::CODE]);
        let needs = [
            (Feature::Op(opcode::SendZc::CODE), "--send-zc"),
            (Feature::RecvMultishot, "--multishot"),
            (Feature::Op(opcode::MsgRingData::CODE), "--threads 2"),
            (Feature::SqpollNonfixed, "--sqpoll"),
        ];
        assert_eq!(refusal(&needs, &kernel(&ops)), None);
    }

    #[test]
    fn a_missing_opcode_is_named_with_its_release_and_the_option() {
        let needs =
            [(Feature::Op(opcode::Recv::CODE), "--mode io-uring"), (Feature::Op(opcode::SendZc::CODE), "--send-zc")];
        let line = refusal(&needs, &kernel(&BASE)).unwrap();
        assert_eq!(line, "this kernel lacks IORING_OP_SEND_ZC (Linux 6.0), which --send-zc needs");
        // A 5.4-like kernel (no RECV) is refused on the first need.
        let old = kernel(&[opcode::Accept::CODE, opcode::PollAdd::CODE]);
        assert!(refusal(&needs, &old).unwrap().contains("IORING_OP_RECV (Linux 5.6)"));
    }

    #[test]
    fn multishot_recv_is_refused_before_6_0_and_sqpoll_without_nonfixed_fds() {
        let needs = [(Feature::RecvMultishot, "--multishot")];
        assert!(refusal(&needs, &kernel(&BASE)).unwrap().contains("IORING_RECV_MULTISHOT"));
        let needs = [(Feature::SqpollNonfixed, "--sqpoll")];
        let k = Kernel { ops: BASE.to_vec(), sqpoll_nonfixed: false, sqpoll: true };
        assert!(refusal(&needs, &k).unwrap().contains("IORING_FEAT_SQPOLL_NONFIXED"));
        // Without SQPOLL the bit does not matter.
        assert_eq!(refusal(&needs, &Kernel { sqpoll: false, ..k }), None);
    }
}
