//! `cargo xtask bench events`: what each probe costs per kernel event. `hammer` repeats
//! one kind of event (a `getppid()`, a futex handoff between two threads on one CPU, an
//! anonymous write fault) and measures its own CPU time; each observer runs once with the
//! hammer as its target and once with another process as its target (the hammer is then
//! what every other process on the machine is: a bystander that pays for the filter).
//! The cost per event is the CPU time per op minus the same round's untraced run, the
//! median over interleaved rounds. For the tracer, the kernel's own statistics (its
//! report's `overhead`) give each program's time per run beside it.
use std::{
    collections::BTreeMap,
    io::{BufRead, BufReader, Write},
    path::Path,
    process::{Command, Stdio},
};

use serde_json::Value;

use super::{
    observer::{attach, median, stop},
    options::Options,
};
use crate::sh::{Result, which};

const MODES: [(&str, &str); 3] = [("syscall", "getppid"), ("switch", "handoff"), ("fault", "fault")];
const SECTIONS: [&str; 7] = ["syscalls", "copies", "epoll", "sched", "wakeups", "softirq", "faults"];

/// One run's figures: CPU ns per op, per mode; and per program, ns per run.
#[derive(Default, Clone)]
struct Run {
    per_op: BTreeMap<String, f64>,
    programs: BTreeMap<String, f64>,
}

pub fn events(bin: &Path, s: &Options) -> Result {
    // `tracer+stacks`, `tracer+timeline`: every probe and `--stacks` or `--timeline`
    // (what `--perfetto` streams), each priced on its own.
    let mut configs: Vec<String> = ["floor", "tracer", "tracer+stacks", "tracer+timeline"].map(String::from).to_vec();
    configs.extend(SECTIONS.iter().map(|x| format!("tracer:{x}")));
    configs.push("tracer:syscalls --no-latency".into());
    if !s.no_peers {
        for (tool, config) in [("syscount", "syscount"), ("syscount", "syscount-L"), ("bpftrace", "bpftrace")] {
            if which(tool) {
                configs.push(config.into());
            } else {
                eprintln!("bench: {tool} is not installed: its row is skipped");
            }
        }
    }
    // The bystander the observers target when the hammer is not their target.
    let mut bystander = Command::new("sleep").arg("3600").spawn().map_err(|e| format!("cannot start sleep: {e}"))?;
    let other = bystander.id().to_string();
    let result = (|| {
        let mut base: Vec<Run> = Vec::new();
        let mut runs: BTreeMap<(String, bool), Vec<Run>> = BTreeMap::new();
        for round in 1..=s.events_rounds() {
            base.push(run(bin, "untraced", None, s)?);
            for config in &configs {
                for target in [true, false] {
                    let r = run(bin, config, (!target).then_some(other.as_str()), s)?;
                    runs.entry((config.clone(), target)).or_default().push(r);
                }
            }
            eprintln!("bench: events round {round}/{} done", s.events_rounds());
        }
        print(&configs, &base, &runs, s);
        Ok(())
    })();
    let _ = bystander.kill();
    let _ = bystander.wait();
    result
}

/// One hammer run under `config`, attached to the hammer or to `other`.
fn run(bin: &Path, config: &str, other: Option<&str>, s: &Options) -> Result<Run> {
    let mut hammer = Command::new(bin.join("hammer"))
        .args(["--iterations", &s.iterations.to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start hammer: {e}"))?;
    let mut lines = BufReader::new(hammer.stdout.take().unwrap()).lines();
    let ready = lines.next().and_then(std::result::Result::ok).unwrap_or_default();
    let pid = ready.strip_prefix("ready ").ok_or(format!("hammer said {ready:?}, not `ready PID`"))?.to_owned();
    let report = std::env::temp_dir().join(format!("tracer-bench-events-{}.json", std::process::id()));
    let observed = other.unwrap_or(&pid);
    let result = attach(bin, config, observed, &report).and_then(|observer| {
        writeln!(hammer.stdin.as_mut().unwrap()).map_err(|e| e.to_string())?;
        let mut out = Run::default();
        for _ in MODES {
            let line = lines.next().and_then(std::result::Result::ok).ok_or("hammer ended early")?;
            let v: Value = serde_json::from_str(&line).map_err(|e| format!("hammer: {e}: {line}"))?;
            let per_op = v["cpu_ns"].as_f64().unwrap_or(0.0) / v["ops"].as_f64().unwrap_or(1.0).max(1.0);
            out.per_op.insert(v["mode"].as_str().unwrap_or("").to_owned(), per_op);
        }
        if let Some(o) = observer {
            stop(o)?;
            if config.starts_with("tracer") && other.is_none() {
                out.programs = program_costs(&report)?;
            }
        }
        Ok(out)
    });
    let _ = hammer.kill();
    let _ = hammer.wait();
    let _ = std::fs::remove_file(&report);
    result
}

/// ns per run of each program that ran, from the report's `overhead`.
fn program_costs(report: &Path) -> Result<BTreeMap<String, f64>> {
    let text = std::fs::read_to_string(report).map_err(|e| format!("no tracer report: {e}"))?;
    let v: Value = serde_json::from_str(&text).map_err(|e| format!("bad tracer report: {e}"))?;
    let mut out = BTreeMap::new();
    for p in v["overhead"]["programs"].as_array().into_iter().flatten() {
        let (ns, hits) = (p["ns"].as_f64().unwrap_or(0.0), p["hits"].as_f64().unwrap_or(0.0));
        if hits >= 1000.0 {
            out.insert(p["program"].as_str().unwrap_or("").to_owned(), ns / hits);
        }
    }
    Ok(out)
}

fn print(configs: &[String], base: &[Run], runs: &BTreeMap<(String, bool), Vec<Run>>, s: &Options) {
    let untraced = |mode: &str| median(base.iter().map(|r| r.per_op[mode]).collect());
    println!(
        "\nCPU ns added per event, median of {} interleaved rounds (untraced: getppid {:.0} ns, handoff {:.0} ns, fault {:.0} ns)",
        s.events_rounds(),
        untraced("syscall"),
        untraced("switch"),
        untraced("fault")
    );
    println!(
        "target: the observer traces the hammer; other: it traces another process, the hammer only passes its filter"
    );
    print!("{:<30}", "configuration");
    for (_, label) in MODES {
        print!(" {:>16} {:>15}", format!("{label} target"), format!("{label} other"));
    }
    println!();
    for config in configs {
        print!("{config:<30}");
        for (mode, _) in MODES {
            for target in [true, false] {
                let added: Vec<f64> = runs[&(config.clone(), target)]
                    .iter()
                    .zip(base)
                    .map(|(r, b)| r.per_op[mode] - b.per_op[mode])
                    .collect();
                let width = if target { 17 } else { 16 };
                print!("{:>width$}", format!("{:+.0}", median(added)));
            }
        }
        println!();
    }
    // The kernel's own figure for the whole tracer on its target.
    if let Some(all) = runs.get(&("tracer".to_owned(), true)) {
        let names: std::collections::BTreeSet<&String> = all.iter().flat_map(|r| r.programs.keys()).collect();
        let per_run: Vec<String> = names
            .into_iter()
            .map(|n| {
                let ns = median(all.iter().filter_map(|r| r.programs.get(n).copied()).collect());
                format!("{n} {ns:.0}")
            })
            .collect();
        println!("kernel's statistics, ns per run (tracer, every probe, on the hammer): {}", per_run.join(", "));
    }
}
