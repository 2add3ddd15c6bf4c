//! The runtime event model: what the eBPF sensor captures and what the rules engine, `palisade
//! trace` and profile generation consume.
//!
//! - [`catalog`]: every event Palisade knows (all x86_64 system calls plus the scheduler's process
//!   events), with its sets and argument names. Event identities are registered constants
//!   ([`EventId`]), never loose strings.
//! - [`event`]: one decoded [`Event`] with the context Tracee captures (time, host name, ids,
//!   namespaces, cgroup, container) and its arguments.
//! - [`capture`]: the capture file format written by `palisade trace --capture` and read back by
//!   `--replay` and by the rules engine.
//! - [`container`]: container ids from cgroup paths (containerd, CRI-O, Docker, runc/systemd).
//!
//! This crate has no eBPF dependency: replay, rules and tests use it without a kernel.

pub mod capture;
pub mod catalog;
pub mod container;
pub mod event;
pub mod filter;
mod tables;

pub use catalog::{ArgDef, ArgKind, EventDef, EventId, EventSet};
pub use event::{ArgValue, Event, SockAddr};

/// Symbolic name of an errno value (`2` -> `ENOENT`), as the sensor reports failed calls.
pub fn errno_name(errno: u16) -> Option<&'static str> {
    tables::ERRNOS
        .binary_search_by_key(&errno, |&(n, _)| n)
        .ok()
        .map(|i| tables::ERRNOS[i].1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errno_names() {
        assert_eq!(errno_name(2), Some("ENOENT"));
        assert_eq!(errno_name(13), Some("EACCES"));
        assert_eq!(errno_name(9999), None);
    }
}
