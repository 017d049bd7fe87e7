//! Orchestration only: install what a new machine lacks, then build, check and test. The
//! eBPF object is built by `tracer/build.rs` alone; nothing here builds it another way.
use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod apt;
mod bareroot;
mod bench;
mod deb;
mod dist;
mod lint;
mod setup;
mod sh;
mod test;
mod vm;

use sh::{Result, build_for, run};

#[derive(Parser)]
#[command(name = "cargo xtask", about = "Set-up, tests, demo, benchmarks and packages for tracer")]
struct Cli {
    #[command(subcommand)]
    task: Task,
}

#[derive(Subcommand)]
enum Task {
    /// Install what the build and the tests need (Debian packages, bpf-linker, the Perfetto
    /// bindings, tracefs) and check each thing.
    Setup,
    /// Set-up, then every test: lints, unit tests, the privileged suite on this kernel, the
    /// VM matrix, and the README's commands in a bare Debian root.
    Test(test::Options),
    /// Set-up, build, then `tracer demo` (arguments go to it).
    Demo {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// What tracing costs: per event, in throughput, the user-space pipeline, or a soak.
    Bench(bench::Options),
    /// `cargo fmt --check` and clippy with warnings denied over both workspaces (the eBPF
    /// crate included).
    Lint,
    /// Static builds of the tracer and the workloads in target/dist.
    Dist,
    /// The privileged suite inside Debian's 5.10, 6.1 and 6.12 kernels under qemu.
    Vm(vm::Options),
    /// A Debian package of the static binaries, man pages and completions (target/debian).
    Deb(deb::Options),
    /// The README's two commands, and the package, proven in a bare Debian 12 root.
    BareRoot(bareroot::Options),
}

fn main() -> ExitCode {
    let result = match Cli::parse().task {
        Task::Setup => setup::setup(),
        Task::Test(o) => test::test(&o),
        Task::Demo { args } => setup::setup().and_then(|()| demo(&args)),
        Task::Bench(o) => setup::setup().and_then(|()| bench::bench(&o)),
        Task::Lint => setup::setup().and_then(|()| lint::lint()),
        Task::Dist => setup::setup()
            .and_then(|()| dist::dist())
            .map(|dir| eprintln!("dist: static binaries in {}", dir.display())),
        Task::Vm(o) => setup::setup().and_then(|()| vm::vm(&o)),
        Task::Deb(o) => setup::setup().and_then(|()| deb::deb(&o)),
        Task::BareRoot(o) => bareroot::bare_root(&o),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Builds, then runs `tracer demo`.
fn demo(args: &[String]) -> Result {
    let bin = build_for("demo")?;
    run(std::process::Command::new(bin.join("tracer")).arg("demo").args(args))
}
