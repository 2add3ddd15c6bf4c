//! What `kubectl auth reconcile` would do to a cluster: the operation per desired RBAC object,
//! the missing and extra rules and subjects, the objects that opted out of reconciliation, the
//! namespaces that would be created, and the objects as they would be afterwards.
//!
//! The semantics are those of `k8s.io/component-helpers/auth/rbac/reconciliation` as driven by
//! `kubectl auth reconcile` (without `--dry-run`):
//!
//! * Only `rbac.authorization.k8s.io/v1` Role, ClusterRole, RoleBinding and ClusterRoleBinding
//!   objects are reconciled, in input order; other kinds are skipped, older RBAC versions are an
//!   error.
//! * An object missing from the cluster is **created** (all its rules or subjects are
//!   "missing"); creating a namespaced object first creates its namespace if needed.
//! * A Role or ClusterRole that exists is **updated** when rules are missing (compared with
//!   [`covers`], atom by atom, so `*` covers `get pods`), when labels or annotations of the
//!   desired object are not all present (existing values win), or when aggregation selectors
//!   differ; missing rules are appended as atoms, or with `--remove-extra-permissions` the rules
//!   are replaced by the desired ones when anything is missing or extra. Extra rules are not
//!   computed when both the desired and the existing role aggregate.
//! * A binding whose `roleRef` differs is **recreated** (roleRef is immutable): deleted and
//!   created as desired. Otherwise missing subjects are appended (or, with
//!   `--remove-extra-subjects`, the subjects are replaced when any is missing or extra).
//! * An existing object annotated `rbac.authorization.kubernetes.io/autoupdate: "false"` is
//!   **protected**: the operation is computed and reported but nothing is written.
//! * Each write changes the state the next object is compared with, as a real run would.
//!
//! The cluster keeps objects as the API server stores them: a binding's empty `roleRef.apiGroup`
//! and a User or Group subject's empty `apiGroup` default to `rbac.authorization.k8s.io`, and
//! empty label or annotation maps are dropped. kubectl sends desired objects as written, so a
//! desired subject without `apiGroup` never equals the stored one (a warning says so).

use crate::compare::covers;
use crate::objects::{
    Binding, Origin, RBAC_GROUP, RbacStore, Role, RoleKind, RoleRef, Subject, SubjectKind,
};
use crate::rule::PolicyRule;
use palisade_model::{Inventory, Node, ObjectId};
use serde::Serialize;
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// The annotation that opts an existing object out of reconciliation (value `"false"`).
pub const AUTOUPDATE_ANNOTATION: &str = "rbac.authorization.kubernetes.io/autoupdate";

/// Namespaces every cluster has, assumed to exist in the current state.
pub const BUILTIN_NAMESPACES: &[&str] =
    &["default", "kube-node-lease", "kube-public", "kube-system"];

/// The RBAC kinds that are reconciled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum ObjectKind {
    /// A namespaced Role.
    Role,
    /// A ClusterRole.
    ClusterRole,
    /// A namespaced RoleBinding.
    RoleBinding,
    /// A ClusterRoleBinding.
    ClusterRoleBinding,
}

impl ObjectKind {
    /// The kind as written in manifests.
    pub fn as_str(self) -> &'static str {
        match self {
            ObjectKind::Role => "Role",
            ObjectKind::ClusterRole => "ClusterRole",
            ObjectKind::RoleBinding => "RoleBinding",
            ObjectKind::ClusterRoleBinding => "ClusterRoleBinding",
        }
    }

    /// Parses a manifest kind.
    pub fn parse(kind: &str) -> Option<ObjectKind> {
        Some(match kind {
            "Role" => ObjectKind::Role,
            "ClusterRole" => ObjectKind::ClusterRole,
            "RoleBinding" => ObjectKind::RoleBinding,
            "ClusterRoleBinding" => ObjectKind::ClusterRoleBinding,
            _ => return None,
        })
    }

    /// Whether objects of this kind live in a namespace.
    pub fn namespaced(self) -> bool {
        matches!(self, ObjectKind::Role | ObjectKind::RoleBinding)
    }

    /// Whether this is a binding kind.
    pub fn is_binding(self) -> bool {
        matches!(
            self,
            ObjectKind::RoleBinding | ObjectKind::ClusterRoleBinding
        )
    }

    /// The kind as kubectl's name printer writes it: `role.rbac.authorization.k8s.io`.
    pub fn qualified(self) -> String {
        format!("{}.{RBAC_GROUP}", self.as_str().to_ascii_lowercase())
    }
}

/// Identity of an RBAC object.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct ObjectKey {
    /// Kind.
    pub kind: ObjectKind,
    /// Namespace (`None` for cluster-scoped kinds).
    pub namespace: Option<String>,
    /// Name.
    pub name: String,
}

impl std::fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.namespace {
            Some(ns) => write!(f, "{}/{}/{}", self.kind.as_str(), ns, self.name),
            None => write!(f, "{}/{}", self.kind.as_str(), self.name),
        }
    }
}

/// The operation reconcile performs on one object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Operation {
    /// The object does not exist and is created.
    Create,
    /// The object exists and is updated.
    Update,
    /// The binding's roleRef changed: it is deleted and created again.
    Recreate,
    /// Nothing to do.
    None,
}

impl Operation {
    /// The operation as kubectl names it.
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Create => "create",
            Operation::Update => "update",
            Operation::Recreate => "recreate",
            Operation::None => "none",
        }
    }
}

/// Flags of `kubectl auth reconcile`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Options {
    /// `--remove-extra-permissions`: replace the rules of roles that have extra ones.
    pub remove_extra_permissions: bool,
    /// `--remove-extra-subjects`: replace the subjects of bindings that have extra ones.
    pub remove_extra_subjects: bool,
}

type StringMap = Option<BTreeMap<String, String>>;

/// The parts of a role reconcile looks at, plus the whole object for output.
#[derive(Debug, Clone, PartialEq)]
struct RoleObj {
    labels: StringMap,
    annotations: StringMap,
    rules: Vec<PolicyRule>,
    /// `aggregationRule.clusterRoleSelectors` when the role has an `aggregationRule`.
    aggregation: Option<Vec<Value>>,
    base: Value,
}

/// The parts of a binding reconcile looks at, plus the whole object for output.
#[derive(Debug, Clone, PartialEq)]
struct BindingObj {
    labels: StringMap,
    annotations: StringMap,
    role_ref: RoleRef,
    subjects: Vec<Subject>,
    base: Value,
}

#[derive(Debug, Clone, PartialEq)]
enum Obj {
    Role(RoleObj),
    Binding(BindingObj),
}

impl Obj {
    /// What the API server would store: defaulted apiGroups, no empty maps.
    fn stored(mut self) -> Obj {
        let drop_empty = |m: &mut StringMap| {
            if m.as_ref().is_some_and(BTreeMap::is_empty) {
                *m = None;
            }
        };
        match &mut self {
            Obj::Role(r) => {
                drop_empty(&mut r.labels);
                drop_empty(&mut r.annotations);
            }
            Obj::Binding(b) => {
                drop_empty(&mut b.labels);
                drop_empty(&mut b.annotations);
                if b.role_ref.api_group.is_empty() {
                    b.role_ref.api_group = RBAC_GROUP.into();
                }
                for s in &mut b.subjects {
                    if s.api_group.is_empty() && s.kind != SubjectKind::ServiceAccount {
                        s.api_group = RBAC_GROUP.into();
                    }
                }
            }
        }
        self
    }
}

/// The cluster reconcile runs against: RBAC objects as stored, and the existing namespaces.
#[derive(Debug, Clone, Default)]
pub struct ClusterState {
    objects: BTreeMap<ObjectKey, Obj>,
    namespaces: BTreeSet<String>,
}

fn node_map(node: Option<&Node>, values: &BTreeMap<String, String>) -> StringMap {
    node.filter(|n| n.is_map()).map(|_| values.clone())
}

fn raw_node<'a>(inv: Option<&'a Inventory>, origin: &Origin) -> Option<&'a Node> {
    match origin {
        Origin::Manifest { object, .. } => inv?.objects.get(*object).map(|o| &o.node),
        Origin::Bootstrap => None,
    }
}

fn aggregation_of(node: Option<&Node>, role: &Role) -> Option<Vec<Value>> {
    match node {
        Some(n) => n.get("aggregationRule").filter(|a| !a.is_null()).map(|a| {
            a.get("clusterRoleSelectors")
                .map(Node::items)
                .unwrap_or(&[])
                .iter()
                .map(Node::to_json)
                .collect()
        }),
        None => role
            .aggregation
            .as_ref()
            .map(|sels| sels.iter().map(selector_json).collect()),
    }
}

/// A parsed selector back as JSON (for bootstrap roles, which have no manifest).
fn selector_json(s: &palisade_model::selector::LabelSelector) -> Value {
    let mut m = Map::new();
    if !s.match_labels.is_empty() {
        let labels: Map<String, Value> = s
            .match_labels
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect();
        m.insert("matchLabels".into(), Value::Object(labels));
    }
    if !s.match_expressions.is_empty() {
        let exprs: Vec<Value> = s
            .match_expressions
            .iter()
            .map(|r| {
                let mut e = Map::new();
                e.insert("key".into(), json!(r.key));
                e.insert("operator".into(), json!(r.operator.to_string()));
                if !r.values.is_empty() {
                    e.insert("values".into(), json!(r.values));
                }
                Value::Object(e)
            })
            .collect();
        m.insert("matchExpressions".into(), Value::Array(exprs));
    }
    Value::Object(m)
}

fn role_obj(role: &Role, node: Option<&Node>) -> RoleObj {
    let meta = |k: &str| node.and_then(|n| n.at(&["metadata", k]));
    let (labels, annotations) = match node {
        Some(_) => (
            node_map(meta("labels"), &role.labels),
            node_map(meta("annotations"), &role.annotations),
        ),
        None => (Some(role.labels.clone()), Some(role.annotations.clone())),
    };
    let kind = if role.namespace.is_some() {
        ObjectKind::Role
    } else {
        ObjectKind::ClusterRole
    };
    RoleObj {
        labels,
        annotations,
        rules: role.rules.clone(),
        aggregation: if kind == ObjectKind::Role {
            None
        } else {
            aggregation_of(node, role)
        },
        base: base_json(node, kind, role.namespace.as_deref(), &role.name),
    }
}

fn binding_obj(b: &Binding, node: Option<&Node>) -> BindingObj {
    let meta = |k: &str| node.and_then(|n| n.at(&["metadata", k]));
    let (labels, annotations) = match node {
        Some(_) => (
            node_map(meta("labels"), &b.labels),
            node_map(meta("annotations"), &b.annotations),
        ),
        None => (Some(b.labels.clone()), Some(b.annotations.clone())),
    };
    let kind = if b.namespace.is_some() {
        ObjectKind::RoleBinding
    } else {
        ObjectKind::ClusterRoleBinding
    };
    BindingObj {
        labels,
        annotations,
        role_ref: b.role_ref.clone(),
        subjects: b.subjects.clone(),
        base: base_json(node, kind, b.namespace.as_deref(), &b.name),
    }
}

/// The object as JSON, with `apiVersion`, `kind`, `metadata.name` and the effective
/// `metadata.namespace` set.
fn base_json(node: Option<&Node>, kind: ObjectKind, ns: Option<&str>, name: &str) -> Value {
    let mut v = match node.map(Node::to_json) {
        Some(Value::Object(m)) => Value::Object(m),
        _ => json!({}),
    };
    let m = v.as_object_mut().expect("object");
    m.insert(
        "apiVersion".into(),
        Value::String(format!("{RBAC_GROUP}/v1")),
    );
    m.insert("kind".into(), Value::String(kind.as_str().into()));
    let meta = m.entry("metadata").or_insert_with(|| json!({}));
    if !meta.is_object() {
        *meta = json!({});
    }
    let meta = meta.as_object_mut().expect("object");
    meta.insert("name".into(), Value::String(name.into()));
    match ns {
        Some(ns) => {
            meta.insert("namespace".into(), Value::String(ns.into()));
        }
        None => {
            meta.shift_remove("namespace");
        }
    }
    v
}

impl ClusterState {
    /// An empty cluster with only the built-in namespaces.
    pub fn new() -> ClusterState {
        ClusterState {
            objects: BTreeMap::new(),
            namespaces: BUILTIN_NAMESPACES.iter().map(|s| s.to_string()).collect(),
        }
    }

    /// The cluster holding the roles and bindings of `store` (read from `inv`, which supplies
    /// the whole objects for output; bootstrap objects are rebuilt from the store), as the API
    /// server would store them. Its namespaces are the built-in ones, the store's Namespace
    /// objects and the namespaces of its namespaced objects.
    pub fn from_store(store: &RbacStore, inv: Option<&Inventory>) -> ClusterState {
        let mut state = ClusterState::new();
        state.namespaces.extend(store.namespaces.iter().cloned());
        let roles = store.cluster_roles.values().chain(store.roles.values());
        for role in roles {
            let obj = role_obj(role, raw_node(inv, &role.origin));
            state.insert(role_key(role), Obj::Role(obj));
        }
        let bindings = store
            .cluster_role_bindings
            .iter()
            .chain(store.role_bindings.values().flatten());
        for b in bindings {
            let obj = binding_obj(b, raw_node(inv, &b.origin));
            state.insert(binding_key(b), Obj::Binding(obj));
        }
        state
    }

    fn insert(&mut self, key: ObjectKey, obj: Obj) {
        if let Some(ns) = &key.namespace {
            self.namespaces.insert(ns.clone());
        }
        self.objects.insert(key, obj.stored());
    }

    /// Whether the object exists.
    pub fn contains(&self, key: &ObjectKey) -> bool {
        self.objects.contains_key(key)
    }

    /// The existing namespaces.
    pub fn namespaces(&self) -> &BTreeSet<String> {
        &self.namespaces
    }

    /// Number of RBAC objects.
    pub fn len(&self) -> usize {
        self.objects.len()
    }

    /// Whether there is no RBAC object.
    pub fn is_empty(&self) -> bool {
        self.objects.is_empty()
    }
}

fn role_key(role: &Role) -> ObjectKey {
    ObjectKey {
        kind: if role.namespace.is_some() {
            ObjectKind::Role
        } else {
            ObjectKind::ClusterRole
        },
        namespace: role.namespace.clone(),
        name: role.name.clone(),
    }
}

fn binding_key(b: &Binding) -> ObjectKey {
    ObjectKey {
        kind: if b.namespace.is_some() {
            ObjectKind::RoleBinding
        } else {
            ObjectKind::ClusterRoleBinding
        },
        namespace: b.namespace.clone(),
        name: b.name.clone(),
    }
}

/// A desired object that was not reconciled.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Skipped {
    /// `apiVersion`.
    #[serde(rename = "apiVersion")]
    pub api_version: String,
    /// `kind`.
    pub kind: String,
    /// Namespace, if any.
    pub namespace: Option<String>,
    /// Name.
    pub name: String,
    /// File.
    pub file: String,
    /// Line.
    pub line: u32,
    /// Why it was skipped.
    pub reason: String,
}

/// What reconcile does to one desired object.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectPlan {
    /// Which object.
    #[serde(flatten)]
    pub key: ObjectKey,
    /// File of the desired object.
    pub file: String,
    /// Line of the desired object.
    pub line: u32,
    /// The operation.
    pub operation: Operation,
    /// The existing object opted out (`rbac.authorization.kubernetes.io/autoupdate: "false"`):
    /// the operation is reported but not performed.
    pub protected: bool,
    /// Desired rules the existing role lacks (all desired rules on create; atoms otherwise).
    pub missing_rules: Vec<PolicyRule>,
    /// Atoms of the existing role the desired role lacks.
    pub extra_rules: Vec<PolicyRule>,
    /// Desired aggregation selectors the existing ClusterRole lacks.
    pub missing_aggregation_selectors: Vec<Value>,
    /// Aggregation selectors of the existing ClusterRole the desired one lacks.
    pub extra_aggregation_selectors: Vec<Value>,
    /// Desired subjects the existing binding lacks (all of them on create).
    pub missing_subjects: Vec<Subject>,
    /// Subjects of the existing binding the desired one lacks.
    pub extra_subjects: Vec<Subject>,
    /// Label keys the update adds.
    pub labels_added: Vec<String>,
    /// Annotation keys the update adds.
    pub annotations_added: Vec<String>,
    /// On recreate: the roleRef of the existing binding.
    pub previous_role_ref: Option<RoleRef>,
    /// The namespace this object's creation creates, if it did not exist.
    pub creates_namespace: Option<String>,
    /// The object as it is after reconcile (a protected object unchanged; kubectl prints the
    /// object it would have written instead).
    pub object: Value,
}

impl ObjectPlan {
    /// Whether reconcile writes anything for this object.
    pub fn changes(&self) -> bool {
        self.operation != Operation::None && !self.protected
    }
}

/// Everything reconcile would do.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Plan {
    /// The flags.
    pub options: Options,
    /// The desired RBAC objects in input order.
    pub objects: Vec<ObjectPlan>,
    /// Namespaces that would be created, in order.
    pub namespaces_created: Vec<String>,
    /// Desired objects that are not reconciled (other kinds, unreadable objects).
    pub skipped: Vec<Skipped>,
    /// Things worth knowing (desired values the API server would default differently).
    pub warnings: Vec<String>,
}

impl Plan {
    /// Whether reconcile writes anything (creates, updates, recreates an object that is not
    /// protected).
    pub fn changes(&self) -> bool {
        self.objects.iter().any(ObjectPlan::changes)
    }

    /// How many objects get each operation (protected ones included).
    pub fn count(&self, op: Operation) -> usize {
        self.objects.iter().filter(|o| o.operation == op).count()
    }
}

/// Desired input reconcile cannot handle.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReconcileError {
    /// An RBAC object of another version than `v1` (kubectl: "only rbac.authorization.k8s.io/v1
    /// is supported").
    #[error("{file}:{line}: {kind} {name}: only {RBAC_GROUP}/v1 is supported, not {api_version}")]
    UnsupportedVersion {
        /// File.
        file: String,
        /// Line.
        line: u32,
        /// Kind.
        kind: String,
        /// Name.
        name: String,
        /// The `apiVersion` written.
        api_version: String,
    },
}

/// Go's `%v` of a string slice: `[a b]` (an empty string leaves an empty gap).
fn go_slice(items: &[String]) -> String {
    format!("[{}]", items.join(" "))
}

/// Go's `%+v` of an `rbacv1.PolicyRule`, as kubectl prints missing and extra rules.
pub fn go_rule(r: &PolicyRule) -> String {
    format!(
        "{{Verbs:{} APIGroups:{} Resources:{} ResourceNames:{} NonResourceURLs:{}}}",
        go_slice(&r.verbs),
        go_slice(&r.api_groups),
        go_slice(&r.resources),
        go_slice(&r.resource_names),
        go_slice(&r.non_resource_urls)
    )
}

fn subject_kind(k: SubjectKind) -> &'static str {
    match k {
        SubjectKind::User => "User",
        SubjectKind::Group => "Group",
        SubjectKind::ServiceAccount => "ServiceAccount",
    }
}

/// Go's `%+v` of an `rbacv1.Subject`, as kubectl prints missing and extra subjects.
pub fn go_subject(s: &Subject) -> String {
    format!(
        "{{Kind:{} APIGroup:{} Name:{} Namespace:{}}}",
        subject_kind(s.kind),
        s.api_group,
        s.name,
        s.namespace.as_deref().unwrap_or("")
    )
}

impl ObjectPlan {
    /// The lines `kubectl auth reconcile` prints for this object: the name line
    /// (`role.rbac.authorization.k8s.io/x reconciled`, on standard output) and, when something
    /// is to be done, the tab-indented details (on standard error), each line ending in `\n`.
    pub fn kubectl_text(&self, opts: &Options) -> String {
        let mut out = format!(
            "{}/{} reconciled\n",
            self.key.kind.qualified(),
            self.key.name
        );
        if self.operation == Operation::None {
            return out;
        }
        let caveat = if self.protected {
            ", but object opted out (rbac.authorization.kubernetes.io/autoupdate: false)"
        } else {
            ""
        };
        out.push_str(&format!(
            "\treconciliation required {}{caveat}\n",
            self.operation.as_str()
        ));
        let mut section = |title: &str, lines: Vec<String>| {
            if !lines.is_empty() {
                out.push_str(&format!("\t{title}:\n"));
                for l in lines {
                    out.push_str(&format!("\t\t{l}\n"));
                }
            }
        };
        section(
            "missing subjects added",
            self.missing_subjects.iter().map(go_subject).collect(),
        );
        if opts.remove_extra_subjects {
            section(
                "extra subjects removed",
                self.extra_subjects.iter().map(go_subject).collect(),
            );
        }
        section(
            "missing rules added",
            self.missing_rules.iter().map(go_rule).collect(),
        );
        if opts.remove_extra_permissions {
            section(
                "extra rules removed",
                self.extra_rules.iter().map(go_rule).collect(),
            );
        }
        out
    }
}

/// `merge(expected, existing)`: nil unless one map is set; existing values win.
fn merge(expected: &StringMap, existing: &StringMap) -> StringMap {
    if expected.is_none() && existing.is_none() {
        return None;
    }
    let mut out = expected.clone().unwrap_or_default();
    if let Some(e) = existing {
        out.extend(e.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
    Some(out)
}

fn added_keys(merged: &StringMap, existing: &StringMap) -> Vec<String> {
    merged
        .iter()
        .flatten()
        .filter(|(k, _)| !existing.as_ref().is_some_and(|e| e.contains_key(*k)))
        .map(|(k, _)| k.clone())
        .collect()
}

/// A selector with zero values removed, so that `equality.Semantic.DeepEqual` (which treats
/// nil and empty slices and maps alike, and absent fields as zero) becomes `==`.
fn normalized(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, v)| (k.clone(), normalized(v)))
                .filter(|(_, v)| !is_zero(v))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(normalized).collect()),
        other => other.clone(),
    }
}

fn is_zero(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(m) => m.is_empty(),
        Value::Bool(b) => !b,
        Value::Number(_) => false,
    }
}

/// `aggregationRuleCovers`: the servant selectors no owner selector equals.
fn selectors_uncovered(owner: &Option<Vec<Value>>, servant: &Option<Vec<Value>>) -> Vec<Value> {
    match (owner, servant) {
        (_, None) => Vec::new(),
        (None, Some(s)) => s.clone(),
        (Some(o), Some(s)) => {
            let owners: Vec<Value> = o.iter().map(normalized).collect();
            s.iter()
                .filter(|sel| !owners.contains(&normalized(sel)))
                .cloned()
                .collect()
        }
    }
}

/// `diffSubjectLists`: (only in `a`, only in `b`), each without duplicates.
fn diff_subjects(a: &[Subject], b: &[Subject]) -> (Vec<Subject>, Vec<Subject>) {
    let only = |x: &[Subject], y: &[Subject]| {
        let mut out: Vec<Subject> = Vec::new();
        for s in x {
            if !y.contains(s) && !out.contains(s) {
                out.push(s.clone());
            }
        }
        out
    };
    (only(a, b), only(b, a))
}

fn blank_plan(key: ObjectKey, file: String, line: u32) -> ObjectPlan {
    ObjectPlan {
        key,
        file,
        line,
        operation: Operation::None,
        protected: false,
        missing_rules: Vec::new(),
        extra_rules: Vec::new(),
        missing_aggregation_selectors: Vec::new(),
        extra_aggregation_selectors: Vec::new(),
        missing_subjects: Vec::new(),
        extra_subjects: Vec::new(),
        labels_added: Vec::new(),
        annotations_added: Vec::new(),
        previous_role_ref: None,
        creates_namespace: None,
        object: Value::Null,
    }
}

fn protected(annotations: &StringMap) -> bool {
    annotations
        .as_ref()
        .and_then(|a| a.get(AUTOUPDATE_ANNOTATION))
        .is_some_and(|v| v == "false")
}

/// `computeReconciledRole`.
fn reconcile_role(
    existing: &RoleObj,
    expected: &RoleObj,
    opts: &Options,
    plan: &mut ObjectPlan,
) -> RoleObj {
    plan.protected = protected(&existing.annotations);
    let mut res = existing.clone();
    res.annotations = merge(&expected.annotations, &existing.annotations);
    if res.annotations != existing.annotations {
        plan.operation = Operation::Update;
        plan.annotations_added = added_keys(&res.annotations, &existing.annotations);
    }
    res.labels = merge(&expected.labels, &existing.labels);
    if res.labels != existing.labels {
        plan.operation = Operation::Update;
        plan.labels_added = added_keys(&res.labels, &existing.labels);
    }
    if expected.aggregation.is_none() || existing.aggregation.is_none() {
        plan.extra_rules = covers(&expected.rules, &existing.rules).1;
    }
    plan.missing_rules = covers(&existing.rules, &expected.rules).1;
    if !opts.remove_extra_permissions && !plan.missing_rules.is_empty() {
        res.rules.extend(plan.missing_rules.iter().cloned());
        plan.operation = Operation::Update;
    } else if opts.remove_extra_permissions
        && (!plan.missing_rules.is_empty() || !plan.extra_rules.is_empty())
    {
        res.rules = expected.rules.clone();
        plan.operation = Operation::Update;
    }
    plan.extra_aggregation_selectors =
        selectors_uncovered(&expected.aggregation, &existing.aggregation);
    plan.missing_aggregation_selectors =
        selectors_uncovered(&existing.aggregation, &expected.aggregation);
    if expected.aggregation.is_none() && existing.aggregation.is_some() {
        res.aggregation = None;
        plan.operation = Operation::Update;
    } else if !opts.remove_extra_permissions && !plan.missing_aggregation_selectors.is_empty() {
        res.aggregation
            .get_or_insert_with(Vec::new)
            .extend(plan.missing_aggregation_selectors.iter().cloned());
        plan.operation = Operation::Update;
    } else if opts.remove_extra_permissions
        && (!plan.missing_aggregation_selectors.is_empty()
            || !plan.extra_aggregation_selectors.is_empty())
    {
        res.aggregation = expected.aggregation.clone();
        plan.operation = Operation::Update;
    }
    res
}

/// `computeReconciledRoleBinding`.
fn reconcile_binding(
    existing: &BindingObj,
    expected: &BindingObj,
    opts: &Options,
    plan: &mut ObjectPlan,
) -> BindingObj {
    plan.protected = protected(&existing.annotations);
    if expected.role_ref != existing.role_ref {
        plan.operation = Operation::Recreate;
        plan.previous_role_ref = Some(existing.role_ref.clone());
        return expected.clone();
    }
    let mut res = existing.clone();
    res.annotations = merge(&expected.annotations, &existing.annotations);
    if res.annotations != existing.annotations {
        plan.operation = Operation::Update;
        plan.annotations_added = added_keys(&res.annotations, &existing.annotations);
    }
    res.labels = merge(&expected.labels, &existing.labels);
    if res.labels != existing.labels {
        plan.operation = Operation::Update;
        plan.labels_added = added_keys(&res.labels, &existing.labels);
    }
    let (missing, extra) = diff_subjects(&expected.subjects, &existing.subjects);
    plan.missing_subjects = missing;
    plan.extra_subjects = extra;
    if !opts.remove_extra_subjects && !plan.missing_subjects.is_empty() {
        res.subjects.extend(plan.missing_subjects.iter().cloned());
        plan.operation = Operation::Update;
    } else if opts.remove_extra_subjects
        && (!plan.missing_subjects.is_empty() || !plan.extra_subjects.is_empty())
    {
        res.subjects = expected.subjects.clone();
        plan.operation = Operation::Update;
    }
    res
}

/// A rule as the API server writes it in JSON.
pub fn rule_json(r: &PolicyRule) -> Value {
    let mut m = Map::new();
    m.insert("verbs".into(), json!(r.verbs));
    for (k, v) in [
        ("apiGroups", &r.api_groups),
        ("resources", &r.resources),
        ("resourceNames", &r.resource_names),
        ("nonResourceURLs", &r.non_resource_urls),
    ] {
        if !v.is_empty() {
            m.insert(k.into(), json!(v));
        }
    }
    Value::Object(m)
}

/// A subject as the API server writes it in JSON.
pub fn subject_json(s: &Subject) -> Value {
    let mut m = Map::new();
    m.insert("kind".into(), json!(subject_kind(s.kind)));
    if !s.api_group.is_empty() {
        m.insert("apiGroup".into(), json!(s.api_group));
    }
    m.insert("name".into(), json!(s.name));
    if let Some(ns) = &s.namespace {
        m.insert("namespace".into(), json!(ns));
    }
    Value::Object(m)
}

fn set_meta_map(obj: &mut Map<String, Value>, key: &str, map: &StringMap) {
    if let Some(Value::Object(meta)) = obj.get_mut("metadata") {
        match map {
            Some(m) if !m.is_empty() => {
                meta.insert(key.into(), json!(m));
            }
            _ => {
                meta.shift_remove(key);
            }
        }
    }
}

impl Obj {
    /// The whole object as JSON after reconcile.
    fn to_json(&self) -> Value {
        match self {
            Obj::Role(r) => {
                let mut v = r.base.clone();
                if let Value::Object(m) = &mut v {
                    set_meta_map(m, "labels", &r.labels);
                    set_meta_map(m, "annotations", &r.annotations);
                    let rules: Vec<Value> = r.rules.iter().map(rule_json).collect();
                    m.insert(
                        "rules".into(),
                        if rules.is_empty() {
                            Value::Null
                        } else {
                            Value::Array(rules)
                        },
                    );
                    match &r.aggregation {
                        Some(sels) if !sels.is_empty() => {
                            m.insert(
                                "aggregationRule".into(),
                                json!({ "clusterRoleSelectors": sels }),
                            );
                        }
                        Some(_) => {
                            m.insert("aggregationRule".into(), json!({}));
                        }
                        None => {
                            m.shift_remove("aggregationRule");
                        }
                    }
                }
                v
            }
            Obj::Binding(b) => {
                let mut v = b.base.clone();
                if let Value::Object(m) = &mut v {
                    set_meta_map(m, "labels", &b.labels);
                    set_meta_map(m, "annotations", &b.annotations);
                    m.insert(
                        "roleRef".into(),
                        json!({
                            "apiGroup": b.role_ref.api_group,
                            "kind": match b.role_ref.kind {
                                RoleKind::Role => "Role",
                                RoleKind::ClusterRole => "ClusterRole",
                            },
                            "name": b.role_ref.name,
                        }),
                    );
                    if b.subjects.is_empty() {
                        m.shift_remove("subjects");
                    } else {
                        m.insert(
                            "subjects".into(),
                            Value::Array(b.subjects.iter().map(subject_json).collect()),
                        );
                    }
                }
                v
            }
        }
    }
}

/// One desired object, in input order.
struct DesiredObj {
    key: ObjectKey,
    file: String,
    line: u32,
    obj: Obj,
}

/// Reads the desired RBAC objects of `inv` (whose store is `store`) in input order; other
/// kinds and unreadable objects go to `skipped`, surprises to `warnings`.
fn desired_objects(
    inv: &Inventory,
    store: &RbacStore,
    skipped: &mut Vec<Skipped>,
    warnings: &mut Vec<String>,
) -> Result<Vec<DesiredObj>, ReconcileError> {
    enum Parsed<'a> {
        Role(&'a Role),
        Binding(&'a Binding),
    }
    let mut by_index: HashMap<ObjectId, Parsed> = HashMap::new();
    for r in store.cluster_roles.values().chain(store.roles.values()) {
        if let Origin::Manifest { object, .. } = r.origin {
            by_index.insert(object, Parsed::Role(r));
        }
    }
    for b in store
        .cluster_role_bindings
        .iter()
        .chain(store.role_bindings.values().flatten())
    {
        if let Origin::Manifest { object, .. } = b.origin {
            by_index.insert(object, Parsed::Binding(b));
        }
    }
    let mut out = Vec::new();
    let mut seen: HashMap<ObjectKey, (String, u32)> = HashMap::new();
    for (idx, o) in inv.objects.iter().enumerate() {
        let file = inv.file_of(o).to_owned();
        let line = o.pos().line;
        let skip = |reason: String| Skipped {
            api_version: o.id.api_version.clone(),
            kind: o.id.kind.clone(),
            namespace: o.id.namespace.clone(),
            name: o.id.name.clone(),
            file: file.clone(),
            line,
            reason,
        };
        let kind = (o.group() == RBAC_GROUP)
            .then(|| ObjectKind::parse(&o.id.kind))
            .flatten();
        let Some(kind) = kind else {
            skipped.push(skip("not an RBAC role or binding".into()));
            continue;
        };
        if o.id.api_version != format!("{RBAC_GROUP}/v1") {
            return Err(ReconcileError::UnsupportedVersion {
                file,
                line,
                kind: o.id.kind.clone(),
                name: o.id.name.clone(),
                api_version: o.id.api_version.clone(),
            });
        }
        let key = ObjectKey {
            kind,
            namespace: if kind.namespaced() {
                o.id.namespace.clone()
            } else {
                None
            },
            name: o.id.name.clone(),
        };
        let obj = match by_index.get(&idx) {
            Some(Parsed::Role(r)) => Obj::Role(role_obj(r, Some(&o.node))),
            Some(Parsed::Binding(b)) => Obj::Binding(binding_obj(b, Some(&o.node))),
            // Shadowed by a later object of the same name in the store: read it alone.
            None => match read_alone(inv, o) {
                Some(obj) => obj,
                None => {
                    skipped.push(skip("could not be read (see the errors above)".into()));
                    continue;
                }
            },
        };
        if let Some((f, l)) = seen.insert(key.clone(), (file.clone(), line)) {
            warnings.push(format!(
                "{key} is defined more than once ({f}:{l} and {file}:{line}); each definition \
                 is reconciled against the result of the one before"
            ));
        }
        if let Obj::Binding(b) = &obj {
            if b.role_ref.api_group.is_empty() {
                warnings.push(format!(
                    "{file}:{line}: {key}: roleRef has no apiGroup; the API server stores \
                     {RBAC_GROUP}, so kubectl sees a changed roleRef and recreates the binding \
                     on every run"
                ));
            }
            for s in &b.subjects {
                if s.api_group.is_empty() && s.kind != SubjectKind::ServiceAccount {
                    warnings.push(format!(
                        "{file}:{line}: {key}: subject {} {} has no apiGroup; the API server \
                         stores {RBAC_GROUP}, so kubectl sees it as missing and adds it again \
                         on every run",
                        subject_kind(s.kind),
                        s.name
                    ));
                }
            }
        }
        out.push(DesiredObj {
            key,
            file,
            line,
            obj,
        });
    }
    Ok(out)
}

/// Reads one object on its own (an object the store holds a later namesake of).
fn read_alone(inv: &Inventory, o: &palisade_model::Object) -> Option<Obj> {
    let mut alone = Inventory::new();
    alone.sources = inv.sources.clone();
    alone.objects.push(o.clone());
    let (store, _) = RbacStore::from_inventory(&alone);
    let role = store
        .cluster_roles
        .values()
        .chain(store.roles.values())
        .next();
    if let Some(r) = role {
        return Some(Obj::Role(role_obj(r, Some(&o.node))));
    }
    let binding = store
        .cluster_role_bindings
        .iter()
        .chain(store.role_bindings.values().flatten())
        .next();
    binding.map(|b| Obj::Binding(binding_obj(b, Some(&o.node))))
}

/// What `kubectl auth reconcile` with `opts` would do with the desired objects of `desired`
/// (read into `desired_store` with [`RbacStore::from_inventory`]) against `current`, applying
/// each change before looking at the next object. `current` ends as the cluster after
/// reconcile.
pub fn reconcile(
    desired: &Inventory,
    desired_store: &RbacStore,
    current: &mut ClusterState,
    opts: &Options,
) -> Result<Plan, ReconcileError> {
    let mut plan = Plan {
        options: *opts,
        objects: Vec::new(),
        namespaces_created: Vec::new(),
        skipped: Vec::new(),
        warnings: Vec::new(),
    };
    let wanted = desired_objects(
        desired,
        desired_store,
        &mut plan.skipped,
        &mut plan.warnings,
    )?;
    for d in wanted {
        let mut p = blank_plan(d.key.clone(), d.file, d.line);
        let result = match (current.objects.get(&d.key), &d.obj) {
            (None, obj) => {
                p.operation = Operation::Create;
                match obj {
                    Obj::Role(r) => {
                        p.missing_rules = r.rules.clone();
                        p.missing_aggregation_selectors = r.aggregation.clone().unwrap_or_default();
                    }
                    Obj::Binding(b) => p.missing_subjects = b.subjects.clone(),
                }
                obj.clone()
            }
            (Some(Obj::Role(ex)), Obj::Role(want)) => {
                Obj::Role(reconcile_role(ex, want, opts, &mut p))
            }
            (Some(Obj::Binding(ex)), Obj::Binding(want)) => {
                Obj::Binding(reconcile_binding(ex, want, opts, &mut p))
            }
            // Keys carry the kind, so a role key never holds a binding.
            (Some(_), obj) => obj.clone(),
        };
        // A protected object stays as it is.
        p.object = match current.objects.get(&d.key) {
            Some(existing) if p.protected => existing.to_json(),
            _ => result.to_json(),
        };
        if p.changes() {
            if matches!(p.operation, Operation::Create | Operation::Recreate)
                && let Some(ns) = &d.key.namespace
                && !current.namespaces.contains(ns)
            {
                p.creates_namespace = Some(ns.clone());
                plan.namespaces_created.push(ns.clone());
            }
            current.insert(d.key, result);
        }
        plan.objects.push(p);
    }
    Ok(plan)
}

#[cfg(test)]
mod tests {
    use super::*;
    use palisade_model::LoadOptions;

    fn inv(text: &str) -> Inventory {
        let mut inv = Inventory::new();
        inv.add_text("t.yaml", text, &LoadOptions::default());
        inv
    }

    fn run(desired: &str, current: &str, opts: Options) -> Plan {
        let d = inv(desired);
        let (ds, _) = RbacStore::from_inventory(&d);
        let c = inv(current);
        let (cs, _) = RbacStore::from_inventory(&c);
        let mut state = ClusterState::from_store(&cs, Some(&c));
        reconcile(&d, &ds, &mut state, &opts).unwrap()
    }

    #[test]
    fn go_formatting() {
        let r = PolicyRule {
            verbs: vec!["get".into()],
            api_groups: vec!["".into(), "apps".into()],
            resources: vec!["pods".into()],
            ..Default::default()
        };
        assert_eq!(
            go_rule(&r),
            "{Verbs:[get] APIGroups:[ apps] Resources:[pods] ResourceNames:[] NonResourceURLs:[]}"
        );
        let s = Subject {
            kind: SubjectKind::ServiceAccount,
            name: "web".into(),
            namespace: Some("a".into()),
            api_group: String::new(),
        };
        assert_eq!(
            go_subject(&s),
            "{Kind:ServiceAccount APIGroup: Name:web Namespace:a}"
        );
    }

    #[test]
    fn merge_keeps_existing_values_and_nil() {
        let m = |kv: &[(&str, &str)]| -> StringMap {
            Some(
                kv.iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            )
        };
        assert_eq!(merge(&None, &None), None);
        assert_eq!(merge(&m(&[]), &None), m(&[]));
        assert_eq!(
            merge(&m(&[("a", "1"), ("b", "1")]), &m(&[("a", "2")])),
            m(&[("a", "2"), ("b", "1")])
        );
    }

    #[test]
    fn selectors_compare_semantically() {
        let a = json!({"matchLabels": {"x": "true"}});
        let a2 = json!({"matchLabels": {"x": "true"}, "matchExpressions": []});
        let b = json!({"matchLabels": {"y": "true"}});
        assert!(selectors_uncovered(&Some(vec![a.clone()]), &Some(vec![a2.clone()])).is_empty());
        assert_eq!(
            selectors_uncovered(&Some(vec![a.clone()]), &Some(vec![a2, b.clone()])),
            vec![b.clone()]
        );
        assert_eq!(selectors_uncovered(&None, &Some(vec![b.clone()])), vec![b]);
        assert!(selectors_uncovered(&Some(vec![a]), &None).is_empty());
    }

    #[test]
    fn sequential_writes_and_namespaces() {
        let p = run(
            "apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata: {name: r, namespace: new}\nrules: [{apiGroups: [''], resources: [pods], verbs: [get]}]\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata: {name: b, namespace: new}\nroleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: r}\n",
            "",
            Options::default(),
        );
        assert_eq!(p.namespaces_created, vec!["new".to_string()]);
        assert_eq!(p.objects[0].creates_namespace.as_deref(), Some("new"));
        assert_eq!(p.objects[1].creates_namespace, None, "created once");
        assert!(p.changes());
        assert_eq!(
            p.objects[0].kubectl_text(&p.options),
            "role.rbac.authorization.k8s.io/r reconciled\n\treconciliation required create\n\tmissing rules added:\n\t\t{Verbs:[get] APIGroups:[] Resources:[pods] ResourceNames:[] NonResourceURLs:[]}\n"
        );
    }

    #[test]
    fn unsupported_version_is_an_error() {
        let d = inv(
            "apiVersion: rbac.authorization.k8s.io/v1beta1\nkind: ClusterRole\nmetadata: {name: r}\n",
        );
        let (ds, _) = RbacStore::from_inventory(&d);
        let err = reconcile(&d, &ds, &mut ClusterState::new(), &Options::default()).unwrap_err();
        assert!(
            err.to_string()
                .contains("only rbac.authorization.k8s.io/v1"),
            "{err}"
        );
    }
}
