//! Evaluation context (placeholder while the evaluator is written).

use crate::view::StateView;
use palisade_events::Event;

/// Per-event evaluation context.
pub struct Ctx<'a> {
    /// The event.
    pub ev: &'a Event,
    /// The state.
    pub st: &'a dyn StateView,
}

impl<'a> Ctx<'a> {
    /// A context.
    pub fn new(ev: &'a Event, st: &'a dyn StateView) -> Self {
        Ctx { ev, st }
    }
}
