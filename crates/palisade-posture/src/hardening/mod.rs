//! Hardening checks beyond the Pod Security Standards.

use crate::sink::Sink;
use palisade_model::CheckMeta;

/// Metadata of every `hardening/<name>` check.
pub fn checks() -> Vec<CheckMeta> {
    Vec::new()
}

/// Runs every hardening check on the inventory.
pub fn run(_sink: &mut Sink<'_>) {}
