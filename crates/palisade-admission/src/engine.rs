//! The admission decision for a review: Pod Security (PodSecurity admission's semantics),
//! Gatekeeper constraints, and mutation, with what the server knows of the cluster.

use crate::config::{DEFAULT_MUTATE_LABEL, ServerConfig};
use crate::gatekeeper::{self, EnforcementAction, EnforcementPoint, PolicySet, ReviewContext};
use crate::metrics::{Histogram, Metrics};
use crate::mutate::{self, BoundAccounts, Mutator};
use crate::object::{node_to_json, object_from_json};
use crate::pss::{NamespaceInfo, PodSecurity};
use crate::review::{self, AdmissionReview, Operation, Response, ReviewError, Status};
use palisade_model::{Diagnostic, Inventory, LoadOptions, Object};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

/// Which webhook endpoint a review came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    /// `/validate`: Pod Security and Gatekeeper.
    Validate,
    /// `/mutate`: safe defaults.
    Mutate,
}

impl Endpoint {
    /// The URL path.
    pub fn path(self) -> &'static str {
        match self {
            Endpoint::Validate => "/validate",
            Endpoint::Mutate => "/mutate",
        }
    }
}

/// Errors building the admission from its configuration.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EngineError {
    /// The configuration is inconsistent.
    #[error("{0}")]
    Config(String),
}

/// What the server knows of the cluster: namespaces (labels and objects), pods per namespace,
/// and the Gatekeeper review context. Replaced whole when a namespace changes.
#[derive(Debug, Clone, Default)]
pub struct ClusterState {
    namespaces: HashMap<String, NamespaceInfo>,
    pods: HashMap<String, Vec<Object>>,
    gatekeeper: ReviewContext,
    namespace_objects: HashMap<String, Value>,
    inventory: Option<Arc<gatekeeper::Inventory>>,
    unknown_namespace: UnknownNamespace,
}

/// What the server answers for a Pod or workload whose namespace it does not know.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UnknownNamespace {
    /// The configured defaults apply, as for an unlabelled namespace.
    #[default]
    Defaults,
    /// PodSecurity admission's answer when its namespace lookup fails: Pods are denied with
    /// 500 `failed to lookup namespace`, workloads allowed with an `error` audit annotation
    /// (see [`crate::live::unknown_namespace`]).
    Error,
}

impl ClusterState {
    /// The state from objects as the API server returns them (JSON): the Namespaces (their
    /// labels and objects), the pods per namespace, and the objects of Gatekeeper's
    /// `data.inventory`.
    pub fn from_parts<'a>(
        namespaces: impl IntoIterator<Item = &'a Value>,
        pods: HashMap<String, Vec<Object>>,
        inventory: impl IntoIterator<Item = &'a Value>,
    ) -> ClusterState {
        let mut s = ClusterState::default();
        for ns in namespaces {
            let Some(name) = ns.pointer("/metadata/name").and_then(Value::as_str) else {
                continue;
            };
            let labels = ns
                .pointer("/metadata/labels")
                .and_then(Value::as_object)
                .map(|m| {
                    m.iter()
                        .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
                        .collect()
                })
                .unwrap_or_default();
            s.namespaces
                .insert(name.to_owned(), NamespaceInfo { labels });
            s.namespace_objects.insert(name.to_owned(), ns.clone());
        }
        s.pods = pods;
        s.inventory = Some(Arc::new(gatekeeper::Inventory::from_objects(inventory)));
        s.rebuild_gatekeeper();
        s
    }

    /// Sets what a request for an unknown namespace gets.
    pub fn with_unknown_namespace(mut self, u: UnknownNamespace) -> ClusterState {
        self.unknown_namespace = u;
        self
    }

    /// What a request for an unknown namespace gets.
    pub fn unknown_namespace(&self) -> UnknownNamespace {
        self.unknown_namespace
    }

    /// The state from loaded manifests: every Namespace, every Pod, and every object for
    /// Gatekeeper's `data.inventory`.
    pub fn from_inventory(inv: &Inventory) -> ClusterState {
        let mut s = ClusterState::default();
        let mut all = Vec::with_capacity(inv.objects.len());
        for o in &inv.objects {
            let json = o.node.to_json();
            match o.id.kind.as_str() {
                "Namespace" if o.group().is_empty() => {
                    s.namespaces.insert(
                        o.id.name.clone(),
                        NamespaceInfo {
                            labels: o
                                .labels()
                                .into_iter()
                                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                                .collect(),
                        },
                    );
                    s.namespace_objects.insert(o.id.name.clone(), json.clone());
                }
                "Pod" if o.group().is_empty() => {
                    let ns = o.id.namespace.clone().unwrap_or_default();
                    s.pods.entry(ns).or_default().push(o.clone());
                }
                _ => {}
            }
            all.push(json);
        }
        s.inventory = Some(Arc::new(gatekeeper::Inventory::from_objects(all.iter())));
        s.rebuild_gatekeeper();
        s
    }

    fn rebuild_gatekeeper(&mut self) {
        let mut ctx = ReviewContext::new();
        for ns in self.namespace_objects.values() {
            ctx.add_namespace(ns.clone());
        }
        if let Some(inv) = &self.inventory {
            ctx = ctx.with_inventory(inv.clone());
        }
        self.gatekeeper = ctx;
    }

    /// The labels of a namespace, when known.
    pub fn namespace(&self, name: &str) -> Option<&NamespaceInfo> {
        self.namespaces.get(name)
    }

    /// Number of namespaces known.
    pub fn namespace_count(&self) -> usize {
        self.namespaces.len()
    }
}

/// The admission controller: policies, cluster state and metrics.
#[derive(Debug)]
pub struct Admission {
    pss: Option<PodSecurity>,
    policies: Option<PolicySet>,
    mutation_all: bool,
    mutation_label: String,
    mutator: Mutator,
    state: RwLock<Arc<ClusterState>>,
    /// Request counters and latency histograms.
    pub metrics: Metrics,
    /// The latency histogram of each template (`gatekeeper/<Kind>`), registered at load so
    /// that a review takes no lock to find them.
    template_latency: Vec<Arc<Histogram>>,
    /// For each Constraint (by index in the policy set), its template's slot above.
    constraint_template: Vec<usize>,
}

/// The `mutations` audit annotation key.
pub const MUTATIONS_ANNOTATION: &str = "mutations";
/// The audit annotation listing Gatekeeper `dryrun` violations.
pub const GATEKEEPER_DRYRUN_ANNOTATION: &str = "gatekeeper-dryrun-violations";

fn gatekeeper_message(v: &gatekeeper::Violation) -> String {
    format!("[{}] {}", v.constraint_name, v.message)
}

impl Admission {
    /// Builds the admission from a configuration: loads namespaces, Gatekeeper policies and
    /// RBAC objects. Problems with individual files are returned as diagnostics.
    pub fn from_config(cfg: &ServerConfig) -> Result<(Admission, Vec<Diagnostic>), EngineError> {
        let mut diags = Vec::new();
        let pss = if cfg.pod_security.enabled.unwrap_or(true) {
            Some(PodSecurity::from_config(&cfg.pod_security).map_err(EngineError::Config)?)
        } else {
            None
        };
        let state = if cfg.namespaces.is_empty() {
            ClusterState::default()
        } else {
            let mut inv = Inventory::load_paths(&cfg.namespaces, &LoadOptions::default());
            diags.append(&mut inv.diagnostics);
            ClusterState::from_inventory(&inv)
        };
        let policies = if cfg.gatekeeper.is_empty() {
            None
        } else {
            let (set, mut d) = PolicySet::load(&cfg.gatekeeper);
            diags.append(&mut d);
            Some(set)
        };
        let bound = if cfg.mutation.rbac.is_empty() {
            None
        } else {
            let mut inv = Inventory::load_paths(&cfg.mutation.rbac, &LoadOptions::default());
            diags.append(&mut inv.diagnostics);
            let json: Vec<Value> = inv.objects.iter().map(|o| o.node.to_json()).collect();
            Some(BoundAccounts::from_bindings(json.iter()))
        };
        let metrics = Metrics::default();
        let mut kinds: Vec<&str> = Vec::new();
        let constraint_template = policies.as_ref().map_or_else(Vec::new, |p| {
            p.constraints()
                .iter()
                .map(|c| match kinds.iter().position(|k| *k == c.kind) {
                    Some(i) => i,
                    None => {
                        kinds.push(&c.kind);
                        kinds.len() - 1
                    }
                })
                .collect()
        });
        let template_latency = kinds
            .iter()
            .map(|k| metrics.policy(&format!("gatekeeper/{k}")))
            .collect();
        Ok((
            Admission {
                pss,
                policies,
                template_latency,
                constraint_template,
                mutation_all: cfg.mutation.enabled,
                mutation_label: cfg
                    .mutation
                    .namespace_label
                    .clone()
                    .unwrap_or_else(|| DEFAULT_MUTATE_LABEL.to_owned()),
                mutator: Mutator {
                    non_root_images: cfg.mutation.non_root_images.clone(),
                    bound_service_accounts: bound,
                },
                state: RwLock::new(Arc::new(
                    state.with_unknown_namespace(cfg.unknown_namespace()),
                )),
                metrics,
            },
            diags,
        ))
    }

    /// The current cluster state.
    pub fn state(&self) -> Arc<ClusterState> {
        match self.state.read() {
            Ok(s) => s.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    /// The Gatekeeper policies, when configured.
    pub fn policies(&self) -> Option<&PolicySet> {
        self.policies.as_ref()
    }

    /// Number of Gatekeeper constraints loaded.
    pub fn constraint_count(&self) -> usize {
        self.policies.as_ref().map_or(0, |p| p.constraints().len())
    }

    /// The metrics text of the templates' verdict memos: reviews answered from each template's
    /// memo (`hit`) and evaluated (`miss`), templates without a memo not listed; and, for the
    /// templates the native Rego evaluator runs, the reviews it handed to regorus.
    pub fn render_memo_metrics(&self) -> String {
        let mut out = String::from(
            "# HELP palisade_admission_gatekeeper_memo_total Template evaluations answered from the verdict memo (hit) or run (miss).\n# TYPE palisade_admission_gatekeeper_memo_total counter\n",
        );
        for t in self.policies.iter().flat_map(|p| p.templates()) {
            if !t.is_memoised() {
                continue;
            }
            let (hits, misses) = t.memo_counts();
            for (result, n) in [("hit", hits), ("miss", misses)] {
                out.push_str(&format!(
                    "palisade_admission_gatekeeper_memo_total{{template=\"{}\",result=\"{result}\"}} {n}\n",
                    crate::metrics::escape(&t.name),
                ));
            }
        }
        out.push_str(
            "# HELP palisade_admission_gatekeeper_native_fallbacks_total Reviews the native Rego evaluator handed to regorus.\n# TYPE palisade_admission_gatekeeper_native_fallbacks_total counter\n",
        );
        for t in self.policies.iter().flat_map(|p| p.templates()) {
            if t.native_refusal().is_none() {
                out.push_str(&format!(
                    "palisade_admission_gatekeeper_native_fallbacks_total{{template=\"{}\"}} {}\n",
                    crate::metrics::escape(&t.name),
                    t.native_fallbacks().0,
                ));
            }
        }
        out
    }

    /// Parses a body, decides, and returns the response review (JSON).
    pub fn handle(&self, endpoint: Endpoint, body: &[u8]) -> Result<Vec<u8>, ReviewError> {
        self.handle_until(endpoint, body, None)
    }

    /// [`Admission::handle`] with a deadline: Gatekeeper evaluation stops when it passes, and
    /// the constraints left undecided count as failed evaluations (which deny, as any template
    /// failure does). The server answers 503 to a review decided past its deadline.
    pub fn handle_until(
        &self,
        endpoint: Endpoint,
        body: &[u8],
        deadline: Option<Instant>,
    ) -> Result<Vec<u8>, ReviewError> {
        let review = review::parse(body)?;
        let response = match endpoint {
            Endpoint::Validate => self.validate_until(&review, deadline),
            Endpoint::Mutate => self.mutate(&review),
        };
        Ok(response.to_review(&review.request.uid))
    }

    /// The validating decision: Pod Security, then Gatekeeper constraints.
    pub fn validate(&self, review: &AdmissionReview) -> Response {
        self.validate_until(review, None)
    }

    /// [`Admission::validate`], with Gatekeeper evaluation stopped at `deadline`.
    pub fn validate_until(&self, review: &AdmissionReview, deadline: Option<Instant>) -> Response {
        let state = self.state();
        let req = &review.request;
        let mut response = Response::allow();
        if let Some(pss) = &self.pss {
            let t = Instant::now();
            let ns = state.namespace(&req.namespace);
            let pods_in = |ns: &str| state.pods.get(ns).cloned().unwrap_or_default();
            response = match ns {
                None if state.unknown_namespace == UnknownNamespace::Error => {
                    crate::live::unknown_namespace(pss, review)
                }
                _ => None,
            }
            .unwrap_or_else(|| pss.validate(review, ns, &pods_in));
            self.metrics.policy("pss").observe(t.elapsed());
            self.metrics.decision(
                "pss",
                if !response.allowed {
                    "deny"
                } else if !response.warnings.is_empty() {
                    "warn"
                } else {
                    "allow"
                },
            );
        }
        if let Some(policies) = &self.policies {
            let t = Instant::now();
            // Time per template: the sum over its constraints evaluated for this review.
            let mut spent: Vec<Option<Duration>> = vec![None; self.template_latency.len()];
            let mut per_constraint = |i: usize, took: Duration| {
                if let Some(&slot) = self.constraint_template.get(i)
                    && let Some(sum) = spent.get_mut(slot)
                {
                    *sum = Some(sum.unwrap_or_default() + took);
                }
            };
            let outcome = policies.evaluate_review_timed(
                review,
                &state.gatekeeper,
                EnforcementPoint::Webhook,
                Some(&mut per_constraint),
                deadline,
            );
            self.metrics.policy("gatekeeper").observe(t.elapsed());
            for (h, took) in self.template_latency.iter().zip(&spent) {
                if let Some(took) = took {
                    h.observe(*took);
                }
            }
            let mut denials = Vec::new();
            let mut dryrun = Vec::new();
            for v in &outcome.violations {
                let decision = match v.enforcement_action {
                    EnforcementAction::Deny => {
                        denials.push(gatekeeper_message(v));
                        "deny"
                    }
                    EnforcementAction::Warn => {
                        response.warnings.push(gatekeeper_message(v));
                        "warn"
                    }
                    _ => {
                        dryrun.push(gatekeeper_message(v));
                        "dryrun"
                    }
                };
                self.metrics
                    .decision(&format!("gatekeeper/{}", v.constraint_kind), decision);
            }
            for e in &outcome.errors {
                denials.push(format!(
                    "[{}] template {} failed: {}",
                    e.constraint_name, e.template, e.message
                ));
            }
            if !dryrun.is_empty() {
                response
                    .audit_annotations
                    .insert(GATEKEEPER_DRYRUN_ANNOTATION.into(), dryrun.join("\n"));
            }
            if !denials.is_empty() {
                let text = denials.join("\n");
                match &mut response.status {
                    Some(s) => s.message = format!("{}\n{text}", s.message),
                    None => {
                        response.allowed = false;
                        response.warnings.clear();
                        response.status = Some(if outcome.errors.is_empty() {
                            Status::forbidden(text)
                        } else {
                            Status {
                                code: 500,
                                reason: "InternalError",
                                message: text,
                            }
                        });
                    }
                }
            }
        }
        if response.allowed && !req.dry_run {
            self.observe_namespace(review);
        }
        response
    }

    /// Keeps the namespace index current from admitted Namespace requests (never on dry run).
    fn observe_namespace(&self, review: &AdmissionReview) {
        let req = &review.request;
        if !req.resource.group.is_empty()
            || req.resource.resource != "namespaces"
            || !req.sub_resource.is_empty()
        {
            return;
        }
        let mut guard = match self.state.write() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        let mut next = (**guard).clone();
        match (req.operation, review.object()) {
            (Operation::Create | Operation::Update, Some(obj)) => {
                let labels = crate::pss::labels_of(obj);
                next.namespaces
                    .insert(req.name.clone(), NamespaceInfo { labels });
                next.namespace_objects
                    .insert(req.name.clone(), node_to_json(obj));
            }
            (Operation::Delete, _) => {
                next.namespaces.remove(&req.name);
                next.namespace_objects.remove(&req.name);
            }
            _ => return,
        }
        next.rebuild_gatekeeper();
        *guard = Arc::new(next);
    }

    fn mutation_enabled(&self, state: &ClusterState, namespace: &str) -> bool {
        self.mutation_all
            || state.namespace(namespace).is_some_and(|ns| {
                matches!(
                    ns.labels.get(&self.mutation_label).map(String::as_str),
                    Some("enabled" | "true")
                )
            })
    }

    /// The mutating decision: always allowed, with a JSONPatch of safe defaults where mutation
    /// is enabled.
    pub fn mutate(&self, review: &AdmissionReview) -> Response {
        let t = Instant::now();
        let req = &review.request;
        let mut response = Response::allow();
        let state = self.state();
        let applies = match req.operation {
            Operation::Create => true,
            Operation::Update => req.kind.kind != "Pod",
            _ => false,
        };
        if applies
            && req.sub_resource.is_empty()
            && self.mutation_enabled(&state, &req.namespace)
            && let Some(obj) = review.object()
        {
            let ops = self
                .mutator
                .patch(&node_to_json(obj), &req.kind.kind, &req.namespace);
            if !ops.is_empty() {
                response
                    .audit_annotations
                    .insert(MUTATIONS_ANNOTATION.into(), mutate::describe(&ops));
                response.patch = ops;
                self.metrics.decision("mutation", "mutate");
            } else {
                self.metrics.decision("mutation", "unchanged");
            }
        }
        self.metrics.policy("mutation").observe(t.elapsed());
        response
    }

    /// The PodSecurity admission, when enabled.
    pub fn pod_security(&self) -> Option<&PodSecurity> {
        self.pss.as_ref()
    }

    /// Replaces what the server knows of the cluster (audit builds it from the audited objects).
    pub fn set_state(&self, state: ClusterState) {
        let mut guard = match self.state.write() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        *guard = Arc::new(state);
    }

    /// The Gatekeeper violations of an existing object at the audit enforcement point.
    pub fn audit_gatekeeper(&self, obj: &Object) -> Vec<gatekeeper::Violation> {
        let Some(policies) = &self.policies else {
            return Vec::new();
        };
        let state = self.state();
        let request = gatekeeper::review_for_object(&obj.node.to_json());
        policies
            .evaluate(&request, &state.gatekeeper, EnforcementPoint::Audit)
            .violations
    }
}

/// Builds an object from JSON as a request would carry it (for tests and tools).
pub fn object_of(v: &Value) -> Object {
    let api_version = v.get("apiVersion").and_then(Value::as_str).unwrap_or("");
    let (group, version) = gatekeeper::split_api_version(api_version);
    let gvk = review::Gvk {
        group: group.to_owned(),
        version: version.to_owned(),
        kind: v
            .get("kind")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned(),
    };
    let ns = v
        .pointer("/metadata/namespace")
        .and_then(Value::as_str)
        .unwrap_or("");
    object_from_json(v, &gvk, ns, "")
}
