//! `cargo xtask vm [KERNEL...]`: the privileged suite inside Debian's own kernels, booted
//! under qemu, and a matrix of what each kernel gives per report section.
//!
//! For each kernel series (5.10 from bullseye, 6.1 and 6.12 from bookworm, each the
//! newest build the mirrors hold): download the image package with a private apt
//! configuration (its own sources list, state and cache under target/vm, pinned to
//! priority 1: nothing from it can ever be installed on this machine), unpack it, build an
//! initramfs (busybox, the virtio modules, an /init), and an ext4 disk holding the static
//! tracer, the workloads, the static integration tests and strace (an oracle, with its
//! own libraries). Boot it under qemu (TCG: these machines have no usable KVM), run
//! `tracer check` and every section's tests, and read the results off the serial
//! console. A guest oops or panic fails the run, never passes as "no results".
use std::{
    collections::BTreeMap,
    fs,
    path::{Path, PathBuf},
    process::{Command, Stdio},
    time::Duration,
};

use serde_json::Value;

use crate::{Result, cargo, run};

/// Kernel series: (name, package name prefix, the suites that carry it).
const SERIES: &[(&str, &str)] =
    &[("5.10", "linux-image-5.10.0-"), ("6.1", "linux-image-6.1.0-"), ("6.12", "linux-image-6.12.")];
const SOURCES: &str = "\
deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian bullseye main
deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian-security bullseye-security main
deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian bookworm main
deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian-security bookworm-security main
";
/// Nothing from these sources is ever to be installed: they are for `apt-get download`.
const PIN: &str = "Package: *\nPin: release n=bullseye\nPin-Priority: 1\n\nPackage: *\nPin: release n=bullseye-security\nPin-Priority: 1\n";
const HOST_PACKAGES: &[&str] = &["qemu-system-x86", "busybox-static", "cpio", "kmod", "e2fsprogs"];
/// The sections the suite judges, each by the test binary of the same name.
const SECTIONS: &[&str] = &["syscalls", "copies", "epoll", "sched", "wakeups", "softirq", "faults"];
/// Test binaries that run in the guest besides the sections' (command line, replay, detach, limits).
const OTHER_TESTS: &[&str] = &["cli", "replay", "cleanup", "limits", "stacks", "targets"];
/// A whole suite under TCG takes a few minutes; a guest that hangs is stopped here.
const BOOT_TIMEOUT: Duration = Duration::from_secs(20 * 60);
const STATIC_TARGET: &str = "x86_64-unknown-linux-gnu";

pub struct Options {
    pub kernels: Vec<String>,
    /// Refresh tracer/tests/btf from each kernel's BTF.
    pub fixtures: bool,
}

pub fn parse(args: &[String]) -> Result<Options> {
    let mut o = Options { kernels: Vec::new(), fixtures: false };
    for a in args {
        match a.as_str() {
            "--fixtures" => o.fixtures = true,
            k if SERIES.iter().any(|(name, _)| *name == k) => o.kernels.push(k.to_owned()),
            other => {
                return Err(format!("unknown vm argument {other} (kernels: 5.10, 6.1, 6.12; --fixtures)"));
            }
        }
    }
    if o.kernels.is_empty() {
        o.kernels = SERIES.iter().map(|(n, _)| (*n).to_owned()).collect();
    }
    Ok(o)
}

pub fn vm(root: &Path, o: &Options) -> Result {
    install_host_tools()?;
    let work = root.join("target/vm");
    fs::create_dir_all(&work).map_err(|e| e.to_string())?;
    let dist = crate::dist(root)?;
    let tests = static_tests(root)?;
    let apt = Apt::new(&work)?;
    let mut matrix = Vec::new();
    let mut failed = Vec::new();
    for series in &o.kernels {
        let package = apt.newest(series)?;
        let kernel = apt.unpack(&package)?;
        eprintln!("vm: {series}: {} ({})", kernel.release, package);
        let guest = Guest::build(&work.join(&kernel.release), &kernel, &dist, &tests)?;
        let mut result = guest.boot()?;
        check_timeline(root, &guest, &mut result)?;
        if o.fixtures {
            let btf = guest.dir.join("vmlinux.btf");
            guest.fetch("/vmlinux.btf", &btf)?;
            refresh_fixture(&dist, &btf, &kernel.release, &root.join(format!("tracer/tests/btf/{series}.btf")))?;
        }
        for t in &result.failed {
            // The failure's own words, for the log: the test binary's output.
            eprintln!("vm: {series}: {t} failed:\n{}", result.output.get(t).map_or("", String::as_str));
            failed.push(format!("{series}: {t}"));
        }
        matrix.push((series.clone(), kernel.release.clone(), result));
    }
    print_matrix(&matrix);
    if failed.is_empty() { Ok(()) } else { Err(format!("the VM suite failed: {}", failed.join("; "))) }
}

fn install_host_tools() -> Result {
    let missing: Vec<&str> = HOST_PACKAGES.iter().copied().filter(|p| !crate::dpkg_installed(p)).collect();
    if !missing.is_empty() {
        eprintln!("vm: installing {}", missing.join(" "));
        run(Command::new("apt-get").args(["update", "-qq"]))?;
        run(Command::new("apt-get")
            .args(["install", "-y", "-qq", "--no-install-recommends"])
            .args(&missing)
            .env("DEBIAN_FRONTEND", "noninteractive"))?;
    }
    Ok(())
}

/// The integration tests, and the probe programs they run, built static.
struct StaticTests {
    /// Test target name -> executable.
    tests: BTreeMap<String, PathBuf>,
    /// The package's own programs (sched-child, wake-probe, ...).
    bins: Vec<PathBuf>,
}

fn static_tests(root: &Path) -> Result<StaticTests> {
    let out = Command::new(cargo())
        .current_dir(root)
        .args(["test", "--release", "--no-run", "--package", "integration-test", "--message-format=json"])
        .args(["--target", STATIC_TARGET])
        .env(crate::STATIC_RUSTFLAGS.0, crate::STATIC_RUSTFLAGS.1)
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

/// A private apt: its own sources, state and cache, so the machine's apt never sees them.
struct Apt {
    dir: PathBuf,
}

struct Kernel {
    release: String,
    root: PathBuf,
}

impl Apt {
    fn new(work: &Path) -> Result<Self> {
        let dir = work.join("apt");
        for d in ["lists/partial", "cache/archives/partial", "etc/parts", "etc/prefs", "debs"] {
            fs::create_dir_all(dir.join(d)).map_err(|e| e.to_string())?;
        }
        fs::write(dir.join("etc/sources.list"), SOURCES).map_err(|e| e.to_string())?;
        fs::write(dir.join("etc/prefs/kernels.pref"), PIN).map_err(|e| e.to_string())?;
        let apt = Self { dir };
        run(apt.cmd("apt-get").args(["update", "-qq"]))?;
        Ok(apt)
    }

    fn cmd(&self, tool: &str) -> Command {
        let d = |p: &str| self.dir.join(p).display().to_string();
        let mut c = Command::new(tool);
        for (k, v) in [
            ("Dir::Etc::SourceList", d("etc/sources.list")),
            ("Dir::Etc::SourceParts", d("etc/parts")),
            ("Dir::Etc::PreferencesParts", d("etc/prefs")),
            ("Dir::State::Lists", d("lists")),
            ("Dir::Cache", d("cache")),
        ] {
            c.args(["-o", &format!("{k}={v}")]);
        }
        c
    }

    /// The newest cloud kernel image of a series (the signed package: the unsigned one is
    /// missing from bullseye-security).
    fn newest(&self, series: &str) -> Result<String> {
        let prefix = SERIES.iter().find(|(n, _)| *n == series).map(|(_, p)| *p).unwrap_or_default();
        let out = self
            .cmd("apt-cache")
            .args(["search", "--names-only", &format!("^{}.*-cloud-amd64$", prefix.replace('.', "\\."))])
            .output()
            .map_err(|e| e.to_string())?;
        let mut best: Option<(String, String)> = None;
        for name in String::from_utf8_lossy(&out.stdout).lines().filter_map(|l| l.split(' ').next()) {
            let Some(version) = self.version(name) else { continue };
            let newer = match &best {
                None => true,
                Some((_, v)) => Command::new("dpkg")
                    .args(["--compare-versions", &version, "gt", v])
                    .status()
                    .is_ok_and(|s| s.success()),
            };
            if newer {
                best = Some((name.to_owned(), version));
            }
        }
        best.map(|(name, _)| name).ok_or(format!("no {series} cloud kernel on the Debian mirrors"))
    }

    fn version(&self, package: &str) -> Option<String> {
        let out = self.cmd("apt-cache").args(["show", "--no-all-versions", package]).output().ok()?;
        String::from_utf8_lossy(&out.stdout).lines().find_map(|l| l.strip_prefix("Version: ").map(str::to_owned))
    }

    /// Downloads (once) and unpacks the package; its release is the name of its modules
    /// directory.
    fn unpack(&self, package: &str) -> Result<Kernel> {
        let debs = self.dir.join("debs");
        let has = |d: &Path| {
            fs::read_dir(d).ok().is_some_and(|mut r| {
                r.any(|e| e.is_ok_and(|e| e.file_name().to_string_lossy().starts_with(&format!("{package}_"))))
            })
        };
        if !has(&debs) {
            run(self.cmd("apt-get").current_dir(&debs).args(["download", "-qq", package]))?;
        }
        let deb = fs::read_dir(&debs)
            .map_err(|e| e.to_string())?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .find(|p| p.file_name().is_some_and(|n| n.to_string_lossy().starts_with(&format!("{package}_"))))
            .ok_or("the download vanished")?;
        let root = self.dir.join("kernels").join(package);
        if !root.join("boot").is_dir() {
            fs::create_dir_all(&root).map_err(|e| e.to_string())?;
            run(Command::new("dpkg-deb").arg("-x").arg(&deb).arg(&root))?;
        }
        let release = fs::read_dir(root.join("lib/modules"))
            .map_err(|e| e.to_string())?
            .filter_map(std::result::Result::ok)
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .next()
            .ok_or("the kernel package has no modules")?;
        run(Command::new("depmod").arg("-b").arg(&root).arg(&release))?;
        Ok(Kernel { release, root })
    }
}

struct Guest {
    dir: PathBuf,
    kernel: PathBuf,
}

pub struct Outcome {
    /// Section -> what `tracer check` says of it ("exact", "degraded", "unavailable") and why.
    coverage: BTreeMap<String, (String, String)>,
    /// Test binary -> passed, and what it printed.
    tests: BTreeMap<String, bool>,
    output: BTreeMap<String, String>,
    failed: Vec<String>,
}

impl Guest {
    fn build(dir: &Path, k: &Kernel, dist: &Path, tests: &StaticTests) -> Result<Self> {
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
        let dist_bins = crate::DIST.iter().map(|b| dist.join(b));
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

    fn boot(&self) -> Result<Outcome> {
        let console = self.dir.join("console.log");
        let log = fs::File::create(&console).map_err(|e| e.to_string())?;
        let status = Command::new("timeout")
            .arg(BOOT_TIMEOUT.as_secs().to_string())
            .arg("qemu-system-x86_64")
            // Single-threaded TCG: with several threads a guest oopsed on cross-CPU code
            // patching while programs attached (shared/kernel-matrix.md).
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
    fn fetch(&self, guest: &str, host: &Path) -> Result {
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

/// The guest's /init: mounts, modules, loopback, the disk, then the suite.
const INIT: &str = r#"#!/bin/sh
export PATH=/usr/bin:/bin
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev
mkdir -p /dev/pts && mount -t devpts devpts /dev/pts
mount -t tracefs nodev /sys/kernel/tracing 2>/dev/null
mount -t debugfs nodev /sys/kernel/debug 2>/dev/null
mount -t bpf bpf /sys/fs/bpf 2>/dev/null
mkdir -p /sys/fs/cgroup && mount -t cgroup2 none /sys/fs/cgroup
for m in /lib/modules/*.ko; do insmod "$m" || echo "@@@MODULE $m failed"; done
ip link set lo up
i=0; while [ ! -b /dev/vda ] && [ $i -lt 200 ]; do sleep 0.1; i=$((i+1)); done
mount -t ext4 /dev/vda /mnt || echo "@@@NODISK"
printf '#!/bin/sh\nexec /mnt/oracle/lib/ld-linux-x86-64.so.2 --library-path /mnt/oracle/lib /mnt/oracle/strace "$@"\n' > /usr/bin/strace
chmod +x /usr/bin/strace
echo "@@@BEGIN"
sh /mnt/suite.sh
echo "@@@END"
cat /sys/kernel/btf/vmlinux > /mnt/vmlinux.btf
sync; umount /mnt
poweroff -f
"#;

/// The suite: what the kernel gives (`tracer check`), then each test binary, one test at a
/// time (they measure scheduling).
fn suite() -> String {
    let mut s = String::from(
        "export TMPDIR=/mnt/tmp RUST_BACKTRACE=1 TRACER_TEST_TCG=1\ncd /mnt/release\necho \"@@@CHECK $(./tracer check --format json | tr -d '\\n')\"\n",
    );
    for name in SECTIONS.iter().chain(OTHER_TESTS) {
        s.push_str(&format!(
            "./deps/{name} --test-threads=1 > /mnt/tmp/{name}.out 2>&1; rc=$?\ncat /mnt/tmp/{name}.out\necho \"@@@TEST {name} $rc\"\n"
        ));
    }
    // The timeline: written here, read back on the host (the guest has no Python).
    s.push_str(&format!(
        "./tracer run --perfetto /mnt/tmp/{TIMELINE}.pftrace --format json --output /mnt/tmp/{TIMELINE}.json -- ./wake-probe 200 20 > /mnt/tmp/{TIMELINE}.out 2>&1; rc=$?\ncat /mnt/tmp/{TIMELINE}.out\necho \"@@@TEST {TIMELINE} $rc\"\n"
    ));
    s
}

/// The guest's Perfetto trace, checked against its report by the tests' own checker
/// (the schema's official Python bindings, on the host).
const TIMELINE: &str = "timeline";

fn check_timeline(root: &Path, guest: &Guest, o: &mut Outcome) -> Result {
    if o.tests.get(TIMELINE) != Some(&true) {
        return Ok(()); // it failed in the guest, and says why there
    }
    let (trace, report) = (guest.dir.join("timeline.pftrace"), guest.dir.join("timeline.json"));
    guest.fetch(&format!("/tmp/{TIMELINE}.pftrace"), &trace)?;
    guest.fetch(&format!("/tmp/{TIMELINE}.json"), &report)?;
    let out = Command::new(root.join("target/pyenv/bin/python"))
        .arg(root.join("integration-test/scripts/perfetto_check.py"))
        .args([&trace, &report])
        .output()
        .map_err(|e| format!("cannot run the Perfetto checker: {e}"))?;
    let name = format!("{TIMELINE} check");
    o.tests.insert(name.clone(), out.status.success());
    o.output.insert(
        name.clone(),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    );
    if !out.status.success() {
        o.failed.push(name);
    }
    Ok(())
}

fn parse_results(text: &str, dir: &Path) -> Result<Outcome> {
    let mut o =
        Outcome { coverage: BTreeMap::new(), tests: BTreeMap::new(), output: BTreeMap::new(), failed: Vec::new() };
    fs::write(dir.join("results.txt"), text).map_err(|e| e.to_string())?;
    let mut printed = String::new();
    for line in text.lines() {
        printed.push_str(line);
        printed.push('\n');
        if let Some(json) = line.trim().strip_prefix("@@@CHECK ") {
            let v: Value = serde_json::from_str(json).map_err(|e| format!("tracer check in the guest: {e}: {json}"))?;
            for s in v["sections"].as_array().into_iter().flatten() {
                let notes: Vec<&str> = s["notes"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
                o.coverage.insert(
                    s["section"].as_str().unwrap_or("").to_owned(),
                    (s["status"].as_str().unwrap_or("").to_owned(), notes.join("; ")),
                );
            }
        }
        if let Some(rest) = line.trim().strip_prefix("@@@TEST ") {
            let (name, rc) = rest.split_once(' ').unwrap_or((rest, "1"));
            let ok = rc == "0";
            o.tests.insert(name.to_owned(), ok);
            o.output.insert(name.to_owned(), std::mem::take(&mut printed));
            if !ok {
                o.failed.push(name.to_owned());
            }
        }
    }
    if o.coverage.is_empty() {
        return Err(format!("tracer check did not run in the guest (see {})", dir.join("results.txt").display()));
    }
    for name in SECTIONS.iter().chain(OTHER_TESTS) {
        if !o.tests.contains_key(*name) {
            o.failed.push(format!("{name} (did not run)"));
        }
    }
    Ok(o)
}

fn print_matrix(matrix: &[(String, String, Outcome)]) {
    println!("\nKernel matrix: what each kernel gives per report section, checked by that section's tests");
    let width = 12;
    print!("{:<8} {:<28}", "kernel", "release");
    for s in SECTIONS {
        print!(" {s:<width$}");
    }
    println!(" {:<10}", "other tests");
    for (series, release, o) in matrix {
        print!("{series:<8} {release:<28}");
        for s in SECTIONS {
            let status = o.coverage.get(*s).map_or("?", |(st, _)| st.as_str());
            let cell = match (status, o.tests.get(*s)) {
                ("unavailable", Some(true)) => "missing".to_owned(),
                (st, Some(true)) => st.to_owned(),
                (st, _) => format!("{st} FAIL"),
            };
            print!(" {cell:<width$}");
        }
        let timeline = [TIMELINE.to_owned(), format!("{TIMELINE} check")];
        let others =
            OTHER_TESTS.iter().map(|t| (*t).to_owned()).chain(timeline).all(|t| o.tests.get(&t) == Some(&true));
        println!(" {}", if others { "ok" } else { "FAIL" });
    }
    for (series, _, o) in matrix {
        for (section, (status, why)) in &o.coverage {
            if status != "exact" {
                println!("  {series} {section} {status}: {why}");
            }
        }
    }
}

/// The fixture the plan's unit tests judge a kernel by (see tracer/src/plan.rs).
fn refresh_fixture(dist: &Path, btf: &Path, release: &str, out: &Path) -> Result {
    run(Command::new(dist.join("tracer"))
        .args(["check", "--btf"])
        .arg(btf)
        .args(["--kernel", release, "--minimize"])
        .arg(out)
        .stdout(Stdio::null()))
}
