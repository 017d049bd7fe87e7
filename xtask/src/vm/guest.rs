//! One guest: an initramfs (busybox, the virtio modules, an /init) and an ext4 disk
//! holding the static tracer, the workloads, the static integration tests and strace (an
//! oracle, with its own libraries); booted under qemu (TCG: these machines have no usable
//! KVM), its results read off the serial console. A guest oops or panic fails the run,
//! never passes as "no results".
use std::{
    fs,
    path::{Path, PathBuf},
    process::{Command, Stdio},
    time::Duration,
};

use super::{
    kernels::Kernel,
    suite::{INIT, Outcome, parse_results, suite},
    tests::{OTHER_TESTS, SECTIONS, StaticTests},
};
use crate::{
    dist::DIST,
    sh::{Result, run},
};

/// A whole suite under TCG takes a few minutes; a guest that hangs is stopped here.
const BOOT_TIMEOUT: Duration = Duration::from_secs(20 * 60);

pub struct Guest {
    pub dir: PathBuf,
    kernel: PathBuf,
}

impl Guest {
    pub fn build(dir: &Path, k: &Kernel, dist: &Path, tests: &StaticTests) -> Result<Self> {
        let _ = fs::remove_dir_all(dir);
        let (initrd, disk) = (dir.join("initrd"), dir.join("disk"));
        for d in ["bin", "proc", "sys", "dev", "mnt", "tmp", "lib/modules", "usr/bin", "oracle/lib"] {
            fs::create_dir_all(initrd.join(d)).map_err(|e| e.to_string())?;
        }
        fs::copy("/bin/busybox", initrd.join("bin/busybox")).map_err(|e| format!("busybox: {e}"))?;
        let applets = Command::new("/bin/busybox").arg("--list").output().map_err(|e| e.to_string())?;
        for a in String::from_utf8_lossy(&applets.stdout).lines().filter(|a| *a != "busybox") {
            let _ = std::os::unix::fs::symlink("busybox", initrd.join("bin").join(a));
        }
        modules(k, &initrd.join("lib/modules"))?;
        fs::write(initrd.join("init"), INIT).map_err(|e| e.to_string())?;
        set_executable(&initrd.join("init"))?;
        let cpio = dir.join("initrd.cpio.gz");
        run(Command::new("sh")
            .current_dir(&initrd)
            .arg("-c")
            .arg(format!("find . | cpio -o -H newc --quiet | gzip -1 > {}", cpio.display())))?;
        // The disk: binaries and tests where the tests look for them (release/ and
        // release/deps/), strace and its libraries for the syscall oracle, the suite.
        let release = disk.join("release");
        fs::create_dir_all(release.join("deps")).map_err(|e| e.to_string())?;
        fs::create_dir_all(disk.join("tmp")).map_err(|e| e.to_string())?;
        let dist_bins = DIST.iter().map(|b| dist.join(b));
        for from in dist_bins.chain(tests.bins.iter().cloned()) {
            let name = from.file_name().ok_or("a binary without a name")?;
            fs::copy(&from, release.join(name)).map_err(|e| format!("{}: {e}", from.display()))?;
        }
        for name in SECTIONS.iter().chain(OTHER_TESTS) {
            fs::copy(&tests.tests[*name], release.join("deps").join(name)).map_err(|e| e.to_string())?;
        }
        oracle(&disk.join("oracle"))?;
        fs::write(disk.join("suite.sh"), suite()).map_err(|e| e.to_string())?;
        let image = dir.join("disk.img");
        run(Command::new("mkfs.ext4")
            .args(["-q", "-O", "^orphan_file,^metadata_csum_seed", "-d"])
            .arg(&disk)
            .arg(&image)
            .arg("768M"))?;
        Ok(Self { dir: dir.to_owned(), kernel: k.root.join(format!("boot/vmlinuz-{}", k.release)) })
    }

    pub fn boot(&self) -> Result<Outcome> {
        let console = self.dir.join("console.log");
        let log = fs::File::create(&console).map_err(|e| e.to_string())?;
        let status = Command::new("timeout")
            .arg(BOOT_TIMEOUT.as_secs().to_string())
            .arg("qemu-system-x86_64")
            // Single-threaded TCG: with several threads a guest oopsed on cross-CPU code
            // patching while programs attached.
            .args(["-accel", "tcg,thread=single", "-cpu", "max", "-m", "2G", "-smp", "2"])
            .args(["-nographic", "-no-reboot", "-nic", "none", "-kernel"])
            .arg(&self.kernel)
            .arg("-initrd")
            .arg(self.dir.join("initrd.cpio.gz"))
            .args(["-append", "console=ttyS0 panic=-1 quiet"])
            .arg("-drive")
            .arg(format!("file={},if=virtio,format=raw,cache=unsafe", self.dir.join("disk.img").display()))
            .stdin(Stdio::null())
            .stdout(log.try_clone().map_err(|e| e.to_string())?)
            .stderr(log)
            .status()
            .map_err(|e| format!("cannot run qemu: {e}"))?;
        let text = fs::read_to_string(&console).unwrap_or_default();
        let tail = || text.lines().rev().take(30).collect::<Vec<_>>().into_iter().rev().collect::<Vec<_>>().join("\n");
        if text.contains("Kernel panic") || text.contains("Oops") || text.contains("BUG:") {
            return Err(format!("the guest kernel crashed (see {}):\n{}", console.display(), tail()));
        }
        if !status.success() {
            return Err(format!("qemu failed or timed out ({status}; see {}):\n{}", console.display(), tail()));
        }
        let Some(results) = text.split("@@@BEGIN").nth(1).and_then(|r| r.split("@@@END").next()) else {
            return Err(format!("the guest printed no results (see {}):\n{}", console.display(), tail()));
        };
        parse_results(results, &self.dir)
    }

    /// A file from the guest's disk, after the run.
    pub fn fetch(&self, guest: &str, host: &Path) -> Result {
        run(Command::new("debugfs")
            .args(["-R", &format!("dump {guest} {}", host.display())])
            .arg(self.dir.join("disk.img"))
            .stderr(Stdio::null()))
    }
}

/// virtio_pci and virtio_blk with their dependencies, in load order; decompressed
/// (busybox insmod cannot read .ko.xz).
fn modules(k: &Kernel, into: &Path) -> Result {
    let out = Command::new("modprobe")
        .arg("-d")
        .arg(&k.root)
        .args(["-S", &k.release, "-a", "--show-depends", "virtio_pci", "virtio_blk"])
        .output()
        .map_err(|e| format!("modprobe: {e}"))?;
    let mut seen = Vec::new();
    for path in String::from_utf8_lossy(&out.stdout).lines().filter_map(|l| l.strip_prefix("insmod ")) {
        let path = path.trim();
        if seen.contains(&path.to_owned()) {
            continue;
        }
        seen.push(path.to_owned());
        let name = Path::new(path).file_name().unwrap().to_string_lossy().trim_end_matches(".xz").to_owned();
        let dst = into.join(format!("{:02}-{name}", seen.len()));
        if path.ends_with(".xz") {
            run(Command::new("sh").arg("-c").arg(format!("xz -dc '{path}' > '{}'", dst.display())))?;
        } else {
            fs::copy(path, &dst).map_err(|e| e.to_string())?;
        }
    }
    Ok(())
}

/// strace with the libraries it links (ldd), run through their own loader: the syscall
/// oracle, beside (not inside) the static tracer.
fn oracle(dir: &Path) -> Result {
    fs::create_dir_all(dir.join("lib")).map_err(|e| e.to_string())?;
    let strace = "/usr/bin/strace";
    fs::copy(strace, dir.join("strace")).map_err(|e| format!("strace: {e}"))?;
    let ldd = Command::new("ldd").arg(strace).output().map_err(|e| e.to_string())?;
    for line in String::from_utf8_lossy(&ldd.stdout).lines() {
        let lib = line.split("=>").nth(1).unwrap_or(line).split_whitespace().next().unwrap_or("");
        if lib.starts_with('/') {
            let name = Path::new(lib).file_name().unwrap();
            fs::copy(lib, dir.join("lib").join(name)).map_err(|e| format!("{lib}: {e}"))?;
        }
    }
    Ok(())
}

fn set_executable(path: &Path) -> Result {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(path, fs::Permissions::from_mode(0o755)).map_err(|e| e.to_string())
}
