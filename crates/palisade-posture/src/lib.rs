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
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    scan_with_threads(inv, cfg, threads)
}

/// [`scan`] with an explicit thread count: with two or more, the PSS and hardening analyzers
/// run side by side (the inventory is shared read-only). The result does not depend on it.
pub fn scan_with_threads(inv: &Inventory, cfg: &Config, threads: usize) -> Vec<Finding> {
    let findings = if threads > 1 {
        std::thread::scope(|scope| {
            let pss = scope.spawn(|| {
                let mut sink = Sink::new(inv, cfg);
                pss::run(&mut sink);
                sink.into_findings()
            });
            let mut sink = Sink::new(inv, cfg);
            hardening::run(&mut sink);
            let mut findings = pss.join().unwrap_or_else(|e| std::panic::resume_unwind(e));
            findings.extend(sink.into_findings());
            findings
        })
    } else {
        let mut sink = Sink::new(inv, cfg);
        pss::run(&mut sink);
        hardening::run(&mut sink);
        sink.into_findings()
    };
    sort_findings(inv, findings)
}

/// Sorts findings by source order (an index, not the file name string), then position; ties in
/// the same order the reporters use, so their own (stable) sort finds the work done.
pub fn sort_findings(inv: &Inventory, findings: Vec<Finding>) -> Vec<Finding> {
    let order: std::collections::HashMap<&str, usize> = inv
        .sources
        .iter()
        .enumerate()
        .map(|(i, s)| (s.name.as_str(), i))
        .collect();
    // Findings of one file come in runs: remember the last lookup instead of hashing the
    // file name of every finding.
    let mut last: Option<(String, usize)> = None;
    let mut keyed: Vec<(usize, Finding)> = findings
        .into_iter()
        .map(|f| {
            let ord = match &last {
                Some((name, ord)) if *name == f.location.file => *ord,
                _ => {
                    let ord = order
                        .get(f.location.file.as_str())
                        .copied()
                        .unwrap_or(usize::MAX);
                    last = Some((f.location.file.clone(), ord));
                    ord
                }
            };
            (ord, f)
        })
        .collect();
    keyed.sort_by(|(oa, a), (ob, b)| {
        (oa, a.location.line, a.location.column)
            .cmp(&(ob, b.location.line, b.location.column))
            .then_with(|| a.check.cmp(&b.check))
            .then_with(|| a.object.cmp(&b.object))
            .then_with(|| a.location.field_path.cmp(&b.location.field_path))
            .then_with(|| a.container.cmp(&b.container))
            .then_with(|| a.message.cmp(&b.message))
    });
    let findings: Vec<Finding> = keyed.into_iter().map(|(_, f)| f).collect();
    findings
}

#[cfg(test)]
mod tests {
    use super::*;
    use palisade_model::LoadOptions;

    #[test]
    fn threaded_scan_equals_sequential_scan() {
        let mut inv = Inventory::new();
        let pod = "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  hostPID: true\n  containers:\n  - {name: a, image: nginx, securityContext: {privileged: true}}\n  - {name: b, image: redis:latest}\n";
        inv.add_text("a.yaml", pod, &LoadOptions::default());
        inv.add_text(
            "b.yaml",
            &pod.replace("name: p}", "name: q, namespace: x}"),
            &LoadOptions::default(),
        );
        let one = scan_with_threads(&inv, &Config::default(), 1);
        let two = scan_with_threads(&inv, &Config::default(), 2);
        assert!(one.iter().any(|f| f.check.as_str() == "pss/privileged"));
        assert!(one.iter().any(|f| f.check.family() == "hardening"));
        assert_eq!(one, two);
    }
}
