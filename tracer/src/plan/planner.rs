//! The plan being made: what it holds, and the questions each section's planning asks of
//! the kernel's BTF (a tracepoint's arguments, a member's offset).
use std::collections::BTreeMap;

use tracer_common::kernel::{Features, Offsets};

use super::probes::{MEMBERS, PROBES};
use crate::{
    btf::Btf,
    sections::{Coverage, Figure, Section, Status},
};

/// The resolved plan for one kernel.
#[derive(Clone, Debug)]
pub struct Plan {
    /// The kernel's release (`uname -r`), for the notes.
    pub kernel: String,
    pub offsets: Offsets,
    pub features: Features,
    /// (program, tracepoint) to attach, in registry order.
    pub programs: Vec<(&'static str, &'static str)>,
    /// Per section asked for.
    pub coverage: BTreeMap<Section, Coverage>,
    /// Figures this kernel cannot give (the report shows them as null).
    pub unavailable: Vec<Figure>,
    /// The kernel skips a program's run when the program is already running on that CPU
    /// (struct bpf_prog has `active`, 5.18+ for BTF tracepoints); older kernels let the
    /// runs nest, so none is ever missed.
    pub kernel_skips: bool,
}

/// What the user asked the kernel for.
#[derive(Clone, Copy, Debug)]
pub struct Ask<'a> {
    pub sections: &'a [Section],
    /// Each syscall's time: a second program (sys_enter) and two clock reads per call.
    pub latency: bool,
    /// The timeline's syscall slices (`--perfetto`), which need each call's entry too.
    pub timeline: bool,
}

impl<'a> Ask<'a> {
    /// These sections, with every figure in them.
    pub fn sections(sections: &'a [Section]) -> Self {
        Ask { sections, latency: true, timeline: false }
    }
}

impl Plan {
    pub(super) fn empty(kernel: &str, sections: &[Section]) -> Self {
        Plan {
            kernel: kernel.to_owned(),
            offsets: Offsets::NONE,
            features: Features::NONE,
            programs: Vec::new(),
            coverage: sections.iter().map(|&s| (s, Coverage::default())).collect(),
            unavailable: Vec::new(),
            kernel_skips: true,
        }
    }
}

pub(super) struct Planner<'a> {
    pub(super) btf: &'a Btf,
    pub(super) kernel: &'a str,
    pub(super) plan: Plan,
}

impl Planner<'_> {
    pub(super) fn args(&self, tracepoint: &str) -> Option<usize> {
        self.btf.tracepoint_args(tracepoint)
    }

    /// Attaches `program` if this kernel has its tracepoint with at least `min_args`.
    pub(super) fn attach(&mut self, program: &'static str, min_args: usize) -> bool {
        let probe = PROBES.iter().find(|p| p.program == program).expect("a registered program");
        let ok = self.args(probe.tracepoint).is_some_and(|n| n >= min_args);
        if ok {
            self.plan.programs.push((program, probe.tracepoint));
        }
        ok
    }

    pub(super) fn offset(&self, s: &str, m: &str) -> Option<u32> {
        // Fixtures keep only declared facts: an undeclared one would read as missing there.
        debug_assert!(MEMBERS.contains(&(s, m)), "{s}.{m} is not in plan::MEMBERS");
        self.btf.member_offset(s, m).ok()
    }

    /// All of them, or none (a chain of reads is only as good as its weakest link).
    pub(super) fn offsets<const N: usize>(&self, members: [(&str, &str); N]) -> Option<[u32; N]> {
        let mut out = [0; N];
        for (o, (s, m)) in out.iter_mut().zip(members) {
            *o = self.offset(s, m)?;
        }
        Some(out)
    }

    /// Marks `section` degraded (unless worse) with a note naming the kernel.
    pub(super) fn degrade(&mut self, section: Section, note: String) {
        let kernel = self.kernel;
        if let Some(c) = self.plan.coverage.get_mut(&section) {
            c.status = c.status.max(Status::Degraded);
            c.notes.push(format!("{note} (Linux {kernel})"));
        }
    }

    pub(super) fn unavailable(&mut self, section: Section, note: String) {
        let kernel = self.kernel;
        if let Some(c) = self.plan.coverage.get_mut(&section) {
            c.status = Status::Unavailable;
            c.notes.push(format!("{note} (Linux {kernel})"));
        }
    }
}
