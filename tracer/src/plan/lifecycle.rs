//! The programs every section needs to follow the target's processes and threads.
use anyhow::{Context, Result, bail};
use tracer_common::{
    kernel::{GROUP_DEAD_FROM_ARG, GROUP_DEAD_FROM_SIGNAL, STATE_FROM_ARG, STATE_FROM_TASK},
    names::*,
};

use super::planner::Planner;

impl Planner<'_> {
    /// The programs every section needs to follow the target: without them nothing works.
    pub(super) fn lifecycle(&mut self) -> Result<()> {
        let [pid, tgid] = self
            .offsets([("task_struct", "pid"), ("task_struct", "tgid")])
            .context("tracer does not support this kernel: task_struct has no pid/tgid in its BTF")?;
        (self.plan.offsets.task_pid, self.plan.offsets.task_tgid) = (pid, tgid);
        let switch = self.args("sched_switch").context("this kernel has no BTF tracepoint sched_switch")?;
        if switch >= 4 {
            self.plan.features.switch_state = STATE_FROM_ARG;
        } else {
            // Before 5.18 sched_switch has no prev_state: the tracepoint itself reads
            // prev->state (__state since 5.14).
            let state = self.offset("task_struct", "__state").or_else(|| self.offset("task_struct", "state"));
            self.plan.offsets.task_state = state.context("task_struct has neither __state nor state")?;
            self.plan.features.switch_state = STATE_FROM_TASK;
        }
        for (program, args) in [(PROG_SCHED_SWITCH, 3), (PROG_TASK_NEWTASK, 2), (PROG_PROCESS_EXEC, 0)] {
            if !self.attach(program, args) {
                bail!("this kernel has no BTF tracepoint {program}, which every trace needs");
            }
        }
        // Without group_dead (before 6.16) a process's end is signal->live reaching 0.
        if self.args("sched_process_exit").is_some_and(|n| n >= 2) {
            self.plan.features.group_dead = GROUP_DEAD_FROM_ARG;
            self.attach(PROG_PROCESS_EXIT, 2);
        } else if let Some([signal, live]) = self.offsets([("task_struct", "signal"), ("signal_struct", "live")]) {
            (self.plan.offsets.task_signal, self.plan.offsets.signal_live) = (signal, live);
            self.plan.features.group_dead = GROUP_DEAD_FROM_SIGNAL;
            self.attach(PROG_PROCESS_EXIT, 1);
        }
        Ok(())
    }
}
