//! The epoll section of the table.
use std::fmt::Write;

use super::cells::{Grid, TOP_ROWS, duration};
use crate::report::Epoll;

pub(super) fn render(s: &mut String, e: &Epoll) {
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
    for f in fds.iter().take(TOP_ROWS) {
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
    let unlisted = fds.iter().skip(TOP_ROWS).map(|f| f.waits).sum::<u64>() + e.by_epfd_folded_waits;
    if unlisted > 0 {
        let _ = writeln!(s, "  ({unlisted} waits on quieter epoll fds not shown; JSON lists the 4096 busiest)");
    }
}
