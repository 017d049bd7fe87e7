//! `cargo xtask vm [KERNEL...]`: the privileged suite inside Debian's own kernels, booted
//! under qemu, and a matrix of what each kernel gives per report section.
//!
//! For each kernel series (5.10 from bullseye, 6.1 and 6.12 from bookworm, each the
//! newest build the mirrors hold): fetch and unpack it ([`kernels`]), build a guest and
//! boot it ([`guest`]), run `tracer check` and every section's tests in it and read the
//! results ([`suite`]).
use std::{fs, process::Command};

use clap::Args;

use crate::{
    dist::dist,
    sh::{Result, root},
};

mod guest;
mod kernels;
mod suite;
mod tests;

use suite::TIMELINE;

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
    let tests = tests::static_tests()?;
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
