//! Page faults against the program's own getrusage and /proc/self/stat (minor within 2%
//! or 5, major within 2), and their attribution to mappings.
use integration_test::{binary, last_json_line, scratch, traced, traced_with};
use serde_json::Value;

fn n(v: &Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("not a count: {v}"))
}

fn mapping<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["faults"]["by_mapping"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["mapping"] == name)
        .unwrap_or_else(|| panic!("no mapping {name}: {}", report["faults"]))
}

/// A 16 MiB file on disk (not tmpfs: a cold run must read it back).
fn data_file(name: &str) -> std::path::PathBuf {
    let path = scratch(name);
    std::fs::write(&path, (0..16 << 20).map(|i: u32| (i % 251) as u8).collect::<Vec<u8>>()).unwrap();
    // Written back now, so dropping it from the page cache later really empties it.
    std::fs::File::open(&path).unwrap().sync_all().unwrap();
    path
}

fn run(cold: bool) {
    let file = data_file(if cold { "faults-cold.bin" } else { "faults-warm.bin" });
    let probe = binary("fault-probe");
    let mut cmd = vec![probe.to_str().unwrap(), file.to_str().unwrap(), "3000"];
    if cold {
        cmd.push("--cold");
    }
    let (report, out) = traced(&cmd);
    let truth = last_json_line(&out.stdout);
    let f = &report["faults"];
    let (minor, major) = (n(&f["minor"]), n(&f["major"]));
    // Faults the kernel takes for get_user_pages (execve copying argv) have no exception
    // to trace: the tracer may see a few less.
    for (oracle, what) in [(n(&truth["minflt"]), "getrusage"), (n(&truth["stat_minflt"]), "/proc/self/stat")] {
        let tol = (oracle as f64 * 0.02).ceil().max(5.0) as u64;
        assert!(minor.abs_diff(oracle) <= tol, "minor: traced {minor} vs {what} {oracle} (2% or 5)");
    }
    for (oracle, what) in [(n(&truth["majflt"]), "getrusage"), (n(&truth["stat_majflt"]), "/proc/self/stat")] {
        assert!(major.abs_diff(oracle) <= 2, "major: traced {major} vs {what} {oracle} (±2)");
    }
    // The anonymous region: one write fault per page, taken in user mode.
    // Every file by its path, the executable and the dynamic loader too: the kernel names
    // each file at its first fault, and nothing reads the target's /proc during the trace.
    let labels: Vec<&str> =
        f["by_mapping"].as_array().unwrap().iter().map(|m| m["mapping"].as_str().unwrap()).collect();
    assert!(labels.iter().all(|l| l.starts_with('/') || l.starts_with('[')), "an unnamed mapping: {labels:?}");
    let exe = std::fs::canonicalize(&probe).unwrap();
    assert!(labels.contains(&exe.to_str().unwrap()), "{exe:?} not in {labels:?}");
    if integration_test::interpreter(&probe).is_some() {
        assert!(labels.iter().any(|l| l.contains("/ld-linux")), "{labels:?}");
    }
    let anon = mapping(&report, "[anon]");
    assert!(n(&anon["minor"]) >= 3000 && n(&anon["writes"]) >= 3000, "{anon}");
    // The file, by its path: exactly the faults the program counted around its loop over
    // the file's pages (far fewer than pages: fault-around maps 16 pages per fault, and
    // large page-cache folios are mapped whole).
    let data = mapping(&report, file.to_str().unwrap());
    let pages = n(&truth["file_pages"]);
    let faults = n(&data["minor"]) + n(&data["major"]);
    assert_eq!(faults, n(&truth["file_faults"]), "faults in the file vs getrusage around the loop: {data}");
    assert!(faults < pages / 4, "{faults} faults for {pages} pages: {data}");
    assert_eq!(n(&data["kernel_mode"]), 0, "the program touched the mapping itself");
    if cold {
        assert!(n(&data["major"]) >= 1, "a cold file must be read from disk: {data}");
        assert_eq!(n(&data["filled_pages"]), pages, "every page came into the page cache during a fault");
        assert!(n(&data["disk_bytes"]) > 0);
    } else {
        assert_eq!(n(&data["major"]), 0, "warm: {data}");
        assert_eq!(n(&data["filled_pages"]), 0);
    }
    let _ = std::fs::remove_file(&file);
}

#[test]
fn warm_file_and_anonymous_faults_match_getrusage() {
    run(false);
}

#[test]
fn cold_file_faults_are_major_and_fill_the_page_cache() {
    run(true);
}

/// mmap+write: the program never touches the mapping; the kernel does, in write()'s
/// copy_from_user, so the file's faults are kernel-mode.
#[test]
fn mmap_write_faults_inside_write() {
    let zerocopy = binary("zerocopy");
    let (report, _) = traced(&[zerocopy.to_str().unwrap(), "--mode", "mmap-write", "--size", "8M"]);
    let file = report["faults"]["by_mapping"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["mapping"].as_str().unwrap().contains("/zerocopy-"))
        .unwrap_or_else(|| panic!("the sent file is listed by path: {}", report["faults"]));
    // All of them, and at most one per page.
    assert_eq!(n(&file["user_mode"]), 0, "the program never touches the mapping itself: {file}");
    assert!((1..=(8 << 20) / 4096).contains(&n(&file["kernel_mode"])), "{file}");
}

/// File names over a long trace: 400 files, each named by the kernel at its first fault,
/// through a ring buffer of 8 KiB that wraps some 25 times. A name is read up to its end
/// marker, so bytes an older record left in the ring never become part of it: every
/// path reported is a file that exists, and each created file is there under its own.
#[test]
fn file_names_stay_whole_when_the_ring_wraps() {
    let dir = scratch("map-files");
    let _ = std::fs::remove_dir_all(&dir);
    let probe = binary("map-files");
    let (report, out) =
        traced_with(&["--ring-kib", "8", "--only", "faults"], &[probe.to_str().unwrap(), dir.to_str().unwrap(), "400"]);
    let truth = last_json_line(&out.stdout);
    let labels: Vec<String> = report["faults"]["by_mapping"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["mapping"].as_str().unwrap().to_owned())
        .filter(|l| l.starts_with('/'))
        .collect();
    for label in &labels {
        assert!(std::path::Path::new(label).exists(), "{label} is not a file: a name picked up stale bytes");
    }
    let created: Vec<&str> = truth["files"].as_array().unwrap().iter().map(|f| f.as_str().unwrap()).collect();
    for f in &created {
        assert!(labels.iter().any(|l| l == f), "{f} is missing from the report");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
