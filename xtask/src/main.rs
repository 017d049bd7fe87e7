//! Orchestration only: install what a fresh machine lacks, then build and test. The eBPF
//! object is built by `tracer/build.rs` alone; nothing here builds it another way.
use std::{
    env,
    path::{Path, PathBuf},
    process::{Command, ExitCode},
};

/// Debian's Rust 1.96 (LLVM 22) and its library source, for `-Z build-std=core`; strace
/// is the tests' independent oracle for syscall counts.
/// The compiler, and the oracles the tests hold the tracer to (strace's counts, perf's
/// tracepoint hit counts).
/// `prometheus` (with `curl`): the metrics test scrapes `tracer serve` with a real one.
const APT_PACKAGES: &[&str] =
    &["rustc-web", "rust-web-src", "llvm-22-dev", "strace", "linux-perf", "python3-venv", "prometheus", "curl"];
/// The Perfetto trace schema's official Python bindings: the tests read the tracer's
/// Perfetto traces with them (an independent reader), from a virtualenv in target/.
const PERFETTO_PY: &str = "perfetto==0.59.1";
/// The peers the benchmark measures beside the tracer.
const BENCH_PACKAGES: &[&str] = &["libbpf-tools", "bpftrace", "redis-server", "redis-tools"];
const BPF_LINKER_VERSION: &str = "0.13.0";
const TRACEFS: &str = "/sys/kernel/tracing";

mod bench;
mod events;
mod soak;
mod vm;

/// A static-pie glibc build: one binary that starts on any x86-64 Linux from glibc 2.17
/// hosts to busybox initramfs guests (musl would need a target rustup cannot fetch here).
const STATIC_RUSTFLAGS: (&str, &str) =
    ("CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_RUSTFLAGS", "-C target-feature=+crt-static -C force-frame-pointers=yes");
/// What `cargo xtask dist` ships.
pub const DIST: &[&str] = &["tracer", "epoll-server", "epoll-client", "zerocopy"];

type Result<T = ()> = std::result::Result<T, String>;

fn main() -> ExitCode {
    let args: Vec<String> = env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("setup") => setup(),
        Some("test") => setup().and_then(|()| test(&args[1..])),
        Some("demo") => setup().and_then(|()| demo(&args[1..])),
        Some("bench") => setup().and_then(|()| bench_all(&args[1..])),
        Some("dist") => setup().and_then(|()| dist(root()).map(|dir| eprintln!("dist: static binaries in {}", dir.display()))),
        Some("vm") => setup().and_then(|()| vm::parse(&args[1..])).and_then(|o| vm::vm(root(), &o)),
        _ => Err("usage: cargo xtask <setup|test|demo|bench|dist|vm> (setup installs the eBPF toolchain; test runs every test, on this kernel and in the VM matrix; demo builds and runs `tracer demo`; bench measures the tracer's overhead; dist builds the static binaries; vm [5.10 6.1 6.12] runs the suite on Debian's kernels)".into()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Installs, idempotently and quietly when all is there: the Debian compiler, bpf-linker
/// built against the same LLVM, and a mounted tracefs.
fn setup() -> Result {
    apt_install(APT_PACKAGES)?;
    if !bpf_linker_ok() {
        eprintln!("setup: building bpf-linker {BPF_LINKER_VERSION} against LLVM 22 (about a minute)");
        run(Command::new(env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
            .args(["install", "bpf-linker", "--version", BPF_LINKER_VERSION, "--locked", "--no-default-features"])
            .args(["--features", "llvm-22"])
            .env("LLVM_PREFIX", "/usr/lib/llvm-22"))?;
    }
    python_env(&root().join("target/pyenv"))?;
    if !Path::new(TRACEFS).join("events").is_dir() {
        eprintln!("setup: mounting tracefs at {TRACEFS}");
        run(Command::new("mount").args(["-t", "tracefs", "nodev", TRACEFS]))?;
    }
    eprintln!("setup: ok ({}, bpf-linker {BPF_LINKER_VERSION}, tracefs at {TRACEFS})", APT_PACKAGES.join(", "));
    Ok(())
}

/// The virtualenv with the Perfetto bindings, made once (Debian's own python3).
fn python_env(dir: &Path) -> Result {
    let python = dir.join("bin/python");
    let probe = "from perfetto.protos.perfetto.trace import perfetto_trace_pb2";
    if Command::new(&python).args(["-c", probe]).output().is_ok_and(|o| o.status.success()) {
        return Ok(());
    }
    eprintln!("setup: a Python virtualenv with {PERFETTO_PY} in {}", dir.display());
    run(Command::new("/usr/bin/python3").arg("-m").arg("venv").arg(dir))?;
    run(Command::new(&python).args(["-m", "pip", "install", "--quiet", PERFETTO_PY]))
}

/// Installs the Debian packages of `packages` that are missing.
fn apt_install(packages: &[&str]) -> Result {
    let missing: Vec<&str> = packages.iter().copied().filter(|p| !dpkg_installed(p)).collect();
    if !missing.is_empty() {
        eprintln!("setup: installing Debian packages: {}", missing.join(" "));
        run(Command::new("apt-get").args(["update", "-qq"]))?;
        run(Command::new("apt-get")
            .args(["install", "-y", "-qq", "--no-install-recommends"])
            .args(&missing)
            .env("DEBIAN_FRONTEND", "noninteractive"))?;
    }
    Ok(())
}

/// Unit tests (no root needed) for the host crates, then the privileged integration tests,
/// one at a time (they measure scheduling, so they must not compete for the CPUs), then
/// the same suite on the kernels of the VM matrix (`--host` skips it).
fn test(args: &[String]) -> Result {
    let host_only = args.iter().any(|a| a == "--host");
    let extra: Vec<&String> = args.iter().filter(|a| *a != "--host").collect();
    run(Command::new(cargo()).args(["build", "--release", "--workspace", "--bins"]))?;
    run(Command::new(cargo()).args(["test", "--release"]).args(&extra))?;
    if !is_root() {
        return Err("the integration tests load eBPF programs: run `cargo xtask test` as root".into());
    }
    run(Command::new(cargo())
        .args(["test", "--release", "--package", "integration-test"])
        .args(&extra)
        .args(["--", "--test-threads=1"]))?;
    if host_only {
        return Ok(());
    }
    vm::vm(root(), &vm::parse(&[])?)
}

/// Static builds of the tracer and the workloads in target/dist: one file each, to copy
/// to any x86-64 host (glibc or not) and, in the VM suite, to run beside busybox alone.
fn dist(root: &Path) -> Result<PathBuf> {
    run(Command::new(cargo())
        .current_dir(root)
        .args(["build", "--release", "--quiet", "--bins", "--package", "tracer", "--package", "workloads"])
        .args(["--target", "x86_64-unknown-linux-gnu"])
        .env(STATIC_RUSTFLAGS.0, STATIC_RUSTFLAGS.1))?;
    let (from, to) = (root.join("target/x86_64-unknown-linux-gnu/release"), root.join("target/dist"));
    std::fs::create_dir_all(&to).map_err(|e| e.to_string())?;
    for b in DIST {
        std::fs::copy(from.join(b), to.join(b)).map_err(|e| format!("{b}: {e}"))?;
    }
    Ok(to)
}

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap_or(Path::new("."))
}

fn cargo() -> String {
    env::var("CARGO").unwrap_or_else(|_| "cargo".into())
}

/// Builds the tracer and its workloads for `cargo xtask {what}`, which loads eBPF
/// programs and so needs root; returns the workspace root.
fn build_for(what: &str) -> Result<&'static Path> {
    let cargo = env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let packages = ["--package", "tracer", "--package", "workloads", "--bins"];
    run(Command::new(&cargo).args(["build", "--release", "--quiet"]).args(packages))?;
    if !is_root() {
        return Err(format!("the {what} loads eBPF programs: run `cargo xtask {what}` as root"));
    }
    Ok(Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap_or(Path::new(".")))
}

/// Builds, then runs `tracer demo`.
fn demo(extra: &[String]) -> Result {
    let root = build_for("demo")?;
    run(Command::new(root.join("target/release/tracer")).arg("demo").args(extra))
}

/// The overhead benchmarks (bench.rs: cost per event, throughput), then the user-space
/// path's throughput (`pipeline`); `cargo xtask bench events|load|pipeline` runs one.
fn bench_all(extra: &[String]) -> Result {
    let root = build_for("bench")?;
    apt_install(BENCH_PACKAGES)?;
    let part = extra.first().map(String::as_str);
    if part != Some("pipeline") {
        bench::bench(root, extra)?;
    }
    if extra.iter().any(|a| a == "--soak") {
        return Ok(()); // the soak alone
    }
    if part.is_none() || part == Some("pipeline") || part.is_some_and(|p| p.starts_with('-')) {
        let cargo = env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        run(Command::new(&cargo).args(["bench", "--quiet", "--package", "tracer", "--bench", "pipeline"]))?;
    }
    Ok(())
}

pub fn dpkg_installed(package: &str) -> bool {
    Command::new("dpkg-query")
        .args(["-W", "-f=${Status}", package])
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("install ok installed"))
}

fn bpf_linker_ok() -> bool {
    Command::new("bpf-linker")
        .arg("--version")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains(BPF_LINKER_VERSION))
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().is_ok_and(|o| o.stdout.starts_with(b"0\n"))
}

pub fn run(cmd: &mut Command) -> Result {
    let status = cmd.status().map_err(|e| format!("cannot run {cmd:?}: {e}"))?;
    if status.success() { Ok(()) } else { Err(format!("{cmd:?} failed ({status})")) }
}
