//! `cargo xtask lint`: formatting and clippy with warnings denied, over both workspaces
//! (import cycles are a test: tracer/tests/layers.rs). The eBPF crate builds only for bpfel-unknown-none with Debian's
//! compiler, so it is linted with Debian's clippy (rust-web-clippy) as the compiler's
//! wrapper: rustup's clippy is a different compiler version and cannot read that `core`.
use std::path::Path;

use serde_json::Value;

use crate::sh::{Result, cargo, root, run};

const EBPF_CRATE: &str = "tracer-ebpf";
/// Every check runs, so one run shows all that is wrong; then one line per failure.
pub fn lint() -> Result {
    let ebpf = root().join(EBPF_CRATE);
    let mut failed = Vec::new();
    if run(cargo().current_dir(root()).args(["fmt", "--all", "--check"])).is_err() {
        failed.push("cargo fmt --check: the tree is not formatted (run `cargo fmt`)".to_owned());
    }
    if run(cargo().current_dir(&ebpf).args(["fmt", "--check"])).is_err() {
        failed.push(format!("cargo fmt --check in {EBPF_CRATE}: not formatted (run `cargo fmt` there)"));
    }
    let clippy = ["clippy", "--workspace", "--all-targets", "--release", "--quiet", "--", "-D", "warnings"];
    if run(cargo().current_dir(root()).args(clippy)).is_err() {
        failed.push("clippy found warnings (above)".to_owned());
    }
    failed.extend(clippy_ebpf(&ebpf).err());
    if !failed.is_empty() {
        return Err(format!("lint:\n  {}", failed.join("\n  ")));
    }
    eprintln!("lint: formatted, clippy-clean (both workspaces)");
    Ok(())
}

/// Clippy over the eBPF crate for its own target; warnings counted from cargo's JSON
/// messages (a `-D warnings` flag would reach the `core` that build-std compiles too).
fn clippy_ebpf(dir: &Path) -> Result {
    let out = cargo()
        .current_dir(dir)
        .args(["check", "--release", "--quiet", "--message-format=json", "--target", "bpfel-unknown-none"])
        .args(["-Z", "build-std=core", "--target-dir"])
        .arg(root().join("target/bpf-lint"))
        .env("RUSTC", "/usr/bin/rustc")
        .env("RUSTC_BOOTSTRAP", "1")
        .env("RUSTC_WORKSPACE_WRAPPER", "/usr/bin/clippy-driver")
        .output()
        .map_err(|e| format!("cannot run cargo for {EBPF_CRATE}: {e}"))?;
    let mut warnings = Vec::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let Ok(v) = serde_json::from_str::<Value>(line) else { continue };
        if v["reason"] == "compiler-message" && matches!(v["message"]["level"].as_str(), Some("warning" | "error")) {
            warnings.push(v["message"]["rendered"].as_str().unwrap_or_default().to_owned());
        }
    }
    if !warnings.is_empty() {
        eprint!("{}", warnings.concat());
        return Err(format!("clippy: {} warnings in {EBPF_CRATE} (above)", warnings.len()));
    }
    if !out.status.success() {
        return Err(format!("clippy could not check {EBPF_CRATE}:\n{}", String::from_utf8_lossy(&out.stderr)));
    }
    Ok(())
}
