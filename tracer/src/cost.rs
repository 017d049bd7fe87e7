//! What the tracer's programs cost, from the kernel's own BPF run-time statistics.
//!
//! While statistics are on, the kernel reads the clock twice around every run of every
//! BPF program on the machine (~35 ns per run here, where the clock is paravirtual):
//! on all the time, that would double what a bystander pays per syscall. So by default
//! they are on in windows — the first `WINDOW` once the trace is live, then one in
//! every `PERIOD_TICKS` windows — which give each program's time per run. How many runs there were
//! comes from the programs' own per-CPU counts (`names::MAP_HITS`, exact), not from the
//! windows: a run is slower while statistics are on, so fewer runs fit in a window than
//! outside one, and scaling the windows' run counts would undercount (by a quarter on a
//! syscall loop here). A program's time is its runs times its time per run; one that
//! never ran inside a window has no time of its own (`None`), and the total counts its
//! runs at the mean of all the others.
//! `--bpf-stats always` measures every run; `off` measures none.
//!
//! Only each window's own growth is counted, so another tool that turns statistics on
//! between windows does not skew the figures.
use std::{
    collections::BTreeMap,
    os::fd::{AsRawFd, OwnedFd},
    sync::{Arc, Mutex, mpsc},
    time::{Duration, Instant},
};

use crate::procfs;

/// How long a window lasts, and how often (in windows) one opens. Each window's start
/// and end flip a static key (kernel text patching, with IPIs to every CPU), so they are
/// few: two a second.
pub const WINDOW: Duration = Duration::from_millis(100);
const PERIOD_TICKS: u32 = 10;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum StatsMode {
    /// On for 10% of the trace (100 ms in every second, the first at the start).
    #[default]
    Sampled,
    /// On throughout: exact, at ~2 clock reads per program run.
    Always,
    /// Off: the report says the cost is unknown.
    Off,
}

/// Per program: runs and nanoseconds, as the kernel counts them.
pub type Counters = BTreeMap<String, (u64, u64)>;

/// One program's runs over the trace and the time they took (estimated where the
/// statistics were sampled; None if none of its runs fell inside a window).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Estimate {
    pub program: String,
    pub runs: u64,
    pub ns: Option<u64>,
}

/// Every program's estimate, costliest first, and the share of the trace the
/// statistics were on for.
#[derive(Clone, Debug, PartialEq)]
pub struct Summary {
    pub programs: Vec<Estimate>,
    /// None: no statistics (off, or refused), so no times.
    pub coverage: Option<f64>,
    /// Time per run over every measured run, for programs without a measure of their own.
    mean_ns: f64,
}

impl Summary {
    pub fn runs(&self) -> u64 {
        self.programs.iter().map(|e| e.runs).sum()
    }

    pub fn ns(&self) -> Option<u64> {
        self.coverage?;
        let unmeasured: u64 = self.programs.iter().filter(|e| e.ns.is_none()).map(|e| e.runs).sum();
        Some(self.programs.iter().filter_map(|e| e.ns).sum::<u64>() + (unmeasured as f64 * self.mean_ns).round() as u64)
    }
}

/// The kernel's statistics of the programs over a trace. Sampled windows are opened and
/// closed by a thread of their own: a window's edges are syscalls that patch kernel text
/// (milliseconds under emulation), which must not hold up the reader of the ring buffer.
pub struct Costs {
    mode: StatsMode,
    /// `always`: statistics on from before the first attach to the end.
    always: Option<OwnedFd>,
    programs: Vec<(String, OwnedFd)>,
    windows: Arc<Mutex<Windows>>,
    sampler: Option<(mpsc::Sender<()>, std::thread::JoinHandle<()>)>,
    started: Instant,
    ended: Option<Instant>,
    /// Why the kernel keeps no statistics for this trace.
    pub error: Option<String>,
}

/// What the closed windows measured: each program's growth, and their total length.
#[derive(Default)]
struct Windows {
    measured: Counters,
    on: Duration,
    error: Option<String>,
}

impl Costs {
    /// Before the programs attach: with `always`, statistics go on for good, so every run
    /// is timed.
    pub fn new(mode: StatsMode) -> Self {
        let mut c = Self {
            mode,
            always: None,
            programs: Vec::new(),
            windows: Arc::default(),
            sampler: None,
            started: Instant::now(),
            ended: None,
            error: (mode == StatsMode::Off).then(|| "BPF run-time statistics were off (--bpf-stats off)".to_owned()),
        };
        if mode == StatsMode::Always {
            match enable() {
                Ok(fd) => c.always = Some(fd),
                Err(e) => c.error = Some(e),
            }
        }
        c
    }

    /// The programs are attached (`programs`: each one's name and fd): sampled windows
    /// begin, the first at once.
    pub fn start(&mut self, programs: Vec<(String, OwnedFd)>) {
        self.started = Instant::now();
        if self.mode == StatsMode::Sampled {
            let fds: Vec<(String, OwnedFd)> =
                programs.iter().filter_map(|(n, fd)| Some((n.clone(), fd.try_clone().ok()?))).collect();
            let (tx, rx) = mpsc::channel();
            let windows = Arc::clone(&self.windows);
            let thread =
                std::thread::Builder::new().name("bpf-stats".into()).spawn(move || sample(&fds, &windows, &rx)).ok();
            self.sampler = thread.map(|t| (tx, t));
        }
        self.programs = programs;
    }

    /// The trace ends (before the programs are unloaded).
    pub fn stop(&mut self) {
        if let Some((tx, thread)) = self.sampler.take() {
            let _ = tx.send(());
            let _ = thread.join();
        }
        if self.always.take().is_some() {
            let mut w = lock(&self.windows);
            w.measured = read_counters(&self.programs);
            w.on = self.started.elapsed();
        }
        self.ended = Some(Instant::now());
    }

    /// Each program's runs (`hits`: the programs' own counts) and time over the trace so
    /// far (closed windows only); no times if the kernel kept no statistics.
    pub fn estimate(&self, hits: &BTreeMap<String, u64>) -> Summary {
        let w = lock(&self.windows);
        if self.error.is_some() || w.error.is_some() {
            return summarize(&Counters::new(), hits, None);
        }
        let total = self.ended.unwrap_or_else(Instant::now).duration_since(self.started);
        let coverage = if total.is_zero() { 1.0 } else { (w.on.as_secs_f64() / total.as_secs_f64()).min(1.0) };
        summarize(&w.measured, hits, Some(coverage))
    }

    /// Why the kernel kept no statistics, if it did not.
    pub fn unavailable(&self) -> Option<String> {
        self.error.clone().or_else(|| lock(&self.windows).error.clone())
    }
}

/// The sampler thread: a window of `WINDOW` every `PERIOD_TICKS` windows, until told to
/// stop (a window open then is closed and counted).
fn sample(fds: &[(String, OwnedFd)], windows: &Mutex<Windows>, stop: &mpsc::Receiver<()>) {
    loop {
        let fd = match enable() {
            Ok(fd) => fd,
            Err(e) => {
                lock(windows).error = Some(e);
                return;
            }
        };
        let (since, before) = (Instant::now(), read_counters(fds));
        let stopped = stop.recv_timeout(WINDOW).is_ok();
        let after = read_counters(fds);
        drop(fd);
        {
            let mut w = lock(windows);
            w.on += since.elapsed();
            add_growth(&mut w.measured, &before, &after);
        }
        if stopped || stop.recv_timeout(WINDOW * (PERIOD_TICKS - 1)).is_ok() {
            return;
        }
    }
}

fn enable() -> Result<OwnedFd, String> {
    aya::sys::enable_stats(aya::sys::Stats::RunTime)
        .map_err(|e| format!("the kernel refused BPF_ENABLE_STATS: {}", e.io_error))
}

fn lock(w: &Mutex<Windows>) -> std::sync::MutexGuard<'_, Windows> {
    w.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Runs and run time of each program so far, from its fd's /proc/self/fdinfo (the
/// kernel's `run_cnt` and `run_time_ns`).
fn read_counters(programs: &[(String, OwnedFd)]) -> Counters {
    programs
        .iter()
        .map(|(name, fd)| {
            let info = procfs::fdinfo(fd.as_raw_fd());
            let field = |key: &str| info.get(key).copied().unwrap_or(0);
            (name.clone(), (field("run_cnt"), field("run_time_ns")))
        })
        .collect()
}

/// What each program's counters grew by between `before` and `after`.
fn add_growth(into: &mut Counters, before: &Counters, after: &Counters) {
    for (name, &(runs, ns)) in after {
        let (r0, n0) = before.get(name).copied().unwrap_or((0, 0));
        let e = into.entry(name.clone()).or_default();
        e.0 += runs.saturating_sub(r0);
        e.1 += ns.saturating_sub(n0);
    }
}

/// Each program's runs times its measured time per run.
pub fn summarize(measured: &Counters, hits: &BTreeMap<String, u64>, coverage: Option<f64>) -> Summary {
    let (all_runs, all_ns) = measured.values().fold((0, 0), |(r, n), &(runs, ns)| (r + runs, n + ns));
    let mut programs: Vec<Estimate> = hits
        .iter()
        .map(|(name, &runs)| {
            let ns = match measured.get(name) {
                _ if coverage.is_none() => None,
                _ if runs == 0 => Some(0),
                Some(&(m_runs, m_ns)) if m_runs > 0 => Some((runs as f64 * m_ns as f64 / m_runs as f64).round() as u64),
                _ => None,
            };
            Estimate { program: name.clone(), runs, ns }
        })
        .collect();
    programs.sort_by(|a, b| b.ns.cmp(&a.ns).then_with(|| a.program.cmp(&b.program)));
    let mean_ns = if all_runs > 0 { all_ns as f64 / all_runs as f64 } else { 0.0 };
    Summary { programs, coverage, mean_ns }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counters(v: &[(&str, u64, u64)]) -> Counters {
        v.iter().map(|&(n, r, ns)| (n.to_owned(), (r, ns))).collect()
    }

    #[test]
    fn windows_count_only_their_own_growth() {
        let mut into = Counters::new();
        // sys_enter ran 100 times in the window; it had run 1000 times before (counted
        // while another tool had statistics on), which must not count.
        add_growth(&mut into, &counters(&[("sys_enter", 1000, 50_000)]), &counters(&[("sys_enter", 1100, 60_000)]));
        add_growth(&mut into, &counters(&[("sys_enter", 5000, 90_000)]), &counters(&[("sys_enter", 5050, 95_000)]));
        assert_eq!(into, counters(&[("sys_enter", 150, 15_000)]));
    }

    fn hits(v: &[(&str, u64)]) -> BTreeMap<String, u64> {
        v.iter().map(|&(n, r)| (n.to_owned(), r)).collect()
    }

    #[test]
    fn runs_are_counted_and_time_is_runs_times_the_windows_time_per_run() {
        // Windows saw 1000 sys_enter runs taking 150 us (150 ns each), 10 switches at
        // 300 ns; the programs counted 12_000 and 90 runs in all.
        let measured = counters(&[("sys_enter", 1_000, 150_000), ("sched_switch", 10, 3_000)]);
        let s = summarize(&measured, &hits(&[("sys_enter", 12_000), ("sched_switch", 90)]), Some(0.1));
        assert_eq!(
            s.programs,
            vec![
                Estimate { program: "sys_enter".into(), runs: 12_000, ns: Some(1_800_000) },
                Estimate { program: "sched_switch".into(), runs: 90, ns: Some(27_000) },
            ]
        );
        assert_eq!((s.runs(), s.ns()), (12_090, Some(1_827_000)));
    }

    #[test]
    fn a_program_never_measured_has_no_time_of_its_own_and_counts_at_the_mean() {
        // tcp_probe ran 4 times, all outside the windows; the mean over measured runs is
        // (150_000 + 50_000) / 2_000 = 100 ns.
        let measured = counters(&[("sys_enter", 1_000, 150_000), ("sys_exit", 1_000, 50_000)]);
        let s = summarize(&measured, &hits(&[("sys_enter", 1_000), ("sys_exit", 1_000), ("tcp_probe", 4)]), Some(0.5));
        let tcp = s.programs.iter().find(|e| e.program == "tcp_probe").unwrap();
        assert_eq!((tcp.runs, tcp.ns), (4, None));
        assert_eq!(s.ns(), Some(200_000 + 400));
    }

    #[test]
    fn a_program_that_never_ran_took_no_time() {
        let s = summarize(&Counters::new(), &hits(&[("block_rq_issue", 0)]), Some(1.0));
        assert_eq!(s.programs[0].ns, Some(0));
    }

    #[test]
    fn without_statistics_runs_are_known_and_times_are_not() {
        let s = summarize(&Counters::new(), &hits(&[("sys_enter", 5), ("block_rq_issue", 0)]), None);
        assert_eq!((s.runs(), s.ns()), (5, None));
        assert!(s.programs.iter().all(|e| e.ns.is_none()));
    }
}
