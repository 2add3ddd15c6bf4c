//! Pod Security Standards, exactly as the API server's PodSecurity admission
//! (`k8s.io/pod-security-admission`) evaluates them.
//!
//! * [`evaluate`] runs the checks of a [`Policy`] (level and version) on a pod or pod template
//!   and returns PSA's failed checks with its reason and detail text, in PSA's order;
//!   [`message`] joins them the way the API server's error does.
//! * [`NamespacePolicy::from_labels`] resolves `pod-security.kubernetes.io/*` namespace labels.
//! * [`run`] evaluates every pod and workload of an inventory and reports findings.
//!
//! Behaviour that depends on the API server build rather than on the policy version is chosen
//! with [`PssOptions`]: AppArmor *fields* are only checked by 1.30+ servers (older ones check
//! the annotations only, with their older message), `image` volumes are allowed by 1.33+
//! servers ("unknown" before), 1.29–1.34 servers relax user-namespace pods only behind the
//! alpha `UserNamespacesPodSecurityStandards` gate, servers before 1.26 word the SELinux
//! detail differently, and a server never evaluates a policy newer than itself.
//!
//! Not modelled: the pod registry's AppArmor/seccomp annotation-to-field synchronisation that
//! runs before admission on Pod creation (it can add field values to a pod that only had
//! annotations, changing the detail text but not the verdict), and the evaluation order and
//! missing overrides of 1.22–1.23 servers.

mod checks;
mod meta;
mod namespace;
mod quote;
mod types;

pub use checks::{CheckResult, PssCheck, SAFE_SYSCTLS, active_checks, evaluate, message};
pub use meta::severity;
pub use namespace::{
    AUDIT_LABEL, AUDIT_VERSION_LABEL, ENFORCE_LABEL, ENFORCE_VERSION_LABEL, LABEL_PREFIX,
    LabelError, NamespacePolicy, WARN_LABEL, WARN_VERSION_LABEL,
};
pub use types::{KubeVersion, Level, NEWEST_MINOR, Policy, PssError, PssOptions, Version};

use crate::config::Config;
use crate::sink::Sink;
use palisade_model::{CheckMeta, Inventory, Object, Severity, pod_template};

/// Metadata of every `pss/<checkID>` check, in PodSecurity's order.
pub fn checks() -> Vec<CheckMeta> {
    PssCheck::ALL.into_iter().map(meta::meta).collect()
}

/// Where a namespace policy came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicySource {
    /// `--pss-level` / `--pss-version` (configuration `pss.level` / `pss.version`).
    Override,
    /// The `pod-security.kubernetes.io/*` labels of a Namespace in the inventory.
    NamespaceLabels,
    /// The configured defaults (`pss.defaultLevel` / `pss.defaultVersion`).
    Default,
}

fn parse_level(s: Option<&str>) -> Level {
    // Like PodSecurity's enforce label: an invalid level fails closed.
    s.map_or(Level::Restricted, |s| {
        Level::parse(s).unwrap_or(Level::Restricted)
    })
}

fn parse_version(s: Option<&str>) -> Version {
    s.map_or(Version::Latest, |s| {
        Version::parse(s).unwrap_or(Version::Latest)
    })
}

/// The modelled API server from the configuration (`kubeVersion`, default 1.37).
pub fn options_from_config(cfg: &Config) -> PssOptions {
    let server = cfg
        .kube_version
        .as_deref()
        .and_then(|v| KubeVersion::parse(v).ok())
        .unwrap_or_default();
    PssOptions::for_server(server)
}

/// The policy that applies to pods in `namespace`: the configured override, else the labels of
/// the Namespace object if the inventory has one with PodSecurity labels (unlabelled modes are
/// PodSecurity's default, `privileged:latest`), else the configured default for every mode.
pub fn policy_for_namespace(
    cfg: &Config,
    inv: &Inventory,
    namespace: Option<&str>,
) -> (NamespacePolicy, PolicySource) {
    let default_level = cfg.pss.default_level.as_deref();
    let default_version = cfg.pss.default_version.as_deref();
    if cfg.pss.level.is_some() || cfg.pss.version.is_some() {
        let p = Policy::new(
            parse_level(cfg.pss.level.as_deref().or(default_level)),
            parse_version(cfg.pss.version.as_deref().or(default_version)),
        );
        return (NamespacePolicy::uniform(p), PolicySource::Override);
    }
    if let Some(ns) = namespace.and_then(|n| inv.namespace(n)) {
        let labels = ns.labels();
        if NamespacePolicy::has_labels(labels.iter().map(|(k, v)| (*k, *v))) {
            let (p, _) = NamespacePolicy::from_labels(&labels, NamespacePolicy::default());
            return (p, PolicySource::NamespaceLabels);
        }
    }
    let p = Policy::new(parse_level(default_level), parse_version(default_version));
    (NamespacePolicy::uniform(p), PolicySource::Default)
}

fn lower(s: Severity) -> Severity {
    match s {
        Severity::Critical => Severity::High,
        Severity::High => Severity::Medium,
        Severity::Medium => Severity::Low,
        Severity::Low | Severity::Info => Severity::Info,
    }
}

fn emit(
    sink: &mut Sink<'_>,
    obj: &Object,
    spec_path: &palisade_model::FieldPath,
    r: &CheckResult,
    severity: Severity,
    message: String,
) {
    let path = r.fields.first().unwrap_or(spec_path);
    let container = match r.containers.as_slice() {
        [one] => Some(one.as_str()),
        _ => None,
    };
    sink.emit(&r.check.check_id(), severity, obj, path, container, message);
}

/// Kinds whose pod templates PodSecurity admission itself evaluates (warn and audit only).
const PSA_EVALUATED_KINDS: &[(&str, &str)] = &[
    ("", "PodTemplate"),
    ("", "ReplicationController"),
    ("apps", "ReplicaSet"),
    ("apps", "Deployment"),
    ("apps", "DaemonSet"),
    ("apps", "StatefulSet"),
    ("batch", "Job"),
    ("batch", "CronJob"),
];

/// Evaluates every pod and pod template in the inventory and reports one finding per failed
/// check. Checks that only the (stricter) warn or audit policy of a labelled namespace fails
/// are reported one severity lower, as warned/audited rather than rejected, unless they only
/// repeat the fields of the baseline twin already reported as rejected.
pub fn run(sink: &mut Sink<'_>) {
    let inv = sink.inv;
    let opts = options_from_config(sink.cfg);
    for obj in &inv.objects {
        let Some(t) = pod_template(obj) else {
            continue;
        };
        let (ns, _) = policy_for_namespace(sink.cfg, inv, obj.id.namespace.as_deref());
        if ns.fully_privileged() {
            continue;
        }
        let kind = obj.id.kind.as_str();
        let psa_evaluates_workload = PSA_EVALUATED_KINDS.contains(&(obj.group(), kind));
        let enforce = evaluate(&t, ns.enforce, &opts);
        let eval_mode = |p: Policy| {
            if p.equivalent(&ns.enforce) {
                enforce.clone()
            } else {
                evaluate(&t, p, &opts)
            }
        };
        let warn = eval_mode(ns.warn);
        let audit = if ns.audit.equivalent(&ns.warn) {
            warn.clone()
        } else {
            eval_mode(ns.audit)
        };
        for r in &enforce {
            let text = message(ns.enforce, std::slice::from_ref(r));
            let msg = if t.is_pod {
                format!("pod would be rejected: {text}")
            } else if !psa_evaluates_workload {
                format!(
                    "pods of this {kind} would be rejected (PodSecurity does not evaluate the {kind} itself): {text}"
                )
            } else if !warn.is_empty() {
                // PodSecurity warns on a workload whenever its template fails the warn level,
                // whichever check (or restricted twin of a baseline check) fails there.
                format!(
                    "pods of this {kind} would be rejected (the {kind} itself is only warned): {text}"
                )
            } else {
                format!(
                    "pods of this {kind} would be rejected (the {kind} itself is accepted without warning): {text}"
                )
            };
            emit(sink, obj, &t.spec_path, r, severity(r.check), msg);
        }
        for check in PssCheck::ALL {
            if enforce.iter().any(|r| r.check == check) {
                continue;
            }
            let w = warn.iter().find(|r| r.check == check);
            let a = audit.iter().find(|r| r.check == check);
            let (r, policy, modes) = match (w, a) {
                (Some(r), Some(_)) => (r, ns.warn, "warned and audited"),
                (Some(r), None) => (r, ns.warn, "warned"),
                (None, Some(r)) => (r, ns.audit, "audited"),
                (None, None) => continue,
            };
            // A restricted check that only repeats what its baseline twin already reported
            // as rejected (same fields) adds nothing.
            let repeats_twin = enforce.iter().any(|e| {
                r.check.overrides() == Some(e.check)
                    && r.fields.iter().all(|f| e.fields.contains(f))
            });
            if repeats_twin {
                continue;
            }
            let text = format!("would violate PodSecurity \"{policy}\": {}", r.text());
            let msg = if t.is_pod {
                format!("pod would be {modes}, not rejected: {text}")
            } else if !psa_evaluates_workload {
                format!("pods of this {kind} would be {modes}, not rejected: {text}")
            } else {
                format!("this {kind} and its pods would be {modes}, not rejected: {text}")
            };
            emit(sink, obj, &t.spec_path, r, lower(severity(check)), msg);
        }
    }
}
