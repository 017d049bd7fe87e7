//! What a ring did, per opcode: SQEs queued, CQEs reaped (with errors, cancellations, the
//! bytes data requests moved, and SEND_ZC's notifications), and its io_uring_enter calls.
use std::{collections::BTreeMap, io};

use io_uring::opcode;
use serde_json::{Map, Value, json};

use super::cqe::{Cqe, IORING_NOTIF_USAGE_ZC_COPIED};

/// The kernel's name of an opcode (io_uring_get_opcode(), the `op_str` of the
/// io_uring_submit_req tracepoint), for the opcodes the workloads use.
pub fn op_name(op: u8) -> String {
    let name = match op {
        opcode::PollAdd::CODE => "POLL_ADD",
        opcode::Accept::CODE => "ACCEPT",
        opcode::AsyncCancel::CODE => "ASYNC_CANCEL",
        opcode::Read::CODE => "READ",
        opcode::Write::CODE => "WRITE",
        opcode::Send::CODE => "SEND",
        opcode::Recv::CODE => "RECV",
        opcode::MsgRingData::CODE => "MSG_RING",
        opcode::SendZc::CODE => "SEND_ZC",
        other => return format!("OP_{other}"),
    };
    name.to_owned()
}

/// Opcodes whose positive result is bytes moved.
fn moves_bytes(op: u8) -> bool {
    matches!(
        op,
        opcode::Read::CODE | opcode::Write::CODE | opcode::Send::CODE | opcode::Recv::CODE | opcode::SendZc::CODE
    )
}

#[derive(Clone, Copy, Debug, Default)]
pub struct OpStats {
    pub sqes: u64,
    /// Every CQE, notifications included.
    pub cqes: u64,
    /// CQEs with a negative result (cancellations included), notifications excluded.
    pub errors: u64,
    /// ... of which -ECANCELED: the stop cancelling what was in flight.
    pub canceled: u64,
    pub bytes: u64,
    /// CQEs with IORING_CQE_F_MORE: more were to follow for the same request.
    pub more: u64,
    /// SEND_ZC: notification CQEs (IORING_CQE_F_NOTIF), and how many of them said the
    /// kernel copied the data after all (IORING_NOTIF_USAGE_ZC_COPIED).
    pub notifications: u64,
    pub copied: u64,
}

#[derive(Clone, Copy, Debug, Default)]
pub struct EnterStats {
    pub calls: u64,
    pub errors: u64,
    /// SQEs the kernel took (the sum of what the calls returned).
    pub submitted: u64,
    /// Calls that asked to wait for completions (min_complete > 0 with GETEVENTS).
    pub waited: u64,
    /// Calls that woke the SQPOLL thread (IORING_ENTER_SQ_WAKEUP).
    pub sq_wakeups: u64,
    /// Waits that ended on their timeout (ETIME).
    pub timeouts: u64,
}

#[derive(Clone, Debug, Default)]
pub struct Stats {
    pub ops: BTreeMap<u8, OpStats>,
    pub enter: EnterStats,
}

impl Stats {
    pub fn sqe(&mut self, op: u8) {
        self.ops.entry(op).or_default().sqes += 1;
    }

    pub fn cqe(&mut self, c: &Cqe) {
        let s = self.ops.entry(c.op).or_default();
        s.cqes += 1;
        s.more += u64::from(c.more());
        if c.notif() {
            s.notifications += 1;
            s.copied += u64::from(c.res as u32 & IORING_NOTIF_USAGE_ZC_COPIED != 0);
        } else if c.res < 0 {
            s.errors += 1;
            s.canceled += u64::from(c.res == -libc::ECANCELED);
        } else if moves_bytes(c.op) {
            s.bytes += c.res as u64;
        }
    }

    pub fn enter(&mut self, min_complete: u32, wakeup: bool, r: &io::Result<usize>) {
        let e = &mut self.enter;
        e.calls += 1;
        e.waited += u64::from(min_complete > 0);
        e.sq_wakeups += u64::from(wakeup);
        match r {
            Ok(n) => e.submitted += *n as u64,
            Err(err) if err.raw_os_error() == Some(libc::ETIME) => e.timeouts += 1,
            Err(_) => e.errors += 1,
        }
    }

    pub fn add(&mut self, o: &Stats) {
        for (op, b) in &o.ops {
            let a = self.ops.entry(*op).or_default();
            a.sqes += b.sqes;
            a.cqes += b.cqes;
            a.errors += b.errors;
            a.canceled += b.canceled;
            a.bytes += b.bytes;
            a.more += b.more;
            a.notifications += b.notifications;
            a.copied += b.copied;
        }
        let (a, b) = (&mut self.enter, &o.enter);
        a.calls += b.calls;
        a.errors += b.errors;
        a.submitted += b.submitted;
        a.waited += b.waited;
        a.sq_wakeups += b.sq_wakeups;
        a.timeouts += b.timeouts;
    }

    pub fn op(&self, op: u8) -> OpStats {
        self.ops.get(&op).copied().unwrap_or_default()
    }

    /// `sqes: {OPCODE: n}`, `cqes: {OPCODE: {count, errors, canceled, more[, bytes]
    /// [, notifications, copied]}}`, `enter: {calls, errors, submitted, waited,
    /// sq_wakeups, timeouts}`.
    pub fn to_json(&self) -> Map<String, Value> {
        let mut sqes = Map::new();
        let mut cqes = Map::new();
        for (&op, s) in &self.ops {
            if s.sqes > 0 {
                sqes.insert(op_name(op), s.sqes.into());
            }
            if s.cqes > 0 {
                let mut c = json!({"count": s.cqes, "errors": s.errors, "canceled": s.canceled, "more": s.more});
                if moves_bytes(op) {
                    c["bytes"] = s.bytes.into();
                }
                if op == opcode::SendZc::CODE {
                    c["notifications"] = s.notifications.into();
                    c["copied"] = s.copied.into();
                }
                cqes.insert(op_name(op), c);
            }
        }
        let e = &self.enter;
        let enter = json!({
            "calls": e.calls, "errors": e.errors, "submitted": e.submitted,
            "waited": e.waited, "sq_wakeups": e.sq_wakeups, "timeouts": e.timeouts,
        });
        let mut m = Map::new();
        m.insert("sqes".into(), Value::Object(sqes));
        m.insert("cqes".into(), Value::Object(cqes));
        m.insert("enter".into(), enter);
        m
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cqes_are_split_into_bytes_errors_cancellations_and_notifications() {
        let mut s = Stats::default();
        let recv = opcode::Recv::CODE;
        let zc = opcode::SendZc::CODE;
        for (op, res, flags) in [
            (recv, 100, 0),
            (recv, 28, 0),
            (recv, -libc::ECONNRESET, 0),
            (recv, -libc::ECANCELED, 0),
            (zc, 64, io_uring_flags::MORE),
            (zc, IORING_NOTIF_USAGE_ZC_COPIED as i32, io_uring_flags::NOTIF),
            (zc, 0, io_uring_flags::NOTIF),
        ] {
            s.cqe(&Cqe { token: 1, op, res, flags });
        }
        let r = s.op(recv);
        assert_eq!((r.cqes, r.bytes, r.errors, r.canceled), (4, 128, 2, 1));
        let z = s.op(zc);
        assert_eq!((z.cqes, z.bytes, z.errors, z.more, z.notifications, z.copied), (3, 64, 0, 1, 2, 1));
        let j = Value::Object(s.to_json());
        assert_eq!(j["cqes"]["RECV"]["bytes"], 128);
        assert_eq!(j["cqes"]["SEND_ZC"]["copied"], 1);
        assert!(j["cqes"]["RECV"].get("copied").is_none());
    }

    mod io_uring_flags {
        pub const MORE: u32 = 1 << 1;
        pub const NOTIF: u32 = 1 << 3;
    }
}
