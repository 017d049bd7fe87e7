//! Turning the kernel's file names into paths. At a file's first fault the kernel sends
//! its dentry names up to the root of its filesystem (`FileNameRecord`); the mount point
//! comes from the tracer's own mount table, and only for a filesystem the tracer's mount
//! namespace does not have (a container's) from the target's /proc/PID/mountinfo. Not
//! the target's first: a process that has just started looks up its own /proc/PID entry
//! too, and the kernel makes a second lookup of a new /proc entry wait for the first, so
//! the tracer's read woke the target (wake-probe's main thread, in 2 of 3 VM runs).
use std::collections::BTreeMap;

use tracer_common::record::{FILE_NAME_BYTES, FileNameRecord, NAME_DELETED, NAME_KERNEL_FORM, NAME_TRUNCATED};

use crate::procfs::{self, Mount, Proc};

/// The tracer's mount table, and those read so far of processes that mount filesystems
/// it does not (a process may live in its own mount namespace).
#[derive(Debug, Default)]
pub struct Mounts {
    own: Option<Vec<Mount>>,
    by_tgid: BTreeMap<u32, Vec<Mount>>,
}

impl Mounts {
    /// Drops a process's mount table once it is gone (its PID may be reused).
    pub fn forget(&mut self, tgid: u32) {
        self.by_tgid.remove(&tgid);
    }

    /// The record in user form: `path` is the absolute path, NUL-padded.
    pub fn resolve(&mut self, r: &FileNameRecord) -> FileNameRecord {
        let own = self.own.get_or_insert_with(|| procfs::mountinfo(Proc::Own).unwrap_or_default());
        let table = if own.iter().any(|m| m.dev == r.dev) {
            own
        } else {
            let tgid = r.header.tgid;
            self.by_tgid
                .entry(tgid)
                .or_insert_with(|| procfs::mountinfo(Proc::Pid(tgid)).unwrap_or_else(|_| own.clone()))
        };
        let mut out = FileNameRecord { flags: r.flags & !NAME_KERNEL_FORM, ..*r };
        set_path(&mut out, &absolute(table, r));
        out
    }
}

/// The path of a kernel-form record: mount point + path inside the filesystem, marked as
/// /proc marks it when the file was unlinked, and with a leading "..." when cut short.
pub fn absolute(mounts: &[Mount], r: &FileNameRecord) -> String {
    let inner = fs_path(&r.path);
    let mut path = if r.flags & NAME_TRUNCATED != 0 {
        format!("...{inner}")
    } else {
        mount_point(mounts, r.dev, &inner).or_else(|| through_overlay(mounts, &inner)).unwrap_or(inner)
    };
    if r.flags & NAME_DELETED != 0 {
        path.push_str(" (deleted)");
    }
    path
}

/// "/a/b/c" from the leaf-first, NUL-terminated names "c\0b\0a\0".
fn fs_path(names: &[u8]) -> String {
    let parts: Vec<String> = names
        .split(|&b| b == 0)
        .take_while(|p| !p.is_empty())
        .map(|p| String::from_utf8_lossy(p).into_owned())
        .collect();
    parts.iter().rev().fold(String::new(), |acc, p| acc + "/" + p)
}

/// `inner` seen through the mount of `dev` whose root holds it (the deepest such root;
/// the first listed on a tie, the way the mount was made before any bind mounts of it).
fn mount_point(mounts: &[Mount], dev: u32, inner: &str) -> Option<String> {
    let (m, rest) = mounts
        .iter()
        .filter(|m| m.dev == dev)
        .filter_map(|m| Some((m, below(&m.root, inner)?)))
        .min_by_key(|(m, _)| std::cmp::Reverse(m.root.len()))?;
    Some(joined(&m.point, rest))
}

/// A file inside an overlay's layer, seen at the overlay's mount point. A mapped file of an
/// overlay is its layer's file (the kernel maps the real one), so the kernel names it
/// inside the layer's filesystem: in a container, or any overlay root, that is a host path
/// (/var/lib/.../upper/usr/bin/x) where the process sees /usr/bin/x, as its maps show it.
/// The layer directories are paths where the mounter saw that filesystem, `inner` a path
/// from its root; where it is mounted deeper than / they differ by a leading part, so a
/// layer's trailing parts are tried too, the longest first.
fn through_overlay(mounts: &[Mount], inner: &str) -> Option<String> {
    mounts.iter().find_map(|m| {
        let in_overlay = m.layers.iter().find_map(|layer| tails(layer).find_map(|tail| below(tail, inner)))?;
        below(&m.root, in_overlay).map(|rest| joined(&m.point, rest))
    })
}

/// `dir` and each of its trailing parts: /a/b/c, /b/c, /c.
fn tails(dir: &str) -> impl Iterator<Item = &str> {
    let dir = dir.trim_end_matches('/');
    dir.match_indices('/').map(|(i, _)| &dir[i..]).filter(|t| t.len() > 1)
}

/// What follows `dir` in `path` ("" or "/..."), if `path` is `dir` or below it.
fn below<'a>(dir: &str, path: &'a str) -> Option<&'a str> {
    if dir == "/" {
        return Some(path);
    }
    path.strip_prefix(dir).filter(|rest| rest.is_empty() || rest.starts_with('/'))
}

/// `rest` (a path from a mount's root) at mount point `point`.
fn joined(point: &str, rest: &str) -> String {
    match (point, rest) {
        ("/", "") => "/".to_owned(),
        ("/", _) => rest.to_owned(),
        _ => format!("{point}{rest}"),
    }
}

fn set_path(r: &mut FileNameRecord, path: &str) {
    let bytes = path.as_bytes();
    let n = bytes.len().min(FILE_NAME_BYTES - 1);
    r.path = [0; FILE_NAME_BYTES];
    r.path[..n].copy_from_slice(&bytes[..n]);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::procfs::parse_mountinfo;

    const MOUNTINFO: &str = "\
22 1 254:1 / / rw,relatime shared:1 - ext4 /dev/vda1 rw
25 22 0:23 / /tmp rw,nosuid shared:5 - tmpfs tmpfs rw
30 22 254:1 /srv/data /mnt/my\\040data rw,relatime shared:1 - ext4 /dev/vda1 rw
";

    fn kernel(dev: u32, names: &[&str], flags: u32) -> FileNameRecord {
        let mut r = FileNameRecord { dev, flags: NAME_KERNEL_FORM | flags, ..FileNameRecord::default() };
        let raw: Vec<u8> = names.iter().flat_map(|n| n.bytes().chain([0])).collect();
        r.path[..raw.len()].copy_from_slice(&raw);
        r
    }

    #[test]
    fn parses_mountinfo_with_escapes() {
        let m = parse_mountinfo(MOUNTINFO);
        assert_eq!(m.len(), 3);
        assert_eq!(m[0], Mount { dev: (254 << 20) | 1, root: "/".into(), point: "/".into(), layers: vec![] });
        assert_eq!(m[1].dev, 23);
        assert_eq!(m[2].point, "/mnt/my data");
    }

    #[test]
    fn joins_names_leaf_last_under_their_mount_point() {
        let m = parse_mountinfo(MOUNTINFO);
        let root = (254 << 20) | 1;
        assert_eq!(
            absolute(&m, &kernel(root, &["libc.so.6", "x86_64-linux-gnu", "lib", "usr"], 0)),
            "/usr/lib/x86_64-linux-gnu/libc.so.6"
        );
        assert_eq!(absolute(&m, &kernel(23, &["zerocopy-1.src"], NAME_DELETED)), "/tmp/zerocopy-1.src (deleted)");
        // A bind mount of a subdirectory: the deepest root that holds the file wins.
        assert_eq!(absolute(&m, &kernel(root, &["f", "data", "srv"], 0)), "/mnt/my data/f");
        assert_eq!(absolute(&m, &kernel(root, &["d", "c"], NAME_TRUNCATED)), ".../c/d");
        // No mount of that filesystem (memfd, or another namespace): the path inside it.
        assert_eq!(absolute(&m, &kernel(7, &["memfd:ring"], NAME_DELETED)), "/memfd:ring (deleted)");
    }

    /// An overlay root (the bare root of `cargo xtask bare-root`, a container's): the
    /// layers' files are named where the process sees them, the way /proc/PID/maps does.
    const OVERLAY_ROOT: &str = "\
812 790 0:95 / / rw,relatime - overlay overlay rw,lowerdir=/var/cache/tracer-xtask/bookworm-minbase,upperdir=/var/tmp/tracer-bare-root-7/upper,workdir=/var/tmp/tracer-bare-root-7/work,uuid=on
813 812 254:1 /root/.rustup /usr/local/rustup ro,relatime - ext4 /dev/vda1 rw
814 812 0:96 / /srv rw,relatime - overlay overlay rw,lowerdir=/var/lib/docker/l/A\\134:1:/var/lib/docker/l/B::/var/lib/docker/data,upperdir=/var/lib/docker/abc/diff,workdir=/var/lib/docker/abc/work
815 812 0:97 / /opt rw,relatime - overlay overlay rw,lowerdir+=/layers/one,lowerdir+=/layers/two,datadir+=/layers/data
";

    #[test]
    fn parses_an_overlays_layers_upper_first() {
        let m = parse_mountinfo(OVERLAY_ROOT);
        assert_eq!(m[0].layers, ["/var/tmp/tracer-bare-root-7/upper", "/var/cache/tracer-xtask/bookworm-minbase"]);
        assert!(m[1].layers.is_empty(), "not an overlay");
        let docker =
            ["/var/lib/docker/abc/diff", "/var/lib/docker/l/A:1", "/var/lib/docker/l/B", "/var/lib/docker/data"];
        assert_eq!(m[2].layers, docker, "an escaped colon stays in its path; '::' marks data-only layers");
        assert_eq!(m[3].layers, ["/layers/one", "/layers/two", "/layers/data"], "6.8+'s one option per layer");
    }

    #[test]
    fn names_an_overlays_files_at_its_mount_point() {
        let m = parse_mountinfo(OVERLAY_ROOT);
        let host = (254 << 20) | 1;
        let at = |names: &[&str]| absolute(&m, &kernel(host, names, 0));
        let upper = ["fault-probe", "release", "target", "src", "upper", "tracer-bare-root-7", "tmp", "var"];
        assert_eq!(at(&upper), "/src/target/release/fault-probe");
        let lower = ["libc.so.6", "x86_64-linux-gnu", "lib", "usr", "bookworm-minbase", "tracer-xtask", "cache", "var"];
        assert_eq!(at(&lower), "/usr/lib/x86_64-linux-gnu/libc.so.6");
        // A filesystem the process mounts is named through that mount first.
        assert_eq!(
            at(&["rustc", "bin", "stable", "toolchains", ".rustup", "root"]),
            "/usr/local/rustup/toolchains/stable/bin/rustc"
        );
        // The layers' filesystem mounted at /var/lib/docker: its paths lack that prefix.
        assert_eq!(at(&["x", "bin", "diff", "abc"]), "/srv/bin/x");
        assert_eq!(at(&["y", "1", "A:1", "l"]), "/srv/1/y", "escaped colon");
        assert_eq!(at(&["z", "two", "layers"]), "/opt/z");
        // Beside the layers (the work directory, another tree): left as the kernel named it.
        assert_eq!(at(&["w", "work", "tracer-bare-root-7", "tmp", "var"]), "/var/tmp/tracer-bare-root-7/work/w");
        assert_eq!(at(&["upper-notes", "tracer-bare-root-7", "tmp", "var"]), "/var/tmp/tracer-bare-root-7/upper-notes");
    }

    #[test]
    fn resolves_into_user_form() {
        let mut r = kernel(0, &["b", "a"], 0);
        r.header.tgid = u32::MAX - 1; // no such process: the tracer's own mount table
        let out = Mounts::default().resolve(&r);
        assert_eq!(out.flags & NAME_KERNEL_FORM, 0);
        assert!(String::from_utf8_lossy(&out.path).trim_end_matches('\0').ends_with("/a/b"));
    }

    /// A filesystem the tracer's namespace mounts is named from its own table, without
    /// touching the target's /proc; another (a container's) from the target's table.
    #[test]
    fn the_targets_mount_table_is_read_only_for_filesystems_the_tracer_lacks() {
        let mut mounts = Mounts { own: Some(parse_mountinfo(MOUNTINFO)), by_tgid: BTreeMap::new() };
        let mut r = kernel(23, &["x"], 0);
        r.header.tgid = u32::MAX - 1;
        let path = |r: &FileNameRecord| String::from_utf8_lossy(&r.path).trim_end_matches('\0').to_owned();
        assert_eq!(path(&mounts.resolve(&r)), "/tmp/x");
        assert!(mounts.by_tgid.is_empty(), "the target's table was not read");
        r.dev = 99 << 20;
        assert_eq!(path(&mounts.resolve(&r)), "/x", "no mount of it anywhere: the path inside its filesystem");
        assert!(mounts.by_tgid.contains_key(&(u32::MAX - 1)), "looked for in the target's table");
    }
}
