//! The off-CPU stacks (`--stacks`) section of the table.
use std::fmt::Write;

use super::cells::{Grid, duration};
use crate::report::{OffCpuRow, Stacks};

/// Stack rows shown in the table (JSON has all; `--format folded` and the flame graphs
/// show them whole).
const TOP_STACKS: usize = 10;

pub(super) fn render(s: &mut String, st: &Stacks) {
    let total: u64 = st.offcpu.iter().map(|r| r.off_ns).sum();
    let _ = writeln!(
        s,
        "\nOff-CPU stacks: {} off CPU in {} distinct (thread, stack, waker) rows; {} captures failed, {} frames unnamed",
        duration(total),
        st.offcpu.len(),
        st.failed_kernel + st.failed_user,
        st.unnamed_frames
    );
    for n in &st.notes {
        let _ = writeln!(s, "stacks: {n}");
    }
    let mut g = Grid::new(&["thread", "blocked in (kernel < user)", "woken by", "times", "off CPU"], 3);
    for r in st.offcpu.iter().take(TOP_STACKS) {
        g.row(vec![
            format!("{}/{}", r.comm, r.tid),
            blocked_in(r),
            woken_by(r),
            r.count.to_string(),
            duration(r.off_ns),
        ]);
    }
    let _ = writeln!(s, "{g}");
}

/// The frames that say why a thread left the CPU: the first kernel frames below the
/// scheduler's own, and the user frame that made the call.
fn blocked_in(r: &OffCpuRow) -> String {
    let kernel: Vec<&str> =
        r.kernel_stack.iter().map(String::as_str).skip_while(|f| f.contains("schedule")).take(2).collect();
    let user = r.user_stack.first().map_or("-", String::as_str);
    format!("{} < {user}", kernel.join(" < "))
}

fn woken_by(r: &OffCpuRow) -> String {
    match &r.waker {
        None => "(preempted or not seen)".into(),
        Some(w) => match &w.comm {
            Some(comm) => format!("{} {comm}/{}", w.source, w.tid),
            None => w.source.clone(),
        },
    }
}
