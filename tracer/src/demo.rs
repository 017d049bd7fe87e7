//! `tracer demo`: the bundled workloads under the tracer, side by side. The zero-copy
//! table is the classic one (mode switches, CPU and DMA copies per path), the textbook
//! model beside what this kernel did; the server table compares blocking, select, poll and
//! epoll (level- and edge-triggered, one and two reactors) under the same load.
use std::{
    ffi::OsString,
    path::{Path, PathBuf},
    time::Duration,
};

use anyhow::{Context, Result, bail};
use serde_json::Value;

use crate::{
    cli::DemoWhich,
    output::AtomicFile,
    render::{self, Format, folded, perfetto},
    report::{
        PathRow, Report,
        demo::{CopyRow, Demo, ServerRow},
    },
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
    render::demo::render(&demo, format)
}

/// The bundled programs: beside the tracer binary (a build tree), or in `../lib/tracer`
/// from it (the Debian package installs them in /usr/lib/tracer, off the PATH).
fn workload(name: &str) -> Result<PathBuf> {
    let exe = std::env::current_exe().context("cannot find the tracer's own executable")?;
    let dir = exe.parent().unwrap_or(Path::new("/"));
    let candidates = [dir.join(name), dir.join("../lib/tracer").join(name)];
    match candidates.iter().find(|p| p.is_file()) {
        Some(path) => Ok(path.clone()),
        None => bail!(
            "the bundled workload {name} is neither beside the tracer nor in {}: build everything with `cargo build --release`, or install the tracer package",
            dir.join("../lib/tracer").display()
        ),
    }
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
