//! Falco-compatible rules: the language (lists, macros, rules, conditions, outputs), a compiled
//! evaluator indexed by event type, the process/fd/user/container state Falco's fields need, and
//! alert outputs.
//!
//! - [`state`]: process table, fd tables, users and groups, container metadata, kept current
//!   from events (seeded from /proc).

pub mod state;
