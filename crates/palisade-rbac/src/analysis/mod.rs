//! Escalation and risk analysis: the [`catalog`] of risky grants evaluated for every subject
//! with the exact matcher, and the escalation [`paths`] from every subject and every pod (through
//! the token it mounts) to cluster-admin rights or to reading Secrets, as text, JSON or DOT
//! ([`dot`]).
//!
//! [`checks`] and [`findings`] plug the analysis into `palisade scan`: findings are
//! `rbac/<risk>`, located at the binding subject that grants the risk (`subjects[0]`), at the
//! role rule for wildcards (`rules[2].verbs`), and at the pod spec for paths from pods.
//!
//! ```
//! use palisade_model::{Inventory, LoadOptions};
//! let mut inv = Inventory::new();
//! inv.add_text("rbac.yaml", "apiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata: {name: r, namespace: app}\nroleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: reader}\nsubjects:\n- {kind: ServiceAccount, name: web}\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: reader}\nrules:\n- {apiGroups: [''], resources: [secrets], verbs: [list]}\n", &LoadOptions::default());
//! let f = palisade_rbac::analysis::findings(&inv);
//! assert_eq!(f[0].check.as_str(), "rbac/secrets-read");
//! assert_eq!(f[0].location.field_path, "subjects[0]");
//! ```

pub mod catalog;
pub mod dot;
pub mod held;
pub mod paths;

pub use catalog::{CATALOG, Hit, Risk};
pub use held::{Held, Holdings, Principal};
pub use paths::{Graph, Node, Path, SourcePaths, TokenSecret};

use crate::objects::{Binding, Origin, RbacStore, Role, Subject, SubjectKind};
use crate::rule::PolicyRule;
use palisade_model::{CheckMeta, FieldPath, Finding, Inventory, Location, Node as YNode};
use serde::Serialize;
use std::collections::HashMap;

/// Annotation naming the service account of a legacy token Secret.
const SA_NAME_ANNOTATION: &str = "kubernetes.io/service-account.name";

/// The risks found for one principal.
#[derive(Debug, Clone)]
pub struct SubjectRisks<'a> {
    /// Who.
    pub principal: Principal,
    /// Its own risks (see [`Hit::reported`]) granted by the manifests.
    pub hits: Vec<Hit<'a>>,
}

/// The result of an analysis.
#[derive(Debug)]
pub struct Analysis<'a> {
    /// The store analysed.
    pub store: &'a RbacStore,
    /// Risks per principal (principals without risks are left out), sorted by principal.
    pub subjects: Vec<SubjectRisks<'a>>,
    /// The escalation graph.
    pub graph: Graph,
    /// Shortest paths per source (pods first).
    pub paths: Vec<SourcePaths>,
}

fn from_manifest(origin: &Origin) -> bool {
    matches!(origin, Origin::Manifest { .. })
}

/// Analyses a store (after bootstrap roles and aggregation, if wanted). `tokens` are the legacy
/// token Secrets of the manifests ([`token_secrets`]).
pub fn analyze<'a>(store: &'a RbacStore, tokens: &[TokenSecret]) -> Analysis<'a> {
    let holdings = Holdings::new(store);
    let mut builder = paths::Builder::new(store, tokens);
    let mut subjects = Vec::new();
    let mut sources = Vec::new();
    for p in holdings.principals() {
        let held = holdings.held(&p);
        let hits = catalog::evaluate(&p, &held);
        builder.add(&p, &hits);
        let own: Vec<Hit<'a>> = catalog::subsume(hits)
            .into_iter()
            .filter(|h| {
                h.reported
                    && h.grants
                        .iter()
                        .any(|g| g.direct && from_manifest(&g.binding.origin))
            })
            .collect();
        let bound_here = held
            .iter()
            .any(|h| h.direct && from_manifest(&h.binding.origin));
        let declared = matches!(&p, Principal::ServiceAccount { namespace, name }
            if store.service_accounts.contains_key(&(namespace.clone(), name.clone())));
        if bound_here || declared {
            sources.push(p.clone());
        }
        if !own.is_empty() {
            subjects.push(SubjectRisks {
                principal: p,
                hits: own,
            });
        }
    }
    let graph = builder.finish();
    let paths = paths::shortest_paths(&graph, &sources);
    Analysis {
        store,
        subjects,
        graph,
        paths,
    }
}

/// The legacy service account token Secrets (`type: kubernetes.io/service-account-token` with
/// the `kubernetes.io/service-account.name` annotation) of an inventory.
pub fn token_secrets(inv: &Inventory) -> Vec<TokenSecret> {
    let mut out: Vec<TokenSecret> = inv
        .objects
        .iter()
        .filter(|o| o.group().is_empty() && o.id.kind == "Secret")
        .filter(|o| {
            o.node.get("type").and_then(YNode::as_str)
                == Some("kubernetes.io/service-account-token")
        })
        .filter_map(|o| {
            Some(TokenSecret {
                namespace: o.id.namespace.clone().unwrap_or_default(),
                name: o.id.name.clone(),
                service_account: o.annotation(SA_NAME_ANNOTATION)?.to_owned(),
            })
        })
        .collect();
    out.sort();
    out
}

/// Every `rbac/<risk>` check.
pub fn checks() -> Vec<CheckMeta> {
    CATALOG.iter().map(|r| r.meta()).collect()
}

/// Reads the RBAC objects of an inventory with the bootstrap policy of a real cluster (when
/// `with_defaults`) and aggregated ClusterRoles computed.
pub fn load(inv: &Inventory, with_defaults: bool) -> (RbacStore, Vec<palisade_model::Diagnostic>) {
    let (mut store, diags) = RbacStore::from_inventory(inv);
    if with_defaults {
        store.add_bootstrap();
    }
    store.aggregate();
    (store, diags)
}

/// The `rbac/<risk>` findings of an inventory, as `palisade scan` reports them (bootstrap
/// roles included, so bindings to `edit` or `cluster-admin` are understood). Only grants made
/// by the manifests are reported. Not filtered by any configuration.
pub fn findings(inv: &Inventory) -> Vec<Finding> {
    let (store, _) = load(inv, true);
    let analysis = analyze(&store, &token_secrets(inv));
    to_findings(inv, &analysis)
}

/// Where a binding subject is in its manifest: object index and field path.
pub fn subject_location(inv: &Inventory, b: &Binding, s: &Subject) -> Option<(usize, FieldPath)> {
    let Origin::Manifest { object, .. } = b.origin else {
        return None;
    };
    let obj = inv.objects.get(object)?;
    let kind = match s.kind {
        SubjectKind::User => "User",
        SubjectKind::Group => "Group",
        SubjectKind::ServiceAccount => "ServiceAccount",
    };
    let i = obj
        .node
        .get("subjects")
        .map(YNode::items)
        .unwrap_or(&[])
        .iter()
        .position(|n| {
            n.get("kind").and_then(YNode::as_str) == Some(kind)
                && n.get("name").and_then(YNode::as_str).unwrap_or("") == s.name
                && n.get("namespace")
                    .and_then(YNode::as_str)
                    .filter(|x| !x.is_empty())
                    == s.namespace.as_deref()
        })?;
    Some((object, FieldPath::parse("subjects").index(i)))
}

/// Where a role rule is in its manifest: object index and field path (`None` for bootstrap
/// roles and rules that came from aggregation).
pub fn rule_location(
    inv: &Inventory,
    role: &Role,
    rule: &PolicyRule,
) -> Option<(usize, FieldPath)> {
    let Origin::Manifest { object, .. } = role.origin else {
        return None;
    };
    let obj = inv.objects.get(object)?;
    let base = FieldPath::parse("rules");
    let i = obj
        .node
        .get("rules")
        .map(YNode::items)
        .unwrap_or(&[])
        .iter()
        .enumerate()
        .position(|(i, n)| PolicyRule::parse(n, &base.index(i)).is_ok_and(|r| &r == rule))?;
    Some((object, base.index(i)))
}

fn at(inv: &Inventory, loc: Option<(usize, FieldPath)>) -> Option<String> {
    let (object, path) = loc?;
    let obj = inv.objects.get(object)?;
    let l = Location::of(inv, obj, &path);
    Some(format!("{}:{}", l.file, l.line))
}

/// A grant as reported: binding -> role -> rule, with positions.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GrantInfo {
    /// `RoleBinding ns/name` or `ClusterRoleBinding name`.
    pub binding: String,
    /// The subject of the binding (`ServiceAccount ns/name`, `Group g`).
    pub subject: String,
    /// `Role ns/name` or `ClusterRole name`.
    pub role: String,
    /// Index of the rule in the role (after aggregation).
    pub rule_index: usize,
    /// The rule.
    pub rule: PolicyRule,
    /// `file:line` of the binding subject, when from the manifests.
    pub binding_at: Option<String>,
    /// `file:line` of the role rule, when from the manifests.
    pub rule_at: Option<String>,
}

impl GrantInfo {
    /// Describes a held rule.
    pub fn of(inv: Option<&Inventory>, h: &Held<'_>) -> GrantInfo {
        let s = h.subject();
        let subject = match (s.kind, &s.namespace) {
            (SubjectKind::ServiceAccount, Some(ns)) => format!("ServiceAccount {ns}/{}", s.name),
            (SubjectKind::ServiceAccount, None) => format!("ServiceAccount {}", s.name),
            (SubjectKind::User, _) => format!("User {}", s.name),
            (SubjectKind::Group, _) => format!("Group {}", s.name),
        };
        let role = match &h.role.namespace {
            Some(ns) => format!("Role {ns}/{}", h.role.name),
            None => format!("ClusterRole {}", h.role.name),
        };
        let binding = match &h.binding.namespace {
            Some(ns) => format!("RoleBinding {ns}/{}", h.binding.name),
            None => format!("ClusterRoleBinding {}", h.binding.name),
        };
        let (binding_at, rule_at) = match inv {
            Some(inv) => (
                at(inv, subject_location(inv, h.binding, s)),
                at(inv, rule_location(inv, h.role, h.rule)),
            ),
            None => (None, None),
        };
        GrantInfo {
            binding,
            subject,
            role,
            rule_index: h.rule_index,
            rule: h.rule.clone(),
            binding_at,
            rule_at,
        }
    }

    /// `RoleBinding a/b subjects (file:line) -> Role a/r rules[2] (file:line)`.
    pub fn chain(&self) -> String {
        let mut s = self.binding.clone();
        if let Some(a) = &self.binding_at {
            s.push_str(&format!(" ({a})"));
        }
        s.push_str(&format!(" -> {} rules[{}]", self.role, self.rule_index));
        if let Some(a) = &self.rule_at {
            s.push_str(&format!(" ({a})"));
        }
        s
    }
}

/// Where a hit applies, in words.
pub fn scope_text(hit: &Hit<'_>) -> String {
    match &hit.namespace {
        Some(ns) => format!("in namespace {ns}"),
        None => "cluster-wide".into(),
    }
}

/// One line describing a hit: who can do what, where, and through which grant.
pub fn hit_message(inv: Option<&Inventory>, p: &Principal, hit: &Hit<'_>) -> String {
    let mut m = match hit.risk.test {
        catalog::Test::Wildcard => format!("{p} holds a rule with {}", hit.asks.join(", ")),
        catalog::Test::PublicBinding => {
            format!("{p} (everyone in it) is bound to {}", hit.asks.join(", "))
        }
        _ => format!("{p} can {}", catalog::asks_text(&hit.asks)),
    };
    m.push(' ');
    m.push_str(&scope_text(hit));
    if !hit.names.is_empty() {
        m.push_str(&format!(" (only {})", hit.names.join(", ")));
    }
    if let Some(g) = hit.grants.first() {
        m.push_str(": ");
        m.push_str(&GrantInfo::of(inv, g).chain());
    }
    m
}

/// The findings of an analysis: one per (principal, risk, scope) located at the binding subject
/// (the role rule for wildcards), and one per pod or principal with an escalation path of more
/// than one grant, located at the pod spec or the first grant's binding subject.
pub fn to_findings(inv: &Inventory, a: &Analysis<'_>) -> Vec<Finding> {
    let mut out = Vec::new();
    let mut push = |object: usize, path: &FieldPath, risk: &Risk, severity, message: String| {
        if let Some(obj) = inv.objects.get(object) {
            out.push(Finding {
                check: risk.id.clone(),
                severity,
                message,
                object: obj.id.clone(),
                container: None,
                location: Location::of(inv, obj, path),
                suppressed: None,
            });
        }
    };
    for s in &a.subjects {
        for hit in &s.hits {
            let Some(g) = hit
                .grants
                .iter()
                .find(|g| g.direct && from_manifest(&g.binding.origin))
            else {
                continue;
            };
            let mut loc = None;
            if matches!(hit.risk.test, catalog::Test::Wildcard)
                && let Some((object, path)) = rule_location(inv, g.role, g.rule)
                && let Some((field, i)) = catalog::wildcard_field(g.rule)
            {
                loc = Some((object, path.key(field).index(i)));
            }
            let loc = loc.or_else(|| subject_location(inv, g.binding, g.subject()));
            if let Some((object, path)) = loc {
                push(
                    object,
                    &path,
                    hit.risk,
                    hit.severity,
                    hit_message(Some(inv), &s.principal, hit),
                );
            }
        }
    }
    let pods = pod_index(inv);
    let bindings = binding_index(a.store);
    for sp in &a.paths {
        let (risk, path) = match (&sp.cluster_admin, &sp.secrets) {
            (Some(p), _) => (&catalog::PATH_TO_CLUSTER_ADMIN, p),
            (None, Some(p)) => (&catalog::PATH_TO_SECRETS, p),
            (None, None) => continue,
        };
        match &sp.source {
            Node::Pod {
                namespace,
                name,
                kind,
                ..
            } => {
                let Some(&pod) = pods.get(&(kind.as_str(), namespace.as_str(), name.as_str()))
                else {
                    continue;
                };
                let Some(t) = palisade_model::pod_template(&inv.objects[pod]) else {
                    continue;
                };
                let field = if t.spec.get("serviceAccountName").is_some() {
                    t.spec_path.key("serviceAccountName")
                } else {
                    t.spec_path.clone()
                };
                push(
                    pod,
                    &field,
                    risk,
                    risk.severity,
                    match (&sp.cluster_admin, &sp.secrets) {
                        (Some(_), Some(s)) => format!(
                            "the service account token this pod mounts leads to {}: {path}; and to {}: {s}",
                            path.target(),
                            s.target()
                        ),
                        _ => format!(
                            "the service account token this pod mounts leads to {}: {path}",
                            path.target()
                        ),
                    },
                );
            }
            Node::Principal { .. } => {
                // A single grant is already a finding of its own.
                if path.grants() < 2 {
                    continue;
                }
                let Some(v) = path.steps.iter().find_map(|s| s.via.as_ref()) else {
                    continue;
                };
                let (Some(object), Some(subject)) = (v.object, &v.subject) else {
                    continue;
                };
                let Some(&b) = bindings.get(&object) else {
                    continue;
                };
                if let Some((object, field)) = subject_location(inv, b, subject) {
                    push(
                        object,
                        &field,
                        risk,
                        risk.severity,
                        format!("escalation path: {path}"),
                    );
                }
            }
            _ => {}
        }
    }
    out
}

/// Pods and workloads of the inventory by (kind, namespace, name).
fn pod_index(inv: &Inventory) -> HashMap<(&str, &str, &str), usize> {
    let mut out = HashMap::new();
    for (i, o) in inv.objects.iter().enumerate() {
        if palisade_model::pod_template(o).is_some() {
            out.entry((
                o.id.kind.as_str(),
                o.id.namespace.as_deref().unwrap_or(""),
                o.id.name.as_str(),
            ))
            .or_insert(i);
        }
    }
    out
}

/// Bindings of the manifests by object index.
fn binding_index(store: &RbacStore) -> HashMap<usize, &Binding> {
    store
        .cluster_role_bindings
        .iter()
        .chain(store.role_bindings.values().flatten())
        .filter_map(|b| match b.origin {
            Origin::Manifest { object, .. } => Some((object, b)),
            Origin::Bootstrap => None,
        })
        .collect()
}
