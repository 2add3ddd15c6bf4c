//! Container metadata from the runtime's state (runc state dir, OCI bundle config).

use super::ContainerInfo;
use std::path::PathBuf;

/// Looks a container up in the runc roots; `None` when no root has it.
pub(crate) fn lookup(_roots: &[PathBuf], _id: &str) -> Option<ContainerInfo> {
    None
}

/// Parses an RFC 3339 time (`2024-05-01T10:20:30.123456789Z`, offsets allowed) into ns since the
/// epoch.
pub fn parse_rfc3339_ns(_s: &str) -> Option<u64> {
    None
}
