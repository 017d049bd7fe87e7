//! `tracer top`'s terminal: a thread that owns the screen and the keyboard while the
//! trace runs on the main thread. The trace hands it each interval's report (read from
//! the maps, `collect::Live`); it draws them with `render::top` at most four times a
//! second and does what the keys ask. Quitting is a SIGINT to the tracer itself, so `q`
//! ends a trace exactly as Ctrl-C ends `attach` (and `run` passes it on to the command).
//!
//! The terminal is given back on every way out: the trace ending (the sender is dropped,
//! the thread returns), an error or a panic in the thread (the guard's `Drop`), and a
//! closed terminal (its errors end the trace with SIGTERM).
use std::{
    io::{self, Stdout},
    path::PathBuf,
    sync::mpsc::{self, Receiver, Sender, TryRecvError},
    thread::JoinHandle,
    time::{Duration, Instant},
};

use anyhow::{Context, Result};
use ratatui::{
    Terminal,
    backend::CrosstermBackend,
    crossterm::{
        cursor,
        event::{KeyCode, KeyEvent, KeyModifiers},
        execute,
        terminal::{self, EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode},
    },
};

use crate::{
    render::{
        Format,
        sink::Sink,
        top::{Action, Readings, View, draw},
    },
    report::Report,
};

/// At most four frames a second.
const FRAME: Duration = Duration::from_millis(250);
/// How often the thread looks for a new reading or the trace's end while no key comes.
const TICK: Duration = Duration::from_millis(50);
/// How often the whole screen is drawn again rather than what changed.
const REPAINT: Duration = Duration::from_secs(2);

/// The full-screen view, opened at the first reading (so the start-up messages stay on
/// the normal screen).
#[derive(Default)]
pub struct Screen {
    to_ui: Option<Sender<Box<Report>>>,
    ui: Option<JoinHandle<Result<()>>>,
}

impl Screen {
    /// A closed terminal sends SIGHUP: the view notices the terminal's errors instead and
    /// ends the trace in order (detached, the report written).
    pub fn new() -> Self {
        // SAFETY: setting a signal's disposition to ignore.
        unsafe { libc::signal(libc::SIGHUP, libc::SIG_IGN) };
        Self::default()
    }

    pub fn show(&mut self, r: &Report) -> Result<()> {
        if self.ui.is_none() {
            let (tx, rx) = mpsc::channel();
            self.to_ui = Some(tx);
            self.ui = Some(std::thread::Builder::new().name("top".into()).spawn(move || ui(&rx))?);
        }
        // A view that ended (its terminal closed) has asked the trace to stop already.
        let _ = self.to_ui.as_ref().map(|tx| tx.send(Box::new(r.clone())));
        Ok(())
    }

    /// Gives the terminal back: returns once it is restored.
    pub fn close(mut self) -> Result<()> {
        self.finish()
    }

    fn finish(&mut self) -> Result<()> {
        self.to_ui = None;
        match self.ui.take().map(JoinHandle::join) {
            Some(Ok(result)) => result,
            Some(Err(_)) => anyhow::bail!("the live view failed (a bug: please report it)"),
            None => Ok(()),
        }
    }
}

impl Drop for Screen {
    fn drop(&mut self) {
        let _ = self.finish();
    }
}

/// The view's thread: until the trace ends (`rx` closes).
fn ui(rx: &Receiver<Box<Report>>) -> Result<()> {
    let entered = Term::enter().context("cannot take over the terminal for `tracer top` (try --no-tui)");
    let result = entered.and_then(|mut term| {
        let result = run_view(&mut term, rx);
        if result.is_err() {
            // A terminal that is gone cannot be given back: ratatui's own restore would
            // fail, and its message (to that terminal) would panic in `Drop`.
            std::mem::forget(term);
        }
        result
    });
    if result.is_err() {
        // The terminal is gone or unusable: end the trace as a `kill` would.
        stop(libc::SIGTERM);
    }
    result
}

fn run_view(term: &mut Term, rx: &Receiver<Box<Report>>) -> Result<()> {
    let (mut live, mut shown, mut view) = (Readings::default(), Readings::default(), View::default());
    let mut dirty = true;
    let mut last_size = terminal::size().context("cannot read the terminal's size")?;
    let mut painted = Instant::now();
    let mut drawn = Instant::now().checked_sub(FRAME).unwrap_or_else(Instant::now);
    loop {
        loop {
            match rx.try_recv() {
                Ok(r) => {
                    live.push(*r);
                    if !view.paused {
                        shown.clone_from(&live);
                        dirty = true;
                    }
                }
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => return Ok(()),
            }
        }
        if dirty && drawn.elapsed() >= FRAME {
            if painted.elapsed() >= REPAINT {
                // Whatever else wrote to the terminal (a launched command's output) goes:
                // this frame is drawn whole, not as changes.
                term.0.clear().context("cannot draw on the terminal")?;
                painted = Instant::now();
            }
            term.0.draw(|f| draw(f, &shown, &view)).context("cannot draw on the terminal")?;
            (drawn, dirty) = (Instant::now(), false);
        }
        let wait = if dirty { FRAME.saturating_sub(drawn.elapsed()).min(TICK) } else { TICK };
        // A resize redraws (`draw` fits the frame to the new size).
        let size = terminal::size().context("cannot read the terminal's size")?;
        if size != last_size {
            (last_size, dirty) = (size, true);
        }
        for k in typed(wait)? {
            let was_paused = view.paused;
            match view.key(k) {
                Action::Quit => {
                    view.message = Some("stopping: detaching, then the final report ...".into());
                    stop(libc::SIGINT);
                }
                Action::Export => view.message = Some(export(&shown)),
                Action::Redraw => {}
            }
            if was_paused && !view.paused {
                shown.clone_from(&live);
            }
            dirty = true;
        }
    }
}

/// The keys typed within `wait`, read from stdin here rather than by crossterm's event
/// reader, which spins without end once the terminal hangs up. A hung-up or closed
/// terminal is an error.
fn typed(wait: Duration) -> Result<Vec<KeyEvent>> {
    let mut fd = libc::pollfd { fd: libc::STDIN_FILENO, events: libc::POLLIN, revents: 0 };
    let ms = i32::try_from(wait.as_millis()).unwrap_or(i32::MAX);
    // SAFETY: one pollfd, the count passed.
    if unsafe { libc::poll(&mut fd, 1, ms) } < 0 {
        let e = io::Error::last_os_error();
        return if e.kind() == io::ErrorKind::Interrupted {
            Ok(Vec::new())
        } else {
            Err(e).context("cannot read the terminal")
        };
    }
    anyhow::ensure!(fd.revents & (libc::POLLHUP | libc::POLLERR | libc::POLLNVAL) == 0, "the terminal closed");
    if fd.revents & libc::POLLIN == 0 {
        return Ok(Vec::new());
    }
    let mut buf = [0u8; 256];
    // SAFETY: reading into a buffer of the length passed.
    let n = unsafe { libc::read(libc::STDIN_FILENO, buf.as_mut_ptr().cast(), buf.len()) };
    match n {
        0 => anyhow::bail!("the terminal closed"),
        n if n < 0 => {
            let e = io::Error::last_os_error();
            match e.kind() {
                io::ErrorKind::Interrupted | io::ErrorKind::WouldBlock => Ok(Vec::new()),
                _ => Err(e).context("cannot read the terminal"),
            }
        }
        n => Ok(keys(&buf[..n as usize])),
    }
}

/// The keys in what a terminal in raw mode sent: characters, Enter, Tab, Shift-Tab,
/// Backspace, Esc and Ctrl-C; other escape sequences (arrows, ...) are skipped.
fn keys(bytes: &[u8]) -> Vec<KeyEvent> {
    let text = String::from_utf8_lossy(bytes);
    let mut out = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        let key = match c {
            '\r' | '\n' => KeyEvent::from(KeyCode::Enter),
            '\t' => KeyEvent::from(KeyCode::Tab),
            '\x7f' | '\x08' => KeyEvent::from(KeyCode::Backspace),
            '\x03' => KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL),
            '\x1b' if matches!(chars.peek(), Some('[' | 'O')) => {
                chars.next();
                // Parameters, then the final byte (@ to ~).
                let last = chars.by_ref().find(|c| ('@'..='~').contains(c));
                match last {
                    Some('Z') => KeyEvent::from(KeyCode::BackTab),
                    _ => continue,
                }
            }
            '\x1b' => KeyEvent::from(KeyCode::Esc),
            c if c.is_control() => continue,
            c => KeyEvent::from(KeyCode::Char(c)),
        };
        out.push(key);
    }
    out
}

/// Ends the trace: the main thread reads this signal (`signals.rs`) as it reads Ctrl-C.
fn stop(signal: i32) {
    // SAFETY: signalling our own process.
    unsafe { libc::kill(libc::getpid(), signal) };
}

/// The report on screen (since the start) as the JSON report: the footer's message.
fn export(shown: &Readings) -> String {
    let Some(report) = &shown.latest else { return "nothing to write yet".into() };
    let path = export_path(report);
    let written = Sink::open(Some(&path), Format::Json).and_then(|s| s.write(report, Format::Json));
    match written {
        Ok(()) => format!("wrote {} (the report since the start, as --format json)", path.display()),
        Err(e) => format!("cannot write {}: {e:#}", path.display()),
    }
}

/// `tracer-top-PID-MS.json` in the current directory, MS the trace's age.
fn export_path(r: &Report) -> PathBuf {
    PathBuf::from(format!("tracer-top-{}-{}.json", r.target.pid, r.duration_ns / 1_000_000))
}

/// The terminal in raw mode on the alternate screen, given back when dropped.
struct Term(Terminal<CrosstermBackend<Stdout>>);

impl Term {
    fn enter() -> io::Result<Self> {
        enable_raw_mode()?;
        // From here on `Drop` restores whatever was changed.
        let mut term = Term(Terminal::new(CrosstermBackend::new(io::stdout()))?);
        execute!(term.0.backend_mut(), EnterAlternateScreen, cursor::Hide)?;
        term.0.clear()?;
        Ok(term)
    }
}

impl Drop for Term {
    fn drop(&mut self) {
        let _ = execute!(self.0.backend_mut(), LeaveAlternateScreen, cursor::Show);
        let _ = disable_raw_mode();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_from_a_raw_terminal() {
        let k = keys(b"/acc\x7f\r q\x1b[Z\t\x03\x1b[A\x1b");
        let want = [
            KeyEvent::from(KeyCode::Char('/')),
            KeyEvent::from(KeyCode::Char('a')),
            KeyEvent::from(KeyCode::Char('c')),
            KeyEvent::from(KeyCode::Char('c')),
            KeyEvent::from(KeyCode::Backspace),
            KeyEvent::from(KeyCode::Enter),
            KeyEvent::from(KeyCode::Char(' ')),
            KeyEvent::from(KeyCode::Char('q')),
            KeyEvent::from(KeyCode::BackTab),
            KeyEvent::from(KeyCode::Tab),
            KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL),
            // The up arrow is skipped; a lone Esc at the end is Esc.
            KeyEvent::from(KeyCode::Esc),
        ];
        assert_eq!(k, want);
    }
}
