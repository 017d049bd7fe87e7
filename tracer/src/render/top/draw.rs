//! One frame of `tracer top`: the header (target, time, events/s, losses, what tracing
//! costs, coverage), the six panes, and a footer of keys; the help over them on `?`.
use ratatui::{
    Frame,
    layout::{Constraint, Layout, Rect},
    style::{Color, Modifier, Style},
    text::{Line, Span as Text},
    widgets::{Block, Borders, Clear, Paragraph, Row as TableRow, Table as TableWidget},
};

use super::{
    panes::{Key, PANES, Pane, Table, tables},
    readings::Readings,
    view::{Span, View},
};
use crate::{report::Report, sections::Status};

/// Below this the panes cannot show their columns: the screen says so instead.
pub const MIN_WIDTH: u16 = 80;
pub const MIN_HEIGHT: u16 = 24;

const KEYS: &str =
    "q quit  ? help  Tab pane  </> sort column  s order  / filter  space pause  d interval/total  e export";

const HELP: &[&str] = &[
    "tracer top: the traced process's I/O, read from the kernel's maps at each interval",
    "",
    "Tab / Shift-Tab   select the next / previous pane",
    "<  >              sort the selected pane by the column to the left / right",
    "s                 reverse the order",
    "/                 filter rows by name (syscall, thread, path, vector, mapping); Enter keeps it, Esc clears",
    "space             pause the screen (PAUSED); tracing goes on",
    "d                 last interval / since the start",
    "e                 write the report on screen as JSON (the --format json schema)",
    "q, Ctrl-C         stop: the final report is printed as `attach` prints it",
    "",
    "events/s: the tracer's programs' runs per second (every run, bystanders' included)",
    "Esc or ? closes this help",
];

pub fn draw(frame: &mut Frame, readings: &Readings, view: &View) {
    let area = frame.area();
    if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
        let text = format!(
            "terminal too small: {}x{}, tracer top needs {MIN_WIDTH}x{MIN_HEIGHT} (q quits)",
            area.width, area.height
        );
        frame.render_widget(Paragraph::new(text), area);
        return;
    }
    let [header, body, footer] =
        Layout::vertical([Constraint::Length(3), Constraint::Min(0), Constraint::Length(1)]).areas(area);
    match (readings.latest.as_ref(), readings.figures(view.span)) {
        (Some(total), Some(shown)) => {
            frame.render_widget(Paragraph::new(header_lines(total, &shown, view)), header);
            draw_panes(frame, body, &tables(&shown, secs(&shown)), view);
        }
        _ => frame.render_widget(Paragraph::new("tracer top: waiting for the first reading ..."), header),
    }
    frame.render_widget(Paragraph::new(footer_line(view)), footer);
    if view.help {
        draw_help(frame, body);
    }
}

fn secs(r: &Report) -> f64 {
    r.duration_ns as f64 / 1e9
}

fn header_lines(total: &Report, shown: &Report, view: &View) -> Vec<Line<'static>> {
    let span = match view.span {
        Span::Interval => format!("last {:.2} s", secs(shown)),
        Span::SinceStart => "since the start".to_owned(),
    };
    let mut first = vec![Text::raw(format!(
        "tracer top  pid {}  {}  traced {:.1} s  showing {span}",
        total.target.pid,
        total.target.command,
        secs(total)
    ))];
    if view.paused {
        first.push(Text::styled("  PAUSED", Style::new().fg(Color::Black).bg(Color::Yellow)));
    }
    let s = secs(shown).max(1e-9);
    let o = &shown.overhead;
    let runs = o.bpf_hits.map_or_else(|| "n/a".into(), |n| format!("{:.0}", n as f64 / s));
    let bpf = o.bpf_ns.map_or_else(|| "n/a".into(), |ns| format!("{:.1}%", 100.0 * ns as f64 / 1e9 / s));
    let missed = total.missed_events.map_or_else(|| "at the end".into(), |m| m.to_string());
    let second = format!(
        "events/s {runs}  lost {}  missed {missed}  tracer cost: BPF {bpf} of a CPU, tracer process {:.1}% of a CPU",
        total.lost_events,
        100.0 * o.user_cpu_ns as f64 / 1e9 / s
    );
    vec![Line::from(first), Line::raw(second), Line::raw(coverage_line(total))]
}

/// The kernel's coverage in one line: every section not exact, with its first note.
fn coverage_line(r: &Report) -> String {
    let short: Vec<String> = r
        .coverage
        .iter()
        .filter(|(_, c)| c.status != Status::Exact)
        .map(|(s, c)| {
            let status = if c.status == Status::Degraded { "degraded" } else { "unavailable" };
            let why = c.notes.first().map_or(String::new(), |n| format!(" ({n})"));
            format!("{} {status}{why}", s.name())
        })
        .collect();
    if short.is_empty() {
        format!("coverage: every section exact on Linux {}", r.kernel)
    } else {
        format!("coverage: {}", short.join("; "))
    }
}

fn footer_line(view: &View) -> Line<'static> {
    if view.editing {
        return Line::raw(format!("filter: /{}_  (Enter keeps it, Esc clears)", view.filter));
    }
    let mut parts = Vec::new();
    if !view.filter.is_empty() {
        parts.push(Text::styled(format!("filter: {}  ", view.filter), Style::new().add_modifier(Modifier::BOLD)));
    }
    parts.push(Text::raw(view.message.clone().unwrap_or_else(|| KEYS.to_owned())));
    Line::from(parts)
}

fn draw_panes(frame: &mut Frame, body: Rect, tables: &[Table], view: &View) {
    let [top, middle, threads, bottom] = Layout::vertical([
        Constraint::Percentage(35),
        Constraint::Percentage(20),
        Constraint::Percentage(25),
        Constraint::Percentage(20),
    ])
    .areas(body);
    // The copy ledger has the most columns.
    let split =
        |r: Rect, left| Layout::horizontal([Constraint::Percentage(left), Constraint::Percentage(100 - left)]).split(r);
    let (m, b) = (split(middle, 40), split(bottom, 50));
    let areas = [top, m[0], m[1], threads, b[0], b[1]];
    for (pane, area) in PANES.iter().zip(areas) {
        draw_pane(frame, area, &tables[pane.index()], view);
    }
}

fn draw_pane(frame: &mut Frame, area: Rect, table: &Table, view: &View) {
    let pane = table.pane;
    let focused = view.focus == pane;
    let border = if focused { Style::new().fg(Color::Yellow) } else { Style::new() };
    let title = match &table.absent {
        Some(_) => format!(" {} ", pane.title()),
        None => format!(" {}: {} ", pane.title(), table.summary),
    };
    let block = Block::new().borders(Borders::ALL).border_style(border).title(title);
    if let Some(why) = &table.absent {
        frame.render_widget(Paragraph::new(why.clone()).block(block), area);
        return;
    }
    let sort = view.sort_of(pane);
    let header = pane.columns().iter().enumerate().map(|(i, c)| match i == sort.column {
        true => format!("{c}{}", if sort.descending { "▼" } else { "▲" }),
        false => (*c).to_owned(),
    });
    let rows = table.shown(&view.filter, sort.column, sort.descending).into_iter().map(|r| {
        TableRow::new(r.cells.iter().map(|c| match c.key {
            Key::Text(_) => ratatui::text::Text::raw(c.text.clone()),
            Key::Num(_) => ratatui::text::Text::raw(c.text.clone()).right_aligned(),
        }))
    });
    let widths = widths(pane);
    let widget = TableWidget::new(rows, widths)
        .header(TableRow::new(header).style(Style::new().add_modifier(Modifier::BOLD)))
        .block(block);
    frame.render_widget(widget, area);
}

/// The first column (names) takes what the figures leave.
fn widths(pane: Pane) -> Vec<Constraint> {
    let mut w = vec![Constraint::Fill(1)];
    let rest = pane.columns().len() - 1;
    match pane {
        Pane::Threads => {
            w = vec![Constraint::Length(8), Constraint::Fill(1)];
            w.extend(std::iter::repeat_n(Constraint::Length(10), rest - 1));
        }
        Pane::Copies => w.extend(std::iter::repeat_n(Constraint::Length(9), rest)),
        _ => w.extend(std::iter::repeat_n(Constraint::Length(10), rest)),
    }
    w
}

fn draw_help(frame: &mut Frame, body: Rect) {
    let height = (HELP.len() as u16 + 2).min(body.height);
    let area = Rect { x: body.x + 1, y: body.y + 1, width: body.width.saturating_sub(2), height };
    frame.render_widget(Clear, area);
    let text: Vec<Line> = HELP.iter().map(|l| Line::raw(*l)).collect();
    frame.render_widget(Paragraph::new(text).block(Block::new().borders(Borders::ALL).title(" help ")), area);
}

#[cfg(test)]
mod tests {
    use ratatui::{Terminal, backend::TestBackend, buffer::Buffer};

    use super::*;
    use crate::report::{Part, sample};

    fn screen(readings: &Readings, view: &View, width: u16, height: u16) -> String {
        let mut t = Terminal::new(TestBackend::new(width, height)).unwrap();
        t.draw(|f| draw(f, readings, view)).unwrap();
        text(t.backend().buffer())
    }

    fn text(b: &Buffer) -> String {
        let w = b.area.width as usize;
        b.content
            .chunks(w)
            .map(|row| row.iter().map(ratatui::buffer::Cell::symbol).collect::<String>() + "\n")
            .collect()
    }

    /// The row of `name` in the pane, as words.
    fn row<'a>(screen: &'a str, name: &str) -> Vec<&'a str> {
        let words = |l: &'a str| l.split(['│', ' ']).filter(|w| !w.is_empty()).collect::<Vec<_>>();
        let line = screen.lines().find(|l| words(l).first() == Some(&name));
        words(line.unwrap_or_else(|| panic!("no row {name} in\n{screen}")))
    }

    fn two_readings() -> Readings {
        let first = sample();
        let mut second = sample();
        second.duration_ns += 500_000_000;
        second.syscalls.get_mut().unwrap()[0].count += 50;
        let mut r = Readings::default();
        r.push(first);
        r.push(second);
        r
    }

    #[test]
    fn the_interval_and_the_total_are_both_the_reports_figures() {
        let r = two_readings();
        let mut view = View::default();
        let s = screen(&r, &view, 120, 40);
        // 50 writes in the 0.5 s interval: 100/s.
        assert_eq!(&row(&s, "write")[..4], ["write", "100", "50", "0"], "{s}");
        assert!(s.contains("showing last 0.50 s"));
        view.span = Span::SinceStart;
        let s = screen(&r, &view, 120, 40);
        assert_eq!(&row(&s, "write")[2..4], ["562", "0"], "{s}");
        assert!(s.contains("showing since the start"));
        assert!(!s.contains("PAUSED"));
    }

    #[test]
    fn pause_filter_and_sort_show_on_screen() {
        let r = two_readings();
        let mut view = View { span: Span::SinceStart, paused: true, ..View::default() };
        let s = screen(&r, &view, 120, 40);
        assert!(s.contains("PAUSED"));
        let pos = |s: &str, name: &str| s.find(&format!("│{name} ")).unwrap_or_else(|| panic!("{name} in\n{s}"));
        assert!(pos(&s, "write") < pos(&s, "epoll_wait"), "most calls first");
        view.sort[0].descending = false;
        let s = screen(&r, &view, 120, 40);
        assert!(pos(&s, "epoll_wait") < pos(&s, "write"), "fewest first");
        view.filter = "epoll".into();
        let s = screen(&r, &view, 120, 40);
        assert!(!s.contains("│write ") && s.contains("│epoll_wait "), "{s}");
        assert!(s.contains("filter: epoll"));
    }

    #[test]
    fn a_small_terminal_is_told_so_and_a_large_one_redraws() {
        let r = two_readings();
        let s = screen(&r, &View::default(), 60, 20);
        assert!(s.starts_with("terminal too small: 60x20, tracer top needs 80x24"), "{s}");
        let s = screen(&r, &View::default(), 200, 60);
        assert!(s.contains("│write "));
    }

    #[test]
    fn header_help_and_unavailable_panes() {
        let mut rep = sample();
        rep.softirq = Part::Unavailable;
        rep.coverage.get_mut(&crate::sections::Section::Softirq).unwrap().status = Status::Unavailable;
        rep.coverage.get_mut(&crate::sections::Section::Softirq).unwrap().notes = vec!["no irq tracepoints".into()];
        let mut r = Readings::default();
        r.push(rep);
        let s = screen(&r, &View::default(), 120, 40);
        assert!(s.contains("unavailable on this kernel: no irq tracepoints"), "{s}");
        assert!(s.contains("coverage: softirq unavailable (no irq tracepoints)"));
        // sample(): 20000 runs in 1.523 s, 95 ms of tracer CPU: 6.2% of a CPU.
        assert!(s.contains("events/s 13132"), "{s}");
        assert!(s.contains("tracer process 6.2% of a CPU"));
        let s = screen(&r, &View { help: true, ..View::default() }, 120, 40);
        assert!(s.contains("pause the screen (PAUSED)"));
        let s = screen(&Readings::default(), &View::default(), 120, 40);
        assert!(s.contains("waiting for the first reading"));
    }
}
