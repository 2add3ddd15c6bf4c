//! Service-account identity and API credentials of pods.
//!
//! These checks read the ServiceAccount objects of the inventory: a ServiceAccount's
//! `automountServiceAccountToken` applies to pods that do not set their own (the pod's field
//! wins), and a `serviceAccountName` is compared with the ServiceAccounts defined for its
//! namespace.

use super::Check;
use super::util::{namespace, spec_field, workloads};
use crate::sink::Sink;
use palisade_model::{CheckId, Node, Object, PodTemplate, Severity};
use std::collections::BTreeMap;

const SA_DOC: &str =
    "https://kubernetes.io/docs/tasks/configure-pod-container/configure-service-account/";
const SA_CONCEPT: &str = "https://kubernetes.io/docs/concepts/security/service-accounts/";
const TOKEN_THEFT: &str = "https://attack.mitre.org/techniques/T1528/";

/// `hardening/service-account-token-automount`.
pub static TOKEN_AUTOMOUNT: Check = Check {
    id: CheckId::new("hardening/service-account-token-automount"),
    title: "Service-account token is mounted into the pod",
    severity: Severity::Medium,
    category: "identity",
    rationale: "Unless automountServiceAccountToken is false on the pod or its ServiceAccount, every container gets an API token at /var/run/secrets/kubernetes.io/serviceaccount. Most applications never call the Kubernetes API; for them the token only serves an intruder, who can use it to explore or change the cluster with the account's permissions.",
    remediation: "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: app\nautomountServiceAccountToken: false\n---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: app\nspec:\n  serviceAccountName: app\n  automountServiceAccountToken: false\n",
    references: &[SA_DOC, "CIS Kubernetes Benchmark v1.9 §5.1.6", TOKEN_THEFT],
};

/// `hardening/default-service-account`.
pub static DEFAULT_SERVICE_ACCOUNT: Check = Check {
    id: CheckId::new("hardening/default-service-account"),
    title: "Pod runs as the namespace's default ServiceAccount",
    severity: Severity::Low,
    category: "identity",
    rationale: "The default ServiceAccount is shared by every pod of the namespace that names no other. Permissions granted to it for one workload leak to all others, and audit logs cannot tell the workloads apart. Give each workload its own ServiceAccount.",
    remediation: "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: web\nautomountServiceAccountToken: false\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  template:\n    spec:\n      serviceAccountName: web\n",
    references: &[SA_DOC, "CIS Kubernetes Benchmark v1.9 §5.1.5"],
};

/// `hardening/deprecated-service-account-field`.
pub static DEPRECATED_SERVICE_ACCOUNT_FIELD: Check = Check {
    id: CheckId::new("hardening/deprecated-service-account-field"),
    title: "Pod uses the deprecated serviceAccount field",
    severity: Severity::Low,
    category: "identity",
    rationale: "spec.serviceAccount is a deprecated alias of spec.serviceAccountName. When both are set and differ, which identity the pod gets depends on defaulting order, which is easy to misread in review.",
    remediation: "spec:\n  serviceAccountName: web\n",
    references: &[SA_DOC],
};

/// `hardening/service-account-not-found`.
pub static SERVICE_ACCOUNT_NOT_FOUND: Check = Check {
    id: CheckId::new("hardening/service-account-not-found"),
    title: "Pod names a ServiceAccount the manifests do not define",
    severity: Severity::Medium,
    category: "identity",
    rationale: "A pod referring to a ServiceAccount that does not exist is rejected at admission; a typo can also make the pod fall back to a differently privileged account after someone creates the missing one by hand. Checked only when the scanned manifests define ServiceAccounts for that namespace.",
    remediation: "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: web\n  namespace: shop\nautomountServiceAccountToken: false\n",
    references: &[SA_DOC, SA_CONCEPT],
};

/// `hardening/service-account-token-long-expiry`.
pub static TOKEN_LONG_EXPIRY: Check = Check {
    id: CheckId::new("hardening/service-account-token-long-expiry"),
    title: "Projected service-account token lives longer than a day",
    severity: Severity::Low,
    category: "identity",
    rationale: "A stolen projected token stays valid until it expires. The kubelet refreshes tokens automatically, so short lifetimes (the default is one hour) cost nothing, while a token valid for days or weeks gives an intruder a long window.",
    remediation: "spec:\n  volumes:\n  - name: token\n    projected:\n      sources:\n      - serviceAccountToken:\n          path: token\n          audience: vault\n          expirationSeconds: 3600\n",
    references: &[
        "https://kubernetes.io/docs/concepts/storage/projected-volumes/#serviceaccounttoken",
        TOKEN_THEFT,
    ],
};

/// `hardening/legacy-service-account-token-secret`.
pub static LEGACY_TOKEN_SECRET: Check = Check {
    id: CheckId::new("hardening/legacy-service-account-token-secret"),
    title: "Long-lived service-account token Secret",
    severity: Severity::Medium,
    category: "identity",
    rationale: "A Secret of type kubernetes.io/service-account-token holds a token that never expires and is not bound to a pod. Anyone who can read the Secret holds the account's permissions until the Secret is deleted. Use short-lived tokens from the TokenRequest API (projected volumes, kubectl create token) instead.",
    remediation: "apiVersion: v1\nkind: Pod\nmetadata:\n  name: client\nspec:\n  serviceAccountName: client\n  volumes:\n  - name: token\n    projected:\n      sources:\n      - serviceAccountToken:\n          path: token\n          expirationSeconds: 3600\n",
    references: &[
        SA_CONCEPT,
        "https://kubernetes.io/docs/concepts/configuration/secret/#serviceaccount-token-secrets",
        TOKEN_THEFT,
    ],
};

/// Longest projected token lifetime not reported, in seconds.
const MAX_TOKEN_SECONDS: i64 = 24 * 3600;

/// The service account a pod runs as, and the field that names it (if any).
fn service_account<'a>(t: &PodTemplate<'a>) -> (&'a str, Option<&'static str>) {
    for key in ["serviceAccountName", "serviceAccount"] {
        if let Some(n) = t
            .spec
            .get(key)
            .and_then(Node::as_str)
            .filter(|s| !s.is_empty())
        {
            return (n, Some(key));
        }
    }
    ("default", None)
}

/// Runs the service-account checks.
pub fn run(sink: &mut Sink<'_>) {
    let inv = sink.inv;
    let mut accounts: BTreeMap<(&str, &str), &Object> = BTreeMap::new();
    for sa in inv
        .of_kind("ServiceAccount")
        .filter(|o| o.group().is_empty())
    {
        accounts.insert((namespace(sa), sa.id.name.as_str()), sa);
    }
    for (obj, t) in workloads(inv) {
        let ns = namespace(obj);
        let (sa_name, sa_field) = service_account(&t);
        let sa = accounts.get(&(ns, sa_name)).copied();
        automount(sink, obj, &t, sa_name, sa);

        if sa_name == "default" {
            let path = spec_field(&t, &[sa_field.unwrap_or("serviceAccountName")]);
            let msg = match sa_field {
                Some(f) => format!("{f}: default uses the namespace's shared default ServiceAccount"),
                None => "no serviceAccountName set; the pod runs as the namespace's shared default ServiceAccount".into(),
            };
            DEFAULT_SERVICE_ACCOUNT.emit(sink, obj, &path, None, msg);
        } else if sa.is_none() {
            let defined: Vec<&str> = accounts
                .keys()
                .filter(|(n, _)| *n == ns)
                .map(|(_, name)| *name)
                .collect();
            if !defined.is_empty() {
                let path = spec_field(&t, &[sa_field.unwrap_or("serviceAccountName")]);
                SERVICE_ACCOUNT_NOT_FOUND.emit(
                    sink,
                    obj,
                    &path,
                    None,
                    format!("ServiceAccount {sa_name:?} is not defined in namespace {ns} (the manifests define {})", defined.join(", ")),
                );
            }
        }

        if let Some(old) = t.spec.get("serviceAccount").and_then(Node::as_str) {
            let new = t.spec.get("serviceAccountName").and_then(Node::as_str);
            let msg = match new {
                Some(n) if n != old => format!(
                    "deprecated serviceAccount: {old} conflicts with serviceAccountName: {n}"
                ),
                Some(_) => format!(
                    "deprecated serviceAccount: {old} duplicates serviceAccountName; remove it"
                ),
                None => format!("deprecated serviceAccount: {old}; use serviceAccountName: {old}"),
            };
            DEPRECATED_SERVICE_ACCOUNT_FIELD.emit(
                sink,
                obj,
                &spec_field(&t, &["serviceAccount"]),
                None,
                msg,
            );
        }

        token_expiry(sink, obj, &t);
    }
    for secret in inv.of_kind("Secret").filter(|o| o.group().is_empty()) {
        if secret.node.get("type").and_then(Node::as_str)
            == Some("kubernetes.io/service-account-token")
        {
            let owner = secret
                .annotation("kubernetes.io/service-account.name")
                .unwrap_or("?");
            LEGACY_TOKEN_SECRET.emit(
                sink,
                secret,
                &palisade_model::FieldPath::parse("type"),
                None,
                format!(
                    "Secret {} holds a non-expiring token for ServiceAccount {owner:?}",
                    secret.id.name
                ),
            );
        }
    }
}

fn automount(
    sink: &mut Sink<'_>,
    obj: &Object,
    t: &PodTemplate<'_>,
    sa_name: &str,
    sa: Option<&Object>,
) {
    let path = spec_field(t, &["automountServiceAccountToken"]);
    let msg = match t
        .spec
        .get("automountServiceAccountToken")
        .and_then(Node::as_bool)
    {
        Some(false) => return,
        Some(true) => format!(
            "automountServiceAccountToken: true mounts the token of ServiceAccount {sa_name:?} into every container"
        ),
        None => match sa.map(|s| {
            s.node
                .get("automountServiceAccountToken")
                .and_then(Node::as_bool)
        }) {
            Some(Some(false)) => return,
            Some(Some(true)) => format!(
                "ServiceAccount {sa_name:?} sets automountServiceAccountToken: true and the pod does not override it"
            ),
            Some(None) => format!(
                "neither the pod nor ServiceAccount {sa_name:?} sets automountServiceAccountToken: false"
            ),
            None => format!(
                "the pod does not set automountServiceAccountToken: false (ServiceAccount {sa_name:?} is not in the scanned manifests)"
            ),
        },
    };
    TOKEN_AUTOMOUNT.emit(sink, obj, &path, None, msg);
}

fn token_expiry(sink: &mut Sink<'_>, obj: &Object, t: &PodTemplate<'_>) {
    let vols = t.spec.get("volumes").map(Node::items).unwrap_or(&[]);
    for (i, v) in vols.iter().enumerate() {
        let sources = v
            .at(&["projected", "sources"])
            .map(Node::items)
            .unwrap_or(&[]);
        for (j, s) in sources.iter().enumerate() {
            let Some(secs) = s
                .at(&["serviceAccountToken", "expirationSeconds"])
                .and_then(Node::as_i64)
            else {
                continue;
            };
            if secs > MAX_TOKEN_SECONDS {
                let path = spec_field(t, &["volumes"])
                    .index(i)
                    .keys(&["projected", "sources"])
                    .index(j)
                    .keys(&["serviceAccountToken", "expirationSeconds"]);
                let vname = v.get("name").and_then(Node::as_str).unwrap_or("?");
                TOKEN_LONG_EXPIRY.emit(sink, obj, &path, None, format!("volume {vname:?} requests a service-account token valid for {secs}s ({:.1} days; more than 1 day)", secs as f64 / 86400.0));
            }
        }
    }
}
