//! The kernel's maps over a long or busy trace: processes that end leave the target set
//! (so a fork-heavy target never fills it, and a recycled PID is not traced), and a map
//! that does fill up is named, with its real remedy, and makes the report incomplete.
use integration_test::{report_counts, strace, traced_with};
use serde_json::json;

/// 60 processes one after another, through a target set of 16: each leaves it as it ends.
/// Their calls are all there (against strace -f), and nothing was lost.
#[test]
fn processes_that_end_leave_the_target_set() {
    let script = "for i in $(seq 60); do /bin/true; done";
    let cmd = ["sh", "-c", script];
    let (st, _) = strace(&cmd);
    let (report, _) = traced_with(&["--max-processes", "16"], &cmd);
    assert_eq!(report["lost"]["maps"], json!([]), "{}", report["lost"]);
    let tr = report_counts(&report);
    for name in ["execve", "clone", "wait4", "read"] {
        assert_eq!(tr.get(name), st.get(name), "{name} (calls, errors, bytes): tracer vs strace -f");
    }
    assert!(st["execve"].0 >= 61, "sh and 60 children");
}

/// 40 processes alive at once, and room for 16: the 25 that found no room (40 + the shell,
/// less 16) are counted against TARGETS, with what to raise.
#[test]
fn a_full_map_is_named_with_its_remedy() {
    let script = "for i in $(seq 40); do sleep 2 & done; wait";
    let out = std::process::Command::new(integration_test::binary("tracer"))
        .args(["run", "--max-processes", "16", "--format", "json", "--", "sh", "-c", script])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let maps = report["lost"]["maps"].as_array().unwrap();
    assert_eq!(maps.len(), 1, "{maps:?}");
    assert_eq!((maps[0]["map"].as_str(), maps[0]["entries_lost"].as_u64()), (Some("TARGETS"), Some(25)));
    assert!(maps[0]["remedy"].as_str().unwrap().contains("--max-processes"), "{maps:?}");
    assert_eq!((report["lost_events"].as_u64(), report["complete"].as_bool()), (Some(25), Some(false)));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("map TARGETS had no room for 25 entries") && stderr.contains("--max-processes"),
        "{stderr}"
    );
}
