//! `cargo xtask dist`: static builds of the tracer and the workloads in target/dist, one
//! file each, to copy to any x86-64 host (glibc or not) and, in the VM suite, to run
//! beside busybox alone.
use std::{fs, path::PathBuf};

use crate::sh::{Result, cargo, root, run};

/// A static-pie glibc build: one binary that starts on any x86-64 Linux from glibc 2.17
/// hosts to busybox initramfs guests (musl would need a target rustup cannot fetch here).
pub const STATIC_RUSTFLAGS: (&str, &str) =
    ("CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_RUSTFLAGS", "-C target-feature=+crt-static -C force-frame-pointers=yes");
/// The host target, named so that cargo applies the static flags to it alone (not to
/// build scripts).
pub const STATIC_TARGET: &str = "x86_64-unknown-linux-gnu";
/// What `cargo xtask dist` ships: the tracer and the workloads it demonstrates with.
pub const DIST: &[&str] = &["tracer", "epoll-server", "epoll-client", "zerocopy", "memlab"];

pub fn dist() -> Result<PathBuf> {
    run(cargo()
        .current_dir(root())
        .args(["build", "--release", "--quiet", "--bins", "--package", "tracer", "--package", "workloads"])
        .args(["--target", STATIC_TARGET])
        .env(STATIC_RUSTFLAGS.0, STATIC_RUSTFLAGS.1))?;
    let (from, to) = (root().join("target").join(STATIC_TARGET).join("release"), root().join("target/dist"));
    fs::create_dir_all(&to).map_err(|e| e.to_string())?;
    for b in DIST {
        fs::copy(from.join(b), to.join(b)).map_err(|e| format!("{b}: {e}"))?;
    }
    Ok(to)
}
