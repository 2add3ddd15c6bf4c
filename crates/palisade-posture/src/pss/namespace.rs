//! A namespace's PodSecurity policy from its `pod-security.kubernetes.io/*` labels.

use super::types::{Level, Policy, PssError, Version};
use std::collections::BTreeMap;

/// Prefix of every PodSecurity namespace label.
pub const LABEL_PREFIX: &str = "pod-security.kubernetes.io/";
/// `pod-security.kubernetes.io/enforce`.
pub const ENFORCE_LABEL: &str = "pod-security.kubernetes.io/enforce";
/// `pod-security.kubernetes.io/enforce-version`.
pub const ENFORCE_VERSION_LABEL: &str = "pod-security.kubernetes.io/enforce-version";
/// `pod-security.kubernetes.io/audit`.
pub const AUDIT_LABEL: &str = "pod-security.kubernetes.io/audit";
/// `pod-security.kubernetes.io/audit-version`.
pub const AUDIT_VERSION_LABEL: &str = "pod-security.kubernetes.io/audit-version";
/// `pod-security.kubernetes.io/warn`.
pub const WARN_LABEL: &str = "pod-security.kubernetes.io/warn";
/// `pod-security.kubernetes.io/warn-version`.
pub const WARN_VERSION_LABEL: &str = "pod-security.kubernetes.io/warn-version";

const ALL_LABELS: [&str; 6] = [
    ENFORCE_LABEL,
    ENFORCE_VERSION_LABEL,
    AUDIT_LABEL,
    AUDIT_VERSION_LABEL,
    WARN_LABEL,
    WARN_VERSION_LABEL,
];

/// The three PodSecurity modes of a namespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NamespacePolicy {
    /// Violations reject pods.
    pub enforce: Policy,
    /// Violations are recorded in the audit log.
    pub audit: Policy,
    /// Violations are returned to the client as warnings.
    pub warn: Policy,
}

impl Default for NamespacePolicy {
    /// PodSecurity's defaults without an AdmissionConfiguration: every mode `privileged:latest`.
    fn default() -> Self {
        NamespacePolicy::uniform(Policy::privileged())
    }
}

/// A namespace label PodSecurity could not parse (it still yields a policy).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelError {
    /// The label key.
    pub label: &'static str,
    /// Why the value is invalid.
    pub error: PssError,
}

/// Compares levels by strictness, like PodSecurity's `CompareLevels`.
fn stricter(a: Level, b: Level) -> bool {
    a > b
}

impl NamespacePolicy {
    /// The same policy for all three modes.
    pub const fn uniform(p: Policy) -> Self {
        NamespacePolicy {
            enforce: p,
            audit: p,
            warn: p,
        }
    }

    /// True when the labels contain any PodSecurity label.
    pub fn has_labels<'a>(labels: impl IntoIterator<Item = (&'a str, &'a str)>) -> bool {
        labels.into_iter().any(|(k, _)| ALL_LABELS.contains(&k))
    }

    /// Resolves namespace labels over `defaults` with PodSecurity's rules (`PolicyToEvaluate`):
    /// an invalid enforce level becomes `restricted` (fail closed) and does not propagate to
    /// warn; invalid audit and warn levels become `privileged` (fail open); an invalid version
    /// becomes `latest`. When warn is not labelled and enforce is labelled with a stricter level
    /// than warn's, warn takes enforce's level, and its version too unless `warn-version` is
    /// labelled. Always returns a usable policy, with the label errors found.
    pub fn from_labels(
        labels: &BTreeMap<&str, &str>,
        defaults: NamespacePolicy,
    ) -> (NamespacePolicy, Vec<LabelError>) {
        let mut p = defaults;
        let mut errors = Vec::new();
        if labels.is_empty() {
            return (p, errors);
        }
        let mut note = |label: &'static str, r: Result<(), PssError>| {
            if let Err(error) = r {
                errors.push(LabelError { label, error });
            }
        };
        let mut has_enforce_level = false;
        if let Some(v) = labels.get(ENFORCE_LABEL) {
            let r = Level::parse(v);
            p.enforce.level = *r.as_ref().unwrap_or(&Level::Restricted);
            has_enforce_level = r.is_ok();
            note(ENFORCE_LABEL, r.map(drop));
        }
        if let Some(v) = labels.get(ENFORCE_VERSION_LABEL) {
            let r = Version::parse(v);
            p.enforce.version = *r.as_ref().unwrap_or(&Version::Latest);
            note(ENFORCE_VERSION_LABEL, r.map(drop));
        }
        if let Some(v) = labels.get(AUDIT_LABEL) {
            let r = Level::parse(v);
            p.audit.level = *r.as_ref().unwrap_or(&Level::Privileged);
            note(AUDIT_LABEL, r.map(drop));
        }
        if let Some(v) = labels.get(AUDIT_VERSION_LABEL) {
            let r = Version::parse(v);
            p.audit.version = *r.as_ref().unwrap_or(&Version::Latest);
            note(AUDIT_VERSION_LABEL, r.map(drop));
        }
        let has_warn_level = labels.contains_key(WARN_LABEL);
        if let Some(v) = labels.get(WARN_LABEL) {
            let r = Level::parse(v);
            p.warn.level = *r.as_ref().unwrap_or(&Level::Privileged);
            note(WARN_LABEL, r.map(drop));
        }
        let has_warn_version = labels.contains_key(WARN_VERSION_LABEL);
        if let Some(v) = labels.get(WARN_VERSION_LABEL) {
            let r = Version::parse(v);
            p.warn.version = *r.as_ref().unwrap_or(&Version::Latest);
            note(WARN_VERSION_LABEL, r.map(drop));
        }
        if !has_warn_level && has_enforce_level && stricter(p.enforce.level, p.warn.level) {
            p.warn.level = p.enforce.level;
            if !has_warn_version {
                p.warn.version = p.enforce.version;
            }
        }
        (p, errors)
    }

    /// True when every mode is privileged (nothing is evaluated).
    pub fn fully_privileged(&self) -> bool {
        [self.enforce, self.audit, self.warn]
            .iter()
            .all(|p| p.level == Level::Privileged)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve(pairs: &[(&str, &str)]) -> (NamespacePolicy, usize) {
        let labels: BTreeMap<&str, &str> = pairs.iter().copied().collect();
        let (p, errs) = NamespacePolicy::from_labels(&labels, NamespacePolicy::default());
        (p, errs.len())
    }

    fn pol(l: Level, v: Version) -> Policy {
        Policy::new(l, v)
    }

    #[test]
    fn warn_inherits_enforce() {
        let (p, e) = resolve(&[
            (ENFORCE_LABEL, "baseline"),
            (ENFORCE_VERSION_LABEL, "v1.29"),
        ]);
        assert_eq!(e, 0);
        assert_eq!(p.enforce, pol(Level::Baseline, Version::Minor(29)));
        assert_eq!(p.warn, pol(Level::Baseline, Version::Minor(29)));
        assert_eq!(p.audit, Policy::privileged());
        // an explicit warn-version is kept
        let (p, _) = resolve(&[(ENFORCE_LABEL, "restricted"), (WARN_VERSION_LABEL, "v1.20")]);
        assert_eq!(p.warn, pol(Level::Restricted, Version::Minor(20)));
        // an explicit warn level is kept even when less strict
        let (p, _) = resolve(&[(ENFORCE_LABEL, "restricted"), (WARN_LABEL, "baseline")]);
        assert_eq!(p.warn, pol(Level::Baseline, Version::Latest));
        // only the version labelled: no inheritance
        let (p, _) = resolve(&[(ENFORCE_VERSION_LABEL, "v1.25")]);
        assert_eq!(p.warn, Policy::privileged());
        assert_eq!(p.enforce, pol(Level::Privileged, Version::Minor(25)));
    }

    #[test]
    fn invalid_labels_fail_closed_for_enforce_open_for_audit_and_warn() {
        let (p, e) = resolve(&[
            (ENFORCE_LABEL, "Restricted"),
            (ENFORCE_VERSION_LABEL, "1.25"),
            (AUDIT_LABEL, "strict"),
            (WARN_LABEL, "nope"),
            (WARN_VERSION_LABEL, "v1.x"),
        ]);
        assert_eq!(e, 5);
        assert_eq!(p.enforce, pol(Level::Restricted, Version::Latest));
        assert_eq!(p.audit, Policy::privileged());
        assert_eq!(p.warn, Policy::privileged());
        // an invalid enforce level does not propagate to warn
        let (p, _) = resolve(&[(ENFORCE_LABEL, "bogus")]);
        assert_eq!(p.enforce.level, Level::Restricted);
        assert_eq!(p.warn, Policy::privileged());
        assert!(!p.fully_privileged());
        assert!(NamespacePolicy::default().fully_privileged());
    }
}
