//! Compiled conditions (placeholder while the compiler is written).

use crate::eval::Ctx;
use palisade_events::EventId;

/// Number of event slots: syscalls below 512, process events after.
pub const EVT_SLOTS: usize = 520;

/// Slot of an event id.
pub fn evt_slot(id: EventId) -> usize {
    if id.0 < EventId::SYSCALL_SLOTS {
        id.0 as usize
    } else {
        (512 + id.0.saturating_sub(EventId::FIRST_PROCESS_EVENT) as usize).min(EVT_SLOTS - 1)
    }
}

/// Event types a rule can match.
#[derive(Clone, Debug)]
pub enum EvtSet {
    /// Every event.
    All,
    /// These slots.
    Some(Box<EvtBits>),
}

/// A set of event slots.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EvtBits(pub [u64; EVT_SLOTS.div_ceil(64)]);

impl EvtBits {
    /// The empty set.
    pub fn empty() -> Self {
        EvtBits([0; EVT_SLOTS.div_ceil(64)])
    }
    /// Whether `slot` is in the set.
    #[inline]
    pub fn has(&self, slot: usize) -> bool {
        self.0[slot >> 6] & (1 << (slot & 63)) != 0
    }
    /// Adds a slot.
    pub fn set(&mut self, slot: usize) {
        self.0[slot >> 6] |= 1 << (slot & 63);
    }
    /// The slots in the set.
    pub fn iter(&self) -> impl Iterator<Item = usize> + '_ {
        (0..EVT_SLOTS).filter(|&s| self.has(s))
    }
}

/// A compiled condition.
#[derive(Debug)]
pub struct Node;

impl Node {
    /// Evaluates.
    pub fn eval(&self, _ctx: &Ctx<'_>) -> bool {
        false
    }
}

/// A compiled output template.
#[derive(Debug)]
pub struct Output;

impl Output {
    /// Renders.
    pub fn render(
        &self,
        _ctx: &Ctx<'_>,
    ) -> (String, std::collections::BTreeMap<String, serde_json::Value>) {
        (String::new(), Default::default())
    }
}

/// One compiled rule.
#[derive(Debug)]
pub struct CompiledRule {
    pub(crate) info: usize,
    pub(crate) active: bool,
    pub(crate) evttypes: EvtSet,
    pub(crate) cond: Node,
    pub(crate) output: Output,
}
