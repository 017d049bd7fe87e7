//! `cargo xtask bare-root`: the README's two commands, and the Debian package, run in a
//! bare Debian 12 root: what a new machine has (a Rust toolchain, root) and nothing else,
//! so that a set-up step that leans on something already installed here fails here.
//!
//! The root is `debootstrap --variant=minbase bookworm` with the toolchain's C linker, kept pristine in a cache outside
//! the clone (made when absent); each run writes into an overlay above it, thrown away
//! after. Mounted in: /proc, /sys and /dev, and the machine's Rust toolchain read-only;
//! `CARGO_HOME` starts empty; the source is the committed tree alone (`git archive HEAD`).
//! Carried in, because they belong to the machine and not to our install steps: its
//! network settings (resolv.conf, trusted CAs, apt's and pip's configuration, the
//! `SSL_CERT_FILE`-style variables). Every mount is made in a private mount namespace,
//! so the kernel takes them all down when this process ends, however it ends; they are
//! also unmounted on every exit path, and nothing is deleted while anything is mounted
//! below it.
use std::{
    env, fs,
    path::{Path, PathBuf},
    process::{Command, Stdio},
};

use clap::Args;

use crate::{
    apt::Mirrors,
    setup,
    sh::{Result, output, root, run, stage},
};

/// A Rust toolchain cannot link without a C compiler driver and the C library's start
/// files (rustup says so as it installs): they are part of "a Rust toolchain" on a new
/// machine, and `cargo xtask` itself needs them to build before it can install anything.
const LINKER: &[&str] = &["gcc", "libc6-dev"];
/// Where the run's source tree is, inside the root.
const SRC: &str = "/src";
/// Where the machine's Rust toolchain is mounted, inside the root.
const TOOLCHAIN: &str = "/opt/rust-toolchain";
/// Written into the root: `cargo xtask deb --check` installs packages only where it finds it.
pub const MARKER: &str = "/.tracer-bare-root";
/// The machine's network settings, carried in as they are.
const CARRIED: &[&str] = &[
    "/etc/resolv.conf",
    "/etc/ssl/certs/ca-certificates.crt",
    "/usr/local/share/ca-certificates",
    "/etc/apt/sources.list",
    "/etc/apt/sources.list.d",
    "/etc/apt/apt.conf.d",
    "/etc/apt/auth.conf",
    "/etc/apt/auth.conf.d",
    "/etc/pip.conf",
    "/root/.config/pip/pip.conf",
    "/root/.pip/pip.conf",
];

#[derive(Args)]
pub struct Options {
    /// The pristine root, kept between runs (made with debootstrap when absent).
    #[arg(long, default_value = "/var/cache/tracer-xtask/bookworm-minbase")]
    cache: PathBuf,
    /// Keep this run's root (its overlay) for a look afterwards.
    #[arg(long)]
    keep: bool,
    /// Only these stages (default: all, in this order).
    #[arg(long = "stage", value_enum)]
    stages: Vec<Stage>,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Stage {
    /// `cargo xtask demo`, the README's first command.
    Demo,
    /// `cargo xtask test --host`, its second (the VM matrix already runs outside).
    Test,
    /// The package: `dpkg -i`, used, `dpkg -r`.
    Deb,
}

pub fn bare_root(o: &Options) -> Result {
    if !crate::sh::is_root() {
        return Err("the bare-root test mounts and chroots: run it as root".into());
    }
    setup::setup()?;
    private_mounts()?;
    stage("bare root: the pristine Debian 12 root", || base(&o.cache))?;
    let run_dir = PathBuf::from(format!("/var/tmp/tracer-bare-root-{}", std::process::id()));
    let chroot = Chroot { dir: run_dir.clone(), root: run_dir.join("root") };
    let stages = if o.stages.is_empty() { vec![Stage::Demo, Stage::Test, Stage::Deb] } else { o.stages.clone() };
    let result = chroot.prepare(&o.cache).and_then(|()| chroot.stages(&stages));
    let down = chroot.teardown(o.keep);
    result.and(down)
}

/// From here on, this process's mounts are its own: none reaches the machine's namespace.
fn private_mounts() -> Result {
    // SAFETY: unshare(2) with CLONE_NEWNS only gives this process a copy of its mount
    // namespace; it touches no memory.
    if unsafe { libc::unshare(libc::CLONE_NEWNS) } != 0 {
        return Err(format!("unshare(CLONE_NEWNS): {}", std::io::Error::last_os_error()));
    }
    run(Command::new("mount").args(["--make-rprivate", "/"]))
}

/// The pristine root: made once with debootstrap from the machine's own mirror.
fn base(cache: &Path) -> Result {
    let done = cache.join(".tracer-complete");
    if done.exists() {
        return Ok(());
    }
    if cache.exists() {
        refuse_if_mounted(cache)?;
        fs::remove_dir_all(cache).map_err(|e| format!("{}: {e}", cache.display()))?;
    }
    fs::create_dir_all(cache).map_err(|e| format!("{}: {e}", cache.display()))?;
    let mirror = Mirrors::of_machine()?.archive;
    eprintln!("bare root: debootstrap --variant=minbase bookworm from {mirror} into {}", cache.display());
    run(Command::new("debootstrap")
        .args(["--variant=minbase", &format!("--include={}", LINKER.join(",")), "bookworm"])
        .arg(cache)
        .arg(&mirror))?;
    fs::write(&done, format!("debootstrap --variant=minbase --include={} bookworm\n", LINKER.join(",")))
        .map_err(|e| e.to_string())
}

struct Chroot {
    /// The run's directory: the overlay's upper and work directories, and the root.
    dir: PathBuf,
    root: PathBuf,
}

impl Chroot {
    fn prepare(&self, cache: &Path) -> Result {
        for d in ["upper", "work", "root"] {
            fs::create_dir_all(self.dir.join(d)).map_err(|e| e.to_string())?;
        }
        let (upper, work) = (self.dir.join("upper"), self.dir.join("work"));
        let opts = format!("lowerdir={},upperdir={},workdir={}", cache.display(), upper.display(), work.display());
        run(Command::new("mount").args(["-t", "overlay", "overlay", "-o", &opts]).arg(&self.root))?;
        run(Command::new("mount").args(["-t", "proc", "proc"]).arg(self.at("/proc")))?;
        for fs in ["/sys", "/dev"] {
            run(Command::new("mount").arg("--rbind").arg(fs).arg(self.at(fs)))?;
        }
        let sysroot = output(Command::new("rustc").args(["--print", "sysroot"]))
            .ok_or("cannot find the machine's Rust toolchain (`rustc --print sysroot`)")?;
        let toolchain = self.at(TOOLCHAIN);
        fs::create_dir_all(&toolchain).map_err(|e| e.to_string())?;
        run(Command::new("mount").arg("--bind").arg(sysroot.trim()).arg(&toolchain))?;
        run(Command::new("mount").args(["-o", "remount,bind,ro"]).arg(&toolchain))?;
        for path in CARRIED.iter().filter(|p| Path::new(p).exists()) {
            let to = self.at(path);
            fs::create_dir_all(to.parent().unwrap()).map_err(|e| e.to_string())?;
            let _ = fs::remove_file(&to); // debootstrap's own sources.list, resolv.conf
            run(Command::new("cp").args(["-rL", "--remove-destination"]).arg(path).arg(to.parent().unwrap()))?;
        }
        fs::write(self.at(MARKER), "a throwaway root of `cargo xtask bare-root`\n").map_err(|e| e.to_string())?;
        self.source()
    }

    /// The committed tree, nothing else (`git archive HEAD`).
    fn source(&self) -> Result {
        let src = self.at(SRC);
        fs::create_dir_all(&src).map_err(|e| e.to_string())?;
        let archive = Command::new("git")
            .current_dir(root())
            .args(["archive", "--format=tar", "HEAD"])
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot run git archive: {e}"))?;
        run(Command::new("tar").arg("-x").arg("-C").arg(&src).stdin(archive.stdout.unwrap()))
    }

    /// The README's two commands as a new user types them, then the package.
    fn stages(&self, stages: &[Stage]) -> Result {
        for s in stages {
            match s {
                Stage::Demo => stage("bare root: cargo xtask demo", || self.cargo(&["xtask", "demo"]))?,
                Stage::Test => {
                    stage("bare root: cargo xtask test --host", || self.cargo(&["xtask", "test", "--host"]))?;
                }
                Stage::Deb => stage("bare root: the package (dpkg -i, use, dpkg -r)", || {
                    self.cargo(&["xtask", "deb", "--check"])
                })?,
            }
        }
        Ok(())
    }

    fn cargo(&self, args: &[&str]) -> Result {
        let mut cmd = Command::new("chroot");
        cmd.arg(&self.root).args(["/usr/bin/env", "-i"]);
        for (k, v) in carried_env() {
            cmd.arg(format!("{k}={v}"));
        }
        cmd.args([
            "HOME=/root",
            "CARGO_HOME=/root/.cargo",
            "LANG=C.UTF-8",
            "TERM=dumb",
            &format!(
                "PATH=/root/.cargo/bin:{TOOLCHAIN}/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
            ),
        ]);
        cmd.args(["/bin/sh", "-c", &format!("cd {SRC} && exec cargo \"$@\""), "sh"]).args(args);
        run(&mut cmd)
    }

    fn at(&self, path: &str) -> PathBuf {
        self.root.join(path.trim_start_matches('/'))
    }

    /// Unmounts everything below the run's directory, then removes it unless kept; never
    /// removes it while anything is still mounted there.
    fn teardown(&self, keep: bool) -> Result {
        if self.root.exists() {
            let _ = Command::new("umount").arg("-R").arg(&self.root).stderr(Stdio::null()).status();
            if !mounts_below(&self.dir).is_empty() {
                // Something still holds a mount (a process left in the root): detach it.
                let _ = Command::new("umount").args(["-R", "-l"]).arg(&self.root).status();
            }
        }
        refuse_if_mounted(&self.dir)?;
        if keep {
            eprintln!("bare root: kept in {} (upper/: what the run wrote)", self.dir.display());
            return Ok(());
        }
        fs::remove_dir_all(&self.dir).map_err(|e| format!("{}: {e}", self.dir.display()))
    }
}

/// The machine's TLS, proxy and pip settings from the environment.
fn carried_env() -> Vec<(String, String)> {
    env::vars()
        .filter(|(k, _)| {
            let u = k.to_ascii_uppercase();
            u.contains("CERT") || u.ends_with("_CA_BUNDLE") || u.starts_with("PIP_") || u.ends_with("_PROXY")
        })
        .collect()
}

fn mounts_below(dir: &Path) -> Vec<String> {
    let prefix = format!("{}/", dir.display());
    fs::read_to_string("/proc/self/mountinfo")
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .filter(|m| m.starts_with(&prefix) || *m == prefix.trim_end_matches('/'))
        .map(str::to_owned)
        .collect()
}

fn refuse_if_mounted(dir: &Path) -> Result {
    match mounts_below(dir).as_slice() {
        [] => Ok(()),
        m => Err(format!("{} still has mounts below it ({}): not removed", dir.display(), m.join(", "))),
    }
}
