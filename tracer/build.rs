//! Builds the eBPF object (`tracer-ebpf`) and leaves it in `OUT_DIR` for `include_bytes!`,
//! so a plain `cargo build` makes a self-contained `tracer`. This is the only place the
//! object is built.
//!
//! Why not `aya-build`: it drives a rustup nightly with `rust-src`, which these machines do
//! not have (docs/kernel-notes.md, "Building the eBPF object"). Debian's `rustc-web` ships a compiler with its
//! library source, and `RUSTC_BOOTSTRAP=1` lets it `-Z build-std=core` for the BPF target;
//! `bpf-linker` must be built against the same LLVM (22). `cargo xtask setup` installs both.
use std::{
    env,
    path::{Path, PathBuf},
    process::{Command, exit},
};

/// The Debian compiler (rustc-web) and where `-Z build-std` finds its library source.
const BPF_RUSTC: &str = "/usr/bin/rustc";
const BPF_RUST_SRC: &str = "/usr/lib/rustlib/src/rust/library";

fn main() {
    let manifest_dir = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").unwrap());
    let root = manifest_dir.parent().unwrap();
    let out_dir = PathBuf::from(env::var_os("OUT_DIR").unwrap());
    for dir in ["tracer-ebpf/src", "tracer-ebpf/Cargo.toml", "tracer-common/src", "tracer-common/Cargo.toml"] {
        println!("cargo::rerun-if-changed={}", root.join(dir).display());
    }
    let rustc = env::var("TRACER_BPF_RUSTC").unwrap_or_else(|_| BPF_RUSTC.to_owned());
    println!("cargo::rerun-if-env-changed=TRACER_BPF_RUSTC");
    let linker = find_on_path("bpf-linker");
    if let Some(linker) = &linker {
        println!("cargo::rerun-if-changed={}", linker.display());
    }
    let missing: Vec<&str> = [
        (!Path::new(&rustc).exists()).then_some("rustc-web (/usr/bin/rustc)"),
        (!Path::new(BPF_RUST_SRC).exists()).then_some("rust-web-src"),
        linker.is_none().then_some("bpf-linker"),
    ]
    .into_iter()
    .flatten()
    .collect();
    if !missing.is_empty() {
        fail(&format!("the eBPF toolchain is missing ({}): run `cargo xtask setup`", missing.join(", ")));
    }

    let linker_dir = linker.as_deref().and_then(Path::parent).unwrap();
    let path = env::join_paths(
        std::iter::once(linker_dir.to_path_buf()).chain(env::split_paths(&env::var_os("PATH").unwrap_or_default())),
    )
    .unwrap();
    let target_dir = bpf_target_dir(&out_dir);
    let mut cmd = Command::new(env::var_os("CARGO").unwrap());
    cmd.current_dir(root.join("tracer-ebpf"))
        .args(["build", "--locked", "--release", "--target", "bpfel-unknown-none"])
        .args(["-Z", "build-std=core", "--target-dir"])
        .arg(&target_dir)
        .env("RUSTC", &rustc)
        .env("RUSTC_BOOTSTRAP", "1")
        .env("PATH", path);
    // The outer build's compiler settings are for the host, not for the BPF target.
    for var in
        ["RUSTC_WRAPPER", "RUSTC_WORKSPACE_WRAPPER", "RUSTFLAGS", "CARGO_ENCODED_RUSTFLAGS", "CARGO_BUILD_TARGET"]
    {
        cmd.env_remove(var);
    }
    match cmd.status() {
        Ok(s) if s.success() => {}
        Ok(s) => fail(&format!("building the eBPF object failed ({s}); see the errors above")),
        Err(e) => fail(&format!("could not run cargo to build the eBPF object: {e}")),
    }
    let object = target_dir.join("bpfel-unknown-none/release/tracer-ebpf");
    std::fs::copy(&object, out_dir.join("tracer.bpf.o"))
        .unwrap_or_else(|e| fail(&format!("eBPF object missing at {}: {e}", object.display())));
}

/// `bpf/` in the outer build's target directory (found by the `CACHEDIR.TAG` cargo keeps
/// at its top), shared by every profile and host target: the object is the same for all
/// of them, so e.g. the static build of `cargo xtask dist` does not build it again.
fn bpf_target_dir(out_dir: &Path) -> PathBuf {
    out_dir
        .ancestors()
        .find(|d| d.join("CACHEDIR.TAG").is_file())
        .map_or_else(|| out_dir.join("ebpf-target"), |top| top.join("bpf"))
}

fn find_on_path(name: &str) -> Option<PathBuf> {
    let path = env::var_os("PATH").unwrap_or_default();
    let home_bin = env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo/bin"));
    env::split_paths(&path).chain(home_bin).map(|d| d.join(name)).find(|p| p.is_file())
}

fn fail(msg: &str) -> ! {
    println!("cargo::error={msg}");
    exit(1)
}
