//! A fake Kubernetes API server for tests: plain HTTP on 127.0.0.1, list and watch (chunked
//! JSON WatchEvents from a resourceVersion) for any `/api/v1/<resource>` or
//! `/apis/<group>/<version>/<resource>`, objects changed by the test, watch connections that
//! can be cut, and an outage switch (every request answers 500).

#![allow(dead_code)]

use axum::Router;
use axum::body::Body;
use axum::http::{StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::{broadcast, watch};

/// (api prefix path, resource): `("/api/v1", "namespaces")`, `("/apis/apps/v1", "deployments")`.
type ResKey = (String, String);

#[derive(Clone, Debug)]
struct Change {
    rv: u64,
    res: ResKey,
    kind: &'static str,
    object: Value,
}

#[derive(Default)]
struct Data {
    rv: u64,
    objects: BTreeMap<(ResKey, String, String), Value>,
    history: Vec<Change>,
    /// Objects a GET finds but lists and watches do not show (an object created moments ago
    /// whose watch event is late).
    hidden: BTreeMap<(ResKey, String, String), Value>,
}

struct Inner {
    data: Mutex<Data>,
    changes: broadcast::Sender<Change>,
    /// Bumped to end every open watch.
    cut: watch::Sender<u64>,
    failing: AtomicBool,
    lists: AtomicUsize,
    watches: AtomicUsize,
    gets: AtomicUsize,
}

/// The running fake API server.
pub struct FakeApi {
    pub addr: SocketAddr,
    inner: Arc<Inner>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeApi {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn res_of(object: &Value) -> ResKey {
    let api_version = object["apiVersion"].as_str().unwrap_or("v1");
    let prefix = if api_version.contains('/') {
        format!("/apis/{api_version}")
    } else {
        format!("/api/{api_version}")
    };
    let kind = object["kind"].as_str().unwrap_or("").to_ascii_lowercase();
    let plural = if kind.ends_with('s') {
        format!("{kind}es")
    } else {
        format!("{kind}s")
    };
    (prefix, plural)
}

fn key_of(object: &Value) -> (ResKey, String, String) {
    (
        res_of(object),
        object["metadata"]["namespace"]
            .as_str()
            .unwrap_or("")
            .to_owned(),
        object["metadata"]["name"].as_str().unwrap_or("").to_owned(),
    )
}

impl FakeApi {
    /// Starts the server (inside a tokio runtime).
    pub async fn start() -> FakeApi {
        let (changes, _) = broadcast::channel(1024);
        let (cut, _) = watch::channel(0);
        let inner = Arc::new(Inner {
            data: Mutex::new(Data {
                rv: 100,
                ..Data::default()
            }),
            changes,
            cut,
            failing: AtomicBool::new(false),
            lists: AtomicUsize::new(0),
            watches: AtomicUsize::new(0),
            gets: AtomicUsize::new(0),
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let state = inner.clone();
        let app = Router::new().fallback(move |uri: Uri| {
            let inner = state.clone();
            async move { handle(inner, uri) }
        });
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        FakeApi { addr, inner, task }
    }

    /// Adds or replaces an object (ADDED or MODIFIED for the watchers).
    pub fn apply(&self, mut object: Value) {
        let mut d = self.inner.data.lock().unwrap();
        d.rv += 1;
        let rv = d.rv;
        object["metadata"]["resourceVersion"] = json!(rv.to_string());
        let key = key_of(&object);
        let kind = if d.objects.insert(key.clone(), object.clone()).is_some() {
            "MODIFIED"
        } else {
            "ADDED"
        };
        let change = Change {
            rv,
            res: key.0,
            kind,
            object,
        };
        d.history.push(change.clone());
        let _ = self.inner.changes.send(change);
    }

    /// Makes an object visible to GETs only.
    pub fn apply_hidden(&self, object: Value) {
        let mut d = self.inner.data.lock().unwrap();
        d.hidden.insert(key_of(&object), object);
    }

    /// Number of GETs of single objects answered.
    pub fn gets(&self) -> usize {
        self.inner.gets.load(Ordering::SeqCst)
    }

    /// Deletes an object (DELETED for the watchers).
    pub fn delete(&self, api_version: &str, kind: &str, namespace: &str, name: &str) {
        let probe = json!({"apiVersion": api_version, "kind": kind,
            "metadata": {"namespace": namespace, "name": name}});
        let mut d = self.inner.data.lock().unwrap();
        let Some(mut object) = d.objects.remove(&key_of(&probe)) else {
            return;
        };
        d.rv += 1;
        let rv = d.rv;
        object["metadata"]["resourceVersion"] = json!(rv.to_string());
        let change = Change {
            rv,
            res: res_of(&object),
            kind: "DELETED",
            object,
        };
        d.history.push(change.clone());
        let _ = self.inner.changes.send(change);
    }

    /// Ends every open watch connection (the clients have to watch again).
    pub fn cut_watches(&self) {
        self.inner.cut.send_modify(|n| *n += 1);
    }

    /// While on, every request answers 500 and open watches are cut.
    pub fn set_failing(&self, on: bool) {
        self.inner.failing.store(on, Ordering::SeqCst);
        if on {
            self.cut_watches();
        }
    }

    /// Number of list requests answered (successfully).
    pub fn lists(&self) -> usize {
        self.inner.lists.load(Ordering::SeqCst)
    }

    /// Number of watch requests accepted.
    pub fn watches(&self) -> usize {
        self.inner.watches.load(Ordering::SeqCst)
    }

    /// Writes a kubeconfig pointing at this server (plain HTTP, a bearer token).
    pub fn kubeconfig(&self, dir: &Path) -> PathBuf {
        let path = dir.join("kubeconfig.yaml");
        std::fs::write(
            &path,
            format!(
                "apiVersion: v1\nkind: Config\nclusters:\n- name: fake\n  cluster:\n    server: http://{}\nusers:\n- name: tester\n  user:\n    token: not-a-secret\ncontexts:\n- name: fake\n  context:\n    cluster: fake\n    user: tester\ncurrent-context: fake\n",
                self.addr
            ),
        )
        .unwrap();
        path
    }
}

fn status(code: StatusCode, reason: &str, message: &str) -> Response {
    (
        code,
        [(header::CONTENT_TYPE, "application/json")],
        json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": message, "reason": reason, "code": code.as_u16()})
        .to_string(),
    )
        .into_response()
}

/// Discovery of the core group (`/api`, `/api/v1`) for a few kinds, and no other groups.
fn discovery(path: &str) -> Option<Value> {
    let core = [
        ("namespaces", "Namespace", false),
        ("pods", "Pod", true),
        ("configmaps", "ConfigMap", true),
        ("services", "Service", true),
    ];
    match path.trim_end_matches('/') {
        "/api" => Some(json!({"kind": "APIVersions", "versions": ["v1"],
            "serverAddressByClientCIDRs": []})),
        "/apis" => Some(json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": []})),
        "/api/v1" => Some(json!({"kind": "APIResourceList", "groupVersion": "v1",
            "resources": core.iter().map(|(name, kind, namespaced)| json!({
                "name": name, "singularName": kind.to_ascii_lowercase(), "namespaced": namespaced,
                "kind": kind, "verbs": ["get", "list", "watch"]})).collect::<Vec<_>>()})),
        _ => None,
    }
}

/// `/api/v1/namespaces/x` (a cluster-scoped object): its resource key and name.
fn parse_get(path: &str) -> Option<(ResKey, String)> {
    match path
        .trim_matches('/')
        .split('/')
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["api", v, res, name] => {
            Some(((format!("/api/{v}"), (*res).to_owned()), (*name).to_owned()))
        }
        _ => None,
    }
}

/// Splits `/api/v1/namespaces/x/pods` or `/apis/apps/v1/deployments` into the resource key and
/// the namespace it is restricted to.
fn parse_path(path: &str) -> Option<(ResKey, Option<String>)> {
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    let (prefix, rest) = match parts.as_slice() {
        ["api", v, rest @ ..] => (format!("/api/{v}"), rest),
        ["apis", g, v, rest @ ..] => (format!("/apis/{g}/{v}"), rest),
        _ => return None,
    };
    match rest {
        [res] => Some(((prefix, (*res).to_owned()), None)),
        ["namespaces", ns, res] => Some(((prefix, (*res).to_owned()), Some((*ns).to_owned()))),
        _ => None,
    }
}

fn handle(inner: Arc<Inner>, uri: Uri) -> Response {
    if inner.failing.load(Ordering::SeqCst) {
        return status(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalError",
            "the fake API server is down",
        );
    }
    if let Some(doc) = discovery(uri.path()) {
        return (
            [(header::CONTENT_TYPE, "application/json")],
            doc.to_string(),
        )
            .into_response();
    }
    if let Some((res, name)) = parse_get(uri.path()) {
        inner.gets.fetch_add(1, Ordering::SeqCst);
        let d = inner.data.lock().unwrap();
        let key = (res, String::new(), name.clone());
        return match d.objects.get(&key).or_else(|| d.hidden.get(&key)) {
            Some(o) => {
                ([(header::CONTENT_TYPE, "application/json")], o.to_string()).into_response()
            }
            None => status(
                StatusCode::NOT_FOUND,
                "NotFound",
                &format!("{} {name:?} not found", key.0.1),
            ),
        };
    }
    let Some((res, ns)) = parse_path(uri.path()) else {
        return status(
            StatusCode::NOT_FOUND,
            "NotFound",
            "the server could not find the requested resource",
        );
    };
    let query: BTreeMap<String, String> = uri
        .query()
        .unwrap_or("")
        .split('&')
        .filter_map(|kv| {
            let (k, v) = kv.split_once('=')?;
            Some((k.to_owned(), v.to_owned()))
        })
        .collect();
    let watching = matches!(query.get("watch").map(String::as_str), Some("true" | "1"));
    if !watching {
        let d = inner.data.lock().unwrap();
        let items: Vec<Value> = d
            .objects
            .iter()
            .filter(|((r, n, _), _)| *r == res && ns.as_ref().is_none_or(|ns| ns == n))
            .map(|(_, o)| o.clone())
            .collect();
        inner.lists.fetch_add(1, Ordering::SeqCst);
        let body = json!({"apiVersion": "v1", "kind": "List",
            "metadata": {"resourceVersion": d.rv.to_string()}, "items": items});
        return (
            [(header::CONTENT_TYPE, "application/json")],
            body.to_string(),
        )
            .into_response();
    }
    let from: u64 = query
        .get("resourceVersion")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    inner.watches.fetch_add(1, Ordering::SeqCst);
    // Subscribe before reading the history, so that nothing falls in between.
    let mut rx = inner.changes.subscribe();
    let mut cut = inner.cut.subscribe();
    cut.borrow_and_update();
    let backlog: Vec<Change> = {
        let d = inner.data.lock().unwrap();
        d.history
            .iter()
            .filter(|c| c.rv > from && c.res == res)
            .cloned()
            .collect()
    };
    let last = backlog.last().map_or(from, |c| c.rv);
    let (tx, out) = tokio::sync::mpsc::channel::<Result<String, std::io::Error>>(64);
    tokio::spawn(async move {
        let line = |c: &Change| format!("{}\n", json!({"type": c.kind, "object": c.object}));
        for c in &backlog {
            if tx.send(Ok(line(c))).await.is_err() {
                return;
            }
        }
        loop {
            tokio::select! {
                _ = cut.changed() => return,
                c = rx.recv() => match c {
                    Ok(c) if c.rv > last && c.res == res
                        && ns.as_ref().is_none_or(|ns| c.object["metadata"]["namespace"] == **ns) => {
                        if tx.send(Ok(line(&c))).await.is_err() {
                            return;
                        }
                    }
                    Ok(_) => {}
                    Err(_) => return,
                },
            }
        }
    });
    let stream = futures_util::stream::unfold(out, |mut out| async move {
        out.recv().await.map(|item| (item, out))
    });
    (
        [(header::CONTENT_TYPE, "application/json")],
        Body::from_stream(stream),
    )
        .into_response()
}
