//! What runs in a guest (its /init and the suite script), how its results are read off
//! the console, and the matrix printed from them.
use std::{
    collections::BTreeMap,
    fs,
    path::Path,
    process::{Command, Stdio},
};

use serde_json::Value;

use super::tests::{OTHER_TESTS, SECTIONS};
use crate::sh::{Result, run};

pub struct Outcome {
    /// Section -> what `tracer check` says of it ("exact", "degraded", "unavailable") and why.
    pub coverage: BTreeMap<String, (String, String)>,
    /// Test binary -> passed, and what it printed.
    pub tests: BTreeMap<String, bool>,
    pub output: BTreeMap<String, String>,
    pub failed: Vec<String>,
}

/// The guest's /init: mounts, modules, loopback, the disk, then the suite.
/// The run that writes a Perfetto trace in the guest, read back on the host.
pub const TIMELINE: &str = "timeline";

pub const INIT: &str = r#"#!/bin/sh
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
pub fn suite() -> String {
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

pub fn parse_results(text: &str, dir: &Path) -> Result<Outcome> {
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

pub fn print_matrix(matrix: &[(String, String, Outcome)]) {
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
pub fn refresh_fixture(dist: &Path, btf: &Path, release: &str, out: &Path) -> Result {
    run(Command::new(dist.join("tracer"))
        .args(["check", "--btf"])
        .arg(btf)
        .args(["--kernel", release, "--minimize"])
        .arg(out)
        .stdout(Stdio::null()))
}
