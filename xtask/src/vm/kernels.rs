//! The kernels of the matrix: Debian's own cloud builds, fetched with a private apt
//! configuration (its own sources list, state and cache under target/vm, pinned to
//! priority 1: nothing from it can ever be installed on this machine) from the mirrors the
//! machine's own apt sources name, then unpacked.
use std::{
    fs,
    path::{Path, PathBuf},
    process::Command,
};

use crate::{
    apt::Mirrors,
    sh::{Result, run},
};

/// Kernel series: (name, package name prefix).
pub const SERIES: &[(&str, &str)] =
    &[("5.10", "linux-image-5.10.0-"), ("6.1", "linux-image-6.1.0-"), ("6.12", "linux-image-6.12.")];
/// The suites that carry them (each with its -security twin).
const SUITES: &[&str] = &["bullseye", "bookworm"];
/// Nothing from these sources is ever to be installed: they are for `apt-get download`.
const PIN: &str = "Package: *\nPin: release n=bullseye\nPin-Priority: 1\n\nPackage: *\nPin: release n=bullseye-security\nPin-Priority: 1\n";

/// A private apt: its own sources, state and cache, so the machine's apt never sees them.
pub struct Apt {
    dir: PathBuf,
}

pub struct Kernel {
    pub release: String,
    pub root: PathBuf,
}

impl Apt {
    pub fn new(work: &Path) -> Result<Self> {
        let dir = work.join("apt");
        for d in ["lists/partial", "cache/archives/partial", "etc/parts", "etc/prefs", "debs"] {
            fs::create_dir_all(dir.join(d)).map_err(|e| e.to_string())?;
        }
        let sources = Mirrors::of_machine()?.sources_list(SUITES);
        fs::write(dir.join("etc/sources.list"), sources).map_err(|e| e.to_string())?;
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
    pub fn newest(&self, series: &str) -> Result<String> {
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
    pub fn unpack(&self, package: &str) -> Result<Kernel> {
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
