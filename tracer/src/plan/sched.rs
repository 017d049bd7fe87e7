//! Scheduling: times from the task's sched_info.

use super::planner::Planner;
use crate::sections::Section::*;

impl Planner<'_> {
    /// The kernel's own scheduling counters, where it has them.
    pub(super) fn sched(&mut self) {
        match (self.offset("task_struct", "se"), self.offset("sched_entity", "sum_exec_runtime")) {
            (Some(se), Some(runtime)) => self.plan.offsets.task_exec_runtime = se + runtime,
            _ => self.degrade(
                Sched,
                "on-CPU time is wall time between switches, not the task clock: se.sum_exec_runtime is unknown".into(),
            ),
        }
        match self.offsets([("task_struct", "sched_info"), ("sched_info", "pcount"), ("sched_info", "run_delay")]) {
            Some([info, pcount, delay]) => {
                (self.plan.offsets.task_pcount, self.plan.offsets.task_run_delay) = (info + pcount, info + delay);
            }
            None => self.degrade(Sched, "time slices and run-queue waits are counted from switch events: sched_info is unknown (CONFIG_SCHED_INFO)".into()),
        }
    }
}
