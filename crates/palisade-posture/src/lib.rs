//! Posture analysis: Pod Security Standards exactly as the API server's PodSecurity admission
//! judges them ([`pss`]), and hardening checks beyond them ([`hardening`]).
//!
//! [`scan`] runs everything enabled on an [`Inventory`](palisade_model::Inventory) and returns
//! [`Finding`](palisade_model::Finding)s; [`all_checks`] lists what can be found.

pub mod config;
pub mod hardening;
pub mod pss;
pub mod sink;

pub use config::{Config, ConfigError, Exemption};
pub use sink::Sink;

use palisade_model::{CheckMeta, Finding, Inventory};

/// Every check this crate can report, PSS first.
pub fn all_checks() -> Vec<CheckMeta> {
    let mut v = pss::checks();
    v.extend(hardening::checks());
    v
}

/// Runs every enabled check on the inventory. Suppressed findings are included with
/// `suppressed` set; findings are sorted by file, line and check.
pub fn scan(inv: &Inventory, cfg: &Config) -> Vec<Finding> {
    let mut sink = Sink::new(inv, cfg);
    pss::run(&mut sink);
    hardening::run(&mut sink);
    let mut findings = sink.into_findings();
    findings.sort_by(|a, b| {
        (&a.location.file, a.location.line, &a.check, &a.message).cmp(&(
            &b.location.file,
            b.location.line,
            &b.check,
            &b.message,
        ))
    });
    findings
}
