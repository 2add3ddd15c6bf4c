//! Falco-compatible rules: the language (lists, macros, rules, conditions, outputs), a compiled
//! evaluator indexed by event type, the process/fd/user/container state Falco's fields need, and
//! alert outputs.
//!
//! - [`engine`]: [`RuleSet::load`] reads rule files (several, in order, with `append` and
//!   `override`), compiles every condition once and indexes rules by event type; [`Engine`]
//!   runs events through them and produces [`Alert`]s.
//! - [`condition`]: the condition grammar (Falco's precedence `not` > `and` > `or`).
//! - [`fields`]: every supported field with its type.
//! - [`view`]: what evaluation reads from the state ([`StateView`]).
//! - [`state`]: process table, fd tables, users and groups, container metadata, kept current
//!   from events (seeded from /proc).
//! - [`output`]: alert outputs.

pub mod alert;
mod compile;
pub mod condition;
mod dns;
pub mod engine;
pub mod error;
mod eval;
mod evinfo;
pub mod fields;
pub mod fixture;
mod format;
mod loader;
pub mod output;
pub mod state;
pub mod synth;
pub mod view;

pub use alert::{Alert, Priority};
pub use engine::{
    ENGINE_VERSION, Engine, LoadOptions, LoadOutcome, RuleInfo, RuleMatching, RuleSet, RuleStats,
    SUGGESTED_OUTPUT,
};
pub use error::{ItemKind, ItemRef, LoadError, LoadErrors, Location, Warning, WarningCode};
pub use view::{MemState, StateView};
