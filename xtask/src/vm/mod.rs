//! `cargo xtask vm [KERNEL...]`: the privileged suite inside Debian's own kernels, booted
//! under qemu, and a matrix of what each kernel gives per report section.
//!
//! For each kernel series (5.10 from bullseye, 6.1 and 6.12 from bookworm, each the
//! newest build the mirrors hold): fetch and unpack it ([`kernels`]), build a guest and
//! boot it ([`guest`]), run `tracer check` and every section's tests in it and read the
//! results ([`suite`]).
use std::{
    collections::BTreeMap,
    fs,
    path::PathBuf,
    process::{Command, Stdio},
};

use clap::Args;
use serde_json::Value;

use crate::{
    dist::{STATIC_RUSTFLAGS, STATIC_TARGET, dist},
    sh::{Result, cargo, root},
};

mod guest;
mod kernels;
mod suite;

use suite::TIMELINE;

/// The sections the suite judges, each by the test binary of the same name.
const SECTIONS: &[&str] = &["syscalls", "copies", "epoll", "sched", "wakeups", "softirq", "faults"];
/// Test binaries that run in the guest besides the sections' (command line, replay, detach, limits).
const OTHER_TESTS: &[&str] = &["cli", "replay", "cleanup", "limits", "stacks", "targets"];

#[derive(Args, Default)]
pub struct Options {
    /// Kernel series to boot (default: all).
    #[arg(value_parser = clap::builder::PossibleValuesParser::new(["5.10", "6.1", "6.12"]))]
    kernels: Vec<String>,
    /// Refresh tracer/tests/btf from each kernel's BTF.
    #[arg(long)]
    fixtures: bool,
}

pub fn vm(o: &Options) -> Result {
    let work = root().join("target/vm");
    fs::create_dir_all(&work).map_err(|e| e.to_string())?;
    let dist = dist()?;
    let tests = static_tests()?;
    let apt = kernels::Apt::new(&work)?;
    let series: Vec<&str> = if o.kernels.is_empty() {
        kernels::SERIES.iter().map(|(n, _)| *n).collect()
    } else {
        o.kernels.iter().map(String::as_str).collect()
    };
    let mut matrix = Vec::new();
    let mut failed = Vec::new();
    for series in series {
        let package = apt.newest(series)?;
        let kernel = apt.unpack(&package)?;
        eprintln!("vm: {series}: {} ({})", kernel.release, package);
        let guest = guest::Guest::build(&work.join(&kernel.release), &kernel, &dist, &tests)?;
        let mut result = guest.boot()?;
        check_timeline(&guest, &mut result)?;
        if o.fixtures {
            let btf = guest.dir.join("vmlinux.btf");
            guest.fetch("/vmlinux.btf", &btf)?;
            let fixture = root().join(format!("tracer/tests/btf/{series}.btf"));
            suite::refresh_fixture(&dist, &btf, &kernel.release, &fixture)?;
        }
        for t in &result.failed {
            // The failure's own words, for the log: the test binary's output.
            eprintln!("vm: {series}: {t} failed:\n{}", result.output.get(t).map_or("", String::as_str));
            failed.push(format!("{series}: {t}"));
        }
        matrix.push((series.to_owned(), kernel.release.clone(), result));
    }
    suite::print_matrix(&matrix);
    if failed.is_empty() { Ok(()) } else { Err(format!("the VM suite failed: {}", failed.join("; "))) }
}

/// The integration tests, and the probe programs they run, built static.
struct StaticTests {
    /// Test target name -> executable.
    tests: BTreeMap<String, PathBuf>,
    /// The package's own programs (sched-child, wake-probe, ...).
    bins: Vec<PathBuf>,
}

fn static_tests() -> Result<StaticTests> {
    let out = cargo()
        .current_dir(root())
        .args(["test", "--release", "--no-run", "--package", "integration-test", "--message-format=json"])
        .args(["--target", STATIC_TARGET])
        .env(STATIC_RUSTFLAGS.0, STATIC_RUSTFLAGS.1)
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if !out.status.success() {
        return Err("building the static integration tests failed".into());
    }
    let mut tests = BTreeMap::new();
    let mut bins = Vec::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let Ok(v) = serde_json::from_str::<Value>(line) else { continue };
        let (Some(exe), Some(kinds)) = (v["executable"].as_str(), v["target"]["kind"].as_array()) else { continue };
        if kinds.iter().any(|k| k == "test") {
            tests.insert(v["target"]["name"].as_str().unwrap_or("").to_owned(), PathBuf::from(exe));
        } else if kinds.iter().any(|k| k == "bin") && v["profile"]["test"] == false {
            bins.push(PathBuf::from(exe));
        }
    }
    for name in SECTIONS.iter().chain(OTHER_TESTS) {
        if !tests.contains_key(*name) {
            return Err(format!("integration-test has no test target {name}"));
        }
    }
    Ok(StaticTests { tests, bins })
}

/// The guest's Perfetto trace, checked against its report by the tests' own checker
/// (the schema's official Python bindings, on the host).
fn check_timeline(guest: &guest::Guest, o: &mut suite::Outcome) -> Result {
    if o.tests.get(TIMELINE) != Some(&true) {
        return Ok(()); // it failed in the guest, and says why there
    }
    let (trace, report) = (guest.dir.join("timeline.pftrace"), guest.dir.join("timeline.json"));
    guest.fetch(&format!("/tmp/{TIMELINE}.pftrace"), &trace)?;
    guest.fetch(&format!("/tmp/{TIMELINE}.json"), &report)?;
    let out = Command::new(root().join("target/pyenv/bin/python"))
        .arg(root().join("integration-test/scripts/perfetto_check.py"))
        .args([&trace, &report])
        .output()
        .map_err(|e| format!("cannot run the Perfetto checker: {e}"))?;
    let name = format!("{TIMELINE} check");
    o.tests.insert(name.clone(), out.status.success());
    o.output.insert(
        name.clone(),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    );
    if !out.status.success() {
        o.failed.push(name);
    }
    Ok(())
}
