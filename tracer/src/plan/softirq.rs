//! Softirqs.
use tracer_common::names::*;

use super::planner::Planner;
use crate::sections::{Figure, Section::*};

impl Planner<'_> {
    pub(super) fn softirq(&mut self) {
        if !self.plan.programs.iter().any(|&(p, _)| p == PROG_SOFTIRQ_ENTRY) {
            self.unavailable(Softirq, "no softirq_entry/exit BTF tracepoints".into());
        }
        if !self.attach(PROG_SOFTIRQ_RAISE, 1) {
            self.plan.unavailable.push(Figure::RaiseWait);
            self.degrade(Softirq, "no softirq_raise tracepoint: raise-to-run waits are not measured".into());
        }
    }
}
