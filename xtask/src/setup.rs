//! `cargo xtask setup`: installs what a new Debian 12 machine (a Rust toolchain and
//! nothing else) lacks, then checks each thing the build and the tests rely on. A thing
//! that is missing after the install fails setup in one line that names its package, so a
//! package dropped from this list fails CI there, not as a cryptic error three steps on.
use std::{
    path::{Path, PathBuf},
    process::Command,
};

use crate::{
    apt,
    sh::{Result, cargo, output, root, run},
};

/// bpf-linker is built against this LLVM: the one Debian's rustc-web uses (LLVM 22).
pub const LLVM_PREFIX: &str = "/usr/lib/llvm-22";
pub const BPF_LINKER_VERSION: &str = "0.13.0";
const TRACEFS: &str = "/sys/kernel/tracing";
/// The Perfetto trace schema's official Python bindings: the tests read the tracer's
/// Perfetto traces with them (an independent reader), from a virtualenv in target/.
const PERFETTO_PY: &str = "perfetto==0.59.1";

/// A thing the build or the tests rely on: the Debian package that provides it, and how
/// to tell that it works.
struct Need {
    package: &'static str,
    why: &'static str,
    check: Check,
}

enum Check {
    /// A file that must exist.
    File(&'static str),
    /// A command whose output must contain the text.
    Says(&'static [&'static str], &'static str),
    /// Installed as a dependency of the others; no check of its own.
    Package,
}

const NEEDS: &[Need] = &[
    Need { package: "gcc", why: "rustc links host binaries with cc", check: Check::Says(&["cc", "--version"], "") },
    Need { package: "libc6-dev", why: "the C library to link against", check: Check::File("/usr/include/stdio.h") },
    Need { package: "ca-certificates", why: "TLS to crates.io and PyPI", check: Check::Package },
    Need {
        package: "rustc-web",
        why: "the eBPF object's compiler (Rust 1.96, LLVM 22)",
        check: Check::Says(&["/usr/bin/rustc", "-vV"], "LLVM version: 22."),
    },
    Need {
        package: "rust-web-src",
        why: "the library source -Z build-std=core compiles",
        check: Check::File("/usr/lib/rustlib/src/rust/library/core/Cargo.toml"),
    },
    Need {
        package: "llvm-22-dev",
        why: "bpf-linker is built against LLVM 22",
        check: Check::Says(&["/usr/lib/llvm-22/bin/llvm-config", "--version"], "22."),
    },
    Need {
        package: "rust-web-clippy",
        why: "lints the eBPF crate with its own compiler",
        check: Check::Says(&["/usr/bin/clippy-driver", "--version"], "clippy"),
    },
    Need {
        package: "libc6-dbg",
        why: "names libc's own functions (start_thread...) in the stack tests",
        check: Check::Says(&["dpkg-query", "-W", "-f=${Status}", "libc6-dbg"], "ok installed"),
    },
    Need { package: "strace", why: "the syscall oracle", check: Check::Says(&["strace", "--version"], "strace") },
    Need {
        package: "linux-perf",
        why: "tracepoint hit counts, an oracle",
        check: Check::Says(&["perf", "--version"], "perf version"),
    },
    Need {
        package: "bpftool",
        why: "lists loaded programs after detach",
        check: Check::Says(&["bpftool", "version"], "bpftool"),
    },
    Need { package: "python3-venv", why: "the Perfetto bindings' virtualenv", check: Check::File("/usr/bin/python3") },
    Need {
        package: "prometheus",
        why: "the metrics test scrapes with a real Prometheus",
        check: Check::Says(&["prometheus", "--version"], "prometheus"),
    },
    Need {
        package: "tmux",
        why: "a real terminal for the `tracer top` test",
        check: Check::Says(&["tmux", "-V"], "tmux"),
    },
    Need {
        package: "curl",
        why: "queries Prometheus in the tests",
        check: Check::Says(&["curl", "--version"], "curl"),
    },
    Need {
        package: "qemu-system-x86",
        why: "boots the VM matrix's kernels",
        check: Check::Says(&["qemu-system-x86_64", "--version"], "QEMU"),
    },
    Need { package: "busybox-static", why: "the VM guests' userland", check: Check::File("/bin/busybox") },
    Need { package: "cpio", why: "packs the guests' initramfs", check: Check::Says(&["cpio", "--version"], "cpio") },
    Need { package: "kmod", why: "resolves the guests' modules", check: Check::Says(&["depmod", "--version"], "kmod") },
    Need { package: "e2fsprogs", why: "the guests' disk images", check: Check::Says(&["mkfs.ext4", "-V"], "") },
    Need {
        package: "xz-utils",
        why: "unpacks the guests' .ko.xz modules",
        check: Check::Says(&["xz", "--version"], "xz"),
    },
    Need {
        package: "debootstrap",
        why: "the bare Debian root the set-up is proven in",
        check: Check::Says(&["debootstrap", "--version"], "debootstrap"),
    },
];

/// Installs, idempotently and quietly when all is there, then verifies.
pub fn setup() -> Result {
    apt::install(&NEEDS.iter().map(|n| n.package).collect::<Vec<_>>())?;
    for need in NEEDS {
        verify(need)?;
    }
    bpf_linker()?;
    python_env(&root().join("target/pyenv"))?;
    tracefs()?;
    eprintln!(
        "setup: ok ({} packages checked, bpf-linker {BPF_LINKER_VERSION}, {PERFETTO_PY}, tracefs at {TRACEFS})",
        NEEDS.len()
    );
    Ok(())
}

fn verify(need: &Need) -> Result {
    let fail = |detail: String| {
        Err(format!(
            "setup: {} is missing or broken after the install ({detail}; {}): apt-get install {}",
            need.package, need.why, need.package
        ))
    };
    match need.check {
        Check::File(path) if !Path::new(path).exists() => fail(format!("no {path}")),
        Check::Says(cmd, text) => match output(Command::new(cmd[0]).args(&cmd[1..])) {
            Some(out) if out.contains(text) => Ok(()),
            Some(_) => fail(format!("`{}` does not say {text:?}", cmd.join(" "))),
            None => fail(format!("`{}` does not run", cmd.join(" "))),
        },
        Check::File(_) | Check::Package => Ok(()),
    }
}

/// bpf-linker from crates.io, built against LLVM 22 (its build finds LLVM through
/// LLVM_PREFIX; without llvm-22-dev there it fails with "could not find LLVM lib directory").
fn bpf_linker() -> Result {
    if bpf_linker_version().is_some_and(|v| v.contains(BPF_LINKER_VERSION)) {
        return Ok(());
    }
    let config = PathBuf::from(LLVM_PREFIX).join("bin/llvm-config");
    if !config.exists() {
        return Err(format!(
            "setup: bpf-linker needs LLVM 22's development files ({} is missing): apt-get install llvm-22-dev",
            config.display()
        ));
    }
    eprintln!("setup: building bpf-linker {BPF_LINKER_VERSION} against LLVM 22 (about a minute)");
    run(cargo()
        .args(["install", "bpf-linker", "--version", BPF_LINKER_VERSION, "--locked", "--no-default-features"])
        .args(["--features", "llvm-22"])
        .env("LLVM_PREFIX", LLVM_PREFIX))?;
    match bpf_linker_version() {
        Some(v) if v.contains(BPF_LINKER_VERSION) => Ok(()),
        _ => Err(format!(
            "setup: `bpf-linker --version` does not say {BPF_LINKER_VERSION} after `cargo install bpf-linker`: is $CARGO_HOME/bin on PATH?"
        )),
    }
}

fn bpf_linker_version() -> Option<String> {
    // Where cargo install puts it, whether or not that is on PATH yet.
    let home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))?;
    output(Command::new("bpf-linker").arg("--version"))
        .or_else(|| output(Command::new(home.join("bin/bpf-linker")).arg("--version")))
}

/// The virtualenv with the Perfetto bindings, made once (Debian's own python3).
fn python_env(dir: &Path) -> Result {
    let python = dir.join("bin/python");
    let probe =
        || output(Command::new(&python).args(["-c", "from perfetto.protos.perfetto.trace import perfetto_trace_pb2"]));
    if probe().is_some() {
        return Ok(());
    }
    eprintln!("setup: a Python virtualenv with {PERFETTO_PY} in {}", dir.display());
    run(Command::new("/usr/bin/python3").arg("-m").arg("venv").arg(dir))?;
    run(Command::new(&python).args(["-m", "pip", "install", "--quiet", PERFETTO_PY]))?;
    probe().map(drop).ok_or_else(|| {
        format!("setup: the Perfetto bindings do not import from {} after pip install {PERFETTO_PY}", python.display())
    })
}

fn tracefs() -> Result {
    let events = Path::new(TRACEFS).join("events");
    if !events.is_dir() {
        eprintln!("setup: mounting tracefs at {TRACEFS}");
        run(Command::new("mount").args(["-t", "tracefs", "nodev", TRACEFS]))?;
    }
    if events.is_dir() {
        Ok(())
    } else {
        Err(format!("setup: tracefs is not at {TRACEFS} after mounting it: does this kernel have CONFIG_TRACING?"))
    }
}
