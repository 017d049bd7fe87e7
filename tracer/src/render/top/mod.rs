//! `tracer top`'s screen, drawn from the report model: `draw` turns the readings so far
//! and the [`View`] into a frame, and nothing else; the terminal, the keys and the trace
//! are `crate::top`'s.
mod draw;
mod panes;
mod readings;
mod view;

pub use draw::{MIN_HEIGHT, MIN_WIDTH, draw};
pub use panes::{PANES, Pane};
pub use readings::Readings;
pub use view::{Action, Span, View};
