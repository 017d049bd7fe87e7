//! `--stacks` as pictures: folded stacks (one line per stack, `frame;frame;... value`,
//! what flamegraph.pl and inferno read) and flame graphs drawn by inferno.
//!
//! Off-CPU: `comm;user frames;kernel frames ns`, outermost first, so the graph's tips are
//! where threads blocked. Off-wake (as bcc's offwaketime): the blocked stack, a `--`
//! frame, then the waker's stack reversed (innermost first, its name last), so the waker
//! sits on top of what it woke and each tower reads "blocked here, woken by this".
use std::io::{self, Write};

use inferno::flamegraph::{self, Options, color::BasicPalette, color::Palette};

use crate::report::{OffCpuRow, Stacks};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Graph {
    OffCpu,
    OffWake,
}

/// Folded lines, identical stacks summed, sorted (inferno wants them sorted).
pub fn lines(s: &Stacks, graph: Graph) -> Vec<String> {
    let mut sums: std::collections::BTreeMap<String, u64> = std::collections::BTreeMap::new();
    for row in &s.offcpu {
        *sums.entry(stack(row, graph)).or_default() += row.off_ns;
    }
    sums.into_iter().map(|(k, v)| format!("{k} {v}")).collect()
}

fn stack(row: &OffCpuRow, graph: Graph) -> String {
    let comm = if row.comm.is_empty() { format!("[{}]", row.tid) } else { row.comm.clone() };
    let mut frames = vec![comm];
    frames.extend(row.user_stack.iter().rev().cloned());
    frames.extend(row.kernel_stack.iter().rev().cloned());
    if graph == Graph::OffWake {
        frames.push("--".to_owned());
        match &row.waker {
            Some(w) => {
                frames.extend(w.kernel_stack.iter().cloned());
                frames.extend(w.user_stack.iter().cloned());
                frames.push(match (&w.comm, w.tid) {
                    (Some(c), _) => c.clone(),
                    (None, 0) => w.source.clone(),
                    (None, tid) => format!("[{tid}]"),
                });
            }
            None => frames.push("[not woken: preempted]".to_owned()),
        }
    }
    // `;` separates frames and the last space the value: neither may hide in a name.
    frames.iter().map(|f| f.replace(';', ":")).collect::<Vec<_>>().join(";")
}

pub fn render(s: &Stacks, graph: Graph, out: &mut dyn Write) -> io::Result<()> {
    for l in lines(s, graph) {
        writeln!(out, "{l}")?;
    }
    Ok(())
}

/// A self-contained interactive SVG (search, zoom) of the folded stacks.
pub fn flamegraph(s: &Stacks, graph: Graph, out: &mut dyn Write) -> io::Result<()> {
    let mut opt = Options::default();
    (opt.title, opt.colors) = match graph {
        Graph::OffCpu => ("Off-CPU time: where threads blocked".to_owned(), Palette::Basic(BasicPalette::Blue)),
        Graph::OffWake => (
            "Off-wake time: where threads blocked (below --) and what woke them (above)".to_owned(),
            Palette::Basic(BasicPalette::Aqua),
        ),
    };
    opt.count_name = "ns".to_owned();
    let lines = lines(s, graph);
    if lines.is_empty() {
        // inferno refuses empty input; an empty graph says what happened.
        return writeln!(
            out,
            "<?xml version=\"1.0\" standalone=\"no\"?><svg xmlns=\"http://www.w3.org/2000/svg\" width=\"600\" height=\"40\"><text x=\"10\" y=\"25\">No off-CPU time was traced.</text></svg>"
        );
    }
    flamegraph::from_lines(&mut opt, lines.iter().map(String::as_str), out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::WakerStack;

    fn sample() -> Stacks {
        let row = |tid, k: &[&str], ns, waker: Option<WakerStack>| OffCpuRow {
            pid: 1,
            tid,
            comm: "srv".into(),
            kernel_stack: k.iter().map(ToString::to_string).collect(),
            user_stack: vec!["epoll_wait".into(), "main".into()],
            waker,
            off_ns: ns,
            count: 1,
        };
        let softirq = WakerStack {
            source: "NET_RX softirq".into(),
            kernel_stack: vec!["try_to_wake_up".into(), "ep_poll_callback".into()],
            ..WakerStack::default()
        };
        Stacks {
            offcpu: vec![
                row(2, &["schedule", "ep_poll"], 700, Some(softirq.clone())),
                row(2, &["schedule", "ep_poll"], 300, Some(softirq)),
                row(3, &["schedule", "do;weird"], 50, None),
            ],
            ..Stacks::default()
        }
    }

    #[test]
    fn off_cpu_lines_go_outermost_first_and_sum_identical_stacks() {
        assert_eq!(
            lines(&sample(), Graph::OffCpu),
            ["srv;main;epoll_wait;do:weird;schedule 50", "srv;main;epoll_wait;ep_poll;schedule 1000"]
        );
    }

    #[test]
    fn off_wake_lines_put_the_waker_above_the_blocked_stack() {
        assert_eq!(
            lines(&sample(), Graph::OffWake),
            [
                "srv;main;epoll_wait;do:weird;schedule;--;[not woken: preempted] 50",
                "srv;main;epoll_wait;ep_poll;schedule;--;try_to_wake_up;ep_poll_callback;NET_RX softirq 1000"
            ]
        );
    }

    #[test]
    fn the_svg_holds_the_frames() {
        let mut svg = Vec::new();
        flamegraph(&sample(), Graph::OffCpu, &mut svg).unwrap();
        let svg = String::from_utf8(svg).unwrap();
        assert!(svg.starts_with("<?xml") && svg.trim_end().ends_with("</svg>"));
        assert!(svg.contains("ep_poll") && svg.contains("epoll_wait"), "frames are in the graph");
    }
}
