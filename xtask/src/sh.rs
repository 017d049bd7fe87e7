//! Running programs and finding things: the helpers every task shares.
use std::{
    env,
    path::{Path, PathBuf},
    process::Command,
    time::Instant,
};

pub type Result<T = ()> = std::result::Result<T, String>;

/// Runs a command, inheriting stdio; a failure names the command and its status.
pub fn run(cmd: &mut Command) -> Result {
    let status = cmd.status().map_err(|e| format!("cannot run {}: {e}", program(cmd)))?;
    if status.success() { Ok(()) } else { Err(format!("{cmd:?} failed ({status})")) }
}

/// A command's stdout, if it ran and succeeded.
pub fn output(cmd: &mut Command) -> Option<String> {
    let out = cmd.output().ok()?;
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

fn program(cmd: &Command) -> String {
    cmd.get_program().to_string_lossy().into_owned()
}

/// The workspace root.
pub fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap_or(Path::new("."))
}

/// The cargo that runs this xtask (so the same toolchain builds everything).
pub fn cargo() -> Command {
    Command::new(env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
}

/// Where `cargo build --release` leaves the binaries.
pub fn release_dir() -> PathBuf {
    root().join("target/release")
}

pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// Whether a program is on PATH.
pub fn which(tool: &str) -> bool {
    env::var_os("PATH").is_some_and(|p| env::split_paths(&p).any(|d| d.join(tool).is_file()))
}

/// Runs one stage of a task and says how long it took, so a slow stage is seen in CI's log.
pub fn stage<T>(name: &str, f: impl FnOnce() -> Result<T>) -> Result<T> {
    eprintln!("xtask: == {name}");
    let start = Instant::now();
    let result = f();
    let secs = start.elapsed().as_secs();
    let verdict = if result.is_ok() { "done" } else { "FAILED" };
    eprintln!("xtask: == {name}: {verdict} in {}m{:02}s", secs / 60, secs % 60);
    result
}

/// Builds the tracer and its workloads for a task that loads eBPF programs (so needs root).
pub fn build_for(what: &str) -> Result<PathBuf> {
    run(cargo().args(["build", "--release", "--quiet", "--package", "tracer", "--package", "workloads", "--bins"]))?;
    if !is_root() {
        return Err(format!("the {what} loads eBPF programs: run `cargo xtask {what}` as root"));
    }
    Ok(release_dir())
}
