//! Pod Security Standards as PodSecurity admission applies them to requests
//! (`k8s.io/pod-security-admission/admission`), on top of the posture crate's checks.
//!
//! * Pods (`pods`, any subresource but `exec`, `attach`, `binding`, `eviction`, `log`,
//!   `portforward`, `proxy`, `status`) are enforced, audited and warned. An UPDATE is only
//!   evaluated when it changes something PodSecurity considers significant (an image, a
//!   seccomp annotation, the number of containers, an ephemeral container).
//! * Workloads with a pod template (`podtemplates`, `replicationcontrollers`, `replicasets`,
//!   `deployments`, `daemonsets`, `statefulsets`, `jobs`, `cronjobs`; no subresource) are only
//!   audited and warned.
//! * Namespaces: invalid `pod-security.kubernetes.io/*` labels are rejected (422) on create,
//!   and on update when they changed; tightening the enforce level returns warnings naming the
//!   known pods of the namespace that would violate it.
//!
//! Messages and audit annotation keys are PodSecurity's (`enforce-policy`,
//! `audit-violations`, `exempt`, `error`; the API server prefixes them with the webhook's
//! name).

use crate::config::PodSecurityConfig;
use crate::object::json_str;
use crate::review::{AdmissionReview, Operation, Response, Status};
use palisade_model::{Node, Object, pod_template};
use palisade_posture::pss::{
    self, CheckResult, KubeVersion, LabelError, Level, NamespacePolicy, Policy, PssError,
    PssOptions, Version,
};
use std::collections::{BTreeMap, HashSet};

/// Pod subresources PodSecurity does not evaluate.
pub const IGNORED_POD_SUBRESOURCES: [&str; 8] = [
    "exec",
    "attach",
    "binding",
    "eviction",
    "log",
    "portforward",
    "proxy",
    "status",
];

/// Resources (group, resource) whose pod templates PodSecurity audits and warns about.
pub const POD_TEMPLATE_RESOURCES: [(&str, &str); 8] = [
    ("", "podtemplates"),
    ("", "replicationcontrollers"),
    ("apps", "replicasets"),
    ("apps", "deployments"),
    ("apps", "daemonsets"),
    ("apps", "statefulsets"),
    ("batch", "jobs"),
    ("batch", "cronjobs"),
];

/// Kinds (group, kind) whose pod templates PodSecurity audits and warns about.
pub const POD_TEMPLATE_KINDS: [(&str, &str); 8] = [
    ("", "PodTemplate"),
    ("", "ReplicationController"),
    ("apps", "ReplicaSet"),
    ("apps", "Deployment"),
    ("apps", "DaemonSet"),
    ("apps", "StatefulSet"),
    ("batch", "Job"),
    ("batch", "CronJob"),
];

/// Audit annotation: the enforce policy a pod was checked against.
pub const ENFORCE_POLICY_ANNOTATION: &str = "enforce-policy";
/// Audit annotation: the audit-mode violations.
pub const AUDIT_VIOLATIONS_ANNOTATION: &str = "audit-violations";
/// Audit annotation: why the request was exempt (`user`, `namespace`, `runtimeClass`).
pub const EXEMPT_ANNOTATION: &str = "exempt";
/// Audit annotation: namespace labels that could not be parsed.
pub const ERROR_ANNOTATION: &str = "error";

/// How many known pods a namespace label change is checked against (PodSecurity's limit).
pub const NAMESPACE_MAX_PODS_TO_CHECK: usize = 3000;

/// PodSecurity admission with its configuration (defaults, exemptions, server version).
#[derive(Debug, Clone, Default)]
pub struct PodSecurity {
    /// Policy for modes a namespace does not label.
    pub defaults: NamespacePolicy,
    /// The modelled API server.
    pub opts: PssOptions,
    exempt_users: HashSet<String>,
    exempt_namespaces: HashSet<String>,
    exempt_runtime_classes: HashSet<String>,
}

/// What the server knows about a namespace.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NamespaceInfo {
    /// Its labels.
    pub labels: BTreeMap<String, String>,
}

/// The PSA outcome for one pod (or template).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodVerdict {
    /// The response PodSecurity gives.
    pub response: Response,
    /// The enforce-mode violations (empty when allowed or not enforced).
    pub enforce: Vec<CheckResult>,
}

fn level_or(s: &Option<String>, field: &str) -> Result<Level, String> {
    match s {
        None => Ok(Level::Privileged),
        Some(v) => Level::parse(v).map_err(|e| format!("podSecurity.defaults.{field}: {e}")),
    }
}

fn version_or(s: &Option<String>, field: &str) -> Result<Version, String> {
    match s {
        None => Ok(Version::Latest),
        Some(v) => Version::parse(v).map_err(|e| format!("podSecurity.defaults.{field}: {e}")),
    }
}

fn label_error_text(e: &LabelError) -> String {
    let (value, detail) = match &e.error {
        PssError::Level(v) => (v.clone(), "must be one of privileged, baseline, restricted"),
        PssError::Version(v) => (v.clone(), "must be \"latest\" or \"v1.x\""),
        other => return format!("metadata.labels[{}]: {other}", e.label),
    };
    format!(
        "metadata.labels[{}]: Invalid value: {value:?}: {detail}",
        e.label
    )
}

/// Joins label errors like a Kubernetes `field.ErrorList` aggregate.
pub fn label_errors_text(errs: &[LabelError]) -> String {
    let parts: Vec<String> = errs.iter().map(label_error_text).collect();
    match parts.as_slice() {
        [one] => one.clone(),
        _ => format!("[{}]", parts.join(", ")),
    }
}

fn exempt(reason: &str) -> Response {
    let mut r = Response::allow();
    r.audit_annotations
        .insert(EXEMPT_ANNOTATION.into(), reason.into());
    r
}

fn bad_request(msg: &str) -> Response {
    Response::deny(Status {
        code: 400,
        reason: "BadRequest",
        message: msg.into(),
    })
}

/// The string labels of an object (`metadata.labels`; values that are not strings left out).
pub fn labels_of(v: &Node) -> BTreeMap<String, String> {
    v.at(&["metadata", "labels"])
        .map(|m| {
            m.entries()
                .iter()
                .filter_map(|e| Some((e.key.to_string(), json_str(&e.value)?.to_owned())))
                .collect()
        })
        .unwrap_or_default()
}

fn str_at<'a>(v: &'a Node, path: &[&str]) -> &'a str {
    v.at(path).and_then(json_str).unwrap_or("")
}

fn list_at<'a>(v: &'a Node, path: &[&str]) -> &'a [Node] {
    v.at(path).map_or(&[], Node::items)
}

const SECCOMP_POD_ANNOTATION: &str = "seccomp.security.alpha.kubernetes.io/pod";
const SECCOMP_CONTAINER_PREFIX: &str = "container.seccomp.security.alpha.kubernetes.io/";

fn annotation<'a>(pod: &'a Node, key: &str) -> &'a str {
    str_at(pod, &["metadata", "annotations", key])
}

fn significant_container_update(c: &Node, old: &Node, pod: &Node, old_pod: &Node) -> bool {
    if str_at(c, &["image"]) != str_at(old, &["image"]) {
        return true;
    }
    let key = format!("{SECCOMP_CONTAINER_PREFIX}{}", str_at(c, &["name"]));
    annotation(pod, &key) != annotation(old_pod, &key)
}

/// PodSecurity's `isSignificantPodUpdate`: only images, seccomp annotations, container counts
/// and ephemeral containers make a pod update worth evaluating.
/// Both are pods as parsed from a request ([`crate::object::parse_node`]).
pub fn is_significant_pod_update(pod: &Node, old: &Node) -> bool {
    if annotation(pod, SECCOMP_POD_ANNOTATION) != annotation(old, SECCOMP_POD_ANNOTATION) {
        return true;
    }
    for list in [&["spec", "containers"], &["spec", "initContainers"]] {
        let (new_c, old_c) = (list_at(pod, list), list_at(old, list));
        if new_c.len() != old_c.len() {
            return true;
        }
        if new_c
            .iter()
            .zip(old_c)
            .any(|(c, o)| significant_container_update(c, o, pod, old))
        {
            return true;
        }
    }
    let old_eph = list_at(old, &["spec", "ephemeralContainers"]);
    for c in list_at(pod, &["spec", "ephemeralContainers"]) {
        let name = str_at(c, &["name"]);
        match old_eph.iter().find(|o| str_at(o, &["name"]) == name) {
            None => return true,
            Some(o) if significant_container_update(c, o, pod, old) => return true,
            Some(_) => {}
        }
    }
    false
}

/// `violates PodSecurity ...` as `would violate PodSecurity ...` (audit and warn wording).
pub fn would(message: String) -> String {
    match message.strip_prefix("violates ") {
        Some(rest) => format!("would violate {rest}"),
        None => message,
    }
}

fn forbidden_reason(results: &[CheckResult]) -> String {
    results
        .iter()
        .map(|r| r.reason.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

impl PodSecurity {
    /// Builds the admission from the `podSecurity` configuration.
    pub fn from_config(c: &PodSecurityConfig) -> Result<PodSecurity, String> {
        let d = &c.defaults;
        let defaults = NamespacePolicy {
            enforce: Policy::new(
                level_or(&d.enforce, "enforce")?,
                version_or(&d.enforce_version, "enforceVersion")?,
            ),
            audit: Policy::new(
                level_or(&d.audit, "audit")?,
                version_or(&d.audit_version, "auditVersion")?,
            ),
            warn: Policy::new(
                level_or(&d.warn, "warn")?,
                version_or(&d.warn_version, "warnVersion")?,
            ),
        };
        let server = match &c.kube_version {
            None => KubeVersion::default(),
            Some(v) => {
                KubeVersion::parse(v).map_err(|e| format!("podSecurity.kubeVersion: {e}"))?
            }
        };
        let e = &c.exemptions;
        Ok(PodSecurity {
            defaults,
            opts: PssOptions::for_server(server),
            exempt_users: e.usernames.iter().cloned().collect(),
            exempt_namespaces: e.namespaces.iter().cloned().collect(),
            exempt_runtime_classes: e.runtime_classes.iter().cloned().collect(),
        })
    }

    /// True when the namespace is exempt.
    pub fn exempt_namespace(&self, ns: &str) -> bool {
        !ns.is_empty() && self.exempt_namespaces.contains(ns)
    }

    /// True when the user is exempt.
    pub fn exempt_user(&self, user: &str) -> bool {
        !user.is_empty() && self.exempt_users.contains(user)
    }

    /// True when the runtime class is exempt.
    pub fn exempt_runtime_class(&self, rc: &str) -> bool {
        !rc.is_empty() && self.exempt_runtime_classes.contains(rc)
    }

    /// The policy of a namespace with these labels, and the label errors.
    pub fn policy(&self, labels: &BTreeMap<String, String>) -> (NamespacePolicy, Vec<LabelError>) {
        let borrowed: BTreeMap<&str, &str> = labels
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        NamespacePolicy::from_labels(&borrowed, self.defaults)
    }

    /// Decides a request. `namespace` is what the server knows of the request's namespace
    /// (`None` when unknown: the configured defaults apply, as for an unlabelled namespace);
    /// `pods_in` lists the known pods of a namespace, for namespace label changes.
    pub fn validate(
        &self,
        review: &AdmissionReview,
        namespace: Option<&NamespaceInfo>,
        pods_in: &dyn Fn(&str) -> Vec<Object>,
    ) -> Response {
        let req = &review.request;
        if !matches!(req.operation, Operation::Create | Operation::Update) {
            return Response::allow();
        }
        let group = req.resource.group.as_str();
        let resource = req.resource.resource.as_str();
        match (group, resource) {
            ("", "namespaces") => self.validate_namespace(review, pods_in),
            ("", "pods") => self.validate_pod(review, namespace),
            gr if POD_TEMPLATE_RESOURCES.contains(&gr) => {
                self.validate_pod_controller(review, namespace)
            }
            _ => Response::allow(),
        }
    }

    fn namespace_policy(
        &self,
        namespace: Option<&NamespaceInfo>,
    ) -> (NamespacePolicy, Vec<LabelError>) {
        match namespace {
            Some(ns) => self.policy(&ns.labels),
            None => (self.defaults, Vec::new()),
        }
    }

    fn validate_pod(
        &self,
        review: &AdmissionReview,
        namespace: Option<&NamespaceInfo>,
    ) -> Response {
        let req = &review.request;
        if IGNORED_POD_SUBRESOURCES.contains(&req.sub_resource.as_str()) {
            return Response::allow();
        }
        if self.exempt_namespace(&req.namespace) {
            return exempt("namespace");
        }
        if self.exempt_user(&req.username) {
            return exempt("user");
        }
        let (policy, errs) = self.namespace_policy(namespace);
        if errs.is_empty() && policy.fully_privileged() {
            return Response::allow();
        }
        let Some(obj) = review.object_model() else {
            return bad_request("failed to decode object");
        };
        let pod = &obj.node;
        if pod.get("kind").is_some_and(|k| json_str(k) != Some("Pod")) {
            return bad_request("failed to decode pod");
        }
        if req.operation == Operation::Update {
            let Some(old) = review.old_object() else {
                return bad_request("failed to decode old object");
            };
            if !is_significant_pod_update(pod, old) {
                return Response::allow();
            }
        }
        self.evaluate_object(obj, policy, &errs, true).response
    }

    fn validate_pod_controller(
        &self,
        review: &AdmissionReview,
        namespace: Option<&NamespaceInfo>,
    ) -> Response {
        let req = &review.request;
        if !req.sub_resource.is_empty() {
            return Response::allow();
        }
        if self.exempt_namespace(&req.namespace) {
            return exempt("namespace");
        }
        if self.exempt_user(&req.username) {
            return exempt("user");
        }
        let (policy, errs) = self.namespace_policy(namespace);
        if errs.is_empty()
            && policy.warn.level == Level::Privileged
            && policy.audit.level == Level::Privileged
        {
            return Response::allow();
        }
        let Some(obj) = review.object_model() else {
            return bad_request("failed to decode object");
        };
        self.evaluate_object(obj, policy, &errs, false).response
    }

    /// PodSecurity's `EvaluatePod` on the pod or pod template of `obj`: enforce (for pods),
    /// audit and warn, with PodSecurity's messages. Objects without a pod template are allowed.
    pub fn evaluate_object(
        &self,
        obj: &Object,
        policy: NamespacePolicy,
        errs: &[LabelError],
        enforce: bool,
    ) -> PodVerdict {
        let Some(t) = pod_template(obj) else {
            return PodVerdict {
                response: Response::allow(),
                enforce: Vec::new(),
            };
        };
        let runtime_class = t
            .spec
            .get("runtimeClassName")
            .and_then(|n| n.as_str())
            .unwrap_or("");
        if !runtime_class.is_empty() && self.exempt_runtime_classes.contains(runtime_class) {
            return PodVerdict {
                response: exempt("runtimeClass"),
                enforce: Vec::new(),
            };
        }
        let mut response = Response::allow();
        if !errs.is_empty() {
            response.audit_annotations.insert(
                ERROR_ANNOTATION.into(),
                format!("Failed to parse policy: {}", label_errors_text(errs)),
            );
        }
        let mut cache: Vec<(Policy, Vec<CheckResult>)> = Vec::new();
        let eval = |p: Policy, cache: &mut Vec<(Policy, Vec<CheckResult>)>| {
            if let Some((_, r)) = cache.iter().find(|(q, _)| *q == p) {
                return r.clone();
            }
            let r = pss::evaluate(&t, p, &self.opts);
            cache.push((p, r.clone()));
            r
        };
        let mut enforce_results = Vec::new();
        if enforce {
            response
                .audit_annotations
                .insert(ENFORCE_POLICY_ANNOTATION.into(), policy.enforce.to_string());
            let r = eval(policy.enforce, &mut cache);
            if !r.is_empty() {
                let mut denied = Response::deny(Status::forbidden(format!(
                    "pod {}",
                    pss::message(policy.enforce, &r)
                )));
                denied.audit_annotations = std::mem::take(&mut response.audit_annotations);
                response = denied;
            }
            enforce_results = r;
        }
        let audit = eval(policy.audit, &mut cache);
        if !audit.is_empty() {
            response.audit_annotations.insert(
                AUDIT_VIOLATIONS_ANNOTATION.into(),
                would(pss::message(policy.audit, &audit)),
            );
        }
        if response.allowed {
            let warn = eval(policy.warn, &mut cache);
            if !warn.is_empty() {
                response
                    .warnings
                    .push(would(pss::message(policy.warn, &warn)));
            }
        }
        PodVerdict {
            response,
            enforce: enforce_results,
        }
    }

    fn validate_namespace(
        &self,
        review: &AdmissionReview,
        pods_in: &dyn Fn(&str) -> Vec<Object>,
    ) -> Response {
        let req = &review.request;
        if !req.sub_resource.is_empty() {
            return Response::allow();
        }
        let Some(ns) = review.object() else {
            return bad_request("failed to decode namespace");
        };
        let (new_policy, new_errs) = self.policy(&labels_of(ns));
        let invalid = |errs: &[LabelError]| {
            Response::deny(Status {
                code: 422,
                reason: "Invalid",
                message: format!(
                    "Namespace {:?} is invalid: {}",
                    req.name,
                    label_errors_text(errs)
                ),
            })
        };
        match req.operation {
            Operation::Create => {
                if new_errs.is_empty() {
                    Response::allow()
                } else {
                    invalid(&new_errs)
                }
            }
            Operation::Update => {
                let Some(old) = review.old_object() else {
                    return bad_request("failed to decode old object");
                };
                let (old_policy, old_errs) = self.policy(&labels_of(old));
                if !new_errs.is_empty() && (old_errs.is_empty() || new_errs != old_errs) {
                    return invalid(&new_errs);
                }
                let (n, o) = (new_policy.enforce, old_policy.enforce);
                if n == o
                    || n.level == Level::Privileged
                    || (n.version == o.version && n.level <= o.level)
                {
                    return Response::allow();
                }
                if self.exempt_namespace(&req.namespace) {
                    return exempt("namespace");
                }
                let mut r = Response::allow();
                r.warnings = self.evaluate_pods_in_namespace(&req.name, n, &pods_in(&req.name));
                r
            }
            _ => Response::allow(),
        }
    }

    /// PodSecurity's warnings for a namespace whose enforce policy becomes `enforce`, over the
    /// known pods of the namespace.
    pub fn evaluate_pods_in_namespace(
        &self,
        namespace: &str,
        enforce: Policy,
        pods: &[Object],
    ) -> Vec<String> {
        let mut warnings = Vec::new();
        let mut order: Vec<String> = Vec::new();
        let mut counts: BTreeMap<String, (String, usize)> = BTreeMap::new();
        let total = pods.len();
        let checked = total.min(NAMESPACE_MAX_PODS_TO_CHECK);
        for pod in &pods[..checked] {
            let Some(t) = pod_template(pod) else { continue };
            let rc = t
                .spec
                .get("runtimeClassName")
                .and_then(|n| n.as_str())
                .unwrap_or("");
            if !rc.is_empty() && self.exempt_runtime_classes.contains(rc) {
                continue;
            }
            let r = pss::evaluate(&t, enforce, &self.opts);
            if r.is_empty() {
                continue;
            }
            let w = forbidden_reason(&r);
            let name = pod.id.name.clone();
            match counts.get_mut(&w) {
                None => {
                    order.push(w.clone());
                    counts.insert(w, (name, 1));
                }
                Some((first, n)) => {
                    if name < *first {
                        *first = name;
                    }
                    *n += 1;
                }
            }
        }
        if checked < total {
            warnings.push(format!(
                "new PodSecurity enforce level only checked against the first {checked} of {total} existing pods"
            ));
        }
        if !order.is_empty() {
            warnings.push(format!(
                "existing pods in namespace {namespace:?} violate the new PodSecurity enforce level {:?}",
                enforce.to_string()
            ));
        }
        let mut pod_warnings: Vec<String> = order
            .into_iter()
            .map(|w| {
                let (name, n) = &counts[&w];
                match n {
                    1 => format!("{name}: {w}"),
                    2 => format!("{name} (and 1 other pod): {w}"),
                    _ => format!("{name} (and {} other pods): {w}", n - 1),
                }
            })
            .collect();
        pod_warnings.sort();
        warnings.extend(pod_warnings);
        warnings
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn pod(image: &str, ann: Value) -> Value {
        json!({"metadata": {"annotations": ann}, "spec": {"containers": [{"name": "a", "image": image}]}})
    }

    fn is_significant_pod_update(pod: &Value, old: &Value) -> bool {
        use crate::object::node_from_json;
        super::is_significant_pod_update(&node_from_json(pod), &node_from_json(old))
    }

    #[test]
    fn significant_updates_are_psas() {
        let old = pod("x:1", json!({}));
        assert!(!is_significant_pod_update(&old, &old));
        let mut labels = old.clone();
        labels["metadata"]["labels"] = json!({"a": "b"});
        labels["spec"]["activeDeadlineSeconds"] = json!(5);
        assert!(!is_significant_pod_update(&labels, &old));
        assert!(is_significant_pod_update(&pod("x:2", json!({})), &old));
        let seccomp = pod(
            "x:1",
            json!({"container.seccomp.security.alpha.kubernetes.io/a": "unconfined"}),
        );
        assert!(is_significant_pod_update(&seccomp, &old));
        let mut eph = old.clone();
        eph["spec"]["ephemeralContainers"] = json!([{"name": "d", "image": "busybox"}]);
        assert!(is_significant_pod_update(&eph, &old));
        assert!(!is_significant_pod_update(&eph, &eph));
        let mut more = old.clone();
        more["spec"]["initContainers"] = json!([{"name": "i", "image": "busybox"}]);
        assert!(is_significant_pod_update(&more, &old));
    }

    #[test]
    fn label_errors_aggregate_like_field_error_lists() {
        let ps = PodSecurity::default();
        let labels: BTreeMap<String, String> = [
            ("pod-security.kubernetes.io/enforce", "x"),
            ("pod-security.kubernetes.io/warn-version", "v2"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let (_, errs) = ps.policy(&labels);
        assert_eq!(
            label_errors_text(&errs),
            "[metadata.labels[pod-security.kubernetes.io/enforce]: Invalid value: \"x\": must be one of privileged, baseline, restricted, metadata.labels[pod-security.kubernetes.io/warn-version]: Invalid value: \"v2\": must be \"latest\" or \"v1.x\"]"
        );
        assert_eq!(
            would("violates PodSecurity \"a\": b".into()),
            "would violate PodSecurity \"a\": b"
        );
    }

    #[test]
    fn namespace_warnings_count_pods_per_reason() {
        let ps = PodSecurity::default();
        let mk = |name: &str, spec: Value| {
            crate::engine::object_of(&json!({"apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": name, "namespace": "n"}, "spec": spec}))
        };
        let host = json!({"hostPID": true, "containers": [{"name": "a", "image": "x"}]});
        let priv_ = json!({"containers": [{"name": "a", "image": "x", "securityContext": {"privileged": true}}]});
        let pods = vec![
            mk("c", host.clone()),
            mk("a", host.clone()),
            mk("b", host),
            mk("z", priv_.clone()),
            mk("y", priv_),
            mk("ok", json!({"containers": [{"name": "a", "image": "x"}]})),
        ];
        let w = ps.evaluate_pods_in_namespace(
            "n",
            Policy::new(Level::Baseline, Version::Latest),
            &pods,
        );
        assert_eq!(
            w,
            [
                "existing pods in namespace \"n\" violate the new PodSecurity enforce level \"baseline:latest\"",
                "a (and 2 other pods): host namespaces",
                "y (and 1 other pod): privileged",
            ]
        );
    }
}
