//! `tracer demo`, small: every mode of both tables, with the numbers each path implies.
use integration_test::{perfetto_check, scratch, tracer};
use serde_json::Value;

#[test]
fn demo_compares_every_path_and_server_model() {
    let pictures = scratch("demo-pictures");
    std::fs::create_dir_all(&pictures).unwrap();
    let out = tracer(&[
        "demo",
        "--size",
        "8M",
        "--duration",
        "300ms",
        "--connections",
        "8",
        "--format",
        "json",
        "--pictures",
        pictures.to_str().unwrap(),
    ]);
    let demo: Value = serde_json::from_slice(&out.stdout).unwrap();
    // The epoll server's flame graph (its reactor blocked in epoll_wait, woken by NET_RX)
    // and its timeline, a well-formed Perfetto trace.
    let (svg, timeline) = (pictures.join("tracer-demo-epoll-offwake.svg"), pictures.join("tracer-demo-epoll.pftrace"));
    assert_eq!(demo["pictures"], serde_json::json!([svg, timeline]));
    let text = perfetto_check(&timeline, None);
    let packets: u64 =
        text.lines().last().and_then(|l| l.strip_prefix("ok: ")?.split(' ').next()?.parse().ok()).unwrap();
    // 300 ms of a loaded server: a run, a wait and a read and write per request at least.
    assert!(packets > 1000, "{text}");
    let svg = std::fs::read_to_string(&svg).unwrap();
    for frame in ["do_epoll_wait", "ep_poll_callback", "net_rx_action"] {
        assert!(svg.contains(frame), "the demo's flame graph lacks {frame}");
    }
    let rows = demo["zerocopy"].as_array().unwrap();
    let modes: Vec<&str> = rows.iter().map(|r| r["mode"].as_str().unwrap()).collect();
    assert_eq!(modes, ["read-write", "mmap-write", "sendfile", "splice", "vmsplice", "copy-file-range"]);
    for r in rows {
        let mode = r["mode"].as_str().unwrap();
        let measured = r["cpu_copies_per_byte"].as_f64().unwrap();
        let want = match mode {
            "read-write" => 2.0,
            "mmap-write" => 1.0,
            _ => 0.0,
        };
        assert!((measured - want).abs() < 0.01, "{mode}: {measured} CPU copies per byte, want {want}");
        let zc = r["zero_copy_bytes"].as_u64().unwrap();
        assert_eq!(zc, if want == 0.0 { 8 << 20 } else { 0 }, "{mode}");
        assert!(r["syscalls"].as_u64().unwrap() >= 128, "{mode}: at least one call per 64 KiB chunk");
        assert_eq!(r["mode_switches"].as_u64().unwrap(), 2 * r["syscalls"].as_u64().unwrap());
    }
    let servers = demo["epoll"].as_array().unwrap();
    let models: Vec<(String, u64)> =
        servers.iter().map(|r| (r["mode"].as_str().unwrap().to_owned(), r["reactors"].as_u64().unwrap())).collect();
    assert_eq!(models.len(), 6, "{models:?}");
    for r in servers {
        assert!(r["requests_per_s"].as_f64().unwrap() > 100.0, "{r}");
        assert!(r["syscalls_per_request"].as_f64().unwrap() >= 1.9, "at least a read and a write per request: {r}");
        assert!(r["woken_by"].as_str().unwrap().starts_with("NET_RX softirq"), "{r}");
    }
    let table = String::from_utf8(tracer(&["demo", "zerocopy", "--size", "4M"]).stdout).unwrap();
    for mode in ["read-write", "mmap-write", "sendfile", "splice", "vmsplice", "copy-file-range"] {
        assert!(table.contains(&format!("│ {mode} ")), "{mode} row in: {table}");
    }
}
