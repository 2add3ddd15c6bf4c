//! OPA Gatekeeper ConstraintTemplates and Constraints, run unchanged on the `regorus` Rego engine.
//!
//! - [`PolicySet::load`] reads ConstraintTemplates (`templates.gatekeeper.sh/v1`, `v1beta1`,
//!   `v1alpha1`) and Constraints (`constraints.gatekeeper.sh/v1beta1`, `v1alpha1`) from files or
//!   directories in any order; every template is compiled once, at load. Bad documents become
//!   diagnostics (file, line, field) and are skipped; the rest load.
//! - [`PolicySet::review`] evaluates an AdmissionRequest against every Constraint whose `match`
//!   applies, with Gatekeeper's input contract (`input.review`, `input.parameters`,
//!   `data.inventory`), and returns the `violation[{"msg", "details"}]` results.
//! - [`suite`] runs `gator verify` test suites (`palisade admission verify`).
//!
//! Semantics, as Gatekeeper has them:
//!
//! - **Rego source.** `targets[].rego` + `libs` (v0), else the `code[]` entry with
//!   `engine: Rego` (`source.version: v1` compiles as Rego v1). CEL (`K8sNativeValidation`) is
//!   not run: templates with both engines run their Rego, as
//!   `gator verify --enable-k8s-native-validation=false` does. Libs must be `package lib.*`.
//! - **Parameters** are checked against `openAPIV3Schema` (types, `required`, `enum`, `items`,
//!   `additionalProperties`, bounds, `pattern`, `*Of`); fields the schema does not declare are
//!   warnings (the API server would prune them), everything else rejects the Constraint.
//! - **Match.** `kinds` (any entry; empty lists and `*` match all), `scope`, `namespaces` /
//!   `excludedNamespaces` (`prefix*`, `*suffix`, `*infix*` globs; a Namespace is matched by
//!   its own name; other cluster-scoped objects cannot be disqualified), `labelSelector` (the
//!   object or, on UPDATE/DELETE, the old object), `namespaceSelector` (the Namespace's own
//!   labels for a Namespace; the namespace from the request's `namespaceObject` or the
//!   [`ReviewContext`]; an unknown namespace does not match), `name` (glob).
//! - **Enforcement.** `deny` (default), `warn`, `dryrun`, and `scoped` with
//!   `scopedEnforcementActions` per [`EnforcementPoint`] (the strictest action listed for the
//!   point applies; a Constraint not listed for a point is skipped there).
//! - **Review shape.** Admission passes the AdmissionRequest as it came. For objects outside
//!   admission (audit, gator) [`review_for_object`] builds what Gatekeeper builds: `kind`,
//!   `name`, `namespace`, `object`, an empty `operation` and an empty `userInfo`.
//! - **Inventory.** [`Inventory`] lays objects out as Gatekeeper's sync does; it is loaded only
//!   into templates whose Rego mentions `data.inventory`.
//!
//! Evaluation: each template is compiled once, for regorus's register VM where it applies and
//! its interpreter otherwise (see [`rego::Backend`]); a review takes a worker (VM or engine)
//! from the template's pool, or makes one from the compiled template (a few microseconds), and
//! returns it afterwards, so a [`PolicySet`] serves concurrent requests (`Send + Sync`). The request is converted to
//! the engine's value type once per review, parameters once at load; Constraints whose match
//! does not apply are not evaluated. Each evaluation is bounded by [`rego::EVAL_TIME_LIMIT`].
//!
//! Gatekeeper runs templates on OPA; regorus differs from OPA in a few places that matter for
//! Gatekeeper's Rego v0 templates. [`rego`] explains how each is closed (source normalisation
//! before compiling, a Go-compatible `sprintf`, non-strict builtin errors).

mod constraint;
mod gofmt;
pub mod memo;
pub mod native;
pub mod rego;
mod schema;
pub mod suite;
mod template;

pub use constraint::{Constraint, EnforcementAction, EnforcementPoint, Match};
pub use template::Template;

use palisade_model::{DiagCode, DiagLevel, Diagnostic, Node, Pos};
use serde_json::Value as Json;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// One violation reported by a Constraint.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Violation {
    /// Name of the ConstraintTemplate (`metadata.name`).
    pub template: String,
    /// Kind of the Constraint (the template's `crd.spec.names.kind`).
    pub constraint_kind: String,
    /// Name of the Constraint.
    pub constraint_name: String,
    /// What to do about it at the enforcement point the review was made for.
    pub enforcement_action: EnforcementAction,
    /// The `msg` of the violation.
    pub message: String,
    /// The `details` of the violation (`null` when the template gives none).
    pub details: Json,
}

/// A Constraint whose template failed while evaluating a review. Gatekeeper reports such errors
/// instead of a verdict; a webhook should treat them per its failure policy.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct EvalError {
    /// Name of the ConstraintTemplate.
    pub template: String,
    /// Kind of the Constraint.
    pub constraint_kind: String,
    /// Name of the Constraint.
    pub constraint_name: String,
    /// The engine's error.
    pub message: String,
}

/// Everything one review produced.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct ReviewOutcome {
    /// Violations, in Constraint order, each Constraint's violations sorted by message.
    pub violations: Vec<Violation>,
    /// Constraints whose evaluation failed.
    pub errors: Vec<EvalError>,
}

static INVENTORY_IDS: AtomicU64 = AtomicU64::new(1);

/// Objects for referential policies (`data.inventory`), converted once for the engine.
///
/// Layout as Gatekeeper's sync puts it: `data.inventory.namespace[ns][groupVersion][kind][name]`
/// and `data.inventory.cluster[groupVersion][kind][name]`.
#[derive(Debug, Clone)]
pub struct Inventory {
    id: u64,
    value: regorus::Value,
    objects: usize,
}

impl Inventory {
    /// Builds the inventory from objects (each a Kubernetes object with `apiVersion`, `kind`
    /// and `metadata.name`; objects without them are ignored).
    pub fn from_objects<'a>(objects: impl IntoIterator<Item = &'a Json>) -> Inventory {
        let mut cluster = serde_json::Map::new();
        let mut namespaced = serde_json::Map::new();
        let mut count = 0;
        for obj in objects {
            let (Some(api_version), Some(kind), Some(name)) = (
                obj.get("apiVersion").and_then(Json::as_str),
                obj.get("kind").and_then(Json::as_str),
                obj.pointer("/metadata/name").and_then(Json::as_str),
            ) else {
                continue;
            };
            let ns = obj.pointer("/metadata/namespace").and_then(Json::as_str);
            let root = match ns {
                Some(ns) if !ns.is_empty() => entry_map(&mut namespaced, ns),
                _ => &mut cluster,
            };
            let by_gv = entry_map(root, api_version);
            let by_kind = entry_map(by_gv, kind);
            by_kind.insert(name.to_string(), obj.clone());
            count += 1;
        }
        let json = serde_json::json!({
            "inventory": { "cluster": cluster, "namespace": namespaced }
        });
        Inventory {
            id: INVENTORY_IDS.fetch_add(1, Ordering::Relaxed),
            value: rego::to_value(&json),
            objects: count,
        }
    }

    /// Number of objects in the inventory.
    pub fn len(&self) -> usize {
        self.objects
    }

    /// True when the inventory holds no object.
    pub fn is_empty(&self) -> bool {
        self.objects == 0
    }
}

fn entry_map<'a>(
    map: &'a mut serde_json::Map<String, Json>,
    key: &str,
) -> &'a mut serde_json::Map<String, Json> {
    let slot = map
        .entry(key.to_string())
        .or_insert_with(|| Json::Object(serde_json::Map::new()));
    if !slot.is_object() {
        *slot = Json::Object(serde_json::Map::new());
    }
    match slot {
        Json::Object(m) => m,
        _ => unreachable!("slot was just made an object"),
    }
}

/// What a review needs to know besides the request: Namespace objects (for `namespaceSelector`
/// and `input.review.namespaceObject`) and the inventory for `data.inventory`.
#[derive(Debug, Clone, Default)]
pub struct ReviewContext {
    namespaces: HashMap<String, KnownNamespace>,
    inventory: Option<Arc<Inventory>>,
}

/// A Namespace object of a [`ReviewContext`], with its engine value made once (it becomes
/// `input.review.namespaceObject` of every review in the namespace).
#[derive(Debug, Clone)]
pub(crate) struct KnownNamespace {
    pub(crate) json: Json,
    pub(crate) value: regorus::Value,
}

impl ReviewContext {
    /// An empty context: no namespace known, empty inventory.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a Namespace object (keyed by its `metadata.name`).
    pub fn add_namespace(&mut self, namespace: Json) {
        if let Some(name) = namespace.pointer("/metadata/name").and_then(Json::as_str) {
            let value = rego::to_value(&namespace);
            self.namespaces.insert(
                name.to_string(),
                KnownNamespace {
                    json: namespace,
                    value,
                },
            );
        }
    }

    /// Adds every `Namespace` among `objects`.
    pub fn with_namespaces_from<'a>(mut self, objects: impl IntoIterator<Item = &'a Json>) -> Self {
        for o in objects {
            if o.get("kind").and_then(Json::as_str) == Some("Namespace") {
                self.add_namespace(o.clone());
            }
        }
        self
    }

    /// Sets the inventory for referential templates.
    pub fn with_inventory(mut self, inventory: Arc<Inventory>) -> Self {
        self.inventory = Some(inventory);
        self
    }

    /// The Namespace object called `name`, when known.
    pub fn namespace(&self, name: &str) -> Option<&Json> {
        self.namespaces.get(name).map(|k| &k.json)
    }

    pub(crate) fn known_namespace(&self, name: &str) -> Option<&KnownNamespace> {
        self.namespaces.get(name)
    }
}

/// The AdmissionRequest Gatekeeper builds for an object reviewed outside admission (audit,
/// `gator verify`): `kind` from the object's `apiVersion`/`kind`, `name`, `namespace` and
/// `object`. As in Gatekeeper, `operation` is empty and `userInfo` is an empty object, so
/// templates behave exactly as under Gatekeeper's audit and gator.
pub fn review_for_object(object: &Json) -> Json {
    let api_version = object
        .get("apiVersion")
        .and_then(Json::as_str)
        .unwrap_or("");
    let (group, version) = split_api_version(api_version);
    let kind = object.get("kind").and_then(Json::as_str).unwrap_or("");
    let mut req = serde_json::Map::new();
    req.insert("uid".into(), Json::String(String::new()));
    req.insert(
        "kind".into(),
        serde_json::json!({"group": group, "version": version, "kind": kind}),
    );
    req.insert(
        "resource".into(),
        serde_json::json!({"group": "", "version": "", "resource": ""}),
    );
    if let Some(name) = object.pointer("/metadata/name").and_then(Json::as_str) {
        req.insert("name".into(), Json::String(name.to_string()));
    }
    if let Some(ns) = object.pointer("/metadata/namespace").and_then(Json::as_str) {
        req.insert("namespace".into(), Json::String(ns.to_string()));
    }
    req.insert("operation".into(), Json::String(String::new()));
    req.insert("userInfo".into(), Json::Object(serde_json::Map::new()));
    req.insert("object".into(), object.clone());
    Json::Object(req)
}

/// Splits `apps/v1` into (`apps`, `v1`) and `v1` into (``, `v1`).
pub fn split_api_version(api_version: &str) -> (&str, &str) {
    match api_version.split_once('/') {
        Some((g, v)) => (g, v),
        None => ("", api_version),
    }
}

/// Loaded ConstraintTemplates and Constraints, ready to review requests. `Send + Sync`: one set
/// serves concurrent requests.
#[derive(Debug, Default)]
pub struct PolicySet {
    templates: Vec<Arc<Template>>,
    constraints: Vec<Constraint>,
}

/// A document read from a policy file.
struct Doc {
    file: String,
    root: Node,
}

impl PolicySet {
    /// Loads ConstraintTemplates and Constraints from files or directories (recursively, `.yaml`,
    /// `.yml`, `.json`), multi-document YAML, in any order. Bad documents become diagnostics
    /// (file, line, field, problem) and are skipped; other kinds of objects are ignored.
    pub fn load(paths: &[PathBuf]) -> (PolicySet, Vec<Diagnostic>) {
        Self::load_with(paths, rego::Backend::from_env())
    }

    /// [`PolicySet::load`] with a chosen evaluator.
    pub fn load_with(paths: &[PathBuf], backend: rego::Backend) -> (PolicySet, Vec<Diagnostic>) {
        let (inputs, mut diags) = palisade_model::collect_inputs(paths);
        let mut docs = Vec::new();
        for input in inputs {
            let name = input.name();
            let text = match &input {
                palisade_model::Input::File(p) => std::fs::read_to_string(p),
                palisade_model::Input::Stdin => {
                    let mut s = String::new();
                    std::io::Read::read_to_string(&mut std::io::stdin().lock(), &mut s).map(|_| s)
                }
            };
            match text {
                Ok(text) => parse_docs(&name, &text, &mut docs, &mut diags),
                Err(e) => diags.push(diag(&name, None, None, DiagCode::Io, e.to_string())),
            }
        }
        let mut set = PolicySet::default();
        set.add_docs(docs, backend, &mut diags);
        (set, diags)
    }

    /// Loads from YAML texts given as (file name, text) pairs; the same rules as [`PolicySet::load`].
    pub fn from_texts<'a>(
        texts: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> (PolicySet, Vec<Diagnostic>) {
        Self::from_texts_with(texts, rego::Backend::from_env())
    }

    /// [`PolicySet::from_texts`] with a chosen evaluator.
    pub fn from_texts_with<'a>(
        texts: impl IntoIterator<Item = (&'a str, &'a str)>,
        backend: rego::Backend,
    ) -> (PolicySet, Vec<Diagnostic>) {
        let mut diags = Vec::new();
        let mut docs = Vec::new();
        for (name, text) in texts {
            parse_docs(name, text, &mut docs, &mut diags);
        }
        let mut set = PolicySet::default();
        set.add_docs(docs, backend, &mut diags);
        (set, diags)
    }

    fn add_docs(&mut self, docs: Vec<Doc>, backend: rego::Backend, diags: &mut Vec<Diagnostic>) {
        let mut constraint_docs = Vec::new();
        for doc in docs {
            let api_version = doc
                .root
                .get("apiVersion")
                .and_then(Node::as_str)
                .unwrap_or("");
            let kind = doc.root.get("kind").and_then(Node::as_str).unwrap_or("");
            let group = split_api_version(api_version).0;
            if group == "templates.gatekeeper.sh" && kind == "ConstraintTemplate" {
                match Template::parse(&doc.file, &doc.root, backend) {
                    Ok(t) => {
                        if let Some(prev) = self.templates.iter().find(|p| p.kind == t.kind) {
                            diags.push(diag(
                                &doc.file,
                                Some(doc.root.pos),
                                Some("spec.crd.spec.names.kind"),
                                DiagCode::InvalidField,
                                format!(
                                    "ConstraintTemplate {}: kind {} is already defined by ConstraintTemplate {} ({}); skipped",
                                    t.name, t.kind, prev.name, prev.file
                                ),
                            ));
                        } else {
                            self.templates.push(Arc::new(t));
                        }
                    }
                    Err(d) => diags.extend(d),
                }
            } else if group == "constraints.gatekeeper.sh" {
                constraint_docs.push(doc);
            }
        }
        for doc in constraint_docs {
            let kind = doc.root.get("kind").and_then(Node::as_str).unwrap_or("");
            let Some(template) = self.templates.iter().find(|t| t.kind == kind) else {
                let name = doc
                    .root
                    .at(&["metadata", "name"])
                    .and_then(Node::as_str)
                    .unwrap_or("<unnamed>");
                diags.push(diag(
                    &doc.file,
                    Some(doc.root.pos),
                    Some("kind"),
                    DiagCode::InvalidField,
                    format!("constraint {kind}/{name}: no ConstraintTemplate defines kind {kind:?}; skipped"),
                ));
                continue;
            };
            match Constraint::parse(&doc.file, &doc.root, template) {
                Ok((c, warnings)) => {
                    diags.extend(warnings);
                    if self
                        .constraints
                        .iter()
                        .any(|p| p.kind == c.kind && p.name == c.name)
                    {
                        diags.push(diag(
                            &doc.file,
                            Some(doc.root.pos),
                            Some("metadata.name"),
                            DiagCode::InvalidField,
                            format!(
                                "constraint {}/{} is defined twice; the first one is kept",
                                c.kind, c.name
                            ),
                        ));
                    } else {
                        self.constraints.push(c);
                    }
                }
                Err(d) => diags.extend(d),
            }
        }
    }

    /// The loaded templates.
    pub fn templates(&self) -> &[Arc<Template>] {
        &self.templates
    }

    /// Turns every template's verdict memo on or off (see [`memo`]).
    pub fn set_memo(&self, on: bool) {
        for t in &self.templates {
            t.set_memo(on);
        }
    }

    /// The loaded constraints.
    pub fn constraints(&self) -> &[Constraint] {
        &self.constraints
    }

    /// Reviews an AdmissionRequest (the `request` of an AdmissionReview, which becomes
    /// `input.review`) at the webhook (`validation.gatekeeper.sh`); returns the violations.
    /// Constraints whose evaluation failed are left out: use [`PolicySet::evaluate`] to see them.
    pub fn review(&self, request: &Json, ctx: &ReviewContext) -> Vec<Violation> {
        self.evaluate(request, ctx, EnforcementPoint::Webhook)
            .violations
    }

    /// Reviews an AdmissionRequest for an enforcement point; returns violations and errors.
    pub fn evaluate(
        &self,
        request: &Json,
        ctx: &ReviewContext,
        point: EnforcementPoint,
    ) -> ReviewOutcome {
        self.evaluate_timed(request, ctx, point, None)
    }

    /// [`PolicySet::evaluate`], reporting how long each Constraint evaluated (by its index in
    /// [`PolicySet::constraints`]) to `timed` when given. Constraints whose match does not
    /// apply are not evaluated and not reported.
    pub fn evaluate_timed(
        &self,
        request: &Json,
        ctx: &ReviewContext,
        point: EnforcementPoint,
        timed: Option<&mut dyn FnMut(usize, std::time::Duration)>,
    ) -> ReviewOutcome {
        let target = constraint::Target::from_request(request, ctx);
        self.evaluate_target(
            &target,
            || rego::review_value(request, target.namespace_object()),
            ctx,
            point,
            timed,
            None,
        )
    }

    /// [`PolicySet::evaluate_timed`] for a parsed AdmissionReview: the same outcome as for its
    /// [`AdmissionReview::request_json`](crate::review::AdmissionReview::request_json), with
    /// `input.review` built straight from the review's model tree (no JSON in between).
    /// Evaluation stops at `deadline`: constraints not decided by then are reported in
    /// [`ReviewOutcome::errors`].
    pub fn evaluate_review_timed(
        &self,
        review: &crate::review::AdmissionReview,
        ctx: &ReviewContext,
        point: EnforcementPoint,
        timed: Option<&mut dyn FnMut(usize, std::time::Duration)>,
        deadline: Option<std::time::Instant>,
    ) -> ReviewOutcome {
        let target = constraint::Target::from_review(review, ctx);
        self.evaluate_target(
            &target,
            || rego::review_value_of(review, target.namespace_object()),
            ctx,
            point,
            timed,
            deadline,
        )
    }

    /// Evaluates the constraints whose match selects `target`; `input.review` is made by
    /// `review_value` once, on the first constraint that applies, and shared by all.
    fn evaluate_target(
        &self,
        target: &constraint::Target<'_>,
        review_value: impl Fn() -> regorus::Value,
        ctx: &ReviewContext,
        point: EnforcementPoint,
        mut timed: Option<&mut dyn FnMut(usize, std::time::Duration)>,
        deadline: Option<std::time::Instant>,
    ) -> ReviewOutcome {
        let mut out = ReviewOutcome::default();
        let mut value: Option<regorus::Value> = None;
        let hashes = memo::ReadHashes::default();
        for (i, c) in self.constraints.iter().enumerate() {
            let Some(action) = c.action_at(point) else {
                continue;
            };
            if !c.matcher.matches(target) {
                continue;
            }
            let review = value.get_or_insert_with(&review_value);
            let started = timed.is_some().then(std::time::Instant::now);
            let result = c.template.evaluate(
                review,
                &c.parameters_value,
                ctx.inventory.as_deref(),
                deadline,
                &hashes,
            );
            if let (Some(t), Some(report)) = (started, timed.as_mut()) {
                report(i, t.elapsed());
            }
            match result {
                Ok(results) => {
                    for r in results {
                        out.violations.push(Violation {
                            template: c.template.name.clone(),
                            constraint_kind: c.kind.clone(),
                            constraint_name: c.name.clone(),
                            enforcement_action: action,
                            message: r.message,
                            details: r.details,
                        });
                    }
                }
                Err(e) => out.errors.push(EvalError {
                    template: c.template.name.clone(),
                    constraint_kind: c.kind.clone(),
                    constraint_name: c.name.clone(),
                    message: e,
                }),
            }
        }
        out
    }
}

fn parse_docs(name: &str, text: &str, docs: &mut Vec<Doc>, diags: &mut Vec<Diagnostic>) {
    for r in parse_yaml(text) {
        match r {
            Ok(root) => {
                if root.is_map() {
                    docs.push(Doc {
                        file: name.to_string(),
                        root,
                    });
                }
            }
            Err(e) => diags.push(diag(name, Some(e.pos), None, DiagCode::Syntax, e.message)),
        }
    }
}

/// Parses a YAML stream into document roots (empty documents dropped). The strict parser gives
/// positions; a document it rejects but go-yaml (the parser Kubernetes and Gatekeeper use)
/// accepts, such as a quoted scalar continued at its key's indentation, is read with a
/// libyaml-based parser instead, its positions then being the document's first line.
pub(crate) fn parse_yaml(text: &str) -> Vec<Result<Node, palisade_model::yaml::SyntaxError>> {
    let strict = palisade_model::yaml::parse_stream(text, &palisade_model::Limits::default());
    if strict.iter().all(Result::is_ok) {
        return strict
            .into_iter()
            .filter_map(|r| r.map(|d| d.root).transpose())
            .collect();
    }
    // The lenient parser's document iterator does not end after an error: stop at the first.
    let mut lenient: Vec<Option<Json>> = Vec::new();
    for doc in yaml_serde::Deserializer::from_str(text).take(strict.len() + 64) {
        match serde::Deserialize::deserialize(doc) {
            Ok(v) => lenient.push(Some(v)),
            Err(_) => {
                lenient.push(None);
                break;
            }
        }
    }
    let starts = document_start_lines(text);
    strict
        .into_iter()
        .filter_map(|r| match r {
            Ok(d) => d.root.map(Ok),
            Err(e) => match lenient.get(e.index) {
                Some(Some(json)) if lenient.len() == starts.len() => {
                    let line = starts.get(e.index).copied().unwrap_or(1);
                    (!json.is_null()).then(|| Ok(json_to_node(json, Pos::new(line, 1))))
                }
                _ => Some(Err(e)),
            },
        })
        .collect()
}

/// First line (1-based) of each document of a stream, split where `---` starts a line.
fn document_start_lines(text: &str) -> Vec<u32> {
    let mut starts = vec![1u32];
    let mut first_content = true;
    for (i, line) in (1u32..).zip(text.lines()) {
        let is_marker = line == "---" || line.starts_with("--- ") || line.starts_with("---\t");
        if is_marker {
            if first_content {
                // A leading `---` opens the first document.
                starts[0] = i + 1;
            } else {
                starts.push(i + 1);
            }
        } else if !line.trim().is_empty() && !line.trim_start().starts_with('#') {
            first_content = false;
        }
    }
    starts
}

/// A JSON value as a YAML tree (strings quoted, so they never resolve to other types).
pub(crate) fn json_to_node(j: &Json, pos: Pos) -> Node {
    let value = match j {
        Json::Null => return Node::scalar("null", true, pos),
        Json::Bool(b) => return Node::scalar(if *b { "true" } else { "false" }, true, pos),
        Json::Number(n) => return Node::scalar(&n.to_string(), true, pos),
        Json::String(s) => return Node::scalar(s, false, pos),
        Json::Array(a) => {
            palisade_model::Value::Seq(a.iter().map(|x| json_to_node(x, pos)).collect())
        }
        Json::Object(o) => palisade_model::Value::Map(
            o.iter()
                .map(|(k, v)| palisade_model::Entry {
                    key: k.as_str().into(),
                    key_pos: pos,
                    value: json_to_node(v, pos),
                })
                .collect(),
        ),
    };
    Node { value, pos }
}

pub(crate) fn diag(
    file: &str,
    pos: Option<Pos>,
    field: Option<&str>,
    code: DiagCode,
    message: String,
) -> Diagnostic {
    Diagnostic {
        level: DiagLevel::Error,
        code,
        file: file.to_string(),
        pos,
        field: field.map(str::to_string),
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_set_is_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<PolicySet>();
        check::<ReviewContext>();
    }

    #[test]
    fn review_for_object_has_gatekeepers_shape() {
        let obj = serde_json::json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "prod"}});
        let r = review_for_object(&obj);
        assert_eq!(
            r["kind"],
            serde_json::json!({"group": "apps", "version": "v1", "kind": "Deployment"})
        );
        assert_eq!(r["name"], "web");
        assert_eq!(r["namespace"], "prod");
        assert_eq!(r["operation"], "");
        assert_eq!(r["userInfo"], serde_json::json!({}));
        assert_eq!(r["object"], obj);
    }

    #[test]
    fn yaml_that_go_yaml_accepts_still_loads() {
        // A quoted scalar continued at its key's indentation: go-yaml accepts it, the strict
        // parser does not.
        let text = "a: 1\n---\nkind: X\nspec:\n  d: \"one\n  two\"\n  n: 3\n";
        let docs = parse_yaml(text);
        assert_eq!(docs.len(), 2);
        let second = docs[1].as_ref().unwrap();
        assert_eq!(
            second.at(&["spec", "d"]).and_then(Node::as_str),
            Some("one two")
        );
        assert_eq!(second.at(&["spec", "n"]).and_then(Node::as_i64), Some(3));
        assert_eq!(second.pos.line, 3);
        // Broken for both parsers: an error with a position.
        let bad = parse_yaml("a: [\n");
        assert!(bad[0].is_err());
    }

    #[test]
    fn inventory_layout_follows_gatekeeper_sync() {
        let objs = [
            serde_json::json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "a", "namespace": "x"}}),
            serde_json::json!({"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass", "metadata": {"name": "fast"}}),
            serde_json::json!({"kind": "Broken"}),
        ];
        let inv = Inventory::from_objects(objs.iter());
        assert_eq!(inv.len(), 2);
        let v = &inv.value;
        assert_eq!(
            v["inventory"]["namespace"]["x"]["v1"]["Service"]["a"]["kind"],
            regorus::Value::from("Service")
        );
        assert_eq!(
            v["inventory"]["cluster"]["storage.k8s.io/v1"]["StorageClass"]["fast"]["kind"],
            regorus::Value::from("StorageClass")
        );
    }
}
