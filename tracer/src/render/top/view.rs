//! What the person at `tracer top` chose to see, and the keys that change it. Pure: a
//! key in, the new view and what the loop must do out (`crate::top` does it).
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::panes::{PANES, Pane};

/// Which figures the panes show.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Span {
    /// Between the last two readings.
    Interval,
    /// Since the trace started.
    SinceStart,
}

/// How one pane's rows are ordered: by this column, largest first or not.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sort {
    pub column: usize,
    pub descending: bool,
}

#[derive(Clone, Debug, PartialEq)]
pub struct View {
    pub focus: Pane,
    pub sort: [Sort; PANES.len()],
    /// Rows whose name contains this (any case) are shown; empty: all.
    pub filter: String,
    /// The filter is being typed.
    pub editing: bool,
    /// The screen keeps its figures; readings go on underneath.
    pub paused: bool,
    pub span: Span,
    pub help: bool,
    /// One line for the footer (an export's file, ...).
    pub message: Option<String>,
}

/// What a key asks of the loop beyond a new view.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Redraw,
    /// End the trace (as Ctrl-C does to `attach`).
    Quit,
    /// Write the report on screen as JSON.
    Export,
}

impl Default for View {
    fn default() -> Self {
        Self {
            focus: Pane::Syscalls,
            sort: PANES.map(|p| Sort { column: p.default_sort(), descending: true }),
            filter: String::new(),
            editing: false,
            paused: false,
            span: Span::Interval,
            help: false,
            message: None,
        }
    }
}

impl View {
    pub fn sort_of(&self, pane: Pane) -> Sort {
        self.sort[pane.index()]
    }

    pub fn key(&mut self, key: KeyEvent) -> Action {
        if key.modifiers.contains(KeyModifiers::CONTROL) && key.code == KeyCode::Char('c') {
            return Action::Quit;
        }
        if self.editing {
            self.edit(key.code);
            return Action::Redraw;
        }
        self.message = None;
        match key.code {
            KeyCode::Char('q') => return Action::Quit,
            KeyCode::Char('e') => return Action::Export,
            KeyCode::Char('?') => self.help = !self.help,
            KeyCode::Esc if self.help => self.help = false,
            KeyCode::Esc => self.filter.clear(),
            KeyCode::Char(' ') => self.paused = !self.paused,
            KeyCode::Char('d') => {
                self.span = match self.span {
                    Span::Interval => Span::SinceStart,
                    Span::SinceStart => Span::Interval,
                }
            }
            KeyCode::Char('/') => {
                self.editing = true;
                self.filter.clear();
            }
            KeyCode::Tab => self.focus = PANES[(self.focus.index() + 1) % PANES.len()],
            KeyCode::BackTab => self.focus = PANES[(self.focus.index() + PANES.len() - 1) % PANES.len()],
            KeyCode::Char('>') => self.move_sort(1),
            KeyCode::Char('<') => self.move_sort(-1),
            KeyCode::Char('s') => {
                let s = &mut self.sort[self.focus.index()];
                s.descending = !s.descending;
            }
            _ => {}
        }
        Action::Redraw
    }

    fn edit(&mut self, code: KeyCode) {
        match code {
            KeyCode::Enter => self.editing = false,
            KeyCode::Esc => {
                self.editing = false;
                self.filter.clear();
            }
            KeyCode::Backspace => {
                self.filter.pop();
            }
            KeyCode::Char(c) => self.filter.push(c),
            _ => {}
        }
    }

    /// The focused pane sorts by the next column to the right (`>`) or left (`<`),
    /// wrapping round.
    fn move_sort(&mut self, by: isize) {
        let n = self.focus.columns().len() as isize;
        let s = &mut self.sort[self.focus.index()];
        s.column = (s.column as isize + by).rem_euclid(n) as usize;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn press(v: &mut View, keys: &str) -> Vec<Action> {
        keys.chars().map(|c| v.key(KeyEvent::from(KeyCode::Char(c)))).collect()
    }

    #[test]
    fn keys_people_know() {
        let mut v = View::default();
        assert_eq!(press(&mut v, "q"), [Action::Quit]);
        assert_eq!(v.key(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL)), Action::Quit);
        assert_eq!(press(&mut v, "e"), [Action::Export]);
        press(&mut v, " d?");
        assert!(v.paused && v.help && v.span == Span::SinceStart);
        press(&mut v, " d?");
        assert!(!v.paused && !v.help && v.span == Span::Interval);
    }

    #[test]
    fn a_filter_is_typed_after_slash_and_q_is_a_letter_there() {
        let mut v = View::default();
        assert_eq!(press(&mut v, "/sendq"), [Action::Redraw; 6]);
        v.key(KeyEvent::from(KeyCode::Backspace));
        assert_eq!(v.filter, "send");
        v.key(KeyEvent::from(KeyCode::Enter));
        assert!(!v.editing);
        assert_eq!(press(&mut v, "q"), [Action::Quit], "typed once the filter is set");
        v.key(KeyEvent::from(KeyCode::Esc));
        assert_eq!(v.filter, "", "Esc clears it");
    }

    #[test]
    fn sort_moves_over_the_focused_panes_columns_and_wraps() {
        let mut v = View::default();
        let first = v.sort_of(Pane::Syscalls).column;
        press(&mut v, ">");
        assert_eq!(v.sort_of(Pane::Syscalls).column, first + 1);
        press(&mut v, "<<");
        assert_eq!(v.sort_of(Pane::Syscalls).column, first - 1);
        let n = Pane::Syscalls.columns().len();
        for _ in 0..n {
            press(&mut v, ">");
        }
        assert_eq!(v.sort_of(Pane::Syscalls).column, first - 1, "a full turn comes back");
        press(&mut v, "s");
        assert!(!v.sort_of(Pane::Syscalls).descending);
        v.key(KeyEvent::from(KeyCode::Tab));
        assert_eq!(v.focus, Pane::Epoll);
        assert!(v.sort_of(Pane::Epoll).descending, "each pane keeps its own order");
        v.key(KeyEvent::from(KeyCode::BackTab));
        v.key(KeyEvent::from(KeyCode::BackTab));
        assert_eq!(v.focus, PANES[PANES.len() - 1]);
    }
}
