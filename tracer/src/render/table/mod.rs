//! Human rendering with comfy-table: a summary line per section, then its table. One file
//! per section, named as the report's; `cells` holds what they all use.
pub(crate) mod cells;
mod copies;
mod epoll;
mod faults;
mod sched;
mod softirq;
mod stacks;
mod syscalls;
mod wakeups;

use cells::opt;
pub use cells::{Grid, bytes, duration};

use std::fmt::Write;

use crate::report::{Overhead, Part, Report};

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
    part(&mut s, "Syscalls", &r.syscalls, |s, rows| syscalls::render(s, rows, &r.mode_switches));
    part(&mut s, "Context switches", &r.sched, sched::render);
    part(&mut s, "Wakeups", &r.wakeups, wakeups::render);
    part(&mut s, "Epoll", &r.epoll, epoll::render);
    part(&mut s, "Copies", &r.copies, copies::render);
    part(&mut s, "Page faults", &r.faults, faults::render);
    part(&mut s, "Softirqs", &r.softirq, softirq::render);
    if let Some(st) = &r.stacks {
        stacks::render(&mut s, st);
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
