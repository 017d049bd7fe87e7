//! `cargo xtask test`: everything CI checks, each stage timed. The host part (`--host`):
//! set-up, lints, unit tests (no root), then the privileged integration tests one at a
//! time (they measure scheduling, so they must not compete for the CPUs). Then the same
//! suite on the VM matrix's kernels, and the README's commands in a bare Debian root.
use clap::Args;

use crate::{
    lint, setup,
    sh::{Result, cargo, is_root, run, stage},
    vm,
};

#[derive(Args)]
pub struct Options {
    /// Only this machine: no VM matrix, no bare root.
    #[arg(long)]
    host: bool,
    /// Passed to `cargo test` (a test name filter, say).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    extra: Vec<String>,
}

pub fn test(o: &Options) -> Result {
    stage("setup", setup::setup)?;
    stage("lint", lint::lint)?;
    stage("build", || run(cargo().args(["build", "--release", "--workspace", "--bins"])))?;
    stage("unit tests", || run(cargo().args(["test", "--release"]).args(&o.extra)))?;
    if !is_root() {
        return Err("the integration tests load eBPF programs: run `cargo xtask test` as root".into());
    }
    stage("privileged tests on this kernel", || {
        run(cargo()
            .args(["test", "--release", "--package", "integration-test"])
            .args(&o.extra)
            .args(["--", "--test-threads=1"]))
    })?;
    if o.host {
        return Ok(());
    }
    stage("VM matrix", || vm::vm(&vm::Options::default()))?;
    // In a process of its own: it makes its mounts in a private mount namespace, which the
    // kernel tears down with that process however it ends.
    stage("bare Debian root", || {
        let me = std::env::current_exe().map_err(|e| format!("cannot find this xtask: {e}"))?;
        run(std::process::Command::new(me).arg("bare-root"))
    })
}
