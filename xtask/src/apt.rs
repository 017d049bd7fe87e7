//! Debian packages: what is installed, installing what is missing, and the machine's own
//! apt mirrors (its sources belong to the machine: a host behind a company mirror keeps
//! using that mirror for everything the tasks fetch).
use std::{fs, path::Path, process::Command};

use crate::sh::{Result, output, run};

pub fn installed(package: &str) -> bool {
    output(Command::new("dpkg-query").args(["-W", "-f=${Status}", package]))
        .is_some_and(|s| s.contains("install ok installed"))
}

/// Installs those of `packages` that are missing (no recommends: only what is named).
pub fn install(packages: &[&str]) -> Result {
    let missing: Vec<&str> = packages.iter().copied().filter(|p| !installed(p)).collect();
    if missing.is_empty() {
        return Ok(());
    }
    eprintln!("setup: installing Debian packages: {}", missing.join(" "));
    run(Command::new("apt-get").args(["update", "-qq"]))?;
    run(Command::new("apt-get")
        .args(["install", "-y", "-qq", "--no-install-recommends"])
        .args(&missing)
        .env("DEBIAN_FRONTEND", "noninteractive"))
}

/// The machine's Debian mirrors: the archive (the release's own suite) and the security
/// archive, as its apt sources name them.
#[derive(Debug, PartialEq, Eq)]
pub struct Mirrors {
    pub archive: String,
    pub security: String,
}

/// One `deb` entry of the machine's sources: where, and which suites.
#[derive(Debug, PartialEq, Eq)]
struct Source {
    uri: String,
    suites: Vec<String>,
}

impl Mirrors {
    /// Read from /etc/apt/sources.list and sources.list.d (one-line `.list` and deb822
    /// `.sources` files alike).
    pub fn of_machine() -> Result<Self> {
        let mut sources = Vec::new();
        let mut files = vec![Path::new("/etc/apt/sources.list").to_path_buf()];
        if let Ok(dir) = fs::read_dir("/etc/apt/sources.list.d") {
            let mut more: Vec<_> = dir.filter_map(|e| e.ok().map(|e| e.path())).collect();
            more.sort();
            files.extend(more);
        }
        for f in files {
            let Ok(text) = fs::read_to_string(&f) else { continue };
            match f.extension().and_then(|e| e.to_str()) {
                Some("sources") => sources.extend(deb822(&text)),
                Some("list") => sources.extend(one_line(&text)),
                _ if f.ends_with("sources.list") => sources.extend(one_line(&text)),
                _ => {} // apt ignores other names (backups, disabled files) too
            }
        }
        Self::from_sources(&sources)
    }

    fn from_sources(sources: &[Source]) -> Result<Self> {
        let find = |pred: &dyn Fn(&str) -> bool| {
            sources.iter().find(|s| s.suites.iter().any(|x| pred(x))).map(|s| s.uri.trim_end_matches('/').to_owned())
        };
        let archive = find(&|s| !s.contains('-') && !s.contains('/'));
        let security = find(&|s| s.ends_with("-security") || s.ends_with("/updates"));
        match (archive, security) {
            (Some(archive), Some(security)) => Ok(Self { archive, security }),
            _ => Err("the machine's apt sources (/etc/apt/sources.list, /etc/apt/sources.list.d) name no Debian \
                      archive and security archive: add them (e.g. deb.debian.org or your company's mirror)"
                .into()),
        }
    }

    /// One-line sources for `suites` of the archive and their `-security` twins.
    pub fn sources_list(&self, suites: &[&str]) -> String {
        let keyring = "[signed-by=/usr/share/keyrings/debian-archive-keyring.gpg]";
        let mut s = String::new();
        for suite in suites {
            s.push_str(&format!("deb {keyring} {} {suite} main\n", self.archive));
            s.push_str(&format!("deb {keyring} {} {suite}-security main\n", self.security));
        }
        s
    }
}

fn one_line(text: &str) -> Vec<Source> {
    let mut out = Vec::new();
    for line in text.lines().map(str::trim) {
        let Some(rest) = line.strip_prefix("deb ") else { continue };
        let mut words = rest.trim();
        if words.starts_with('[') {
            words = words.split_once(']').map_or("", |(_, r)| r.trim());
        }
        let mut w = words.split_whitespace();
        if let (Some(uri), Some(suite)) = (w.next(), w.next()) {
            out.push(Source { uri: uri.to_owned(), suites: vec![suite.to_owned()] });
        }
    }
    out
}

fn deb822(text: &str) -> Vec<Source> {
    let mut out = Vec::new();
    for para in text.split("\n\n") {
        let field = |name: &str| {
            para.lines()
                .filter(|l| !l.starts_with('#'))
                .find_map(|l| l.split_once(':').filter(|(k, _)| k.trim().eq_ignore_ascii_case(name)))
                .map(|(_, v)| v.trim().to_owned())
        };
        let is_deb = field("Types").is_some_and(|t| t.split_whitespace().any(|t| t == "deb"));
        let enabled = field("Enabled").is_none_or(|e| e != "no");
        if let (true, true, Some(uris), Some(suites)) = (is_deb, enabled, field("URIs"), field("Suites")) {
            let suites: Vec<String> = suites.split_whitespace().map(str::to_owned).collect();
            out.extend(uris.split_whitespace().map(|u| Source { uri: u.to_owned(), suites: suites.clone() }));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deb822_sources_give_the_archive_and_the_security_archive() {
        let text = "Types: deb\n# a comment\nURIs: http://mirror.example/debian/\nSuites: bookworm bookworm-updates\n\
                    Components: main\n\nTypes: deb-src\nURIs: http://src.example/debian\nSuites: bookworm\n\n\
                    Types: deb\nURIs: http://mirror.example/debian-security\nSuites: bookworm-security\nComponents: main\n";
        let m = Mirrors::from_sources(&deb822(text)).unwrap();
        assert_eq!(m.archive, "http://mirror.example/debian");
        assert_eq!(m.security, "http://mirror.example/debian-security");
    }

    #[test]
    fn one_line_sources_with_options_and_disabled_deb822_paragraphs() {
        let list = "# deb http://old.example/debian bookworm main\n\
                    deb [arch=amd64 signed-by=/k.gpg] http://corp.example/debian bookworm main contrib\n\
                    deb http://corp.example/security bookworm-security main\n";
        let m = Mirrors::from_sources(&one_line(list)).unwrap();
        assert_eq!(
            m,
            Mirrors { archive: "http://corp.example/debian".into(), security: "http://corp.example/security".into() }
        );
        let disabled = "Types: deb\nURIs: http://x.example/debian\nSuites: bookworm\nEnabled: no\n";
        assert!(deb822(disabled).is_empty());
    }

    #[test]
    fn sources_without_a_security_archive_are_refused_in_one_line() {
        let e = Mirrors::from_sources(&one_line("deb http://a.example/debian bookworm main\n")).unwrap_err();
        assert!(e.contains("security archive") && !e.contains('\n'), "{e}");
    }

    #[test]
    fn the_private_list_names_each_suite_and_its_security_twin() {
        let m = Mirrors { archive: "http://a/debian".into(), security: "http://a/debian-security".into() };
        let s = m.sources_list(&["bullseye"]);
        assert!(s.contains(" http://a/debian bullseye main\n"), "{s}");
        assert!(s.contains(" http://a/debian-security bullseye-security main\n"), "{s}");
    }
}
