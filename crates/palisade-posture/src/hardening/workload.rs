//! Workload placement and structure: removed PodSecurityPolicy objects, sandboxed runtimes for
//! untrusted pods, the `default` namespace, naked Pods, selector/template mismatches.

use super::Check;
use super::util::{render_labels, spec_field, workloads};
use crate::sink::Sink;
use palisade_model::selector::LabelSelector;
use palisade_model::{CheckId, FieldPath, Node, Severity};

/// `hardening/pod-security-policy-deprecated`.
pub static POD_SECURITY_POLICY: Check = Check {
    id: CheckId::new("hardening/pod-security-policy-deprecated"),
    title: "PodSecurityPolicy object (API removed in Kubernetes 1.25)",
    severity: Severity::Medium,
    category: "cluster",
    rationale: "PodSecurityPolicy was removed in Kubernetes 1.25. On current clusters the object cannot be created, and the protection it was meant to give does not exist: pods are only constrained if Pod Security Admission labels (or another policy engine) replace it.",
    remediation: "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: shop\n  labels:\n    pod-security.kubernetes.io/enforce: restricted\n    pod-security.kubernetes.io/enforce-version: latest\n",
    references: &[
        "https://kubernetes.io/docs/concepts/security/pod-security-policy/",
        "https://kubernetes.io/docs/tasks/configure-pod-container/migrate-from-psp/",
        "CIS Kubernetes Benchmark v1.9 §5.2.1",
    ],
};

/// `hardening/untrusted-runtime-class`.
pub static UNTRUSTED_RUNTIME_CLASS: Check = Check {
    id: CheckId::new("hardening/untrusted-runtime-class"),
    title: "Untrusted workload not confined to a sandboxed runtime",
    severity: Severity::High,
    category: "pod-security",
    rationale: "Workloads labelled untrusted (untrustedLabel in .palisade.yaml, palisade.dev/untrusted by default) run code the cluster operator does not control. They should run under a sandboxed RuntimeClass (gVisor, Kata Containers) so that a kernel exploit does not reach the node; when sandboxRuntimeClasses is configured the class must be one of them.",
    remediation: "apiVersion: v1\nkind: Pod\nmetadata:\n  name: build\n  labels:\n    palisade.dev/untrusted: \"true\"\nspec:\n  runtimeClassName: gvisor\n",
    references: &[
        "https://kubernetes.io/docs/concepts/containers/runtime-class/",
        "https://attack.mitre.org/techniques/T1611/",
    ],
};

/// `hardening/default-namespace`.
pub static DEFAULT_NAMESPACE: Check = Check {
    id: CheckId::new("hardening/default-namespace"),
    title: "Workload runs in the default namespace",
    severity: Severity::Low,
    category: "workload",
    rationale: "The default namespace is where everything lands by accident. Workloads there share RBAC grants, quotas and network policies with anything else placed there, and Pod Security Admission labels are rarely set on it. Dedicated namespaces give each application its own boundary.",
    remediation: "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  namespace: shop\n",
    references: &[
        "https://kubernetes.io/docs/concepts/overview/working-with-objects/namespaces/",
        "CIS Kubernetes Benchmark v1.9 §5.7.4",
    ],
};

/// `hardening/naked-pod`.
pub static NAKED_POD: Check = Check {
    id: CheckId::new("hardening/naked-pod"),
    title: "Pod not managed by a controller",
    severity: Severity::Low,
    category: "reliability",
    rationale: "A Pod created directly (no Deployment, StatefulSet, DaemonSet or Job) is not rescheduled when its node fails or is drained, cannot be rolled back, and escapes the review that workload templates usually get.",
    remediation: "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: 2\n  selector:\n    matchLabels: {app: web}\n  template:\n    metadata:\n      labels: {app: web}\n    spec:\n      containers:\n      - name: web\n        image: registry.example.com/web:1.0\n",
    references: &[
        "https://kubernetes.io/docs/concepts/configuration/overview/#naked-pods-vs-replicasets-deployments-and-jobs",
    ],
};

/// `hardening/selector-label-mismatch`.
pub static SELECTOR_MISMATCH: Check = Check {
    id: CheckId::new("hardening/selector-label-mismatch"),
    title: "Workload selector does not match its pod template labels",
    severity: Severity::Medium,
    category: "workload",
    rationale: "A Deployment, ReplicaSet, StatefulSet or DaemonSet whose spec.selector does not select its own template is rejected by the API server, or (with an overly broad selector) adopts and deletes pods of other workloads. The selector must be present and match the template labels.",
    remediation: "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  selector:\n    matchLabels:\n      app: web\n  template:\n    metadata:\n      labels:\n        app: web\n",
    references: &["https://kubernetes.io/docs/concepts/workloads/controllers/deployment/#selector"],
};

const SELECTOR_KINDS: &[&str] = &["Deployment", "ReplicaSet", "StatefulSet", "DaemonSet"];

/// Runs the workload checks.
pub fn run(sink: &mut Sink<'_>) {
    let inv = sink.inv;
    for psp in inv.of_kind("PodSecurityPolicy") {
        POD_SECURITY_POLICY.emit(
            sink,
            psp,
            &FieldPath::parse("apiVersion"),
            None,
            format!("PodSecurityPolicy {} ({}) was removed in Kubernetes 1.25; enforce Pod Security Admission labels instead", psp.id.name, psp.id.api_version),
        );
    }
    let label = sink.cfg.untrusted_label.clone();
    let sandboxes = sink.cfg.sandbox_runtime_classes.clone();
    for (obj, t) in workloads(inv) {
        if !label.is_empty()
            && t.labels()
                .get(label.as_str())
                .is_some_and(|v| v.eq_ignore_ascii_case("true"))
        {
            let path = spec_field(&t, &["runtimeClassName"]);
            match t.spec.get("runtimeClassName").and_then(Node::as_str).filter(|s| !s.is_empty()) {
                None => UNTRUSTED_RUNTIME_CLASS.emit(
                    sink,
                    obj,
                    &path,
                    None,
                    format!("pod is labelled {label}=true but sets no runtimeClassName; it runs on the node's default runtime"),
                ),
                Some(rc) if !sandboxes.is_empty() && !sandboxes.iter().any(|s| s == rc) => UNTRUSTED_RUNTIME_CLASS.emit(
                    sink,
                    obj,
                    &path,
                    None,
                    format!("pod is labelled {label}=true but runtimeClassName {rc:?} is not a sandboxed class ({})", sandboxes.join(", ")),
                ),
                Some(_) => {}
            }
        }
        if obj.id.namespace.as_deref() == Some("default") {
            let msg = if obj.namespace_explicit {
                format!(
                    "{} {} is placed in the default namespace",
                    obj.id.kind, obj.id.name
                )
            } else {
                format!(
                    "{} {} sets no metadata.namespace and lands in the default namespace",
                    obj.id.kind, obj.id.name
                )
            };
            DEFAULT_NAMESPACE.emit(
                sink,
                obj,
                &FieldPath::parse("metadata.namespace"),
                None,
                msg,
            );
        }
        if t.is_pod
            && obj
                .node
                .at(&["metadata", "ownerReferences"])
                .is_none_or(|n| n.items().is_empty())
        {
            NAKED_POD.emit(
                sink,
                obj,
                &FieldPath::parse("metadata"),
                None,
                format!(
                    "Pod {} has no ownerReferences; no controller recreates it if its node fails",
                    obj.id.name
                ),
            );
        }
        if SELECTOR_KINDS.contains(&obj.id.kind.as_str())
            && matches!(obj.group(), "apps" | "extensions")
        {
            let labels = t.labels();
            let path = FieldPath::parse("spec.selector");
            match obj.node.at(&["spec", "selector"]).filter(|n| !n.is_null()) {
                None => SELECTOR_MISMATCH.emit(
                    sink,
                    obj,
                    &path,
                    None,
                    format!("{} {} has no spec.selector", obj.id.kind, obj.id.name),
                ),
                Some(n) => match LabelSelector::parse(n) {
                    Err(e) => SELECTOR_MISMATCH.emit(
                        sink,
                        obj,
                        &path,
                        None,
                        format!("spec.selector is invalid: {}", e.message),
                    ),
                    Ok(sel) if sel.is_empty() => SELECTOR_MISMATCH.emit(
                        sink,
                        obj,
                        &path,
                        None,
                        "spec.selector is empty; it would select every pod of the namespace".into(),
                    ),
                    Ok(sel) if !sel.matches(&labels) => SELECTOR_MISMATCH.emit(
                        sink,
                        obj,
                        &path,
                        None,
                        format!(
                            "spec.selector {sel} does not match the template labels {}",
                            render_labels(&labels)
                        ),
                    ),
                    Ok(_) => {}
                },
            }
        }
    }
}
