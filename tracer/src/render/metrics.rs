//! `tracer serve`: a report as OpenMetrics, for Prometheus to scrape. Names follow
//! Prometheus practice: prefix `tracer_`, base units (`_seconds`, `_bytes`), `_total` on
//! counters; labels are few and bounded (target, syscall, path, kind, source, vector,
//! map), never a TID or an address. Every figure is a total since the trace began, so
//! `rate()` and `increase()` work on them; a section not traced, or that this kernel
//! cannot give, has no metrics at all (absent, not 0).
//!
//! Encoded by `prometheus-client` (the Prometheus project's Rust client) through a
//! collector over one report: nothing is kept between scrapes.
use prometheus_client::{
    collector::Collector,
    encoding::{DescriptorEncoder, EncodeCounterValue, MetricEncoder, NoLabelSet, text::encode},
    metrics::MetricType,
    registry::{Registry, Unit},
};

use crate::report::{Report, SyscallRow};

/// The report as OpenMetrics text.
pub fn render(report: &Report) -> String {
    let mut registry = Registry::default();
    registry.register_collector(Box::new(Metrics(report.clone())));
    let mut out = String::new();
    encode(&mut out, &registry).expect("writing to a String cannot fail");
    out
}

/// What OpenMetrics' Content-Type is.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Latency histogram buckets: upper bounds 2^10 ns (1 µs; everything faster folds in)
/// to 2^34 ns (17 s), then +Inf: the kernel's log2 buckets, the same set at every
/// scrape so `histogram_quantile()` can work across them.
const FIRST_BUCKET: u32 = 10;
const LAST_BUCKET: u32 = 34;

#[derive(Debug)]
struct Metrics(Report);

type Labels = Vec<(&'static str, String)>;

impl Collector for Metrics {
    fn encode(&self, mut e: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let r = &self.0;
        let target = || vec![("target", r.target.command.clone())];
        let with = |k: &'static str, v: String| {
            let mut l = target();
            l.push((k, v));
            l
        };
        let one = |v: u64| vec![(target(), v)];
        let seconds = |ns: u64| ns as f64 / 1e9;
        if let Some(rows) = r.syscalls.get() {
            counter(
                &mut e,
                "tracer_syscalls",
                "Syscalls entered",
                None,
                rows.iter().map(|s| (with("syscall", s.name.clone()), s.count)).collect(),
            )?;
            counter(
                &mut e,
                "tracer_syscall_errors",
                "Syscalls that returned -errno",
                None,
                rows.iter().map(|s| (with("syscall", s.name.clone()), s.errors)).collect(),
            )?;
            counter(
                &mut e,
                "tracer_syscall",
                "Bytes moved by data syscalls",
                Some(Unit::Bytes),
                rows.iter().filter(|s| s.bytes > 0).map(|s| (with("syscall", s.name.clone()), s.bytes)).collect(),
            )?;
            // No family at all without latency (`--no-latency`), not one of zeros.
            if rows.iter().any(|s| s.latency.is_some()) {
                let m = e.encode_descriptor(
                    "tracer_syscall_duration",
                    "Time in syscalls that returned (the kernel's log2 buckets)",
                    Some(&Unit::Seconds),
                    MetricType::Histogram,
                )?;
                histograms(m, rows, &target())?;
            }
        }
        if let Some(&n) = r.mode_switches.get() {
            counter(&mut e, "tracer_mode_switches", "User <-> kernel transitions (2 per syscall)", None, one(n))?;
        }
        if let Some(c) = r.copies.get() {
            let mut rows = Vec::new();
            for p in &c.paths {
                let labels = |kind: &str| {
                    let mut l = with("path", p.path.clone());
                    l.push(("kind", kind.to_owned()));
                    l
                };
                rows.push((labels("cpu_copy"), p.cpu_copied_bytes));
                rows.push((labels("zero_copy"), p.zero_copy_bytes));
            }
            counter(
                &mut e,
                "tracer_copy",
                "Bytes moved by each copy path: copied by the CPU, or moved without that copy",
                Some(Unit::Bytes),
                rows,
            )?;
        }
        if let Some(s) = r.sched.get() {
            counter(
                &mut e,
                "tracer_context_switches",
                "Context switches: voluntary (blocked), involuntary (preempted)",
                None,
                vec![
                    (with("kind", "voluntary".into()), s.voluntary),
                    (with("kind", "involuntary".into()), s.involuntary),
                ],
            )?;
            counter(
                &mut e,
                "tracer_oncpu",
                "Time on a CPU (the kernel's task clock)",
                Some(Unit::Seconds),
                vec![(target(), seconds(s.oncpu_ns))],
            )?;
            counter(
                &mut e,
                "tracer_offcpu",
                "Time off CPU",
                Some(Unit::Seconds),
                vec![(target(), seconds(s.offcpu_ns))],
            )?;
            counter(
                &mut e,
                "tracer_runqueue",
                "Time runnable, waiting for a CPU",
                Some(Unit::Seconds),
                vec![(target(), seconds(s.runqueue_ns))],
            )?;
        }
        if let Some(ep) = r.epoll.get() {
            counter(&mut e, "tracer_epoll_waits", "epoll_wait calls", None, one(ep.waits))?;
            counter(&mut e, "tracer_epoll_blocked_waits", "epoll_wait calls that slept", None, one(ep.blocked_waits))?;
            counter(&mut e, "tracer_epoll_events", "Events epoll_wait returned", None, one(ep.events_returned))?;
        }
        if let Some(w) = r.wakeups.get() {
            counter(
                &mut e,
                "tracer_wakeups",
                "Wakeups of the target's threads, by what woke them",
                None,
                w.by_source.iter().map(|s| (with("source", s.source.clone()), s.count)).collect(),
            )?;
        }
        if let Some(f) = r.faults.get() {
            counter(
                &mut e,
                "tracer_page_faults",
                "Page faults on user addresses",
                None,
                vec![(with("kind", "minor".into()), f.minor), (with("kind", "major".into()), f.major)],
            )?;
        }
        if let Some(si) = r.softirq.get() {
            counter(
                &mut e,
                "tracer_softirq",
                "Softirq time on every CPU, by vector",
                Some(Unit::Seconds),
                si.vectors.iter().map(|v| (with("vector", v.name.clone()), seconds(v.time_ns))).collect(),
            )?;
            counter(
                &mut e,
                "tracer_softirq_runs",
                "Softirq runs on every CPU, by vector",
                None,
                si.vectors.iter().map(|v| (with("vector", v.name.clone()), v.count)).collect(),
            )?;
        }
        // The tracer's own health.
        counter(
            &mut e,
            "tracer_lost_events",
            "Facts the kernel could not keep (ring buffer full, a map full, a stack not captured)",
            None,
            one(r.lost_events),
        )?;
        if let Some(n) = r.missed_events {
            counter(
                &mut e,
                "tracer_missed_events",
                "Tracepoint hits the kernel did not run a program for",
                None,
                one(n),
            )?;
        }
        counter(
            &mut e,
            "tracer_map_full",
            "Entries a kernel map had no room for, by map",
            None,
            r.lost.maps.iter().map(|m| (with("map", m.map.clone()), m.entries_lost)).collect(),
        )?;
        let o = &r.overhead;
        if let Some(hits) = o.bpf_hits {
            counter(
                &mut e,
                "tracer_bpf_runs",
                "Runs of the tracer's kernel programs (any process's)",
                None,
                one(hits),
            )?;
        }
        if let Some(ns) = o.bpf_ns {
            counter(
                &mut e,
                "tracer_bpf",
                "Time in the tracer's kernel programs",
                Some(Unit::Seconds),
                vec![(target(), seconds(ns))],
            )?;
        }
        counter(
            &mut e,
            "tracer_cpu",
            "The tracer process's own CPU time",
            Some(Unit::Seconds),
            vec![(target(), seconds(o.user_cpu_ns))],
        )?;
        let m = e.encode_descriptor("tracer_programs_attached", "Kernel programs attached", None, MetricType::Gauge)?;
        gauge(m, &target(), o.programs.len() as i64)?;
        Ok(())
    }
}

/// One counter family: a row per label set.
fn counter<V: EncodeCounterValue>(
    e: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    unit: Option<Unit>,
    rows: Vec<(Labels, V)>,
) -> Result<(), std::fmt::Error> {
    let mut m = e.encode_descriptor(name, help, unit.as_ref(), MetricType::Counter)?;
    for (labels, v) in &rows {
        m.encode_family(labels)?.encode_counter::<NoLabelSet, _, u64>(v, None)?;
    }
    Ok(())
}

fn gauge(mut m: MetricEncoder, labels: &Labels, v: i64) -> Result<(), std::fmt::Error> {
    m.encode_family(labels)?.encode_gauge(&v)
}

/// One histogram per syscall: its calls by the log2 bucket of their latency.
fn histograms(mut m: MetricEncoder, rows: &[SyscallRow], target: &Labels) -> Result<(), std::fmt::Error> {
    for s in rows.iter().filter(|s| s.returned > 0) {
        let (Some(total_ns), Some(latency)) = (s.total_ns, &s.latency) else { continue };
        let mut per = vec![0u64; (LAST_BUCKET - FIRST_BUCKET + 2) as usize];
        for b in latency {
            // [from, 2 from) lies under the bound 2 from = 2^(k+1).
            let k = if b.from_ns == 0 { 1 } else { b.from_ns.trailing_zeros() + 1 };
            let i = k.clamp(FIRST_BUCKET, LAST_BUCKET + 1) - FIRST_BUCKET;
            per[i as usize] += b.count;
        }
        let buckets: Vec<(f64, u64)> = per
            .iter()
            .enumerate()
            .map(|(i, &n)| {
                let k = FIRST_BUCKET + i as u32;
                (if k > LAST_BUCKET { f64::INFINITY } else { (1u64 << k) as f64 / 1e9 }, n)
            })
            .collect();
        let mut labels = target.clone();
        labels.push(("syscall", s.name.clone()));
        m.encode_family(&labels)?.encode_histogram::<NoLabelSet>(total_ns as f64 / 1e9, s.returned, &buckets, None)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{LatencyBucket, Part, sample};

    /// The value of the one sample line that starts with `series` (name and labels).
    fn value(text: &str, series: &str) -> f64 {
        let lines: Vec<&str> = text.lines().filter(|l| l.starts_with(series)).collect();
        assert_eq!(lines.len(), 1, "{series} in:\n{text}");
        lines[0].rsplit(' ').next().unwrap().parse().unwrap()
    }

    #[test]
    fn counters_are_the_reports_totals_in_base_units() {
        let r = sample();
        let text = render(&r);
        let t = format!("target=\"{}\"", r.target.command);
        let write = r.syscalls.get().unwrap().iter().find(|s| s.name == "write").unwrap();
        assert_eq!(value(&text, &format!("tracer_syscalls_total{{{t},syscall=\"write\"}}")), write.count as f64);
        assert_eq!(value(&text, &format!("tracer_syscall_bytes_total{{{t},syscall=\"write\"}}")), write.bytes as f64);
        let s = r.sched.get().unwrap();
        assert_eq!(value(&text, &format!("tracer_offcpu_seconds_total{{{t}}}")), s.offcpu_ns as f64 / 1e9);
        assert_eq!(
            value(&text, &format!("tracer_context_switches_total{{{t},kind=\"voluntary\"}}")),
            s.voluntary as f64
        );
        assert!(text.ends_with("# EOF\n"), "OpenMetrics ends with # EOF");
    }

    /// log2 buckets become cumulative `le` buckets at fixed bounds: 1 µs holds all faster
    /// calls, [2^k, 2^(k+1)) ns lands under le = 2^(k+1) ns, the slowest under +Inf.
    #[test]
    fn latency_buckets_become_a_cumulative_histogram_with_fixed_bounds() {
        let mut r = sample();
        let Part::Traced(rows) = &mut r.syscalls else { unreachable!() };
        rows.truncate(1);
        rows[0].returned = 7;
        rows[0].total_ns = Some(3_000_000_000);
        rows[0].latency = Some(vec![
            LatencyBucket { from_ns: 0, count: 1 },
            LatencyBucket { from_ns: 256, count: 1 },
            LatencyBucket { from_ns: 4096, count: 2 },
            LatencyBucket { from_ns: 1 << 40, count: 3 },
        ]);
        let name = rows[0].name.clone();
        let text = render(&r);
        let series = |le: &str| {
            format!(
                "tracer_syscall_duration_seconds_bucket{{le=\"{le}\",target=\"{}\",syscall=\"{name}\"}}",
                r.target.command
            )
        };
        assert_eq!(value(&text, &series("0.000001024")), 2.0);
        assert_eq!(value(&text, &series("0.000004096")), 2.0);
        assert_eq!(value(&text, &series("0.000008192")), 4.0);
        assert_eq!(value(&text, &series("17.179869184")), 4.0);
        assert_eq!(value(&text, &series("+Inf")), 7.0);
        let buckets = text.lines().filter(|l| l.starts_with("tracer_syscall_duration_seconds_bucket")).count();
        assert_eq!(buckets, (LAST_BUCKET - FIRST_BUCKET + 2) as usize, "the same bounds at every scrape");
    }

    #[test]
    fn without_latency_there_is_no_duration_histogram_but_the_counts_stay() {
        let mut r = sample();
        for s in r.syscalls.get_mut().unwrap() {
            (s.total_ns, s.latency) = (None, None);
        }
        let text = render(&r);
        assert!(!text.contains("tracer_syscall_duration"), "{text}");
        let write = format!("tracer_syscalls_total{{target=\"{}\",syscall=\"write\"}}", r.target.command);
        assert_eq!(value(&text, &write), 512.0);
    }

    /// Every metric the example Grafana dashboard queries is one `tracer serve` exposes.
    #[test]
    fn the_dashboard_uses_the_metrics_there_are() {
        let text = render(&sample());
        let dashboard = include_str!("../../../contrib/grafana-dashboard.json");
        let mut names: Vec<&str> = dashboard
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .filter(|w| w.starts_with("tracer_"))
            .collect();
        names.sort_unstable();
        names.dedup();
        assert!(names.len() >= 15, "{names:?}");
        for name in names {
            assert!(text.lines().any(|l| l.starts_with(name)), "{name} is not served");
        }
    }
}
