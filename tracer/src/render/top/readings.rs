//! The readings a live view draws from.
use super::view::Span;
use crate::report::Report;

/// The last two readings of a live trace (each a report so far).
#[derive(Clone, Debug, Default)]
pub struct Readings {
    pub latest: Option<Report>,
    pub before: Option<Report>,
}

impl Readings {
    pub fn push(&mut self, r: Report) {
        self.before = self.latest.replace(r);
    }

    /// What the panes show: the last interval, or everything since the start.
    pub fn figures(&self, span: Span) -> Option<Report> {
        let latest = self.latest.as_ref()?;
        Some(match (span, &self.before) {
            (Span::Interval, Some(before)) => latest.since(before),
            _ => latest.clone(),
        })
    }
}
