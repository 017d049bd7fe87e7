//! The integration tests the guests run: which binaries (each section's, and the others),
//! built static with the probe programs they start.
use std::{collections::BTreeMap, path::PathBuf, process::Stdio};

use serde_json::Value;

use crate::{
    dist::{STATIC_RUSTFLAGS, STATIC_TARGET},
    sh::{Result, cargo, root},
};

/// The sections the suite judges, each by the test binary of the same name.
pub const SECTIONS: &[&str] = &["syscalls", "copies", "epoll", "sched", "wakeups", "softirq", "faults"];
/// Test binaries that run in the guest besides the sections' (command line, replay, detach, limits).
pub const OTHER_TESTS: &[&str] = &["cli", "replay", "cleanup", "limits", "stacks", "targets"];

/// The integration tests, and the probe programs they run, built static.
pub struct StaticTests {
    /// Test target name -> executable.
    pub tests: BTreeMap<String, PathBuf>,
    /// The package's own programs (sched-child, wake-probe, ...).
    pub bins: Vec<PathBuf>,
}

pub fn static_tests() -> Result<StaticTests> {
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
