//! `tracer check`: what a kernel lets tracer measure, per report section, and the
//! programs and variants a trace would load there: the probe plan, shown.
use std::fmt::Write as _;

use anyhow::Result;
use serde::Serialize;
use tracer_common::kernel::{
    Features, GROUP_DEAD_FROM_ARG, ORDER_BYTE, ORDER_IN_FLAGS_1, STATE_FROM_ARG, VMA_MAPLE, VMA_RBTREE,
};

use crate::{
    plan::Plan,
    render::{Format, table::Grid},
    sections::{Coverage, Figure, Section},
};

#[derive(Serialize)]
struct Check<'a> {
    kernel: &'a str,
    sections: Vec<SectionCheck<'a>>,
    unavailable: &'a [Figure],
    programs: Vec<Program<'a>>,
    variants: Vec<String>,
}

#[derive(Serialize)]
struct SectionCheck<'a> {
    section: Section,
    #[serde(flatten)]
    coverage: &'a Coverage,
}

#[derive(Serialize)]
struct Program<'a> {
    program: &'a str,
    tracepoint: &'a str,
}

pub fn render(plan: &Plan, format: Format) -> Result<String> {
    let check = Check {
        kernel: &plan.kernel,
        sections: plan.coverage.iter().map(|(&section, coverage)| SectionCheck { section, coverage }).collect(),
        unavailable: &plan.unavailable,
        programs: plan.programs.iter().map(|&(program, tracepoint)| Program { program, tracepoint }).collect(),
        variants: variants(&plan.features),
    };
    Ok(match format {
        Format::Json => serde_json::to_string_pretty(&check)? + "\n",
        Format::Table | Format::Csv => table(&check),
        Format::Folded | Format::FoldedOffwake => {
            anyhow::bail!("a kernel check has no stacks: use --format table or json")
        }
    })
}

/// Where this kernel makes the programs read a fact some other way than the newest does.
fn variants(f: &Features) -> Vec<String> {
    let mut v = Vec::new();
    if f.switch_state != STATE_FROM_ARG {
        v.push("sched_switch: the previous task's state is read from task_struct (no prev_state argument)".into());
    }
    if f.group_dead != GROUP_DEAD_FROM_ARG {
        v.push("sched_process_exit: a process's end is signal->live reaching 0 (no group_dead argument)".into());
    }
    if f.recv_by_fd != 0 {
        v.push("socket receives are told by their fd's inode (no sock_recv_length tracepoint)".into());
    }
    v.push(match f.vma_lookup {
        VMA_MAPLE => "faults find their VMA in the mm's maple tree".into(),
        VMA_RBTREE => "faults find their VMA in the mm's red-black tree".into(),
        _ => "faults cannot find their VMA".into(),
    });
    v.push(match f.folio_order {
        ORDER_IN_FLAGS_1 => "page-cache folio order from folio->_flags_1".into(),
        ORDER_BYTE => "page-cache folio order from folio->_folio_order or the second page's compound_order".into(),
        _ => "page-cache fills count folios, not pages".into(),
    });
    v
}

fn table(c: &Check<'_>) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "Linux {}: what tracer can measure here", c.kernel);
    let mut g = Grid::new(&["section", "coverage", "why"], 3);
    for sc in &c.sections {
        let status = serde_json::to_value(sc.coverage.status).ok().and_then(|v| v.as_str().map(str::to_owned));
        g.row(vec![sc.section.name().into(), status.unwrap_or_default(), sc.coverage.notes.join("; ")]);
    }
    let _ = writeln!(s, "{g}");
    let programs: Vec<&str> = c.programs.iter().map(|p| p.program).collect();
    let _ = writeln!(s, "programs ({}): {}", programs.len(), programs.join(", "));
    for v in &c.variants {
        let _ = writeln!(s, "variant: {v}");
    }
    s
}
