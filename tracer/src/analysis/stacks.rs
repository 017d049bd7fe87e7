//! `--stacks`: off-CPU time by where each thread blocked and what woke it. The kernel
//! books the time under stack hashes (`OffCpuTotals`); user space named each stack's
//! frames when it was new (`StackNames`). Here the two meet.
use std::collections::{BTreeMap, HashMap};

use tracer_common::record::{OffCpuKey, OffCpuStat, OffCpuTotals, WAKER_NONE, WAKER_TASK};

use super::{
    rows::{MAX_ROWS, fold_quietest},
    wakeups::source,
};
use crate::{
    decode::StackNames,
    report::{OffCpuRow, Stacks, WakerStack},
    symbols::UNKNOWN,
};

#[derive(Clone, Debug, Default)]
pub struct StacksAnalysis {
    /// Frames of each stack, innermost first.
    names: HashMap<u64, Vec<String>>,
    rows: BTreeMap<OffCpuKey, OffCpuStat>,
}

impl StacksAnalysis {
    pub fn push_names(&mut self, n: &StackNames) {
        self.names.insert(n.hash, n.frames.clone());
    }

    pub fn push_offcpu(&mut self, r: &OffCpuTotals) {
        add(&mut self.rows, r.key, r.stat);
        // Trimmed in batches: a sort per push would cost O(n log n) each.
        if self.rows.len() >= 2 * MAX_ROWS {
            self.fold();
        }
    }

    /// A long trace of a thread-churning target: the quietest rows lose their thread
    /// (their stacks and times stay), so rows are bounded by distinct stacks, not threads.
    fn fold(&mut self) {
        for (mut key, stat) in fold_quietest(&mut self.rows, |s| s.ns) {
            (key.tgid, key.tid) = (0, 0);
            add(&mut self.rows, key, stat);
        }
    }

    /// The section: rows longest first. `comm` names a TID (a target's thread or a
    /// waker seen in the wakeup edges); `failed` are the captures the kernel could not
    /// take (kernel, user).
    pub fn report(&self, comm: &dyn Fn(u32) -> Option<String>, failed: (u64, u64)) -> Stacks {
        let mut unnamed = 0;
        let mut frames = |hash: u64| -> Vec<String> {
            if hash == 0 {
                return Vec::new();
            }
            let f = self.names.get(&hash).cloned().unwrap_or_else(|| vec![UNKNOWN.to_owned()]);
            unnamed += f.iter().filter(|x| *x == UNKNOWN).count() as u64;
            f
        };
        let mut offcpu: Vec<OffCpuRow> = self
            .rows
            .iter()
            .map(|(k, s)| OffCpuRow {
                pid: k.tgid,
                tid: k.tid,
                comm: if k.tid == 0 { FOLDED.to_owned() } else { comm(k.tid).unwrap_or_default() },
                kernel_stack: frames(k.stacks.kernel),
                user_stack: frames(k.stacks.user),
                waker: (k.stacks.waker_kind != WAKER_NONE).then(|| WakerStack {
                    source: source(k.stacks.waker_kind, k.stacks.waker_id),
                    tid: if k.stacks.waker_kind == WAKER_TASK { k.stacks.waker_id } else { 0 },
                    comm: if k.stacks.waker_kind == WAKER_TASK { comm(k.stacks.waker_id) } else { None },
                    kernel_stack: frames(k.stacks.waker_kernel),
                    user_stack: frames(k.stacks.waker_user),
                }),
                off_ns: s.ns,
                count: s.count,
            })
            .collect();
        offcpu.sort_by(|a, b| b.off_ns.cmp(&a.off_ns).then_with(|| a.tid.cmp(&b.tid)));
        let mut notes = Vec::new();
        if unnamed > 0 {
            notes.push(format!(
                "{unnamed} frames could not be named ({UNKNOWN}): no symbol covers them, or their process ended before its stacks were read"
            ));
        }
        Stacks { offcpu, failed_kernel: failed.0, failed_user: failed.1, unnamed_frames: unnamed, notes }
    }
}

/// The thread of rows folded together past `MAX_ROWS` (TID and PID 0).
pub const FOLDED: &str = "[quieter threads]";

fn add(rows: &mut BTreeMap<OffCpuKey, OffCpuStat>, key: OffCpuKey, stat: OffCpuStat) {
    let row = rows.entry(key).or_default();
    row.ns += stat.ns;
    row.count += stat.count;
}

#[cfg(test)]
mod tests {
    use tracer_common::record::{Header, ThreadStacks, WAKER_SOFTIRQ};

    use super::*;

    fn row(tid: u32, kernel: u64, user: u64, waker: (u32, u32, u64), ns: u64) -> OffCpuTotals {
        OffCpuTotals {
            header: Header::default(),
            key: OffCpuKey {
                tgid: 10,
                tid,
                stacks: ThreadStacks {
                    kernel,
                    user,
                    waker_kernel: waker.2,
                    waker_user: 0,
                    waker_kind: waker.0,
                    waker_id: waker.1,
                },
            },
            stat: OffCpuStat { ns, count: 1 },
        }
    }

    #[test]
    fn rows_join_stack_names_and_sum_repeated_keys() {
        let mut a = StacksAnalysis::default();
        a.push_names(&StackNames { hash: 1, frames: vec!["schedule".into(), "ep_poll".into()], ..Default::default() });
        a.push_names(&StackNames {
            hash: 2,
            user: true,
            frames: vec!["epoll_wait".into(), "main".into()],
            ..Default::default()
        });
        a.push_names(&StackNames { hash: 3, frames: vec!["sock_def_readable".into()], ..Default::default() });
        a.push_offcpu(&row(11, 1, 2, (WAKER_SOFTIRQ, 3, 3), 500));
        a.push_offcpu(&row(11, 1, 2, (WAKER_SOFTIRQ, 3, 3), 700));
        a.push_offcpu(&row(12, 1, 9, (WAKER_TASK, 11, 0), 100));
        let comm = |tid: u32| (tid == 11).then(|| "server".to_owned());
        let s = a.report(&comm, (0, 2));
        assert_eq!(s.offcpu.len(), 2);
        let top = &s.offcpu[0];
        assert_eq!((top.tid, top.off_ns, top.count, top.comm.as_str()), (11, 1200, 2, "server"));
        assert_eq!(top.kernel_stack, ["schedule", "ep_poll"]);
        let w = top.waker.as_ref().unwrap();
        assert_eq!(
            (w.source.as_str(), w.tid, w.kernel_stack.as_slice()),
            ("NET_RX softirq", 0, &["sock_def_readable".to_owned()][..])
        );
        // Stack 9 was never named: one unknown frame, said so.
        let second = &s.offcpu[1];
        assert_eq!(second.user_stack, [UNKNOWN]);
        assert_eq!(second.waker.as_ref().unwrap().comm.as_deref(), Some("server"));
        assert_eq!((s.unnamed_frames, s.failed_user), (1, 2));
        assert!(s.notes[0].starts_with("1 frames could not be named"));
    }

    /// Threads that come and go, three times the rows kept, each blocked in one of two
    /// places: the busiest keep their thread, the rest fold into one row per place, and
    /// the off-CPU time still adds up.
    #[test]
    fn quiet_threads_past_the_cap_fold_into_one_row_per_stack() {
        let mut a = StacksAnalysis::default();
        let n = 3 * MAX_ROWS as u32;
        for tid in 1..=n {
            a.push_offcpu(&row(tid, 1 + u64::from(tid % 2), 7, (WAKER_NONE, 0, 0), u64::from(tid)));
        }
        let s = a.report(&|_| Some("t".into()), (0, 0));
        let total: u64 = (1..=u64::from(n)).sum();
        assert_eq!(s.offcpu.iter().map(|r| r.off_ns).sum::<u64>(), total);
        let folded: Vec<&OffCpuRow> = s.offcpu.iter().filter(|r| r.tid == 0).collect();
        assert_eq!(folded.len(), 2, "one row per stack");
        assert!(folded.iter().all(|r| r.comm == FOLDED && r.pid == 0));
        let kept: Vec<u32> = s.offcpu.iter().filter(|r| r.tid != 0).map(|r| r.tid).collect();
        assert!(kept.len() >= MAX_ROWS && kept.len() < 2 * MAX_ROWS, "{} rows with their thread", kept.len());
        assert!(kept.contains(&n), "the busiest thread keeps its row");
        let least = *kept.iter().min().unwrap();
        assert_eq!(folded.iter().map(|r| r.count).sum::<u64>(), u64::from(least) - 1, "every quieter thread folded");
    }
}
