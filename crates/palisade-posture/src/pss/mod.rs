//! Pod Security Standards, exactly as PodSecurity admission evaluates them.

use crate::sink::Sink;
use palisade_model::CheckMeta;

/// Metadata of every `pss/<checkID>` check.
pub fn checks() -> Vec<CheckMeta> {
    Vec::new()
}

/// Evaluates every pod and pod template in the inventory.
pub fn run(_sink: &mut Sink<'_>) {}
