//! `tracer demo`: the bundled workloads under the tracer, side by side. The zero-copy
//! table is the classic one (mode switches, CPU and DMA copies per path), the textbook
//! model beside what this kernel did; the server table compares blocking, select, poll and
//! epoll (level- and edge-triggered, one and two reactors) under the same load.
use std::{
    ffi::OsString,
    fmt::Write as _,
    path::{Path, PathBuf},
    time::Duration,
};

use anyhow::{Context, Result, bail};
use serde::Serialize;
use serde_json::Value;

use crate::{
    cli::DemoWhich,
    output::AtomicFile,
    render::{
        Format, folded, perfetto,
        table::{Grid, bytes, duration},
    },
    report::{PathRow, Report},
    session,
    signals::Signals,
    trace::{self, Job, Target, Traced},
};

pub struct Settings {
    pub size: u64,
    pub duration: Duration,
    pub connections: u32,
    /// Where the epoll demo's flame graph goes.
    pub pictures: PathBuf,
}

/// One zero-copy path, measured.
#[derive(Debug, Serialize)]
pub struct CopyRow {
    pub mode: String,
    /// Calls on the mode's path, and their user<->kernel mode switches (2 each).
    pub syscalls: u64,
    pub mode_switches: u64,
    /// The textbook's per-transfer counts beside the measured copies per byte delivered.
    pub model_cpu_copies: u64,
    pub cpu_copies_per_byte: f64,
    pub model_dma_copies: u64,
    pub dma_copies_per_byte: f64,
    pub cpu_copied_bytes: u64,
    pub zero_copy_bytes: u64,
    pub context_switches: u64,
    pub page_faults: u64,
    pub wall_ns: u64,
    pub mib_per_s: f64,
}

/// One server model under load.
#[derive(Debug, Serialize)]
pub struct ServerRow {
    pub mode: String,
    pub reactors: u32,
    pub requests_per_s: f64,
    pub syscalls_per_request: f64,
    /// None for the blocking model, which waits in read(2), not for readiness.
    pub ready_events_per_wait: Option<f64>,
    pub wakeups_per_request: f64,
    pub context_switches_per_request: f64,
    /// The most frequent waker of the server's threads, and its share.
    pub woken_by: String,
}

#[derive(Debug, Default, Serialize)]
struct Demo {
    zerocopy: Vec<CopyRow>,
    epoll: Vec<ServerRow>,
    /// Files written beside the tables (the epoll server's flame graph).
    pictures: Vec<PathBuf>,
    notes: Vec<String>,
}

pub async fn run(which: DemoWhich, s: &Settings, format: Format, signals: &Signals) -> Result<String> {
    let mut demo = Demo::default();
    if matches!(which, DemoWhich::Zerocopy | DemoWhich::All) {
        demo.zerocopy = zerocopy(s, signals).await?;
        demo.notes.push(
            "every mode's receiver copies the data once more (skb -> user, the `recv` path); it is left out above"
                .into(),
        );
        demo.notes.push("DMA copies measured: disk reads the sender issued plus NIC transmits; on loopback with a warm page cache both are 0, where the textbook counts 2".into());
        demo.notes.push("sendfile: the textbook's 1 CPU copy is 0 here: 6.x hands page-cache pages to the socket (MSG_SPLICE_PAGES)".into());
    }
    if matches!(which, DemoWhich::Epoll | DemoWhich::All) {
        demo.epoll = servers(s, signals).await?;
        let (svg, timeline) = pictures(s, signals).await?;
        demo.notes.push(format!(
            "{}: where the epoll-lt server's reactor blocked and what woke it (off-wake flame graph; open it in a browser)",
            svg.display()
        ));
        demo.notes.push(format!(
            "{}: its timeline (open it in ui.perfetto.dev): runs, sleeps and why, syscalls, wakeup arrows, softirqs",
            timeline.display()
        ));
        demo.pictures.extend([svg, timeline]);
    }
    render(&demo, format)
}

/// The demo's comparison in `format`.
fn render(demo: &Demo, format: Format) -> Result<String> {
    Ok(match format {
        Format::Json => format!("{}\n", serde_json::to_string_pretty(demo)?),
        Format::Csv => csv(demo)?,
        Format::Table => table(demo),
        Format::Folded | Format::FoldedOffwake => {
            bail!("the demo's tables have no stacks: use --format table, json or csv")
        }
    })
}

/// The bundled programs are installed beside the tracer binary.
fn workload(name: &str) -> Result<PathBuf> {
    let exe = std::env::current_exe().context("cannot find the tracer's own executable")?;
    let path = exe.parent().map(|d| d.join(name)).unwrap_or_default();
    if !path.is_file() {
        bail!(
            "the bundled workload {name} is not beside the tracer ({}): build everything with `cargo build --release`",
            path.display()
        );
    }
    Ok(path)
}

/// The command traced (with stacks and the timeline for the pictures); its report and
/// its own JSON summary.
async fn traced_command(words: Vec<OsString>, pictures: bool, signals: &Signals) -> Result<(Traced, Value)> {
    let job = Job {
        target: Target::Command { words, capture_stdout: true },
        duration: None,
        record: None,
        settings: session::Settings { stacks: pictures, timeline: pictures, ..session::Settings::default() },
    };
    let t = trace::trace(job, None, signals).await?;
    let text = String::from_utf8_lossy(&t.stdout);
    let line = text.lines().last().context("the workload printed no summary")?;
    let summary = serde_json::from_str(line).with_context(|| format!("the workload's summary is not JSON: {line}"))?;
    Ok((t, summary))
}

const MODES: [&str; 6] = ["read-write", "mmap-write", "sendfile", "splice", "vmsplice", "copy-file-range"];

async fn zerocopy(s: &Settings, signals: &Signals) -> Result<Vec<CopyRow>> {
    let bin = workload("zerocopy")?;
    // The file is written here, outside the trace: the rows show the transfer alone.
    let file = std::env::temp_dir().join(format!("tracer-demo-{}.bin", std::process::id()));
    write_file(&file, s.size)?;
    let mut rows = Vec::new();
    for mode in MODES {
        let words = [
            bin.as_os_str(),
            "--mode".as_ref(),
            mode.as_ref(),
            "--file".as_ref(),
            file.as_os_str(),
            "--no-verify".as_ref(),
        ]
        .map(OsString::from)
        .to_vec();
        let result = traced_command(words, false, signals).await;
        let (traced, summary) = match result {
            Ok(x) => x,
            Err(e) => {
                let _ = std::fs::remove_file(&file);
                return Err(e);
            }
        };
        rows.push(copy_row(mode, &traced.report, &summary));
    }
    let _ = std::fs::remove_file(&file);
    Ok(rows)
}

fn write_file(path: &Path, size: u64) -> Result<()> {
    let chunk: Vec<u8> = (0..1 << 20).map(|i: u32| (i ^ (i >> 11)) as u8).collect();
    let mut f = std::io::BufWriter::new(
        std::fs::File::create(path).with_context(|| format!("cannot create {}", path.display()))?,
    );
    let mut left = size;
    while left > 0 {
        let n = left.min(chunk.len() as u64) as usize;
        std::io::Write::write_all(&mut f, &chunk[..n])?;
        left -= n as u64;
    }
    std::io::Write::flush(&mut f)?;
    Ok(())
}

fn copy_row(mode: &str, r: &Report, summary: &Value) -> CopyRow {
    let (copies, sched, faults) = (or_default(&r.copies), or_default(&r.sched), or_default(&r.faults));
    let path = copies
        .paths
        .iter()
        .find(|p| p.path == mode)
        .cloned()
        .unwrap_or_else(|| PathRow { path: mode.into(), ..PathRow::default() });
    let delivered = path.bytes.max(1) as f64;
    let dma = (copies.disk_read_bytes.unwrap_or(0) + copies.nic_tx_bytes.unwrap_or(0)) as f64;
    CopyRow {
        mode: mode.into(),
        syscalls: path.calls,
        mode_switches: path.mode_switches,
        model_cpu_copies: path.cpu_copies,
        cpu_copies_per_byte: path.cpu_copied_bytes as f64 / delivered,
        model_dma_copies: path.dma_copies,
        dma_copies_per_byte: dma / delivered,
        cpu_copied_bytes: path.cpu_copied_bytes,
        zero_copy_bytes: path.zero_copy_bytes,
        context_switches: sched.voluntary + sched.involuntary,
        page_faults: faults.minor + faults.major,
        wall_ns: summary["transfer_ns"].as_u64().unwrap_or(0),
        mib_per_s: summary["throughput_mib_s"].as_f64().unwrap_or(0.0),
    }
}

const SERVERS: [(&str, u32); 6] =
    [("blocking", 1), ("select", 1), ("poll", 1), ("epoll-lt", 1), ("epoll-et", 1), ("epoll-lt", 2)];

async fn servers(s: &Settings, signals: &Signals) -> Result<Vec<ServerRow>> {
    let (server, client) = (workload("epoll-server")?, workload("epoll-client")?);
    let mut rows = Vec::new();
    for (mode, reactors) in SERVERS {
        let (traced, load) = serve(&server, &client, mode, reactors, false, s, signals).await?;
        rows.push(server_row(mode, reactors, &traced.report, &load));
    }
    Ok(rows)
}

/// The level-triggered server once more, with stacks and the timeline (apart from the
/// table, whose rows pay for neither): its off-wake flame graph and its Perfetto trace in
/// `s.pictures`.
async fn pictures(s: &Settings, signals: &Signals) -> Result<(PathBuf, PathBuf)> {
    let (server, client) = (workload("epoll-server")?, workload("epoll-client")?);
    let (svg, pftrace) =
        (s.pictures.join("tracer-demo-epoll-offwake.svg"), s.pictures.join("tracer-demo-epoll.pftrace"));
    let (mut svg_file, mut trace_file) =
        (AtomicFile::create(&svg, "flame graph")?, AtomicFile::create(&pftrace, "Perfetto trace")?);
    let (traced, _) = serve(&server, &client, "epoll-lt", 1, true, s, signals).await?;
    let stacks = traced.report.stacks.as_ref().context("the trace kept no stacks")?;
    folded::flamegraph(stacks, folded::Graph::OffWake, &mut svg_file).context("cannot write the flame graph")?;
    perfetto::write(&traced.timeline, &traced.report, &mut trace_file).context("cannot write the Perfetto trace")?;
    svg_file.commit()?;
    trace_file.commit()?;
    Ok((svg, pftrace))
}

/// One server model traced under the client's load: the report and the client's summary.
async fn serve(
    server: &Path,
    client: &Path,
    mode: &str,
    reactors: u32,
    pictures: bool,
    s: &Settings,
    signals: &Signals,
) -> Result<(Traced, Value)> {
    let port = free_port()?;
    // The server outlives the load by a margin, then stops by itself: the trace ends.
    let run_for = format!("{}ms", (s.duration + Duration::from_millis(1500)).as_millis());
    let words: Vec<OsString> = [
        server.as_os_str(),
        "--mode".as_ref(),
        mode.as_ref(),
        "--threads".as_ref(),
        reactors.to_string().as_ref(),
        "--port".as_ref(),
        port.to_string().as_ref(),
        "--duration".as_ref(),
        run_for.as_ref(),
    ]
    .map(OsString::from)
    .to_vec();
    let (traced, load) = tokio::join!(traced_command(words, pictures, signals), load(client, port, s));
    Ok((traced?.0, load?))
}

fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// Waits for the server to listen, then loads it (untraced) and returns its summary.
async fn load(client: &Path, port: u16, s: &Settings) -> Result<Value> {
    for _ in 0..200 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let out = tokio::process::Command::new(client)
        .args([
            "--port",
            &port.to_string(),
            "--connections",
            &s.connections.to_string(),
            "--size",
            "64",
            "--threads",
            "2",
        ])
        .args(["--duration", &format!("{}ms", s.duration.as_millis())])
        .output()
        .await
        .context("cannot run epoll-client")?;
    if !out.status.success() {
        bail!("epoll-client failed: {}", String::from_utf8_lossy(&out.stderr).trim());
    }
    let text = String::from_utf8_lossy(&out.stdout);
    Ok(serde_json::from_str(text.lines().last().unwrap_or("{}"))?)
}

fn server_row(mode: &str, reactors: u32, r: &Report, client: &Value) -> ServerRow {
    let (syscalls, wakeups, sched) = (or_default(&r.syscalls), or_default(&r.wakeups), or_default(&r.sched));
    let requests = client["requests"].as_u64().unwrap_or(0).max(1) as f64;
    let calls: u64 = syscalls.iter().map(|c| c.count).sum();
    let (waits, ready) = syscalls
        .iter()
        .filter(|c| ["epoll_wait", "epoll_pwait", "poll", "select", "pselect6", "ppoll"].contains(&c.name.as_str()))
        .fold((0, 0), |(w, e), c| (w + c.count, e + c.ready));
    let woken_by = wakeups.by_source.first().map_or_else(
        || "-".into(),
        |top| format!("{} ({:.0}%)", top.source, 100.0 * top.count as f64 / wakeups.count.max(1) as f64),
    );
    ServerRow {
        mode: mode.into(),
        reactors,
        requests_per_s: client["requests_per_sec"].as_f64().unwrap_or(0.0),
        syscalls_per_request: calls as f64 / requests,
        ready_events_per_wait: (mode != "blocking" && waits > 0).then(|| ready as f64 / waits as f64),
        wakeups_per_request: wakeups.count as f64 / requests,
        context_switches_per_request: (sched.voluntary + sched.involuntary) as f64 / requests,
        woken_by,
    }
}

/// A section's figures, or empty ones where this kernel cannot give it (the demo's own
/// tables then show 0; the trace's report says why).
fn or_default<T: Clone + Default>(p: &crate::report::Part<T>) -> T {
    p.get().cloned().unwrap_or_default()
}

fn table(d: &Demo) -> String {
    let mut s = String::new();
    if !d.zerocopy.is_empty() {
        let _ = writeln!(
            s,
            "Zero-copy paths: one file sent over loopback TCP by each path (model = the textbook, per transfer)"
        );
        let mut t = Grid::new(
            &[
                "mode",
                "syscalls",
                "mode switches",
                "CPU copies model/measured",
                "DMA copies model/measured",
                "CPU-copied",
                "zero-copy",
                "ctx switches",
                "faults",
                "time",
                "MiB/s",
            ],
            1,
        );
        for r in &d.zerocopy {
            t.row(vec![
                r.mode.clone(),
                r.syscalls.to_string(),
                r.mode_switches.to_string(),
                format!("{} / {:.2}", r.model_cpu_copies, r.cpu_copies_per_byte),
                format!("{} / {:.2}", r.model_dma_copies, r.dma_copies_per_byte),
                bytes(r.cpu_copied_bytes),
                bytes(r.zero_copy_bytes),
                r.context_switches.to_string(),
                r.page_faults.to_string(),
                duration(r.wall_ns),
                format!("{:.0}", r.mib_per_s),
            ]);
        }
        let _ = writeln!(s, "{t}");
    }
    if !d.epoll.is_empty() {
        let _ = writeln!(s, "\nServer models: the same echo load against epoll-server in each mode (per request)");
        let mut t = Grid::new(
            &["mode", "reactors", "requests/s", "syscalls", "ready events/wait", "wakeups", "ctx switches", "woken by"],
            1,
        );
        for r in &d.epoll {
            t.row(vec![
                r.mode.clone(),
                r.reactors.to_string(),
                format!("{:.0}", r.requests_per_s),
                format!("{:.2}", r.syscalls_per_request),
                r.ready_events_per_wait.map_or_else(|| "-".into(), |v| format!("{v:.2}")),
                format!("{:.3}", r.wakeups_per_request),
                format!("{:.3}", r.context_switches_per_request),
                r.woken_by.clone(),
            ]);
        }
        let _ = writeln!(s, "{t}");
    }
    for n in &d.notes {
        let _ = writeln!(s, "note: {n}");
    }
    s
}

fn csv(d: &Demo) -> Result<String> {
    let mut out = String::new();
    let mut section = |name: &str, rows: Vec<Value>| -> Result<()> {
        let Some(Value::Object(first)) = rows.first() else { return Ok(()) };
        let mut w = csv::Writer::from_writer(Vec::new());
        w.write_record(std::iter::once("section").chain(first.keys().map(String::as_str)))?;
        for row in &rows {
            let cells: Vec<String> = first
                .keys()
                .map(|k| match &row[k] {
                    Value::String(s) => s.clone(),
                    v => v.to_string(),
                })
                .collect();
            w.write_record(std::iter::once(name.to_owned()).chain(cells))?;
        }
        if !out.is_empty() {
            out.push('\n');
        }
        out.push_str(&String::from_utf8(w.into_inner()?)?);
        Ok(())
    };
    section("zerocopy", d.zerocopy.iter().map(serde_json::to_value).collect::<Result<_, _>>()?)?;
    section("epoll", d.epoll.iter().map(serde_json::to_value).collect::<Result<_, _>>()?)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Synthetic rows (the real ones are measured live): every column, a `-` cell, and
    /// both tables with their notes.
    fn demo() -> Demo {
        let copy = |mode: &str, cpu: u64, per_byte: f64, zero: u64| CopyRow {
            mode: mode.into(),
            syscalls: 2056,
            mode_switches: 4112,
            model_cpu_copies: cpu,
            cpu_copies_per_byte: per_byte,
            model_dma_copies: 2,
            dma_copies_per_byte: 0.0,
            cpu_copied_bytes: 134_217_728,
            zero_copy_bytes: zero,
            context_switches: 776,
            page_faults: 135,
            wall_ns: 35_612_345,
            mib_per_s: 1796.4,
        };
        let server = |mode: &str, reactors: u32, ready: Option<f64>| ServerRow {
            mode: mode.into(),
            reactors,
            requests_per_s: 63_472.4,
            syscalls_per_request: 2.014,
            ready_events_per_wait: ready,
            wakeups_per_request: 0.9994,
            context_switches_per_request: 1.0649,
            woken_by: "NET_RX softirq (100%)".into(),
        };
        Demo {
            zerocopy: vec![copy("read-write", 2, 2.0, 0), copy("sendfile", 1, 0.0, 67_108_864)],
            epoll: vec![server("blocking", 1, None), server("epoll-lt", 2, Some(3.7249))],
            pictures: vec![PathBuf::from("./tracer-demo-epoll-offwake.svg")],
            notes: vec!["a note".into(), "another, with a comma".into()],
        }
    }

    #[test]
    fn the_demo_tables_render_as_pinned() {
        let d = demo();
        insta::assert_snapshot!("demo.table", render(&d, Format::Table).unwrap());
        insta::assert_snapshot!("demo.json", render(&d, Format::Json).unwrap());
        insta::assert_snapshot!("demo.csv", render(&d, Format::Csv).unwrap());
        assert!(render(&d, Format::Folded).is_err(), "the demo has no stacks");
    }
}
