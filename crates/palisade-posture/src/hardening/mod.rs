//! Hardening checks beyond the Pod Security Standards.
//!
//! Every check is a [`Check`] static with a `hardening/<kebab-name>` id, registered in
//! [`REGISTRY`]. The checks are grouped by theme, one module per group:
//!
//! * [`security`]: container security contexts, capabilities, seccomp/AppArmor, host sharing;
//! * [`serviceaccount`]: service-account identity and token mounting (reads ServiceAccount
//!   objects from the inventory);
//! * [`image`]: image references, pull policy and registry allow-list;
//! * [`resources`]: resource requests/limits and probes;
//! * [`secrets`]: credentials in env values and ConfigMaps;
//! * [`hostpath`]: hostPath volumes;
//! * [`network`]: Ingress TLS, exposed Services (NetworkPolicy coverage is `netpol/`);
//! * [`workload`]: namespaces, controllers, selectors, runtime classes, removed APIs.
//!
//! RBAC risks are `rbac/<risk>` checks of the `palisade-rbac` crate (its `analysis` module).
//!
//! Which containers a check looks at is part of its contract: security-context, image, env and
//! mount checks look at init, regular and ephemeral containers (they all run on the node with
//! the same power); resource and probe checks look at regular containers only (init containers
//! run to completion before the pod is ready, ephemeral containers cannot set resources or
//! probes). Linux-only checks skip pods with `spec.os.name: windows`.

use crate::sink::Sink;
use palisade_model::{CheckId, CheckMeta, FieldPath, Object, Severity};
use std::borrow::Cow;

pub mod hostpath;
pub mod image;
pub mod network;
pub mod resources;
pub mod secrets;
pub mod security;
pub mod serviceaccount;
mod util;
pub mod workload;

/// A hardening check: its id and the metadata reports show.
#[derive(Debug)]
pub struct Check {
    /// `hardening/<kebab-name>`.
    pub id: CheckId,
    /// One-line title.
    pub title: &'static str,
    /// Default severity.
    pub severity: Severity,
    /// Category (`pod-security`, `supply-chain`, `network`, `rbac`, ...).
    pub category: &'static str,
    /// Why it matters.
    pub rationale: &'static str,
    /// How to fix it: a YAML snippet.
    pub remediation: &'static str,
    /// Kubernetes documentation, CIS Kubernetes Benchmark sections, MITRE ATT&CK techniques.
    pub references: &'static [&'static str],
}

impl Check {
    /// The check's metadata in the shared vocabulary.
    pub fn meta(&self) -> CheckMeta {
        CheckMeta {
            id: self.id.clone(),
            title: Cow::Borrowed(self.title),
            severity: self.severity,
            category: Cow::Borrowed(self.category),
            rationale: Cow::Borrowed(self.rationale),
            remediation: Cow::Borrowed(self.remediation),
            references: self.references.iter().map(|r| Cow::Borrowed(*r)).collect(),
        }
    }

    /// Reports a finding of this check at its default severity.
    pub fn emit(
        &self,
        sink: &mut Sink<'_>,
        obj: &Object,
        path: &FieldPath,
        container: Option<&str>,
        message: String,
    ) {
        sink.emit(&self.id, self.severity, obj, path, container, message);
    }

    /// Reports a finding of this check at a given severity (for findings worse or milder than
    /// the check's default, such as a binding to `system:anonymous`).
    pub fn emit_at(
        &self,
        sink: &mut Sink<'_>,
        severity: Severity,
        obj: &Object,
        path: &FieldPath,
        container: Option<&str>,
        message: String,
    ) {
        sink.emit(&self.id, severity, obj, path, container, message);
    }
}

/// Every hardening check, in the order they are listed.
pub static REGISTRY: &[&Check] = &[
    &security::READ_ONLY_ROOT_FILESYSTEM,
    &security::ROOT_GROUP,
    &security::LOW_USER_ID,
    &security::CAPABILITY_SYS_ADMIN,
    &security::CAPABILITY_ALL_ADDED,
    &security::CAPABILITY_NET_RAW,
    &security::DANGEROUS_CAPABILITIES,
    &security::SECCOMP_PROFILE_NOT_SET,
    &security::APPARMOR_PROFILE_NOT_SET,
    &security::DEPRECATED_SECCOMP_ANNOTATION,
    &security::DEPRECATED_APPARMOR_ANNOTATION,
    &security::APPARMOR_ANNOTATION_UNKNOWN_CONTAINER,
    &security::PRIVILEGED_HOST_PID,
    &security::SHARE_PROCESS_NAMESPACE,
    &security::HOST_NETWORK_HOST_PORT,
    &security::HOST_ALIASES,
    &serviceaccount::TOKEN_AUTOMOUNT,
    &serviceaccount::DEFAULT_SERVICE_ACCOUNT,
    &serviceaccount::DEPRECATED_SERVICE_ACCOUNT_FIELD,
    &serviceaccount::SERVICE_ACCOUNT_NOT_FOUND,
    &serviceaccount::TOKEN_LONG_EXPIRY,
    &serviceaccount::LEGACY_TOKEN_SECRET,
    &image::TAG_MISSING,
    &image::TAG_LATEST,
    &image::DIGEST_MISSING,
    &image::REGISTRY_NOT_ALLOWED,
    &image::PULL_POLICY_NOT_ALWAYS,
    &resources::CPU_REQUESTS_MISSING,
    &resources::CPU_LIMITS_MISSING,
    &resources::MEMORY_REQUESTS_MISSING,
    &resources::MEMORY_LIMITS_MISSING,
    &resources::LIVENESS_PROBE_MISSING,
    &resources::READINESS_PROBE_MISSING,
    &secrets::ENV_LITERAL_CREDENTIAL,
    &secrets::CONFIGMAP_CREDENTIAL,
    &secrets::ENV_SECRET_REFERENCE,
    &secrets::DUPLICATE_ENV_NAME,
    &hostpath::RUNTIME_SOCKET,
    &hostpath::SENSITIVE,
    &hostpath::WRITABLE,
    &network::INGRESS_TLS_MISSING,
    &network::SERVICE_NODE_PORT,
    &network::SERVICE_LOAD_BALANCER,
    &network::SERVICE_EXTERNAL_IPS,
    &workload::POD_SECURITY_POLICY,
    &workload::UNTRUSTED_RUNTIME_CLASS,
    &workload::DEFAULT_NAMESPACE,
    &workload::NAKED_POD,
    &workload::SELECTOR_MISMATCH,
];

/// Metadata of every `hardening/<name>` check.
pub fn checks() -> Vec<CheckMeta> {
    REGISTRY.iter().map(|c| c.meta()).collect()
}

/// Runs every hardening check on the inventory. Disabled checks are dropped by the sink.
pub fn run(sink: &mut Sink<'_>) {
    security::run(sink);
    serviceaccount::run(sink);
    image::run(sink);
    resources::run(sink);
    secrets::run(sink);
    hostpath::run(sink);
    network::run(sink);
    workload::run(sink);
}

#[cfg(test)]
mod tests {
    use super::*;
    use palisade_model::yaml::{Limits, parse_stream};
    use std::collections::BTreeSet;

    fn kebab_id(id: &str) -> bool {
        let Some(name) = id.strip_prefix("hardening/") else {
            return false;
        };
        !name.is_empty()
            && !name.starts_with('-')
            && !name.ends_with('-')
            && !name.contains("--")
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    }

    #[test]
    fn kebab_pattern() {
        assert!(kebab_id("hardening/read-only-root-filesystem"));
        assert!(!kebab_id("hardening/ReadOnly"));
        assert!(!kebab_id("pss/privileged"));
        assert!(!kebab_id("hardening/a--b"));
        assert!(!kebab_id("hardening/"));
    }

    #[test]
    fn every_check_has_complete_metadata() {
        assert!(REGISTRY.len() >= 45, "only {} checks", REGISTRY.len());
        let mut seen = BTreeSet::new();
        for c in REGISTRY {
            let id = c.id.as_str();
            assert!(kebab_id(id), "{id}: not a hardening/<kebab-case> id");
            assert!(seen.insert(id), "{id}: duplicate id");
            assert_eq!(c.id.family(), "hardening");
            assert!(!c.title.trim().is_empty(), "{id}: empty title");
            assert!(!c.title.ends_with('.'), "{id}: title ends with a period");
            assert!(!c.category.trim().is_empty(), "{id}: empty category");
            assert!(c.rationale.trim().len() > 40, "{id}: rationale too short");
            assert!(!c.remediation.trim().is_empty(), "{id}: empty remediation");
            assert!(!c.references.is_empty(), "{id}: no references");
            for r in c.references {
                assert!(
                    r.starts_with("https://") || r.starts_with("CIS Kubernetes Benchmark"),
                    "{id}: reference {r:?} is neither a link nor a CIS section"
                );
            }
            let docs = parse_stream(c.remediation, &Limits::default());
            assert!(!docs.is_empty(), "{id}: remediation has no YAML document");
            for d in docs {
                let d = d.unwrap_or_else(|e| panic!("{id}: remediation is not YAML: {e}"));
                let root = d
                    .root
                    .unwrap_or_else(|| panic!("{id}: empty remediation document"));
                assert!(root.is_map(), "{id}: remediation should be a YAML mapping");
            }
        }
        let metas = checks();
        assert_eq!(metas.len(), REGISTRY.len());
        assert!(metas.iter().all(|m| !m.references.is_empty()));
    }
}
