//! Live cluster state from the API server, with `kube`: the server watches Namespaces (and
//! Pods, and the kinds of `cluster.inventory`) and keeps the [`ClusterState`] of the
//! [`Admission`] current; `palisade admission audit --cluster` lists the objects to audit.
//!
//! * Each kind is listed, then watched (kube-runtime's watcher: re-watch from the last
//!   resourceVersion when a watch ends, a new list when it is too old, exponential backoff
//!   with jitter after errors). A new list replaces the kind's objects only once it is
//!   complete, so the server keeps answering with the last known state while the API server
//!   is unreachable.
//! * Changes are coalesced: one task rebuilds the state after a batch of events, off the I/O
//!   threads.
//! * [`LiveStatus`] says whether every kind has been listed once (`/readyz` waits for it) and
//!   counts events and errors per resource for `/metrics`.
//! * A Pod whose namespace is not known is looked up with a GET first, as PodSecurity's
//!   namespace getter does ([`LiveStatus::lookup_namespace`]); when that fails it gets
//!   PodSecurity admission's answer to a failed namespace lookup ([`unknown_namespace`]).

use crate::config::{ClusterConfig, InventoryKind};
use crate::engine::{Admission, ClusterState, object_of};
use crate::pss::{IGNORED_POD_SUBRESOURCES, POD_TEMPLATE_RESOURCES, PodSecurity};
use crate::review::{AdmissionReview, Operation, Response, Status};
use futures_util::StreamExt;
use kube::api::{ApiResource, DynamicObject, GroupVersionKind, ListParams};
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event};
use kube::{Api, Client};
use palisade_model::Object;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// Errors talking to the API server.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LiveError {
    /// The kubeconfig file could not be read or used.
    #[error("{path}: {message}")]
    Kubeconfig {
        /// The file.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// No client configuration could be found or built.
    #[error("cannot configure the Kubernetes client: {0}")]
    Config(String),
    /// Listing a resource failed.
    #[error("cannot list {resource}: {message}")]
    List {
        /// The resource (`namespaces`, `apps/v1 deployments`, ...).
        resource: String,
        /// The API server's or the connection's error.
        message: String,
    },
    /// Discovery of a kind failed.
    #[error("cannot find the resource of {kind}: {message}")]
    Discovery {
        /// `group/version Kind` or `group Kind`.
        kind: String,
        /// What went wrong.
        message: String,
    },
}

/// PodSecurity admission's answer for a request whose namespace cannot be found
/// (`k8s.io/pod-security-admission/admission`, `ValidatePod` and `ValidatePodController`):
/// a Pod (CREATE or UPDATE, a subresource PodSecurity evaluates, not exempt) is denied with
/// `500 InternalError` `Internal error occurred: failed to lookup namespace "x"`; a workload is
/// allowed with the `error` audit annotation. `None` when the request does not need the
/// namespace (other resources and operations, ignored subresources, exemptions).
pub fn unknown_namespace(pss: &PodSecurity, review: &AdmissionReview) -> Option<Response> {
    let req = &review.request;
    if !matches!(req.operation, Operation::Create | Operation::Update) {
        return None;
    }
    let gr = (req.resource.group.as_str(), req.resource.resource.as_str());
    let lookup = format!("failed to lookup namespace {:?}", req.namespace);
    // What the API server answers to PodSecurity's GET of a missing namespace.
    let cause = format!("namespaces {:?} not found", req.namespace);
    if gr == ("", "pods") {
        if IGNORED_POD_SUBRESOURCES.contains(&req.sub_resource.as_str())
            || pss.exempt_namespace(&req.namespace)
            || pss.exempt_user(&req.username)
        {
            return None;
        }
        let message = format!("Internal error occurred: {lookup}");
        let mut r = Response::deny(Status {
            code: 500,
            reason: "InternalError",
            message: message.clone(),
        });
        r.audit_annotations
            .insert("error".into(), format!("{message}: {cause}"));
        return Some(r);
    }
    if POD_TEMPLATE_RESOURCES.contains(&gr) {
        if !req.sub_resource.is_empty()
            || pss.exempt_namespace(&req.namespace)
            || pss.exempt_user(&req.username)
        {
            return None;
        }
        let mut r = Response::allow();
        r.audit_annotations
            .insert("error".into(), format!("{lookup}: {cause}"));
        return Some(r);
    }
    None
}

/// A Kubernetes client for the `cluster` settings: the given kubeconfig, else the in-cluster
/// service account when running in a pod, else `$KUBECONFIG` / `~/.kube/config`.
pub async fn client(cfg: &ClusterConfig) -> Result<Client, LiveError> {
    let config = match &cfg.kubeconfig {
        Some(path) => kubeconfig(path).await?,
        None if std::env::var_os("KUBERNETES_SERVICE_HOST").is_some() => {
            kube::Config::incluster().map_err(|e| LiveError::Config(e.to_string()))?
        }
        None => kube::Config::infer()
            .await
            .map_err(|e| LiveError::Config(e.to_string()))?,
    };
    Client::try_from(config).map_err(|e| LiveError::Config(e.to_string()))
}

async fn kubeconfig(path: &Path) -> Result<kube::Config, LiveError> {
    let err = |message: String| LiveError::Kubeconfig {
        path: path.display().to_string(),
        message,
    };
    let kc = kube::config::Kubeconfig::read_from(path).map_err(|e| err(e.to_string()))?;
    kube::Config::from_custom_kubeconfig(kc, &kube::config::KubeConfigOptions::default())
        .await
        .map_err(|e| err(e.to_string()))
}

/// A kind to list or watch.
#[derive(Debug, Clone)]
pub struct Kind {
    /// Group, version, kind and resource name.
    pub resource: ApiResource,
    /// Whether its objects go into Gatekeeper's `data.inventory` (live server).
    pub inventory: bool,
}

impl Kind {
    /// A kind from its group, version, kind and plural resource name.
    pub fn new(group: &str, version: &str, kind: &str, plural: &str) -> Kind {
        let gvk = GroupVersionKind::gvk(group, version, kind);
        Kind {
            resource: ApiResource::from_gvk_with_plural(&gvk, plural),
            inventory: false,
        }
    }

    /// `namespaces`, `apps/v1 deployments`: how errors and metrics name it.
    pub fn label(&self) -> String {
        if self.resource.group.is_empty() {
            self.resource.plural.clone()
        } else {
            format!("{}/{}", self.resource.group, self.resource.plural)
        }
    }

    fn is(&self, group: &str, kind: &str) -> bool {
        self.resource.group == group && self.resource.kind == kind
    }
}

/// Namespaces.
pub fn namespaces() -> Kind {
    Kind::new("", "v1", "Namespace", "namespaces")
}

/// Pods.
pub fn pods() -> Kind {
    Kind::new("", "v1", "Pod", "pods")
}

/// Namespaces, Pods and every kind with a pod template PodSecurity audits and warns about.
pub fn workload_kinds() -> Vec<Kind> {
    vec![
        namespaces(),
        pods(),
        Kind::new("", "v1", "PodTemplate", "podtemplates"),
        Kind::new("", "v1", "ReplicationController", "replicationcontrollers"),
        Kind::new("apps", "v1", "ReplicaSet", "replicasets"),
        Kind::new("apps", "v1", "Deployment", "deployments"),
        Kind::new("apps", "v1", "DaemonSet", "daemonsets"),
        Kind::new("apps", "v1", "StatefulSet", "statefulsets"),
        Kind::new("batch", "v1", "Job", "jobs"),
        Kind::new("batch", "v1", "CronJob", "cronjobs"),
    ]
}

/// A configured inventory kind (plural guessed from the kind unless given).
pub fn inventory_kind(k: &InventoryKind) -> Kind {
    let (group, version) = match k.api_version.split_once('/') {
        Some((g, v)) => (g, v),
        None => ("", k.api_version.as_str()),
    };
    let gvk = GroupVersionKind::gvk(group, version, &k.kind);
    let resource = match &k.resource {
        Some(p) => ApiResource::from_gvk_with_plural(&gvk, p),
        None => ApiResource::from_gvk(&gvk),
    };
    Kind {
        resource,
        inventory: true,
    }
}

/// The kinds Gatekeeper constraints match (`match.kinds`) that are not already in `known`,
/// resolved with the API server's discovery (preferred version). Wildcards cannot be listed
/// and are left out; each is reported in the second list.
pub async fn constraint_kinds(
    client: &Client,
    admission: &Admission,
    known: &[Kind],
) -> (Vec<Kind>, Vec<String>) {
    let mut wanted: Vec<(String, String)> = Vec::new();
    let mut notes = Vec::new();
    for c in admission.policies().map_or(&[][..], |p| p.constraints()) {
        if c.matcher.kinds.is_empty() {
            notes.push(format!(
                "constraint {} matches every kind: only the listed kinds are audited",
                c.name
            ));
        }
        for km in &c.matcher.kinds {
            if km.kinds.is_empty() || km.api_groups.is_empty() {
                notes.push(format!(
                    "constraint {} matches every kind or group: only the listed kinds are audited",
                    c.name
                ));
                continue;
            }
            for g in &km.api_groups {
                for k in &km.kinds {
                    if g == "*" || k == "*" {
                        notes.push(format!(
                            "constraint {} matches {g:?} {k:?}: wildcards are not listed",
                            c.name
                        ));
                        continue;
                    }
                    let pair = (g.clone(), k.clone());
                    if !known.iter().any(|x| x.is(g, k)) && !wanted.contains(&pair) {
                        wanted.push(pair);
                    }
                }
            }
        }
    }
    let mut kinds = Vec::new();
    let mut groups: HashMap<String, Option<kube::discovery::ApiGroup>> = HashMap::new();
    for (g, k) in wanted {
        if !groups.contains_key(&g) {
            let found = kube::discovery::oneshot::group(client, &g).await;
            if let Err(e) = &found {
                notes.push(format!("cannot discover API group {g:?}: {e}"));
            }
            groups.insert(g.clone(), found.ok());
        }
        if let Some(group) = groups.get(&g).and_then(|o| o.as_ref()) {
            match group.recommended_kind(&k) {
                Some((resource, _)) => kinds.push(Kind {
                    resource,
                    inventory: false,
                }),
                None => notes.push(format!("the API server has no kind {k} in group {g:?}")),
            }
        }
    }
    (kinds, notes)
}

/// Converts a listed object into the JSON an API server returns for a GET (`apiVersion` and
/// `kind` filled in: list items may lack them).
fn to_json(obj: DynamicObject, resource: &ApiResource) -> Value {
    let mut v = serde_json::to_value(obj).unwrap_or(Value::Null);
    if let Value::Object(m) = &mut v {
        if !m.get("apiVersion").is_some_and(|a| a.is_string()) {
            m.insert("apiVersion".into(), resource.api_version.clone().into());
        }
        if !m.get("kind").is_some_and(|a| a.is_string()) {
            m.insert("kind".into(), resource.kind.clone().into());
        }
    }
    v
}

/// Lists every object of `kinds` (all namespaces, in pages of 500).
pub async fn list_objects(client: &Client, kinds: &[Kind]) -> Result<Vec<Value>, LiveError> {
    let mut out = Vec::new();
    for kind in kinds {
        let api: Api<DynamicObject> = Api::all_with(client.clone(), &kind.resource);
        let mut params = ListParams::default().limit(500);
        loop {
            let page = api.list(&params).await.map_err(|e| LiveError::List {
                resource: kind.label(),
                message: e.to_string(),
            })?;
            let next = page.metadata.continue_.clone().filter(|c| !c.is_empty());
            out.extend(page.items.into_iter().map(|o| to_json(o, &kind.resource)));
            match next {
                Some(c) => params = params.continue_token(&c),
                None => break,
            }
        }
    }
    Ok(out)
}

/// Whether the live state is synced, and counters for `/metrics`.
#[derive(Debug, Default)]
pub struct LiveStatus {
    synced: AtomicBool,
    counters: Mutex<BTreeMap<String, Counters>>,
    resolver: std::sync::OnceLock<Resolver>,
}

/// What [`LiveStatus::lookup_namespace`] needs (weak: the status outlives the watches).
struct Resolver {
    client: Client,
    shared: std::sync::Weak<Shared>,
    admission: std::sync::Weak<Admission>,
}

impl std::fmt::Debug for Resolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Resolver")
    }
}

/// Whether an AdmissionReview answer (JSON) is PodSecurity's failed namespace lookup
/// ([`unknown_namespace`]).
pub fn is_namespace_lookup_failure(json: &[u8]) -> bool {
    const NEEDLE: &[u8] = b"failed to lookup namespace";
    json.windows(NEEDLE.len()).any(|w| w == NEEDLE)
}

/// The namespace of a review that PodSecurity would look up and the server does not know: a
/// Pod or workload CREATE/UPDATE in a non-exempt namespace, when unknown namespaces are errors.
/// Reads only `request.operation`, `request.namespace` and `request.resource` of the body.
pub fn namespace_to_look_up(admission: &Admission, body: &[u8]) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Probe {
        request: ProbeRequest,
    }
    #[derive(serde::Deserialize)]
    struct ProbeRequest {
        #[serde(default)]
        namespace: String,
        #[serde(default)]
        operation: String,
        #[serde(default)]
        resource: ProbeResource,
    }
    #[derive(serde::Deserialize, Default)]
    struct ProbeResource {
        #[serde(default)]
        group: String,
        #[serde(default)]
        resource: String,
    }
    let pss = admission.pod_security()?;
    let state = admission.state();
    if state.unknown_namespace() != crate::engine::UnknownNamespace::Error {
        return None;
    }
    let req = serde_json::from_slice::<Probe>(body).ok()?.request;
    let gr = (req.resource.group.as_str(), req.resource.resource.as_str());
    let relevant = gr == ("", "pods") || POD_TEMPLATE_RESOURCES.contains(&gr);
    (relevant
        && matches!(req.operation.as_str(), "CREATE" | "UPDATE")
        && !req.namespace.is_empty()
        && !pss.exempt_namespace(&req.namespace)
        && state.namespace(&req.namespace).is_none())
    .then_some(req.namespace)
}

#[derive(Debug, Default, Clone)]
struct Counters {
    events: u64,
    errors: u64,
    lists: u64,
    objects: usize,
    gets: u64,
    synced: bool,
    last_error: Option<String>,
}

impl LiveStatus {
    /// PodSecurity's namespace getter falls back to a GET when its informer has not seen a
    /// namespace: this does the same for a namespace created moments ago whose watch event
    /// has not arrived. A namespace found is added to the state (true); `Ok(false)` when the
    /// API server does not have it (or no watch runs), `Err` when the GET fails.
    pub async fn lookup_namespace(&self, name: &str) -> Result<bool, String> {
        let Some(r) = self.resolver.get() else {
            return Ok(false);
        };
        let (Some(shared), Some(adm)) = (r.shared.upgrade(), r.admission.upgrade()) else {
            return Ok(false);
        };
        let kind = shared.kinds[0].clone();
        let api: Api<DynamicObject> = Api::all_with(r.client.clone(), &kind.resource);
        let got = api.get_opt(name).await;
        self.with(&kind.label(), |c| c.gets += 1);
        match got {
            Ok(Some(o)) => {
                let v = to_json(o, &kind.resource);
                shared.lock().objects[0].insert(key_of(&v), v);
                let (state, _) = shared.build(&adm.state());
                adm.set_state(state);
                Ok(true)
            }
            Ok(None) => Ok(false),
            Err(e) => Err(e.to_string()),
        }
    }

    /// True once every watched kind has been listed and the state built from it is in use.
    pub fn synced(&self) -> bool {
        self.synced.load(Ordering::Acquire)
    }

    fn with(&self, resource: &str, f: impl FnOnce(&mut Counters)) {
        let mut g = match self.counters.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        f(g.entry(resource.to_owned()).or_default());
    }

    fn snapshot(&self) -> BTreeMap<String, Counters> {
        match self.counters.lock() {
            Ok(g) => g.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    /// One line for `/readyz`: what is synced, what is still awaited, the last errors.
    pub fn describe(&self) -> String {
        let snap = self.snapshot();
        let mut parts = Vec::new();
        for (r, c) in &snap {
            let mut s = if c.synced {
                format!("{r}: {} objects", c.objects)
            } else {
                format!("{r}: waiting for the first list")
            };
            if let Some(e) = &c.last_error {
                s.push_str(&format!(" (last error: {e})"));
            }
            parts.push(s);
        }
        parts.join("; ")
    }

    /// Prometheus text: `palisade_admission_cluster_synced`,
    /// `palisade_admission_cluster_watch_events_total{resource}`,
    /// `palisade_admission_cluster_watch_errors_total{resource}`,
    /// `palisade_admission_cluster_lists_total{resource}`,
    /// `palisade_admission_cluster_objects{resource}`.
    pub fn render_metrics(&self) -> String {
        let snap = self.snapshot();
        let mut out = String::new();
        out.push_str("# HELP palisade_admission_cluster_synced Whether every watched kind has been listed from the API server.\n# TYPE palisade_admission_cluster_synced gauge\n");
        out.push_str(&format!(
            "palisade_admission_cluster_synced {}\n",
            u8::from(self.synced())
        ));
        let families: [Family; 5] = [
            (
                "palisade_admission_cluster_watch_events_total",
                "counter",
                "Watch events received from the API server.",
                |c| c.events.to_string(),
            ),
            (
                "palisade_admission_cluster_watch_errors_total",
                "counter",
                "Failed lists and watches (retried with backoff; the last known state is kept).",
                |c| c.errors.to_string(),
            ),
            (
                "palisade_admission_cluster_lists_total",
                "counter",
                "Complete lists received (the first one and each re-list).",
                |c| c.lists.to_string(),
            ),
            (
                "palisade_admission_cluster_gets_total",
                "counter",
                "GETs of objects the watch had not delivered yet (namespaces of new pods).",
                |c| c.gets.to_string(),
            ),
            (
                "palisade_admission_cluster_objects",
                "gauge",
                "Objects known per resource.",
                |c| c.objects.to_string(),
            ),
        ];
        for (name, ty, help, value) in families {
            out.push_str(&format!("# HELP {name} {help}\n# TYPE {name} {ty}\n"));
            for (r, c) in &snap {
                out.push_str(&format!("{name}{{resource=\"{r}\"}} {}\n", value(c)));
            }
        }
        out
    }
}

type Key = (String, String);

/// A metric family: name, type, help, value per resource.
type Family = (
    &'static str,
    &'static str,
    &'static str,
    fn(&Counters) -> String,
);

/// The objects of every watched kind.
#[derive(Default)]
struct Store {
    /// Per kind (same index as `kinds`): objects by (namespace, name), and whether the kind
    /// has been listed once.
    objects: Vec<BTreeMap<Key, Value>>,
    synced: Vec<bool>,
    /// Pods converted once for PodSecurity (by namespace, name).
    pods: BTreeMap<Key, Object>,
}

struct Shared {
    kinds: Vec<Kind>,
    store: Mutex<Store>,
    changed: tokio::sync::Notify,
    status: Arc<LiveStatus>,
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, Store> {
        match self.store.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    /// The state from the store, and whether every kind has been listed.
    fn build(&self, template: &ClusterState) -> (ClusterState, bool) {
        let store = self.lock();
        let namespaces = store.objects.first().into_iter().flat_map(|m| m.values());
        let mut pods: HashMap<String, Vec<Object>> = HashMap::new();
        for ((ns, _), o) in &store.pods {
            pods.entry(ns.clone()).or_default().push(o.clone());
        }
        let inventory = self
            .kinds
            .iter()
            .zip(&store.objects)
            .filter(|(k, _)| k.inventory)
            .flat_map(|(_, m)| m.values());
        let state = ClusterState::from_parts(namespaces, pods, inventory)
            .with_unknown_namespace(template.unknown_namespace());
        (state, store.synced.iter().all(|s| *s))
    }
}

fn key_of(v: &Value) -> Key {
    let s = |p: &str| {
        v.pointer(p)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned()
    };
    (s("/metadata/namespace"), s("/metadata/name"))
}

fn log(line: std::fmt::Arguments<'_>) {
    use std::io::Write as _;
    let _ = writeln!(std::io::stderr(), "palisade admission: {line}");
}

/// The running watches; dropping it stops them.
#[derive(Debug)]
pub struct Live {
    /// Sync status and counters (for `/readyz` and `/metrics`).
    pub status: Arc<LiveStatus>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for Live {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

/// The kinds the server watches for a configuration: Namespaces, Pods unless
/// `cluster.pods: false`, and `cluster.inventory` (Namespaces are always in the inventory).
pub fn watched_kinds(cfg: &ClusterConfig) -> Vec<Kind> {
    let mut ns = namespaces();
    ns.inventory = true;
    let mut kinds = vec![ns];
    let pods_in_inventory = cfg
        .inventory
        .iter()
        .any(|k| k.api_version == "v1" && k.kind == "Pod");
    if cfg.watch_pods() || pods_in_inventory {
        let mut p = pods();
        p.inventory = pods_in_inventory;
        kinds.push(p);
    }
    for k in &cfg.inventory {
        if (k.api_version == "v1" && (k.kind == "Pod" || k.kind == "Namespace"))
            || k.kind.is_empty()
        {
            continue;
        }
        kinds.push(inventory_kind(k));
    }
    kinds
}

/// Starts watching `kinds` (the first must be Namespaces) and keeping the state of
/// `admission` current. Must be called inside a tokio runtime.
pub fn spawn(admission: Arc<Admission>, client: Client, kinds: Vec<Kind>) -> Live {
    let status = Arc::new(LiveStatus::default());
    for k in &kinds {
        status.with(&k.label(), |_| {});
    }
    let shared = Arc::new(Shared {
        store: Mutex::new(Store {
            objects: vec![BTreeMap::new(); kinds.len()],
            synced: vec![false; kinds.len()],
            pods: BTreeMap::new(),
        }),
        kinds,
        changed: tokio::sync::Notify::new(),
        status: status.clone(),
    });
    let _ = status.resolver.set(Resolver {
        client: client.clone(),
        shared: Arc::downgrade(&shared),
        admission: Arc::downgrade(&admission),
    });
    let mut tasks = Vec::new();
    for i in 0..shared.kinds.len() {
        tasks.push(tokio::spawn(watch_kind(client.clone(), shared.clone(), i)));
    }
    tasks.push(tokio::spawn(publish(admission, shared)));
    Live { status, tasks }
}

/// Rebuilds and installs the state after each batch of changes.
async fn publish(admission: Arc<Admission>, shared: Arc<Shared>) {
    loop {
        shared.changed.notified().await;
        let adm = admission.clone();
        let sh = shared.clone();
        let built = tokio::task::spawn_blocking(move || {
            let (state, synced) = sh.build(&adm.state());
            adm.set_state(state);
            synced
        })
        .await;
        match built {
            Ok(true) => {
                if !shared.status.synced.swap(true, Ordering::AcqRel) {
                    log(format_args!(
                        "cluster state synced: {}",
                        shared.status.describe()
                    ));
                }
            }
            Ok(false) => {}
            Err(e) => log(format_args!("rebuilding the cluster state failed: {e}")),
        }
    }
}

async fn watch_kind(client: Client, shared: Arc<Shared>, index: usize) {
    let kind = shared.kinds[index].clone();
    let label = kind.label();
    let is_pod = kind.is("", "Pod");
    let api: Api<DynamicObject> = Api::all_with(client, &kind.resource);
    let mut stream = watcher(api).default_backoff().boxed();
    let mut buffer: Option<BTreeMap<Key, Value>> = None;
    while let Some(item) = stream.next().await {
        let event = match item {
            Ok(e) => e,
            Err(e) => {
                let msg = e.to_string();
                log(format_args!(
                    "watching {label}: {msg} (retrying; serving with the last known state)"
                ));
                shared.status.with(&label, |c| {
                    c.errors += 1;
                    c.last_error = Some(msg);
                });
                continue;
            }
        };
        let mut store = shared.lock();
        let changed = match event {
            Event::Init => {
                buffer = Some(BTreeMap::new());
                false
            }
            Event::InitApply(o) => {
                let v = to_json(o, &kind.resource);
                buffer
                    .get_or_insert_with(BTreeMap::new)
                    .insert(key_of(&v), v);
                false
            }
            Event::InitDone => {
                let full = buffer.take().unwrap_or_default();
                if is_pod {
                    store.pods = full
                        .iter()
                        .map(|(k, v)| (k.clone(), object_of(v)))
                        .collect();
                }
                let n = full.len();
                store.objects[index] = full;
                store.synced[index] = true;
                shared.status.with(&label, |c| {
                    c.lists += 1;
                    c.synced = true;
                    c.objects = n;
                    c.last_error = None;
                });
                true
            }
            Event::Apply(o) => {
                let v = to_json(o, &kind.resource);
                let k = key_of(&v);
                if is_pod {
                    store.pods.insert(k.clone(), object_of(&v));
                }
                store.objects[index].insert(k, v);
                let n = store.objects[index].len();
                shared.status.with(&label, |c| {
                    c.events += 1;
                    c.objects = n;
                });
                true
            }
            Event::Delete(o) => {
                let v = to_json(o, &kind.resource);
                let k = key_of(&v);
                if is_pod {
                    store.pods.remove(&k);
                }
                store.objects[index].remove(&k);
                let n = store.objects[index].len();
                shared.status.with(&label, |c| {
                    c.events += 1;
                    c.objects = n;
                });
                true
            }
        };
        drop(store);
        if changed {
            shared.changed.notify_one();
        }
    }
}

fn watcher(
    api: Api<DynamicObject>,
) -> impl futures_util::Stream<Item = Result<Event<DynamicObject>, watcher::Error>> + Send {
    watcher::watcher(api, watcher::Config::default())
}

/// Watches running on their own thread and single-threaded runtime (for servers that run
/// their own runtime); dropping it stops them.
#[derive(Debug)]
pub struct Background {
    /// Sync status and counters.
    pub status: Arc<LiveStatus>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Background {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Builds the client for `cfg` and starts watching on a thread of its own. Client
/// configuration errors (kubeconfig) are returned here; the API server being unreachable is
/// not an error (the watches retry, and [`LiveStatus::synced`] stays false until it answers).
pub fn start_background(
    admission: Arc<Admission>,
    cfg: &ClusterConfig,
) -> Result<Background, LiveError> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| LiveError::Config(e.to_string()))?;
    let client = rt.block_on(client(cfg))?;
    let kinds = watched_kinds(cfg);
    let (status_tx, status_rx) = std::sync::mpsc::channel();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let thread = std::thread::Builder::new()
        .name("palisade-cluster-watch".into())
        .spawn(move || {
            rt.block_on(async move {
                let live = spawn(admission, client, kinds);
                let _ = status_tx.send(live.status.clone());
                let _ = stopped.await;
                drop(live);
            });
        })
        .map_err(|e| LiveError::Config(e.to_string()))?;
    let status = status_rx
        .recv()
        .map_err(|_| LiveError::Config("the watch thread did not start".into()))?;
    Ok(Background {
        status,
        stop: Some(stop),
        thread: Some(thread),
    })
}
