//! Opt-in mutation: JSONPatch operations that fill safe defaults into pod specs without
//! overriding anything the author wrote.
//!
//! For every pod (CREATE) and workload pod template (CREATE and UPDATE):
//!
//! * pod `securityContext.seccompProfile: {type: RuntimeDefault}` when the pod level sets no
//!   profile (containers that set their own keep it);
//! * per container (init and regular) `allowPrivilegeEscalation: false` when unset, unless the
//!   container is privileged or adds `SYS_ADMIN` (the API server rejects that combination);
//! * per container `capabilities.drop: [ALL]` when the container has no `drop` list;
//! * pod `securityContext.runAsNonRoot: true` when unset, no container sets `runAsNonRoot` or
//!   `runAsUser: 0`, and every container's image is known to run as a non-root user: listed in
//!   `mutation.nonRootImages` (exact, or a prefix ending in `*`), or the pod (template) carries
//!   the annotation `palisade.dev/images-run-as-non-root: "true"`;
//! * `automountServiceAccountToken: false` when unset and the pod's service account is bound
//!   by no RoleBinding or ClusterRoleBinding of the RBAC objects given in `mutation.rbac`
//!   (subjects: the ServiceAccount, `system:serviceaccount:<ns>:<name>`,
//!   `system:serviceaccounts`, `system:serviceaccounts:<ns>`). Without RBAC objects nothing is
//!   assumed and the field is left alone.
//!
//! Windows pods (`spec.os.name: windows`) get neither seccomp, privilege escalation nor
//! capability defaults (PodSecurity does not require them there).

use serde_json::{Value, json};

/// The pod annotation by which an author states that every image of the pod runs as non-root.
pub const NON_ROOT_ANNOTATION: &str = "palisade.dev/images-run-as-non-root";

/// Mutation settings resolved from the configuration.
#[derive(Debug, Clone, Default)]
pub struct Mutator {
    /// Image references (or `prefix*`) that run as non-root.
    pub non_root_images: Vec<String>,
    /// Service accounts (`namespace/name`) that some binding grants something; `None` when no
    /// RBAC objects are known.
    pub bound_service_accounts: Option<BoundAccounts>,
}

/// Which service accounts RBAC bindings name.
#[derive(Debug, Clone, Default)]
pub struct BoundAccounts {
    /// `namespace/name` of service accounts named directly.
    pub accounts: std::collections::HashSet<String>,
    /// Namespaces whose every service account is bound (group `system:serviceaccounts:<ns>`).
    pub namespaces: std::collections::HashSet<String>,
    /// True when `system:serviceaccounts` (every service account) is bound.
    pub all: bool,
}

impl BoundAccounts {
    /// Reads RoleBindings and ClusterRoleBindings (JSON objects).
    pub fn from_bindings<'a>(objects: impl IntoIterator<Item = &'a Value>) -> BoundAccounts {
        let mut b = BoundAccounts::default();
        for o in objects {
            let kind = o.get("kind").and_then(Value::as_str).unwrap_or("");
            if kind != "RoleBinding" && kind != "ClusterRoleBinding" {
                continue;
            }
            let binding_ns = o
                .pointer("/metadata/namespace")
                .and_then(Value::as_str)
                .unwrap_or("default");
            for s in o
                .get("subjects")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let skind = s.get("kind").and_then(Value::as_str).unwrap_or("");
                let name = s.get("name").and_then(Value::as_str).unwrap_or("");
                match skind {
                    "ServiceAccount" => {
                        let ns = s
                            .get("namespace")
                            .and_then(Value::as_str)
                            .filter(|n| !n.is_empty())
                            .unwrap_or(binding_ns);
                        b.accounts.insert(format!("{ns}/{name}"));
                    }
                    "User" => {
                        if let Some((ns, sa)) = name
                            .strip_prefix("system:serviceaccount:")
                            .and_then(|rest| rest.split_once(':'))
                        {
                            b.accounts.insert(format!("{ns}/{sa}"));
                        }
                    }
                    "Group" => {
                        if name == "system:serviceaccounts" {
                            b.all = true;
                        } else if let Some(ns) = name.strip_prefix("system:serviceaccounts:") {
                            b.namespaces.insert(ns.to_owned());
                        }
                    }
                    _ => {}
                }
            }
        }
        b
    }

    /// True when some binding names this service account.
    pub fn is_bound(&self, namespace: &str, name: &str) -> bool {
        self.all
            || self.namespaces.contains(namespace)
            || self.accounts.contains(&format!("{namespace}/{name}"))
    }
}

/// Where the pod spec and pod metadata of an object of `kind` are (JSON pointers).
pub fn pod_paths(kind: &str) -> Option<(&'static str, &'static str)> {
    Some(match kind {
        "Pod" => ("/spec", "/metadata"),
        "CronJob" => (
            "/spec/jobTemplate/spec/template/spec",
            "/spec/jobTemplate/spec/template/metadata",
        ),
        "Deployment"
        | "ReplicaSet"
        | "StatefulSet"
        | "DaemonSet"
        | "Job"
        | "ReplicationController" => ("/spec/template/spec", "/spec/template/metadata"),
        "PodTemplate" => ("/template/spec", "/template/metadata"),
        _ => return None,
    })
}

fn image_matches(pattern: &str, image: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => image.starts_with(prefix),
        None => pattern == image,
    }
}

fn has_sys_admin(sc: &Value) -> bool {
    sc.pointer("/capabilities/add")
        .and_then(Value::as_array)
        .is_some_and(|a| {
            a.iter()
                .any(|c| matches!(c.as_str(), Some("SYS_ADMIN" | "CAP_SYS_ADMIN")))
        })
}

impl Mutator {
    /// The JSONPatch operations for `object` (of `kind`, in `namespace`); empty when nothing
    /// needs filling.
    pub fn patch(&self, object: &Value, kind: &str, namespace: &str) -> Vec<Value> {
        let Some((spec_ptr, meta_ptr)) = pod_paths(kind) else {
            return Vec::new();
        };
        let Some(spec) = object.pointer(spec_ptr).filter(|s| s.is_object()) else {
            return Vec::new();
        };
        let mut ops = Vec::new();
        let windows = spec.pointer("/os/name").and_then(Value::as_str) == Some("windows");
        let containers: Vec<(&str, usize, &Value)> = ["initContainers", "containers"]
            .into_iter()
            .flat_map(|list| {
                spec.get(list)
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .enumerate()
                    .map(move |(i, c)| (list, i, c))
            })
            .collect();

        // Pod-level securityContext.
        let psc = spec.get("securityContext").filter(|v| v.is_object());
        let mut pod_fields = serde_json::Map::new();
        if !windows && psc.and_then(|s| s.get("seccompProfile")).is_none() {
            pod_fields.insert("seccompProfile".into(), json!({"type": "RuntimeDefault"}));
        }
        let annotated_non_root = object
            .pointer(&format!("{meta_ptr}/annotations"))
            .and_then(|a| a.get(NON_ROOT_ANNOTATION))
            .and_then(Value::as_str)
            == Some("true");
        let images_non_root = !containers.is_empty()
            && containers.iter().all(|(_, _, c)| {
                let image = c.get("image").and_then(Value::as_str).unwrap_or("");
                annotated_non_root || self.non_root_images.iter().any(|p| image_matches(p, image))
            });
        let root_requested = psc.and_then(|s| s.get("runAsUser")).and_then(Value::as_i64)
            == Some(0)
            || containers.iter().any(|(_, _, c)| {
                let sc = c.get("securityContext");
                sc.and_then(|s| s.get("runAsNonRoot")).is_some()
                    || sc.and_then(|s| s.get("runAsUser")).and_then(Value::as_i64) == Some(0)
            });
        if images_non_root && !root_requested && psc.and_then(|s| s.get("runAsNonRoot")).is_none() {
            pod_fields.insert("runAsNonRoot".into(), Value::Bool(true));
        }
        if !pod_fields.is_empty() {
            if psc.is_some() {
                for (k, v) in pod_fields {
                    ops.push(json!({"op": "add", "path": format!("{spec_ptr}/securityContext/{k}"), "value": v}));
                }
            } else {
                ops.push(json!({"op": "add", "path": format!("{spec_ptr}/securityContext"), "value": Value::Object(pod_fields)}));
            }
        }

        // Containers.
        if !windows {
            for (list, i, c) in &containers {
                let base = format!("{spec_ptr}/{list}/{i}/securityContext");
                let sc = c.get("securityContext").filter(|v| v.is_object());
                let privileged = sc
                    .and_then(|s| s.get("privileged"))
                    .and_then(Value::as_bool)
                    == Some(true);
                let set_ape = sc.and_then(|s| s.get("allowPrivilegeEscalation")).is_none()
                    && !privileged
                    && !sc.is_some_and(has_sys_admin);
                match sc {
                    None => {
                        let mut v = serde_json::Map::new();
                        if set_ape {
                            v.insert("allowPrivilegeEscalation".into(), Value::Bool(false));
                        }
                        v.insert("capabilities".into(), json!({"drop": ["ALL"]}));
                        ops.push(json!({"op": "add", "path": base, "value": Value::Object(v)}));
                    }
                    Some(sc) => {
                        if set_ape {
                            ops.push(json!({"op": "add", "path": format!("{base}/allowPrivilegeEscalation"), "value": false}));
                        }
                        match sc.get("capabilities").filter(|v| v.is_object()) {
                            None => ops.push(json!({"op": "add", "path": format!("{base}/capabilities"), "value": {"drop": ["ALL"]}})),
                            Some(caps) if caps.get("drop").is_none() => ops.push(json!({"op": "add", "path": format!("{base}/capabilities/drop"), "value": ["ALL"]})),
                            Some(_) => {}
                        }
                    }
                }
            }
        }

        // Service account token.
        if let Some(bound) = &self.bound_service_accounts
            && spec.get("automountServiceAccountToken").is_none()
        {
            let sa = spec
                .get("serviceAccountName")
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .unwrap_or("default");
            if !bound.is_bound(namespace, sa) {
                ops.push(json!({"op": "add", "path": format!("{spec_ptr}/automountServiceAccountToken"), "value": false}));
            }
        }
        ops
    }
}

/// The paths a patch touches, for the `mutations` audit annotation.
pub fn describe(ops: &[Value]) -> String {
    ops.iter()
        .filter_map(|o| o.get("path").and_then(Value::as_str))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Applies `add` operations (the only kind [`Mutator::patch`] produces) to a copy of `v`;
/// used by tests and by audit to see the mutated object.
pub fn apply(v: &Value, ops: &[Value]) -> Option<Value> {
    let mut out = v.clone();
    for op in ops {
        if op.get("op")? != "add" {
            return None;
        }
        let path = op.get("path")?.as_str()?;
        let (parent, key) = path.rsplit_once('/')?;
        let key = key.replace("~1", "/").replace("~0", "~");
        let target = out.pointer_mut(parent)?;
        match target {
            Value::Object(m) => {
                m.insert(key, op.get("value")?.clone());
            }
            Value::Array(a) => {
                let value = op.get("value")?.clone();
                if key == "-" {
                    a.push(value);
                } else {
                    let i: usize = key.parse().ok()?;
                    if i > a.len() {
                        return None;
                    }
                    a.insert(i, value);
                }
            }
            _ => return None,
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(spec: Value) -> Value {
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": spec})
    }

    #[test]
    fn fills_defaults_in_a_bare_pod() {
        let m = Mutator::default();
        let p = pod(json!({"containers": [{"name": "a", "image": "nginx"}]}));
        let ops = m.patch(&p, "Pod", "ns");
        let out = apply(&p, &ops).unwrap();
        assert_eq!(
            out["spec"]["securityContext"],
            json!({"seccompProfile": {"type": "RuntimeDefault"}})
        );
        assert_eq!(
            out["spec"]["containers"][0]["securityContext"],
            json!({"allowPrivilegeEscalation": false, "capabilities": {"drop": ["ALL"]}})
        );
        assert!(out["spec"].get("automountServiceAccountToken").is_none());
        // idempotent: a second pass finds nothing to do
        assert!(m.patch(&out, "Pod", "ns").is_empty());
    }

    #[test]
    fn keeps_explicit_choices() {
        let m = Mutator {
            non_root_images: vec!["gcr.io/distroless/*".into()],
            bound_service_accounts: None,
        };
        let p = pod(json!({
            "securityContext": {"seccompProfile": {"type": "Unconfined"}},
            "containers": [
                {"name": "a", "image": "gcr.io/distroless/static", "securityContext": {"allowPrivilegeEscalation": true, "capabilities": {"drop": ["NET_RAW"]}}},
                {"name": "b", "image": "gcr.io/distroless/base", "securityContext": {"privileged": true}}
            ]
        }));
        let out = apply(&p, &m.patch(&p, "Pod", "ns")).unwrap();
        assert_eq!(
            out["spec"]["securityContext"]["seccompProfile"]["type"],
            "Unconfined"
        );
        assert_eq!(out["spec"]["securityContext"]["runAsNonRoot"], true);
        let a = &out["spec"]["containers"][0]["securityContext"];
        assert_eq!(a["allowPrivilegeEscalation"], true);
        assert_eq!(a["capabilities"]["drop"], json!(["NET_RAW"]));
        let b = &out["spec"]["containers"][1]["securityContext"];
        assert!(b.get("allowPrivilegeEscalation").is_none());
        assert_eq!(b["capabilities"]["drop"], json!(["ALL"]));
    }

    #[test]
    fn run_as_non_root_only_for_known_images() {
        let m = Mutator {
            non_root_images: vec!["app:1".into()],
            bound_service_accounts: None,
        };
        let both = pod(
            json!({"containers": [{"name": "a", "image": "app:1"}, {"name": "b", "image": "nginx"}]}),
        );
        let out = apply(&both, &m.patch(&both, "Pod", "ns")).unwrap();
        assert!(out["spec"]["securityContext"].get("runAsNonRoot").is_none());
        let mut annotated = both.clone();
        annotated["metadata"]["annotations"] = json!({NON_ROOT_ANNOTATION: "true"});
        let out = apply(&annotated, &m.patch(&annotated, "Pod", "ns")).unwrap();
        assert_eq!(out["spec"]["securityContext"]["runAsNonRoot"], true);
        let root = pod(
            json!({"containers": [{"name": "a", "image": "app:1", "securityContext": {"runAsUser": 0}}]}),
        );
        let out = apply(&root, &m.patch(&root, "Pod", "ns")).unwrap();
        assert!(out["spec"]["securityContext"].get("runAsNonRoot").is_none());
    }

    #[test]
    fn token_automount_follows_rbac_bindings() {
        let bindings = [
            json!({"kind": "RoleBinding", "metadata": {"namespace": "a"}, "subjects": [{"kind": "ServiceAccount", "name": "api"}]}),
            json!({"kind": "ClusterRoleBinding", "metadata": {}, "subjects": [{"kind": "Group", "name": "system:serviceaccounts:b"}]}),
        ];
        let m = Mutator {
            non_root_images: vec![],
            bound_service_accounts: Some(BoundAccounts::from_bindings(bindings.iter())),
        };
        let with_sa = |sa: &str| {
            pod(json!({"serviceAccountName": sa, "containers": [{"name": "c", "image": "x"}]}))
        };
        let has = |p: &Value, ns: &str| {
            m.patch(p, "Pod", ns)
                .iter()
                .any(|o| o["path"] == "/spec/automountServiceAccountToken")
        };
        assert!(!has(&with_sa("api"), "a"));
        assert!(has(&with_sa("other"), "a"));
        assert!(!has(&with_sa("anything"), "b"));
        let explicit = pod(json!({"automountServiceAccountToken": true, "containers": []}));
        assert!(!has(&explicit, "a"));
    }

    #[test]
    fn workload_templates_and_windows() {
        let m = Mutator::default();
        let d = json!({"kind": "Deployment", "spec": {"template": {"spec": {"containers": [{"name": "a", "image": "x", "securityContext": {}}]}}}});
        let ops = m.patch(&d, "Deployment", "ns");
        assert!(
            ops.iter()
                .any(|o| o["path"]
                    == "/spec/template/spec/containers/0/securityContext/capabilities")
        );
        let w =
            pod(json!({"os": {"name": "windows"}, "containers": [{"name": "a", "image": "x"}]}));
        assert!(m.patch(&w, "Pod", "ns").is_empty());
        assert!(
            m.patch(&json!({"kind": "ConfigMap"}), "ConfigMap", "ns")
                .is_empty()
        );
    }
}
