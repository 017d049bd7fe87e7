//! Helpers for the privileged tests: where the built binaries are, running the tracer,
//! reading its JSON report.
use std::{
    path::PathBuf,
    process::{Command, Output},
};

/// `target/<profile>/NAME`, built by `cargo build --release` (which `cargo xtask test` runs).
pub fn binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    // target/release/deps/test-hash -> target/release
    let dir = exe.parent().and_then(|d| d.parent()).expect("target dir");
    let path = dir.join(name);
    assert!(path.is_file(), "{} is not built: run `cargo xtask test` (it builds every binary first)", path.display());
    path
}

/// A scratch file path unique to this test process.
pub fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tracer-it-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

/// Runs `tracer ARGS` and returns its output; panics with stderr when it fails.
pub fn tracer(args: &[&str]) -> Output {
    let out = Command::new(binary("tracer")).args(args).output().expect("run tracer");
    assert!(out.status.success(), "tracer {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    out
}

pub fn json_file(path: &std::path::Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} is not JSON ({e}): {text}", path.display()))
}

/// The last line of a program's stdout, parsed as its JSON summary.
pub fn last_json_line(stdout: &[u8]) -> serde_json::Value {
    let text = String::from_utf8_lossy(stdout);
    let line = text.lines().rev().find(|l| l.starts_with('{')).unwrap_or_else(|| panic!("no JSON line in {text}"));
    serde_json::from_str(line).unwrap()
}
