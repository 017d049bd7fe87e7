//! The probe plan: which programs this kernel takes, in which variant, and what each
//! report section can give here. Decided once at start-up from the kernel's BTF (the
//! argument lists of its BTF tracepoints, the members of its structs), never from its
//! version number, so a kernel nobody tested (Ubuntu's 5.15, RHEL's 5.14) gets what its
//! types allow.
//!
//! Every program is in [`PROBES`] with the sections that need it. [`plan`] resolves
//! them against a [`Btf`]: a program whose tracepoint is missing is left out, a fact
//! with a second source uses it (a [`Features`] variant), and a figure with none is
//! listed as unavailable, so the report shows `null` and says why instead of a 0.
mod faults;
mod lifecycle;
mod planner;
mod probes;
mod sched;
mod softirq;
mod syscalls;
mod wakeups;

pub use planner::{Ask, Plan};
pub use probes::{PROBES, Probe, facts};

use anyhow::Result;

use crate::btf::Btf;
use planner::Planner;

/// Resolves the registry for what was asked against the kernel's BTF.
pub fn plan(btf: &Btf, kernel: &str, ask: &Ask<'_>) -> Result<Plan> {
    let sections = ask.sections;
    let mut p = Planner { btf, kernel, plan: Plan::empty(kernel, sections) };
    p.lifecycle()?;
    p.syscalls_and_copies(ask);
    p.wakers();
    p.softirq();
    p.faults();
    p.sched();
    p.plan.kernel_skips = p.offset("bpf_prog", "active").is_some();
    let Planner { mut plan, .. } = p;
    let wanted = |probe: &Probe| probe.sections.iter().any(|s| sections.contains(s));
    let chosen: Vec<(&str, &str)> = plan.programs.clone();
    // Keep registry order and only what the asked-for sections need.
    plan.programs = PROBES
        .iter()
        .filter(|probe| wanted(probe) && chosen.iter().any(|&(prog, _)| prog == probe.program))
        .map(|probe| (probe.program, probe.tracepoint))
        .collect();
    plan.unavailable.sort();
    plan.unavailable.dedup();
    Ok(plan)
}

#[cfg(test)]
mod tests {
    use tracer_common::{kernel::*, names::*};

    use super::*;
    use crate::sections::{
        Figure,
        Section::{self, *},
        Status,
    };

    /// The minimized BTF of each kernel of the matrix (`cargo xtask vm --fixtures`).
    fn fixture(name: &str) -> Btf {
        let path = format!("{}/tests/btf/{name}.btf", env!("CARGO_MANIFEST_DIR"));
        Btf::parse(&std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))).unwrap()
    }

    fn status(p: &Plan, s: Section) -> Status {
        p.coverage[&s].status
    }

    fn has(p: &Plan, program: &str) -> bool {
        p.programs.iter().any(|&(prog, _)| prog == program)
    }

    #[test]
    fn linux_6_18_takes_every_program_exactly() {
        let p = plan(&fixture("6.18"), "6.18", &Ask::sections(&Section::ALL)).unwrap();
        for s in Section::ALL {
            assert_eq!(status(&p, s), Status::Exact, "{s:?}: {:?}", p.coverage[&s]);
        }
        assert!(p.unavailable.is_empty());
        assert!(!has(&p, PROG_TCP_PROBE), "sk_data_ready makes it unneeded");
        assert_eq!(p.features.switch_state, STATE_FROM_ARG);
        assert_eq!(p.features.group_dead, GROUP_DEAD_FROM_ARG);
        assert_eq!((p.features.recv_by_fd, p.features.vma_lookup), (0, VMA_MAPLE));
        assert_eq!(p.features.vma_seq, SEQ_COUNT, "mm_lock_seq is a seqcount_t");
        assert_eq!(p.features.folio_order, ORDER_IN_FLAGS_1);
        assert_eq!(p.offsets.task_pid + 4, p.offsets.task_tgid);
    }

    #[test]
    fn linux_6_12_reads_group_dead_from_the_signal_struct() {
        let p = plan(&fixture("6.12"), "6.12", &Ask::sections(&Section::ALL)).unwrap();
        assert_eq!(p.features.group_dead, GROUP_DEAD_FROM_SIGNAL);
        assert_ne!(p.offsets.signal_live, Offsets::ABSENT);
        for s in Section::ALL {
            assert_eq!(status(&p, s), Status::Exact, "{s:?}: {:?}", p.coverage[&s]);
        }
    }

    #[test]
    fn linux_6_1_degrades_socket_names_and_fault_around_only() {
        let p = plan(&fixture("6.1"), "6.1.0", &Ask::sections(&Section::ALL)).unwrap();
        assert_eq!(p.features.switch_state, STATE_FROM_ARG);
        assert_eq!(p.features.recv_by_fd, 1, "no sock_recv_length: receives by their fd");
        assert_eq!(p.features.vma_lookup, VMA_MAPLE);
        assert_eq!(p.features.folio_order, ORDER_BYTE, "folio->_folio_order");
        assert!(has(&p, PROG_TCP_PROBE) && !has(&p, PROG_SK_DATA_READY) && !has(&p, PROG_FILEMAP_MAP_PAGES));
        assert_eq!(p.unavailable, [Figure::FaultAround]);
        for (s, want) in
            [(Syscalls, Status::Exact), (Copies, Status::Exact), (Sched, Status::Exact), (Softirq, Status::Exact)]
        {
            assert_eq!(status(&p, s), want, "{s:?}: {:?}", p.coverage[&s]);
        }
        assert_eq!(status(&p, Epoll), Status::Degraded);
        assert!(
            p.coverage[&Epoll].notes[0].contains("unix socket")
                && p.coverage[&Epoll].notes[0].ends_with("(Linux 6.1.0)")
        );
        assert_eq!(status(&p, Faults), Status::Degraded);
        assert!(p.coverage[&Faults].notes[0].contains("fault-around"));
    }

    #[test]
    fn linux_5_10_reads_the_switch_state_and_walks_the_rbtree() {
        let p = plan(&fixture("5.10"), "5.10", &Ask::sections(&Section::ALL)).unwrap();
        assert_eq!(p.features.switch_state, STATE_FROM_TASK);
        assert_eq!(p.offsets.task_state, fixture("5.10").member_offset("task_struct", "state").unwrap());
        assert_eq!(p.features.vma_lookup, VMA_RBTREE);
        assert_ne!(p.offsets.vma_rb, Offsets::ABSENT);
        assert_eq!(p.features.vma_seq, SEQ_NONE, "no mm_lock_seq: every fault walks the tree");
        assert_eq!(p.features.folio_order, ORDER_BYTE, "page[1].compound_order");
        assert!(p.offsets.folio_order >= 64, "past the head page");
        assert_eq!(p.unavailable, [Figure::FaultAround]);
        assert_eq!(status(&p, Sched), Status::Exact);
        assert_eq!(status(&p, Copies), Status::Exact);
    }

    #[test]
    fn only_the_sections_asked_for_attach_their_programs() {
        let p = plan(&fixture("6.18"), "6.18", &Ask::sections(&[Syscalls])).unwrap();
        let programs: Vec<&str> = p.programs.iter().map(|&(prog, _)| prog).collect();
        assert_eq!(
            programs,
            [PROG_SCHED_SWITCH, PROG_TASK_NEWTASK, PROG_PROCESS_EXIT, PROG_PROCESS_EXEC, PROG_SYS_ENTER, PROG_SYS_EXIT]
        );
        assert_eq!(p.coverage.keys().copied().collect::<Vec<_>>(), [Syscalls]);
    }

    #[test]
    fn without_latency_syscalls_alone_take_one_program_on_sys_exit() {
        let programs = |ask: &Ask<'_>| -> Vec<&str> {
            plan(&fixture("5.10"), "5.10", ask).unwrap().programs.iter().map(|&(prog, _)| prog).collect()
        };
        let lean = Ask { sections: &[Syscalls, Sched], latency: false, timeline: false };
        let p = plan(&fixture("5.10"), "5.10", &lean).unwrap();
        assert!(p.programs.contains(&(PROG_SYS_EXIT_COUNT, "sys_exit")));
        assert!(!p.programs.iter().any(|&(prog, _)| prog == PROG_SYS_ENTER || prog == PROG_SYS_EXIT));
        assert!(p.programs.iter().any(|&(prog, _)| prog == PROG_SCHED_SWITCH) && p.features.stateless == 0);
        // Syscalls alone keep no state per thread, so no sched_switch has to end it.
        let alone = Ask { sections: &[Syscalls], latency: false, timeline: false };
        assert_eq!(programs(&alone), [PROG_TASK_NEWTASK, PROG_PROCESS_EXIT, PROG_PROCESS_EXEC, PROG_SYS_EXIT_COUNT]);
        assert_eq!(plan(&fixture("5.10"), "5.10", &alone).unwrap().features.stateless, 1);
        assert!(p.unavailable.contains(&Figure::SyscallLatency));
        assert_eq!(status(&p, Syscalls), Status::Exact, "what it gives is exact; the notes say what it leaves out");
        // A call's entry is still needed by epoll and copies, and by the timeline.
        for ask in [
            Ask { sections: &[Syscalls, Epoll], latency: false, timeline: false },
            Ask { sections: &[Syscalls], latency: false, timeline: true },
            Ask::sections(&[Syscalls]),
        ] {
            let chosen = programs(&ask);
            assert!(chosen.contains(&PROG_SYS_ENTER) && chosen.contains(&PROG_SYS_EXIT), "{ask:?}");
            assert!(!chosen.contains(&PROG_SYS_EXIT_COUNT), "{ask:?}");
            let latency = !plan(&fixture("5.10"), "5.10", &ask).unwrap().unavailable.contains(&Figure::SyscallLatency);
            assert_eq!(latency, ask.latency, "{ask:?}: latency is null exactly when not asked for");
        }
    }
}
