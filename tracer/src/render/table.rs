//! Human rendering with comfy-table: a summary line per section, then its table.
use std::fmt::Write;

use comfy_table::{CellAlignment, ContentArrangement, Table, presets::UTF8_FULL_CONDENSED};

use crate::report::{
    Copies, Epoll, Faults, OffCpuRow, Overhead, Part, Report, Sched, Softirq, Stacks, SyscallRow, ThreadRow, Wakeups,
    quantile_bound_ns,
};

/// Syscall rows shown in the table (JSON and CSV have all).
const TOP_SYSCALLS: usize = 25;

/// A comfy-table with the house preset and numeric columns (from `numeric_from` on)
/// right-aligned: every table the tracer prints.
pub struct Grid(Table);

impl Grid {
    pub fn new(header: &[&str], numeric_from: usize) -> Self {
        let mut t = Table::new();
        t.load_preset(UTF8_FULL_CONDENSED).set_content_arrangement(ContentArrangement::Disabled).set_header(header);
        for i in numeric_from..header.len() {
            if let Some(c) = t.column_mut(i) {
                c.set_cell_alignment(CellAlignment::Right);
            }
        }
        Self(t)
    }

    pub fn row(&mut self, cells: Vec<String>) {
        self.0.add_row(cells);
    }
}

impl std::fmt::Display for Grid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

pub fn render(r: &Report) -> String {
    let mut s = String::new();
    let missed = r.missed_events.map_or_else(|| "unknown".into(), |n| n.to_string());
    let completeness = if r.complete {
        "complete".to_owned()
    } else {
        format!("INCOMPLETE: {} events lost, {missed} missed", r.lost_events)
    };
    let kernel = if r.kernel.is_empty() { String::new() } else { format!(" on Linux {}", r.kernel) };
    let _ = writeln!(
        s,
        "tracer: pid {} ({}), traced {}{kernel}, {} lost events ({completeness})",
        r.target.pid,
        r.target.command,
        duration(r.duration_ns),
        r.lost_events
    );
    for (section, c) in &r.coverage {
        for n in &c.notes {
            let _ = writeln!(s, "{}: {n}", section.name());
        }
    }
    for note in &r.notes {
        let _ = writeln!(s, "note: {note}");
    }
    part(&mut s, "Syscalls", &r.syscalls, |s, rows| syscalls(s, rows, &r.mode_switches));
    part(&mut s, "Context switches", &r.sched, sched);
    part(&mut s, "Wakeups", &r.wakeups, wakeups);
    part(&mut s, "Epoll", &r.epoll, epoll);
    part(&mut s, "Copies", &r.copies, copies);
    part(&mut s, "Page faults", &r.faults, faults);
    part(&mut s, "Softirqs", &r.softirq, softirq);
    if let Some(st) = &r.stacks {
        stacks(&mut s, st);
    }
    overhead(&mut s, &r.overhead);
    s
}

/// The footer: what the trace cost, in the kernel and in the tracer itself.
fn overhead(s: &mut String, o: &Overhead) {
    let cpu = format!("the tracer process {} of CPU (start-up included)", duration(o.user_cpu_ns));
    let hits = o.bpf_hits.unwrap_or(0);
    let (Some(ns), Some(coverage)) = (o.bpf_ns, o.bpf_stats_coverage) else {
        let _ =
            writeln!(s, "\nTracing cost: kernel programs ran {hits} times, their time unknown (see the notes); {cpu}");
        return;
    };
    let per_hit = ns.checked_div(hits).map_or_else(String::new, |n| format!(", {n} ns per run"));
    let how = if coverage >= 0.999 {
        String::new()
    } else {
        format!(", time per run measured over {:.0}% of the trace", coverage * 100.0)
    };
    let top: Vec<String> =
        o.programs.iter().take(3).map(|p| format!("{} {}", p.program, opt(p.ns, duration))).collect();
    let _ = writeln!(
        s,
        "\nTracing cost: kernel programs {} in {hits} runs{per_hit}{how} (most: {}); {cpu}",
        duration(ns),
        top.join(", ")
    );
}

/// A traced section rendered; one that this kernel cannot give, said so.
fn part<T>(s: &mut String, title: &str, p: &Part<T>, render: impl FnOnce(&mut String, &T)) {
    match p {
        Part::Traced(t) => render(s, t),
        Part::Unavailable => {
            let _ = writeln!(s, "\n{title}: not available on this kernel (see the notes above)");
        }
        Part::NotTraced => {}
    }
}

/// A figure this kernel cannot give.
fn opt(v: Option<u64>, show: impl Fn(u64) -> String) -> String {
    v.map_or_else(|| "n/a".into(), show)
}

fn faults(s: &mut String, f: &Faults) {
    if f.minor + f.major == 0 {
        return;
    }
    let _ = writeln!(
        s,
        "\nPage faults: {} minor, {} major ({} in user mode, {} by the kernel on user memory, {} writes); {} page-cache pages filled, {} read from disk",
        f.minor,
        f.major,
        f.user_mode,
        f.kernel_mode,
        f.writes,
        opt(f.filled_pages, |n| n.to_string()),
        opt(f.disk_read_bytes, bytes)
    );
    let mut g =
        Grid::new(&["mapping", "minor", "major", "user", "kernel", "fault-around pages", "filled pages", "disk"], 1);
    for m in f.by_mapping.iter().flatten().take(TOP_SYSCALLS) {
        g.row(vec![
            m.mapping.clone(),
            m.minor.to_string(),
            m.major.to_string(),
            m.user_mode.to_string(),
            m.kernel_mode.to_string(),
            opt(m.around_pages, |n| n.to_string()),
            opt(m.filled_pages, |n| n.to_string()),
            opt(m.disk_bytes, bytes),
        ]);
    }
    let _ = writeln!(s, "{g}");
    for n in &f.notes {
        let _ = writeln!(s, "note: {n}");
    }
}

fn syscalls(s: &mut String, rows: &[SyscallRow], mode_switches: &Part<u64>) {
    let calls: u64 = rows.iter().map(|c| c.count).sum();
    let switches = mode_switches.get().copied().unwrap_or(2 * calls);
    let _ = writeln!(s, "\nSyscalls: {calls} calls, {switches} mode switches (user<->kernel, 2 per call)");
    if rows.is_empty() {
        return;
    }
    // Without latency (`--no-latency`) its three columns go.
    let timed = rows.iter().any(|c| c.latency.is_some());
    let headers = ["syscall", "calls", "errors", "bytes", "total time", "p50 <", "p99 <"];
    let mut g = Grid::new(&headers[..if timed { 7 } else { 4 }], 1);
    for c in rows.iter().take(TOP_SYSCALLS) {
        let mut row = vec![
            c.name.clone(),
            c.count.to_string(),
            c.errors.to_string(),
            if c.bytes > 0 { bytes(c.bytes) } else { String::new() },
        ];
        if let (Some(total), Some(latency)) = (c.total_ns, &c.latency) {
            let q = |p: f64| quantile_bound_ns(latency, p).map_or_else(|| "-".into(), duration);
            row.extend([duration(total), q(0.5), q(0.99)]);
        }
        g.row(row);
    }
    if rows.len() > TOP_SYSCALLS {
        g.row(vec![format!("... {} more", rows.len() - TOP_SYSCALLS), String::new()]);
    }
    let _ = writeln!(s, "{g}");
}

fn sched(s: &mut String, c: &Sched) {
    let _ = writeln!(
        s,
        "\nContext switches: {} voluntary, {} involuntary; on CPU {}, off CPU {}, waiting for a CPU {}",
        c.voluntary,
        c.involuntary,
        duration(c.oncpu_ns),
        duration(c.offcpu_ns),
        duration(c.runqueue_ns)
    );
    let mut g = Grid::new(
        &["pid", "tid", "comm", "voluntary", "involuntary", "on CPU", "off CPU", "run queue", "slices", "avg slice"],
        3,
    );
    let mut row = |pid: String, tid: String, comm: String, v: u64, i: u64, on: u64, off: u64, rq: u64, slices: u64| {
        let avg = on.checked_div(slices).map_or_else(|| "-".into(), duration);
        g.row(vec![
            pid,
            tid,
            comm,
            v.to_string(),
            i.to_string(),
            duration(on),
            duration(off),
            duration(rq),
            slices.to_string(),
            avg,
        ]);
    };
    let idle: Vec<&ThreadRow> = c.threads.iter().filter(|t| t.idle).collect();
    for t in c.threads.iter().filter(|t| !t.idle) {
        let comm = if t.exited { format!("{} (exited)", t.comm) } else { t.comm.clone() };
        row(
            t.pid.to_string(),
            t.tid.to_string(),
            comm,
            t.voluntary,
            t.involuntary,
            t.oncpu_ns,
            t.offcpu_ns,
            t.runqueue_ns,
            t.slices,
        );
    }
    if !idle.is_empty() {
        let mut states: Vec<&str> = idle.iter().filter_map(|t| t.state.as_deref()).collect();
        states.dedup();
        let label = format!("{} idle (never ran: {})", idle.len(), states.join(", "));
        row(String::new(), String::new(), label, 0, 0, 0, 0, 0, 0);
    }
    if c.threads_folded > 0 {
        // Their counters are in the totals below; their rows were not kept.
        let label = format!("{} more exited", c.threads_folded);
        row(String::new(), String::new(), label, 0, 0, 0, 0, 0, 0);
    }
    let all = format!("{} threads", c.threads.len() as u64 + c.threads_folded);
    row("all".into(), String::new(), all, c.voluntary, c.involuntary, c.oncpu_ns, c.offcpu_ns, c.runqueue_ns, c.slices);
    let _ = writeln!(s, "{g}");
    if !c.by_syscall.is_empty() {
        let parts: Vec<String> =
            c.by_syscall.iter().take(8).map(|b| format!("{} {}v/{}i", b.syscall, b.voluntary, b.involuntary)).collect();
        let _ = writeln!(s, "switches by syscall: {}", parts.join(", "));
    }
}

fn wakeups(s: &mut String, w: &Wakeups) {
    if w.count == 0 {
        return;
    }
    let sources: Vec<String> = w.by_source.iter().map(|x| format!("{} {}", x.source, x.count)).collect();
    let _ = writeln!(s, "\nWakeups: {} ({} followed by a run): {}", w.count, w.paired, sources.join(", "));
    let mut g = Grid::new(&["waker", "wakee", "wakeups", "avg wake-to-run", "p99 <"], 2);
    for e in w.edges.iter().take(TOP_SYSCALLS) {
        let avg = e.latency_ns.checked_div(e.paired).map_or_else(|| "-".into(), duration);
        let p99 = quantile_bound_ns(&e.latency, 0.99).map_or_else(|| "-".into(), duration);
        g.row(vec![e.waker.clone(), format!("{}/{}", e.wakee_pid, e.wakee_tid), e.count.to_string(), avg, p99]);
    }
    let _ = writeln!(s, "{g}");
    if w.edges_folded > 0 {
        let _ =
            writeln!(s, "  ({} quieter edges not kept row by row; their wakeups are in the totals)", w.edges_folded);
    }
}

/// Stack rows shown in the table (JSON has all; `--format folded` and the flame graphs
/// show them whole).
const TOP_STACKS: usize = 10;

fn stacks(s: &mut String, st: &Stacks) {
    let total: u64 = st.offcpu.iter().map(|r| r.off_ns).sum();
    let _ = writeln!(
        s,
        "\nOff-CPU stacks: {} off CPU in {} distinct (thread, stack, waker) rows; {} captures failed, {} frames unnamed",
        duration(total),
        st.offcpu.len(),
        st.failed_kernel + st.failed_user,
        st.unnamed_frames
    );
    for n in &st.notes {
        let _ = writeln!(s, "stacks: {n}");
    }
    let mut g = Grid::new(&["thread", "blocked in (kernel < user)", "woken by", "times", "off CPU"], 3);
    for r in st.offcpu.iter().take(TOP_STACKS) {
        g.row(vec![
            format!("{}/{}", r.comm, r.tid),
            blocked_in(r),
            woken_by(r),
            r.count.to_string(),
            duration(r.off_ns),
        ]);
    }
    let _ = writeln!(s, "{g}");
}

/// The frames that say why a thread left the CPU: the first kernel frames below the
/// scheduler's own, and the user frame that made the call.
fn blocked_in(r: &OffCpuRow) -> String {
    let kernel: Vec<&str> =
        r.kernel_stack.iter().map(String::as_str).skip_while(|f| f.contains("schedule")).take(2).collect();
    let user = r.user_stack.first().map_or("-", String::as_str);
    format!("{} < {user}", kernel.join(" < "))
}

fn woken_by(r: &OffCpuRow) -> String {
    match &r.waker {
        None => "(preempted or not seen)".into(),
        Some(w) => match &w.comm {
            Some(comm) => format!("{} {comm}/{}", w.source, w.tid),
            None => w.source.clone(),
        },
    }
}

fn softirq(s: &mut String, si: &Softirq) {
    if si.vectors.is_empty() {
        return;
    }
    let _ = writeln!(s, "\nSoftirqs (whole system, traced window):");
    let mut g = Grid::new(&["vector", "count", "time", "avg raise->run", "per CPU", "woke target", "their time"], 1);
    for v in &si.vectors {
        let wait = match (v.raise_wait_ns, v.raised) {
            (Some(ns), Some(n)) => ns.checked_div(n).map_or_else(|| "-".into(), duration),
            _ => "n/a".into(),
        };
        let cpus: Vec<String> = v.per_cpu.iter().map(|c| format!("{}:{}", c.cpu, c.count)).collect();
        g.row(vec![
            v.name.clone(),
            v.count.to_string(),
            duration(v.time_ns),
            wait,
            cpus.join(" "),
            v.target_wakeups.to_string(),
            duration(v.target_time_ns),
        ]);
    }
    let _ = writeln!(s, "{g}");
}

fn epoll(s: &mut String, e: &Epoll) {
    if e.waits == 0 && e.ctl.add == 0 {
        return;
    }
    let per_wait = if e.waits > 0 { e.events_returned as f64 / e.waits as f64 } else { 0.0 };
    let _ = writeln!(
        s,
        "\nEpoll: {} waits ({} blocked), {} events returned ({per_wait:.2} per wait), {} timeouts, {} errors ({} EINTR); {} waiting, {} of it asleep",
        e.waits,
        e.blocked_waits,
        e.events_returned,
        e.timeouts,
        e.errors,
        e.eintr,
        duration(e.wait_ns),
        duration(e.blocked_ns),
    );
    let c = &e.ctl;
    let _ = writeln!(
        s,
        "epoll_ctl: {} add, {} mod, {} del; flags asked for: EPOLLET {}, EPOLLONESHOT {}, EPOLLEXCLUSIVE {}, EPOLLWAKEUP {}",
        c.add, c.modify, c.delete, c.edge_triggered, c.oneshot, c.exclusive, c.wakeup
    );
    if !e.wakeups_by_source.is_empty() {
        let by: Vec<String> = e.wakeups_by_source.iter().map(|x| format!("{} {}", x.source, x.count)).collect();
        let woken: u64 = e.wake_to_run.iter().map(|b| b.count).sum();
        let avg = e.wake_to_run_ns.checked_div(woken).map_or_else(|| "-".into(), duration);
        let _ = writeln!(
            s,
            "blocked waits woken by: {}; {} harvested several events; avg wake-to-run {avg}",
            by.join(", "),
            e.harvested_several
        );
    }
    if !e.events_hist.is_empty() {
        let hist: Vec<String> = e
            .events_hist
            .iter()
            .map(|b| {
                let range = if b.events_min == b.events_max {
                    b.events_min.to_string()
                } else {
                    format!("{}-{}", b.events_min, b.events_max)
                };
                format!("{range}: {}", b.waits)
            })
            .collect();
        let _ = writeln!(s, "events per wait: {}", hist.join(", "));
    }
    let mut g = Grid::new(&["pid", "epfd", "waits", "blocked", "events", "timeouts"], 2);
    let mut fds: Vec<_> = e.by_epfd.iter().collect();
    fds.sort_by_key(|f| std::cmp::Reverse(f.waits));
    for f in fds.iter().take(TOP_SYSCALLS) {
        g.row(vec![
            f.pid.to_string(),
            f.epfd.to_string(),
            f.waits.to_string(),
            f.blocked_waits.to_string(),
            f.events_returned.to_string(),
            f.timeouts.to_string(),
        ]);
    }
    let _ = writeln!(s, "{g}");
    let unlisted = fds.iter().skip(TOP_SYSCALLS).map(|f| f.waits).sum::<u64>() + e.by_epfd_folded_waits;
    if unlisted > 0 {
        let _ = writeln!(s, "  ({unlisted} waits on quieter epoll fds not shown; JSON lists the 4096 busiest)");
    }
}

fn copies(s: &mut String, c: &Copies) {
    if c.paths.is_empty() {
        return;
    }
    let _ = writeln!(
        s,
        "\nCopies: {} copied by the CPU between user and kernel memory, {} moved without that copy",
        bytes(c.cpu_copy_bytes),
        bytes(c.zero_copy_bytes)
    );
    let _ = writeln!(
        s,
        "measured by the kernel: socket receives copied {}; disk DMA {} read, {} written; NIC DMA {}",
        opt(c.socket_copy_bytes, bytes),
        opt(c.disk_read_bytes, bytes),
        opt(c.disk_write_bytes, bytes),
        opt(c.nic_tx_bytes, bytes)
    );
    let mut g = Grid::new(
        &["path", "calls", "bytes", "mode switches", "model: switches/CPU/DMA copies", "CPU-copied", "zero-copy"],
        1,
    );
    for p in &c.paths {
        g.row(vec![
            p.path.clone(),
            p.calls.to_string(),
            bytes(p.bytes),
            p.mode_switches.to_string(),
            format!("{} / {} / {}", p.model_mode_switches, p.cpu_copies, p.dma_copies),
            bytes(p.cpu_copied_bytes),
            bytes(p.zero_copy_bytes),
        ]);
    }
    let _ = writeln!(s, "{g}");
    for p in &c.paths {
        let _ = writeln!(s, "  {}: {}", p.path, p.note);
    }
    for n in &c.notes {
        let _ = writeln!(s, "note: {n}");
    }
}

pub fn duration(ns: u64) -> String {
    match ns {
        0..1_000 => format!("{ns} ns"),
        1_000..1_000_000 => format!("{:.1} us", ns as f64 / 1e3),
        1_000_000..1_000_000_000 => format!("{:.1} ms", ns as f64 / 1e6),
        _ => format!("{:.3} s", ns as f64 / 1e9),
    }
}

pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut v = n as f64 / 1024.0;
    let mut unit = 0;
    while v >= 1024.0 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    format!("{v:.1} {}", UNITS[unit])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shows_every_section() {
        let text = render(&crate::report::sample());
        assert!(
            text.starts_with(
                "tracer: pid 4242 (sched-child --sleeps 3), traced 1.523 s on Linux 6.18.0, 0 lost events (complete)"
            ),
            "{text}"
        );
        assert!(text.contains("note: NIC DMA not measured: example"));
        let line = |needle: &str| {
            text.lines().find(|l| l.contains(needle)).unwrap_or_else(|| panic!("{needle}: {text}")).to_owned()
        };
        assert!(text.contains("Syscalls: 515 calls, 1030 mode switches"));
        let w = line("│ write");
        assert!(w.contains("512") && w.contains("32.0 MiB") && w.contains("16.4 us") && w.contains("131.1 us"), "{w}");
        assert!(text.contains("Context switches: 305 voluntary, 121 involuntary"));
        assert!(line("4242 ┆ sched-child").contains("┆           1 ┆"));
        assert!(text.contains("on CPU 901.0 ms, off CPU 402.0 ms, waiting for a CPU 390.1 ms"));
        assert!(text.contains("switches by syscall: clock_nanosleep 300v/0i, user or fault 0v/121i"));
        assert!(text.contains("Wakeups: 310 (305 followed by a run): timer 300, task 10"));
        assert!(line("timer on CPU 1").contains("10.0 us"));
        assert!(text.contains("blocked waits woken by: NET_RX softirq 1, timer 1; 1 harvested several events"));
        assert!(line("│ NET_RX").contains("0:60 1:40"));
        assert!(text.contains("Page faults: 260 minor, 1 major (5 in user mode, 256 by the kernel on user memory"));
        assert!(line("/tmp/zerocopy-1.src").contains("4080"));
        assert!(line("(exited)").contains("120"));
        assert!(line("2 threads").contains("305"));
        assert!(
            text.contains(
                "Epoll: 3 waits (2 blocked), 4 events returned (1.33 per wait), 1 timeouts, 1 errors (1 EINTR)"
            )
        );
        assert!(text.contains("epoll_ctl: 2 add, 1 mod, 1 del; flags asked for: EPOLLET 2"));
        assert!(text.contains("events per wait: 0: 1, 4: 1"));
        assert!(text.contains("Copies: 32.0 MiB copied by the CPU"));
        assert!(line("│ read-write").contains("4 / 2 / 2"));
        assert!(text.contains("note: no NIC DMA measured"));
    }

    #[test]
    fn without_latency_the_syscall_table_drops_its_time_columns() {
        let mut r = crate::report::sample();
        for c in r.syscalls.get_mut().unwrap() {
            (c.total_ns, c.latency) = (None, None);
        }
        let text = render(&r);
        let header = text.lines().find(|l| l.contains("syscall") && l.contains("calls")).unwrap();
        assert!(header.contains("bytes") && !header.contains("total time") && !header.contains("p99"), "{header}");
        let w = text.lines().find(|l| l.contains("│ write")).unwrap();
        assert!(w.contains("512") && w.contains("32.0 MiB") && !w.contains(" us"), "{w}");
    }

    #[test]
    fn flags_an_incomplete_trace() {
        let mut r = crate::report::sample();
        r.lost_events = 7;
        r.complete = false;
        assert!(render(&r).lines().next().unwrap().ends_with("(INCOMPLETE: 7 events lost, 0 missed)"));
    }

    #[test]
    fn the_footer_says_what_tracing_cost_and_how_it_was_measured() {
        let mut r = crate::report::sample();
        let text = render(&r);
        assert!(
            text.contains("Tracing cost: kernel programs 2.4 ms in 20000 runs, 120 ns per run, time per run measured over 10% of the trace (most: sys_enter 1.5 ms, sys_exit 900.0 us, tcp_probe n/a); the tracer process 95.0 ms of CPU"),
            "{text}"
        );
        (r.overhead.bpf_ns, r.overhead.bpf_stats_coverage) = (None, None);
        assert!(render(&r).contains("kernel programs ran 20000 times, their time unknown (see the notes)"));
    }

    #[test]
    fn units() {
        assert_eq!(bytes(1023), "1023 B");
        assert_eq!(bytes(16 << 20), "16.0 MiB");
        assert_eq!(duration(999), "999 ns");
        assert_eq!(duration(1_500_000), "1.5 ms");
    }
}
