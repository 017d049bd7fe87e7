//! Softirq counts per vector and CPU against /proc/softirqs.
use integration_test::{binary, traced};
use serde_json::Value;

fn n(v: &Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("not a count: {v}"))
}

/// Per vector and CPU: the tracer's count lies between the /proc/softirqs delta read
/// inside the traced command (its window holds the command's) and the delta around the
/// whole tracer run (its window lies within it).
#[test]
fn softirq_counts_match_proc_softirqs() {
    let zerocopy = binary("zerocopy");
    let script = format!(
        "cat /proc/softirqs > \"$1\"; {} --mode sendfile --size 32M --repeat 4 > /dev/null; sleep 0.3; cat /proc/softirqs > \"$2\"",
        zerocopy.display()
    );
    let dir = integration_test::scratch("softirqs");
    std::fs::create_dir_all(&dir).unwrap();
    let (a, b) = (dir.join("inner-before"), dir.join("inner-after"));
    let outer_before = read_softirqs(&std::fs::read_to_string("/proc/softirqs").unwrap());
    let (report, _) = traced(&["sh", "-c", &script, "sh", a.to_str().unwrap(), b.to_str().unwrap()]);
    let outer_after = read_softirqs(&std::fs::read_to_string("/proc/softirqs").unwrap());
    let inner = delta(
        &read_softirqs(&std::fs::read_to_string(&a).unwrap()),
        &read_softirqs(&std::fs::read_to_string(&b).unwrap()),
    );
    let outer = delta(&outer_before, &outer_after);
    let mut checked = 0;
    for v in report["softirq"]["vectors"].as_array().unwrap() {
        for c in v["per_cpu"].as_array().unwrap() {
            let key = (v["name"].as_str().unwrap().to_owned(), n(&c["cpu"]) as usize);
            let traced = n(&c["count"]);
            let (i, o) = (inner.get(&key).copied().unwrap_or(0), outer.get(&key).copied().unwrap_or(0));
            // The traced window holds the command's and lies within the tracer's run. The
            // kernel counts a softirq as it starts, the tracer as it ends: one running as
            // the probes went live is the tracer's alone.
            assert!(
                (i..=o + 1).contains(&traced),
                "{key:?}: traced {traced} outside [/proc delta inside the command {i}, around the tracer {o} + 1]"
            );
            checked += 1;
        }
    }
    let net_rx: u64 = inner.iter().filter(|((name, _), _)| name == "NET_RX").map(|(_, &d)| d).sum();
    assert!(net_rx > 100, "the transfer made NET_RX work: {net_rx}");
    assert!(checked >= 4, "{checked}");
}

type Softirqs = std::collections::BTreeMap<(String, usize), u64>;

fn read_softirqs(text: &str) -> Softirqs {
    let mut out = Softirqs::new();
    for line in text.lines().skip(1) {
        let mut f = line.split_whitespace();
        let name = f.next().unwrap().trim_end_matches(':').to_owned();
        for (cpu, v) in f.enumerate() {
            out.insert((name.clone(), cpu), v.parse().unwrap());
        }
    }
    out
}

fn delta(before: &Softirqs, after: &Softirqs) -> Softirqs {
    after.iter().map(|(k, &v)| (k.clone(), v - before.get(k).copied().unwrap_or(0))).collect()
}
