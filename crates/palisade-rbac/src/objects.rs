//! RBAC objects read from an inventory: Roles, ClusterRoles, their bindings, and the
//! ServiceAccounts and pods that use them.

use crate::rule::{PolicyRule, RuleError};
use palisade_model::selector::LabelSelector;
use palisade_model::{
    DiagCode, DiagLevel, Diagnostic, FieldPath, Inventory, Node, Object, ObjectId, Pos,
};
use serde::Serialize;
use std::collections::BTreeMap;

/// The API group of RBAC objects.
pub const RBAC_GROUP: &str = "rbac.authorization.k8s.io";

/// Where an RBAC object comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase", tag = "kind")]
pub enum Origin {
    /// From the scanned manifests.
    Manifest {
        /// Index of the object in the inventory.
        object: ObjectId,
        /// File name.
        file: String,
        /// Line of the object.
        line: u32,
    },
    /// A built-in bootstrap role or binding of the API server.
    Bootstrap,
}

/// Kind of a binding subject.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum SubjectKind {
    /// A user name.
    User,
    /// A group name.
    Group,
    /// A service account (namespace and name).
    ServiceAccount,
}

/// One subject of a binding.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct Subject {
    /// Kind.
    pub kind: SubjectKind,
    /// Name.
    pub name: String,
    /// Namespace as written (ServiceAccount subjects; `None` when omitted).
    pub namespace: Option<String>,
    /// `apiGroup` as written.
    #[serde(rename = "apiGroup")]
    pub api_group: String,
}

/// Kind of a role reference.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum RoleKind {
    /// A namespaced Role.
    Role,
    /// A ClusterRole.
    ClusterRole,
}

/// `roleRef` of a binding.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct RoleRef {
    /// Role or ClusterRole.
    pub kind: RoleKind,
    /// Name of the role.
    pub name: String,
    /// `apiGroup` as written.
    #[serde(rename = "apiGroup")]
    pub api_group: String,
}

/// A Role (namespace set) or ClusterRole (namespace `None`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Role {
    /// Name.
    pub name: String,
    /// Namespace of a Role; `None` for a ClusterRole.
    pub namespace: Option<String>,
    /// Rules as written (for an aggregated ClusterRole, after aggregation).
    pub rules: Vec<PolicyRule>,
    /// `aggregationRule.clusterRoleSelectors` of a ClusterRole, if it has an aggregation rule.
    #[serde(skip)]
    pub aggregation: Option<Vec<LabelSelector>>,
    /// Labels.
    pub labels: BTreeMap<String, String>,
    /// Annotations.
    pub annotations: BTreeMap<String, String>,
    /// Where it comes from.
    pub origin: Origin,
}

/// A RoleBinding (namespace set) or ClusterRoleBinding (namespace `None`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Binding {
    /// Name.
    pub name: String,
    /// Namespace of a RoleBinding; `None` for a ClusterRoleBinding.
    pub namespace: Option<String>,
    /// The role it grants.
    #[serde(rename = "roleRef")]
    pub role_ref: RoleRef,
    /// Who it grants it to.
    pub subjects: Vec<Subject>,
    /// Labels.
    pub labels: BTreeMap<String, String>,
    /// Annotations.
    pub annotations: BTreeMap<String, String>,
    /// Where it comes from.
    pub origin: Origin,
}

/// A ServiceAccount named in the manifests.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServiceAccountInfo {
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// `automountServiceAccountToken` as written.
    pub automount: Option<bool>,
    /// Where it comes from.
    pub origin: Origin,
}

/// A pod or pod template and the service account it runs as.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PodInfo {
    /// Kind of the object holding the pod spec.
    pub kind: String,
    /// Namespace.
    pub namespace: String,
    /// Object name.
    pub name: String,
    /// Service account (`default` when unset).
    pub service_account: String,
    /// Whether the service-account token is mounted (pod setting, else the ServiceAccount's,
    /// else true).
    pub token_mounted: bool,
    /// Where it comes from.
    pub origin: Origin,
}

/// Everything RBAC-related in an inventory (plus, later, the bootstrap policy).
#[derive(Debug, Clone, Default)]
pub struct RbacStore {
    /// ClusterRoles by name.
    pub cluster_roles: BTreeMap<String, Role>,
    /// Roles by (namespace, name).
    pub roles: BTreeMap<(String, String), Role>,
    /// ClusterRoleBindings, in load order.
    pub cluster_role_bindings: Vec<Binding>,
    /// RoleBindings by namespace, in load order.
    pub role_bindings: BTreeMap<String, Vec<Binding>>,
    /// ServiceAccounts by (namespace, name).
    pub service_accounts: BTreeMap<(String, String), ServiceAccountInfo>,
    /// Pods and workload templates.
    pub pods: Vec<PodInfo>,
    /// Namespaces seen (Namespace objects and namespaces of namespaced objects).
    pub namespaces: std::collections::BTreeSet<String>,
}

fn string_map(node: Option<&Node>) -> BTreeMap<String, String> {
    palisade_model::object::string_map(node)
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

struct Reader<'a> {
    inv: &'a Inventory,
    diags: Vec<Diagnostic>,
}

impl Reader<'_> {
    fn error(&mut self, obj: &Object, pos: Pos, field: String, message: String) {
        self.diags.push(Diagnostic {
            level: DiagLevel::Error,
            code: DiagCode::InvalidField,
            file: self.inv.file_of(obj).to_owned(),
            pos: Some(pos),
            field: Some(format!("{} {}", obj.id, field)),
            message,
        });
    }

    fn origin(&self, idx: ObjectId, obj: &Object) -> Origin {
        Origin::Manifest {
            object: idx,
            file: self.inv.file_of(obj).to_owned(),
            line: obj.pos().line,
        }
    }

    fn rules(&mut self, obj: &Object) -> Vec<PolicyRule> {
        let mut out = Vec::new();
        let base = FieldPath::parse("rules");
        if let Some(rules) = obj.node.get("rules") {
            if !rules.is_seq() && !rules.is_null() {
                self.error(
                    obj,
                    rules.pos,
                    "rules".into(),
                    format!("expected a list, got {}", rules.node_type()),
                );
                return out;
            }
            for (i, r) in rules.items().iter().enumerate() {
                match PolicyRule::parse(r, &base.index(i)) {
                    Ok(rule) => out.push(rule),
                    Err(RuleError {
                        pos,
                        field,
                        message,
                    }) => self.error(obj, pos, field, message),
                }
            }
        }
        out
    }
}

impl RbacStore {
    /// Reads the RBAC objects, ServiceAccounts and pods of an inventory. Malformed fields are
    /// returned as diagnostics (with file, line and field) and the rest is still read.
    pub fn from_inventory(inv: &Inventory) -> (RbacStore, Vec<Diagnostic>) {
        let mut store = RbacStore::default();
        let mut rd = Reader {
            inv,
            diags: Vec::new(),
        };
        for (idx, obj) in inv.objects.iter().enumerate() {
            if let Some(ns) = &obj.id.namespace {
                store.namespaces.insert(ns.clone());
            }
            let group = obj.group();
            match (group, obj.id.kind.as_str()) {
                ("", "Namespace") => {
                    store.namespaces.insert(obj.id.name.clone());
                }
                (RBAC_GROUP, "Role" | "ClusterRole") => {
                    let cluster = obj.id.kind == "ClusterRole";
                    let aggregation = if cluster {
                        obj.node.get("aggregationRule").map(|ar| {
                            ar.get("clusterRoleSelectors")
                                .map(Node::items)
                                .unwrap_or(&[])
                                .iter()
                                .enumerate()
                                .filter_map(|(i, sel)| match LabelSelector::parse(sel) {
                                    Ok(s) => Some(s),
                                    Err(e) => {
                                        rd.error(
                                            obj,
                                            sel.pos,
                                            format!("aggregationRule.clusterRoleSelectors[{i}]"),
                                            e.to_string(),
                                        );
                                        None
                                    }
                                })
                                .collect()
                        })
                    } else {
                        None
                    };
                    let role = Role {
                        name: obj.id.name.clone(),
                        namespace: if cluster {
                            None
                        } else {
                            obj.id.namespace.clone()
                        },
                        rules: rd.rules(obj),
                        aggregation,
                        labels: string_map(obj.node.at(&["metadata", "labels"])),
                        annotations: string_map(obj.node.at(&["metadata", "annotations"])),
                        origin: rd.origin(idx, obj),
                    };
                    if cluster {
                        store.cluster_roles.insert(role.name.clone(), role);
                    } else {
                        let ns = role.namespace.clone().unwrap_or_default();
                        store.roles.insert((ns, role.name.clone()), role);
                    }
                }
                (RBAC_GROUP, "RoleBinding" | "ClusterRoleBinding") => {
                    let cluster = obj.id.kind == "ClusterRoleBinding";
                    let Some(rr) = obj.node.get("roleRef").filter(|n| n.is_map()) else {
                        rd.error(obj, obj.pos(), "roleRef".into(), "missing roleRef".into());
                        continue;
                    };
                    let kind = match rr.get("kind").and_then(Node::as_str) {
                        Some("Role") if !cluster => RoleKind::Role,
                        Some("ClusterRole") => RoleKind::ClusterRole,
                        other => {
                            let pos = rr.get("kind").map_or(rr.pos, |n| n.pos);
                            rd.error(
                                obj,
                                pos,
                                "roleRef.kind".into(),
                                format!(
                                    "expected {}, got {:?}",
                                    if cluster {
                                        "ClusterRole"
                                    } else {
                                        "Role or ClusterRole"
                                    },
                                    other.unwrap_or("")
                                ),
                            );
                            continue;
                        }
                    };
                    let role_ref = RoleRef {
                        kind,
                        name: rr
                            .get("name")
                            .and_then(Node::as_str)
                            .unwrap_or("")
                            .to_owned(),
                        api_group: rr
                            .get("apiGroup")
                            .and_then(Node::as_str)
                            .unwrap_or("")
                            .to_owned(),
                    };
                    let mut subjects = Vec::new();
                    for (i, s) in obj
                        .node
                        .get("subjects")
                        .map(Node::items)
                        .unwrap_or(&[])
                        .iter()
                        .enumerate()
                    {
                        let kind = match s.get("kind").and_then(Node::as_str) {
                            Some("User") => SubjectKind::User,
                            Some("Group") => SubjectKind::Group,
                            Some("ServiceAccount") => SubjectKind::ServiceAccount,
                            other => {
                                rd.error(
                                    obj,
                                    s.pos,
                                    format!("subjects[{i}].kind"),
                                    format!(
                                        "expected User, Group or ServiceAccount, got {:?}",
                                        other.unwrap_or("")
                                    ),
                                );
                                continue;
                            }
                        };
                        subjects.push(Subject {
                            kind,
                            name: s
                                .get("name")
                                .and_then(Node::as_str)
                                .unwrap_or("")
                                .to_owned(),
                            namespace: s
                                .get("namespace")
                                .and_then(Node::as_str)
                                .filter(|n| !n.is_empty())
                                .map(str::to_owned),
                            api_group: s
                                .get("apiGroup")
                                .and_then(Node::as_str)
                                .unwrap_or("")
                                .to_owned(),
                        });
                    }
                    let binding = Binding {
                        name: obj.id.name.clone(),
                        namespace: if cluster {
                            None
                        } else {
                            obj.id.namespace.clone()
                        },
                        role_ref,
                        subjects,
                        labels: string_map(obj.node.at(&["metadata", "labels"])),
                        annotations: string_map(obj.node.at(&["metadata", "annotations"])),
                        origin: rd.origin(idx, obj),
                    };
                    match &binding.namespace {
                        None => store.cluster_role_bindings.push(binding),
                        Some(ns) => store
                            .role_bindings
                            .entry(ns.clone())
                            .or_default()
                            .push(binding),
                    }
                }
                ("", "ServiceAccount") => {
                    let ns = obj.id.namespace.clone().unwrap_or_default();
                    store.service_accounts.insert(
                        (ns.clone(), obj.id.name.clone()),
                        ServiceAccountInfo {
                            namespace: ns,
                            name: obj.id.name.clone(),
                            automount: obj
                                .node
                                .get("automountServiceAccountToken")
                                .and_then(Node::as_bool),
                            origin: rd.origin(idx, obj),
                        },
                    );
                }
                _ => {}
            }
        }
        // Pods need the ServiceAccounts, so they come second.
        for (idx, obj) in inv.objects.iter().enumerate() {
            let Some(t) = palisade_model::pod_template(obj) else {
                continue;
            };
            let ns = obj.id.namespace.clone().unwrap_or_default();
            let sa = t
                .spec
                .get("serviceAccountName")
                .and_then(Node::as_str)
                .or_else(|| t.spec.get("serviceAccount").and_then(Node::as_str))
                .filter(|s| !s.is_empty())
                .unwrap_or("default")
                .to_owned();
            let pod_setting = t
                .spec
                .get("automountServiceAccountToken")
                .and_then(Node::as_bool);
            let sa_setting = store
                .service_accounts
                .get(&(ns.clone(), sa.clone()))
                .and_then(|s| s.automount);
            store.pods.push(PodInfo {
                kind: obj.id.kind.clone(),
                namespace: ns,
                name: obj.id.name.clone(),
                service_account: sa,
                token_mounted: pod_setting.or(sa_setting).unwrap_or(true),
                origin: rd.origin(idx, obj),
            });
        }
        (store, rd.diags)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use palisade_model::LoadOptions;

    #[test]
    fn reads_roles_bindings_accounts_and_pods() {
        let mut inv = Inventory::new();
        inv.add_text(
            "rbac.yaml",
            "apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata: {name: r, namespace: a}\nrules:\n- {apiGroups: [''], resources: [pods], verbs: [get]}\n- {verbs: get}\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: agg}\naggregationRule:\n  clusterRoleSelectors:\n  - matchLabels: {x: 'true'}\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata: {name: rb, namespace: a}\nroleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: r}\nsubjects:\n- {kind: ServiceAccount, name: web}\n- {kind: Robot, name: x}\n---\napiVersion: v1\nkind: ServiceAccount\nmetadata: {name: web, namespace: a}\nautomountServiceAccountToken: false\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: a}\nspec: {serviceAccountName: web, containers: [{name: c}]}\n",
            &LoadOptions::default(),
        );
        let (store, diags) = RbacStore::from_inventory(&inv);
        assert_eq!(
            store.roles[&("a".to_string(), "r".to_string())].rules.len(),
            1
        );
        assert_eq!(diags.len(), 2, "{diags:#?}");
        assert!(
            diags[0]
                .field
                .as_deref()
                .unwrap()
                .ends_with("rules[1].verbs")
        );
        assert_eq!(diags[0].pos.unwrap().line, 6);
        assert!(
            diags[1]
                .field
                .as_deref()
                .unwrap()
                .ends_with("subjects[1].kind")
        );
        assert_eq!(
            store.cluster_roles["agg"]
                .aggregation
                .as_ref()
                .unwrap()
                .len(),
            1
        );
        let rb = &store.role_bindings["a"][0];
        assert_eq!(rb.subjects.len(), 1);
        assert_eq!(rb.subjects[0].namespace, None);
        assert_eq!(store.pods[0].service_account, "web");
        assert!(!store.pods[0].token_mounted);
    }
}
