//! Constraints: parsing, `spec.match`, enforcement actions.

use super::template::Template;
use super::{ReviewContext, diag, rego, schema, split_api_version};
use palisade_model::selector::LabelSelector;
use palisade_model::{DiagCode, DiagLevel, Diagnostic, Node, NodeType};
use serde_json::Value as Json;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

/// What a violation of a Constraint leads to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum EnforcementAction {
    /// The request is rejected (`deny`, the default).
    Deny,
    /// The request is admitted with a warning (`warn`).
    Warn,
    /// The violation is only recorded (`dryrun`).
    Dryrun,
}

impl EnforcementAction {
    /// Parses `deny`, `warn` or `dryrun` (case-insensitive, as Gatekeeper compares them).
    pub fn parse(s: &str) -> Option<EnforcementAction> {
        match s.to_ascii_lowercase().as_str() {
            "deny" => Some(EnforcementAction::Deny),
            "warn" => Some(EnforcementAction::Warn),
            "dryrun" => Some(EnforcementAction::Dryrun),
            _ => None,
        }
    }

    /// The spelling Gatekeeper uses.
    pub fn as_str(self) -> &'static str {
        match self {
            EnforcementAction::Deny => "deny",
            EnforcementAction::Warn => "warn",
            EnforcementAction::Dryrun => "dryrun",
        }
    }
}

impl fmt::Display for EnforcementAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a review happens, for `enforcementAction: scoped`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub enum EnforcementPoint {
    /// The admission webhook (`validation.gatekeeper.sh`).
    Webhook,
    /// Audit of existing objects (`audit.gatekeeper.sh`).
    Audit,
    /// Shift-left testing, `gator` (`gator.gatekeeper.sh`).
    Gator,
}

impl EnforcementPoint {
    /// Gatekeeper's name of the point.
    pub fn as_str(self) -> &'static str {
        match self {
            EnforcementPoint::Webhook => "validation.gatekeeper.sh",
            EnforcementPoint::Audit => "audit.gatekeeper.sh",
            EnforcementPoint::Gator => "gator.gatekeeper.sh",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Actions {
    One(EnforcementAction),
    /// (action, points; an empty list or `*` means every point).
    Scoped(Vec<(EnforcementAction, Vec<String>)>),
}

/// One `kinds` entry of a match.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct KindMatcher {
    /// API groups (`""` is the core group, `*` any); empty means any.
    pub api_groups: Vec<String>,
    /// Kinds (`*` any); empty means any.
    pub kinds: Vec<String>,
}

/// `scope` of a match.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Scope {
    /// `*` (default): every object.
    #[default]
    Any,
    /// Only cluster-scoped objects.
    Cluster,
    /// Only namespaced objects.
    Namespaced,
}

/// A Constraint's `spec.match`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Match {
    /// `kinds`; empty matches every kind.
    pub kinds: Vec<KindMatcher>,
    /// `scope`.
    pub scope: Scope,
    /// `namespaces` (globs with a leading or trailing `*`).
    pub namespaces: Option<Vec<String>>,
    /// `excludedNamespaces` (globs).
    pub excluded_namespaces: Vec<String>,
    /// `labelSelector`.
    pub label_selector: Option<LabelSelector>,
    /// `namespaceSelector`.
    pub namespace_selector: Option<LabelSelector>,
    /// `name` (glob).
    pub name: Option<String>,
}

/// A loaded Constraint.
#[derive(Debug)]
pub struct Constraint {
    /// Kind (the template's kind).
    pub kind: String,
    /// `metadata.name`.
    pub name: String,
    /// File it was loaded from.
    pub file: String,
    /// Line of the constraint in its file.
    pub line: u32,
    /// Its template.
    pub template: Arc<Template>,
    /// `spec.match`.
    pub matcher: Match,
    /// `spec.parameters` (`input.parameters`); an empty object when absent.
    pub parameters: Json,
    pub(crate) parameters_value: regorus::Value,
    actions: Actions,
}

/// Gatekeeper's wildcard: `prefix*`, `*suffix`, `*infix*` or an exact name.
pub fn wildcard_matches(pattern: &str, candidate: &str) -> bool {
    if pattern == "*" {
        return true;
    }
    match (pattern.strip_prefix('*'), pattern.strip_suffix('*')) {
        (Some(_), Some(_)) => candidate.contains(&pattern[1..pattern.len() - 1]),
        (Some(suffix), None) => candidate.ends_with(suffix),
        (None, Some(prefix)) => candidate.starts_with(prefix),
        (None, None) => pattern == candidate,
    }
}

/// What a match is tested against, taken from an AdmissionRequest.
pub(crate) struct Target<'a> {
    group: &'a str,
    kind: &'a str,
    name: &'a str,
    namespace: &'a str,
    is_namespace: bool,
    labels: Vec<BTreeMap<&'a str, &'a str>>,
    namespace_object: Option<NamespaceObject<'a>>,
}

/// The Namespace object a review sees: the request's own `namespaceObject` (as JSON or as a
/// parsed tree), or a Namespace the server knows.
#[derive(Debug, Clone, Copy)]
pub(crate) enum NamespaceObject<'a> {
    Json(&'a Json),
    Node(&'a Node),
    Known(&'a super::KnownNamespace),
}

impl<'a> NamespaceObject<'a> {
    /// `metadata.labels` (string values), or `None` when it is not an object.
    fn labels(self) -> Option<BTreeMap<&'a str, &'a str>> {
        match self {
            NamespaceObject::Json(j) => labels_of(j),
            NamespaceObject::Known(k) => labels_of(&k.json),
            NamespaceObject::Node(n) => node_labels_of(n),
        }
    }

    /// The object as an engine value (`input.review.namespaceObject`).
    pub(crate) fn value(self) -> regorus::Value {
        match self {
            NamespaceObject::Json(j) => rego::to_value(j),
            NamespaceObject::Known(k) => k.value.clone(),
            NamespaceObject::Node(n) => rego::node_value(n),
        }
    }
}

fn labels_of(obj: &Json) -> Option<BTreeMap<&str, &str>> {
    if !obj.is_object() {
        return None;
    }
    let mut m = BTreeMap::new();
    if let Some(l) = obj.pointer("/metadata/labels").and_then(Json::as_object) {
        for (k, v) in l {
            if let Some(v) = v.as_str() {
                m.insert(k.as_str(), v);
            }
        }
    }
    Some(m)
}

/// [`labels_of`] for a tree parsed from JSON (strings are the quoted scalars).
fn node_labels_of(obj: &Node) -> Option<BTreeMap<&str, &str>> {
    if !obj.is_map() {
        return None;
    }
    let mut m = BTreeMap::new();
    if let Some(l) = obj.at(&["metadata", "labels"]) {
        for e in l.entries() {
            if let Some(v) = crate::object::json_str(&e.value) {
                m.insert(&*e.key, v);
            }
        }
    }
    Some(m)
}

/// The request fields a match reads, whichever form the request has.
struct Fields<'a> {
    kind_kind: Option<&'a str>,
    kind_group: Option<&'a str>,
    name: Option<&'a str>,
    namespace: Option<&'a str>,
    /// `kind`, `apiVersion`, `metadata.name`, `metadata.namespace` of `object` (else
    /// `oldObject`), when that is an object.
    main: Option<[Option<&'a str>; 4]>,
    labels: Vec<BTreeMap<&'a str, &'a str>>,
    namespace_object: Option<NamespaceObject<'a>>,
}

impl<'a> Target<'a> {
    pub(crate) fn from_request(req: &'a Json, ctx: &'a ReviewContext) -> Target<'a> {
        let s = |p: &str| req.pointer(p).and_then(Json::as_str);
        let object = req.get("object").filter(|o| o.is_object());
        let old = req.get("oldObject").filter(|o| o.is_object());
        let main = object.or(old).map(|o| {
            [
                "/kind",
                "/apiVersion",
                "/metadata/name",
                "/metadata/namespace",
            ]
            .map(|p| o.pointer(p).and_then(Json::as_str))
        });
        Target::build(
            Fields {
                kind_kind: s("/kind/kind"),
                kind_group: s("/kind/group"),
                name: s("/name"),
                namespace: s("/namespace"),
                main,
                labels: [object, old]
                    .into_iter()
                    .flatten()
                    .filter_map(labels_of)
                    .collect(),
                namespace_object: req
                    .get("namespaceObject")
                    .filter(|o| o.is_object())
                    .map(NamespaceObject::Json),
            },
            ctx,
        )
    }

    /// [`Target::from_request`] for a parsed AdmissionReview, read from its model tree.
    pub(crate) fn from_review(
        review: &'a crate::review::AdmissionReview,
        ctx: &'a ReviewContext,
    ) -> Target<'a> {
        use crate::object::json_str;
        let field = |k: &str| review.request_field(k);
        let at = |k: &str, sub: &str| field(k).and_then(|n| n.get(sub)).and_then(json_str);
        let object = field("object").filter(|o| o.is_map());
        let old = field("oldObject").filter(|o| o.is_map());
        let main = object.or(old).map(|o| {
            [
                &["kind"][..],
                &["apiVersion"],
                &["metadata", "name"],
                &["metadata", "namespace"],
            ]
            .map(|p| o.at(p).and_then(json_str))
        });
        Target::build(
            Fields {
                kind_kind: at("kind", "kind"),
                kind_group: at("kind", "group"),
                name: field("name").and_then(json_str),
                namespace: field("namespace").and_then(json_str),
                main,
                labels: [object, old]
                    .into_iter()
                    .flatten()
                    .filter_map(node_labels_of)
                    .collect(),
                namespace_object: field("namespaceObject")
                    .filter(|o| o.is_map())
                    .map(NamespaceObject::Node),
            },
            ctx,
        )
    }

    fn build(f: Fields<'a>, ctx: &'a ReviewContext) -> Target<'a> {
        let [main_kind, main_api_version, main_name, main_namespace] = f.main.unwrap_or_default();
        let kind = f.kind_kind.or(main_kind).unwrap_or("");
        let group = match f.kind_group {
            Some(g) => g,
            None => main_api_version.map_or("", |av| split_api_version(av).0),
        };
        let name = f.name.filter(|n| !n.is_empty()).or(main_name).unwrap_or("");
        let namespace = f
            .namespace
            .filter(|n| !n.is_empty())
            .or(main_namespace)
            .unwrap_or("");
        let is_namespace = kind == "Namespace" && group.is_empty();
        let namespace_object = f.namespace_object.or_else(|| {
            ctx.known_namespace(namespace)
                .filter(|_| !namespace.is_empty())
                .map(NamespaceObject::Known)
        });
        Target {
            group,
            kind,
            name,
            namespace,
            is_namespace,
            labels: f.labels,
            namespace_object,
        }
    }

    /// The Namespace object of a namespaced target, when known.
    pub(crate) fn namespace_object(&self) -> Option<NamespaceObject<'a>> {
        self.namespace_object
    }
}

impl Match {
    /// True when the target is selected by every matcher, as Gatekeeper decides it.
    pub(crate) fn matches(&self, t: &Target<'_>) -> bool {
        self.kinds_match(t)
            && self.scope_matches(t)
            && self.namespaces_match(t)
            && self.name_matches(t)
            && self.labels_match(t)
            && self.namespace_selector_matches(t)
    }

    fn kinds_match(&self, t: &Target<'_>) -> bool {
        self.kinds.is_empty()
            || self.kinds.iter().any(|k| {
                let any =
                    |v: &[String], x: &str| v.is_empty() || v.iter().any(|s| s == "*" || s == x);
                any(&k.kinds, t.kind) && any(&k.api_groups, t.group)
            })
    }

    fn scope_matches(&self, t: &Target<'_>) -> bool {
        match self.scope {
            Scope::Any => true,
            Scope::Cluster => t.namespace.is_empty(),
            Scope::Namespaced => !t.namespace.is_empty(),
        }
    }

    /// The namespace name that namespace matchers see: a Namespace's own name; `None` for
    /// other cluster-scoped objects (which these matchers cannot disqualify).
    fn effective_namespace<'b>(&self, t: &Target<'b>) -> Option<&'b str> {
        if t.is_namespace {
            Some(t.name)
        } else if t.namespace.is_empty() {
            None
        } else {
            Some(t.namespace)
        }
    }

    fn namespaces_match(&self, t: &Target<'_>) -> bool {
        let ns = self.effective_namespace(t);
        if let (Some(list), Some(ns)) = (&self.namespaces, ns)
            && !list.iter().any(|p| wildcard_matches(p, ns))
        {
            return false;
        }
        match ns {
            Some(ns) => !self
                .excluded_namespaces
                .iter()
                .any(|p| wildcard_matches(p, ns)),
            None => true,
        }
    }

    fn name_matches(&self, t: &Target<'_>) -> bool {
        self.name
            .as_deref()
            .is_none_or(|p| wildcard_matches(p, t.name))
    }

    fn labels_match(&self, t: &Target<'_>) -> bool {
        match &self.label_selector {
            None => true,
            Some(sel) if t.labels.is_empty() => sel.matches(&BTreeMap::new()),
            Some(sel) => t.labels.iter().any(|l| sel.matches(l)),
        }
    }

    fn namespace_selector_matches(&self, t: &Target<'_>) -> bool {
        let Some(sel) = &self.namespace_selector else {
            return true;
        };
        if t.is_namespace {
            return t.labels.iter().any(|l| sel.matches(l))
                || (t.labels.is_empty() && sel.matches(&BTreeMap::new()));
        }
        if t.namespace.is_empty() {
            return true;
        }
        match t.namespace_object.and_then(NamespaceObject::labels) {
            Some(labels) => sel.matches(&labels),
            // The namespace is unknown: it cannot be shown to match.
            None => false,
        }
    }
}

impl Constraint {
    /// The action at an enforcement point; `None` when a scoped constraint does not act there.
    pub fn action_at(&self, point: EnforcementPoint) -> Option<EnforcementAction> {
        match &self.actions {
            Actions::One(a) => Some(*a),
            Actions::Scoped(list) => list
                .iter()
                .filter(|(_, points)| {
                    points.is_empty() || points.iter().any(|p| p == "*" || p == point.as_str())
                })
                .map(|(a, _)| *a)
                .min(),
        }
    }

    /// The action at the webhook (`deny` unless said otherwise).
    pub fn enforcement_action(&self) -> Option<EnforcementAction> {
        self.action_at(EnforcementPoint::Webhook)
    }

    pub(crate) fn parse(
        file: &str,
        root: &Node,
        template: &Arc<Template>,
    ) -> Result<(Constraint, Vec<Diagnostic>), Vec<Diagnostic>> {
        let kind = template.kind.clone();
        let Some(name) = root
            .at(&["metadata", "name"])
            .and_then(Node::as_str)
            .filter(|n| !n.is_empty())
        else {
            return Err(vec![diag(
                file,
                Some(root.pos),
                Some("metadata.name"),
                DiagCode::MissingField,
                format!("constraint {kind} without metadata.name; skipped"),
            )]);
        };
        let what = format!("constraint {kind}/{name}");
        let mut errors = Vec::new();
        let mut problem = |node: &Node, field: &str, code: DiagCode, msg: String| {
            errors.push(diag(
                file,
                Some(node.pos),
                Some(field),
                code,
                format!("{what}: {msg}"),
            ));
        };
        let spec = root.get("spec").filter(|s| !s.is_null());
        let mut matcher = Match::default();
        if let Some(m) = spec.and_then(|s| s.get("match")).filter(|m| !m.is_null()) {
            parse_match(m, &mut matcher, &mut problem);
        }
        let params_node = spec
            .and_then(|s| s.get("parameters"))
            .filter(|p| !p.is_null());
        let mut warnings = Vec::new();
        if let (Some(schema), Some(p)) = (&template.schema, params_node) {
            let key = spec
                .and_then(|s| s.entry("parameters"))
                .map_or(p.pos, |e| e.key_pos);
            for issue in schema::validate(schema, p, "spec.parameters", key) {
                let d = diag(
                    file,
                    Some(issue.pos),
                    Some(&issue.field),
                    DiagCode::InvalidField,
                    format!("{what}: {}", issue.message),
                );
                if issue.unknown_field {
                    warnings.push(Diagnostic {
                        level: DiagLevel::Warning,
                        ..d
                    });
                } else {
                    errors.push(d);
                }
            }
        } else if let Some(p) = params_node.filter(|p| !p.is_map()) {
            errors.push(diag(
                file,
                Some(p.pos),
                Some("spec.parameters"),
                DiagCode::InvalidField,
                format!(
                    "{what}: parameters must be a mapping, got {}",
                    p.node_type()
                ),
            ));
        }
        let mut problem = |node: &Node, field: &str, code: DiagCode, msg: String| {
            errors.push(diag(
                file,
                Some(node.pos),
                Some(field),
                code,
                format!("{what}: {msg}"),
            ));
        };
        let actions = parse_actions(spec, &mut problem);
        if !errors.is_empty() {
            errors.push(diag(
                file,
                Some(root.pos),
                None,
                DiagCode::InvalidField,
                format!("{what}: skipped"),
            ));
            errors.extend(warnings);
            return Err(errors);
        }
        let parameters =
            params_node.map_or_else(|| Json::Object(Default::default()), Node::to_json);
        // Warnings about unknown parameters are reported but do not reject the constraint.
        let constraint = Constraint {
            kind,
            name: name.to_string(),
            file: file.to_string(),
            line: root.pos.line,
            template: Arc::clone(template),
            matcher,
            parameters_value: rego::to_value(&parameters),
            parameters,
            actions: actions.unwrap_or(Actions::One(EnforcementAction::Deny)),
        };
        Ok((constraint, warnings))
    }
}

type Problem<'a> = dyn FnMut(&Node, &str, DiagCode, String) + 'a;

fn string_list(node: &Node, field: &str, problem: &mut Problem<'_>) -> Vec<String> {
    if node.is_null() {
        return Vec::new();
    }
    if !node.is_seq() {
        problem(
            node,
            field,
            DiagCode::InvalidField,
            format!(
                "{field} must be a list of strings, got {}",
                node.node_type()
            ),
        );
        return Vec::new();
    }
    let mut out = Vec::new();
    for item in node.items() {
        match item.as_str() {
            Some(s) if item.node_type() != NodeType::Sequence => out.push(s.to_string()),
            _ => problem(
                item,
                field,
                DiagCode::InvalidField,
                format!("{field}: each entry must be a string"),
            ),
        }
    }
    out
}

fn parse_match(m: &Node, out: &mut Match, problem: &mut Problem<'_>) {
    if !m.is_map() {
        problem(
            m,
            "spec.match",
            DiagCode::InvalidField,
            format!("match must be a mapping, got {}", m.node_type()),
        );
        return;
    }
    for e in m.entries() {
        let v = &e.value;
        let field = format!("spec.match.{}", e.key);
        match &*e.key {
            "kinds" => {
                if v.is_null() {
                    continue;
                }
                if !v.is_seq() {
                    problem(
                        v,
                        &field,
                        DiagCode::InvalidField,
                        format!("kinds must be a list, got {}", v.node_type()),
                    );
                    continue;
                }
                for k in v.items() {
                    if !k.is_map() {
                        problem(
                            k,
                            &field,
                            DiagCode::InvalidField,
                            "each kinds entry must be a mapping with apiGroups and kinds".into(),
                        );
                        continue;
                    }
                    out.kinds.push(KindMatcher {
                        api_groups: k
                            .get("apiGroups")
                            .map(|n| string_list(n, &format!("{field}[].apiGroups"), problem))
                            .unwrap_or_default(),
                        kinds: k
                            .get("kinds")
                            .map(|n| string_list(n, &format!("{field}[].kinds"), problem))
                            .unwrap_or_default(),
                    });
                }
            }
            "scope" => match v.as_str() {
                Some("*") | None if v.is_null() || v.as_str() == Some("*") => {
                    out.scope = Scope::Any
                }
                Some("Cluster") => out.scope = Scope::Cluster,
                Some("Namespaced") => out.scope = Scope::Namespaced,
                _ => problem(
                    v,
                    &field,
                    DiagCode::InvalidField,
                    "scope must be one of *, Cluster, Namespaced".into(),
                ),
            },
            "namespaces" => {
                out.namespaces = (!v.is_null()).then(|| string_list(v, &field, problem))
            }
            "excludedNamespaces" => out.excluded_namespaces = string_list(v, &field, problem),
            "labelSelector" | "namespaceSelector" => match LabelSelector::parse(v) {
                Ok(sel) => {
                    if &*e.key == "labelSelector" {
                        out.label_selector = Some(sel);
                    } else {
                        out.namespace_selector = Some(sel);
                    }
                }
                Err(err) => problem(v, &field, DiagCode::InvalidField, err.message.clone()),
            },
            "name" => match v.as_str() {
                Some(n) if v.node_type() == NodeType::String || !n.is_empty() => {
                    out.name = Some(n.to_string())
                }
                _ if v.is_null() => {}
                _ => problem(
                    v,
                    &field,
                    DiagCode::InvalidField,
                    "name must be a string".into(),
                ),
            },
            "source" => {}
            other => problem(
                v,
                &field,
                DiagCode::InvalidField,
                format!(
                    "unknown matcher {other:?} (kinds, scope, namespaces, excludedNamespaces, labelSelector, namespaceSelector, name)"
                ),
            ),
        }
    }
}

fn parse_actions(spec: Option<&Node>, problem: &mut Problem<'_>) -> Option<Actions> {
    let node = spec?.get("enforcementAction").filter(|n| !n.is_null())?;
    let Some(s) = node.as_str() else {
        problem(
            node,
            "spec.enforcementAction",
            DiagCode::InvalidField,
            "enforcementAction must be a string".into(),
        );
        return None;
    };
    if s.eq_ignore_ascii_case("scoped") {
        let mut list = Vec::new();
        let Some(scoped) = spec?.get("scopedEnforcementActions").filter(|n| n.is_seq()) else {
            problem(
                node,
                "spec.scopedEnforcementActions",
                DiagCode::MissingField,
                "enforcementAction scoped needs a scopedEnforcementActions list".into(),
            );
            return None;
        };
        for item in scoped.items() {
            let action = item
                .get("action")
                .and_then(Node::as_str)
                .and_then(EnforcementAction::parse);
            let Some(action) = action else {
                problem(
                    item,
                    "spec.scopedEnforcementActions[].action",
                    DiagCode::InvalidField,
                    "action must be deny, warn or dryrun".into(),
                );
                continue;
            };
            let mut points = Vec::new();
            if let Some(eps) = item.get("enforcementPoints").filter(|n| n.is_seq()) {
                for ep in eps.items() {
                    match ep.get("name").and_then(Node::as_str) {
                        Some(n) => points.push(n.to_string()),
                        None => problem(
                            ep,
                            "spec.scopedEnforcementActions[].enforcementPoints[].name",
                            DiagCode::MissingField,
                            "enforcement point without name".into(),
                        ),
                    }
                }
            }
            list.push((action, points));
        }
        return Some(Actions::Scoped(list));
    }
    match EnforcementAction::parse(s) {
        Some(a) => Some(Actions::One(a)),
        None => {
            problem(
                node,
                "spec.enforcementAction",
                DiagCode::InvalidField,
                format!("enforcementAction {s:?} is not one of deny, warn, dryrun, scoped"),
            );
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_follow_gatekeeper() {
        assert!(wildcard_matches("kube-*", "kube-system"));
        assert!(!wildcard_matches("kube-*", "default"));
        assert!(wildcard_matches("*-system", "kube-system"));
        assert!(wildcard_matches("*ube*", "kube-system"));
        assert!(wildcard_matches("prod", "prod"));
        assert!(!wildcard_matches("prod", "production"));
        assert!(wildcard_matches("*", "anything"));
    }
}
