//! RBAC: cluster-admin bindings, wildcard rules, bindings to anonymous or all users.
//!
//! Built-in objects (names starting with `system:`) are skipped: they ship with the API server
//! and cannot be changed by the manifests under review. Aggregated ClusterRoles (with an
//! `aggregationRule`) are skipped by the wildcard check because their rules are computed.

use super::Check;
use crate::sink::Sink;
use palisade_model::{CheckId, FieldPath, Node, Object, Severity};

const RBAC_DOC: &str = "https://kubernetes.io/docs/reference/access-authn-authz/rbac/";
const RBAC_GOOD: &str = "https://kubernetes.io/docs/concepts/security/rbac-good-practices/";

/// `hardening/cluster-admin-binding`.
pub static CLUSTER_ADMIN_BINDING: Check = Check {
    id: CheckId::new("hardening/cluster-admin-binding"),
    title: "Subject bound to the cluster-admin role",
    severity: Severity::High,
    category: "rbac",
    rationale: "cluster-admin allows every action on every resource. A workload or user bound to it is a single credential away from full cluster compromise, including reading every Secret and running privileged pods on any node.",
    remediation: "apiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata:\n  name: deployer\n  namespace: shop\nroleRef:\n  apiGroup: rbac.authorization.k8s.io\n  kind: Role\n  name: deployer\nsubjects:\n- kind: ServiceAccount\n  name: deployer\n  namespace: shop\n",
    references: &[
        RBAC_DOC,
        RBAC_GOOD,
        "CIS Kubernetes Benchmark v1.9 §5.1.1",
        "https://attack.mitre.org/techniques/T1078/",
    ],
};

/// `hardening/rbac-wildcard`.
pub static WILDCARD_RULE: Check = Check {
    id: CheckId::new("hardening/rbac-wildcard"),
    title: "RBAC rule uses a wildcard",
    severity: Severity::Medium,
    category: "rbac",
    rationale: "A * in verbs, resources or apiGroups grants everything that exists now and everything added later (new CRDs, subresources such as pods/exec, verbs such as escalate and impersonate). Rules should list exactly what is needed.",
    remediation: "apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata:\n  name: reader\nrules:\n- apiGroups: [\"\"]\n  resources: [configmaps]\n  verbs: [get, list, watch]\n",
    references: &[RBAC_DOC, RBAC_GOOD, "CIS Kubernetes Benchmark v1.9 §5.1.3"],
};

/// `hardening/rbac-anonymous-binding`.
pub static ANONYMOUS_BINDING: Check = Check {
    id: CheckId::new("hardening/rbac-anonymous-binding"),
    title: "Role bound to anonymous, unauthenticated or all authenticated users",
    severity: Severity::High,
    category: "rbac",
    rationale: "Binding to system:anonymous or system:unauthenticated gives the role to anyone who can reach the API server. system:authenticated includes every ServiceAccount of every namespace and, on many managed clusters, every account of the cloud provider.",
    remediation: "apiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata:\n  name: status-reader\n  namespace: shop\nroleRef:\n  apiGroup: rbac.authorization.k8s.io\n  kind: Role\n  name: status-reader\nsubjects:\n- kind: Group\n  name: shop-operators\n  apiGroup: rbac.authorization.k8s.io\n",
    references: &[
        RBAC_DOC,
        RBAC_GOOD,
        "https://attack.mitre.org/techniques/T1078/001/",
    ],
};

fn is_rbac(o: &Object) -> bool {
    o.group() == "rbac.authorization.k8s.io"
}

fn builtin(o: &Object) -> bool {
    o.id.name.starts_with("system:")
}

fn subject_text(s: &Node) -> String {
    let kind = s.get("kind").and_then(Node::as_str).unwrap_or("?");
    let name = s.get("name").and_then(Node::as_str).unwrap_or("?");
    match s.get("namespace").and_then(Node::as_str) {
        Some(ns) if kind == "ServiceAccount" => format!("{kind} {ns}/{name}"),
        _ => format!("{kind} {name}"),
    }
}

/// Runs the RBAC checks.
pub fn run(sink: &mut Sink<'_>) {
    let inv = sink.inv;
    for b in inv.objects.iter().filter(|o| {
        matches!(o.id.kind.as_str(), "RoleBinding" | "ClusterRoleBinding")
            && is_rbac(o)
            && !builtin(o)
    }) {
        let role_kind = b
            .node
            .at(&["roleRef", "kind"])
            .and_then(Node::as_str)
            .unwrap_or("");
        let role_name = b
            .node
            .at(&["roleRef", "name"])
            .and_then(Node::as_str)
            .unwrap_or("");
        let admin = role_kind == "ClusterRole" && role_name == "cluster-admin";
        let subjects = b.node.get("subjects").map(Node::items).unwrap_or(&[]);
        for (i, s) in subjects.iter().enumerate() {
            let path = FieldPath::parse("subjects").index(i);
            let kind = s.get("kind").and_then(Node::as_str).unwrap_or("");
            let name = s.get("name").and_then(Node::as_str).unwrap_or("");
            if admin && !(kind == "Group" && name == "system:masters") {
                let scope = if b.id.kind == "ClusterRoleBinding" {
                    "cluster-wide"
                } else {
                    "in its namespace"
                };
                CLUSTER_ADMIN_BINDING.emit(
                    sink,
                    b,
                    &path,
                    None,
                    format!(
                        "{} {} grants cluster-admin {scope} to {}",
                        b.id.kind,
                        b.id.name,
                        subject_text(s)
                    ),
                );
            }
            if matches!(kind, "Group" | "User") {
                let severity = match name {
                    "system:anonymous" | "system:unauthenticated" => Severity::Critical,
                    "system:authenticated" => Severity::High,
                    _ => continue,
                };
                ANONYMOUS_BINDING.emit_at(
                    sink,
                    severity,
                    b,
                    &path,
                    None,
                    format!(
                        "{} {} grants {role_kind} {role_name} to {kind} {name}",
                        b.id.kind, b.id.name
                    ),
                );
            }
        }
    }
    for r in inv.objects.iter().filter(|o| {
        matches!(o.id.kind.as_str(), "Role" | "ClusterRole") && is_rbac(o) && !builtin(o)
    }) {
        if r.id.name == "cluster-admin"
            || r.node.get("aggregationRule").is_some_and(|n| !n.is_null())
        {
            continue;
        }
        for (i, rule) in r
            .node
            .get("rules")
            .map(Node::items)
            .unwrap_or(&[])
            .iter()
            .enumerate()
        {
            for field in ["apiGroups", "resources", "verbs", "nonResourceURLs"] {
                let items = rule.get(field).map(Node::items).unwrap_or(&[]);
                if let Some(j) = items.iter().position(|x| x.as_str() == Some("*")) {
                    WILDCARD_RULE.emit(
                        sink,
                        r,
                        &FieldPath::parse("rules").index(i).key(field).index(j),
                        None,
                        format!(
                            "{} {} rules[{i}].{field} contains \"*\"",
                            r.id.kind, r.id.name
                        ),
                    );
                }
            }
        }
    }
}
