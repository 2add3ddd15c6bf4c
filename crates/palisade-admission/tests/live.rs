//! Live cluster state: the webhook watches Namespaces and Pods from a fake Kubernetes API
//! server (tests/fake_api) and decides with what it learns; PodSecurity's answer for unknown
//! namespaces; readiness; watch drops and outages.

mod common;
mod fake_api;

use common::{Client, review};
use fake_api::FakeApi;
use palisade_admission::engine::UnknownNamespace;
use palisade_admission::server::{self, Running, ServeOptions, TlsSource};
use palisade_admission::{Admission, Endpoint, ServerConfig, live};
use serde_json::{Value, json};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

struct Harness {
    running: Running,
    client: Client,
    _live: live::Live,
    admission: Arc<Admission>,
}

/// Starts the webhook with `cluster: {enabled: true, kubeconfig: ...}` against `api`.
async fn start(dir: &Path, api: &FakeApi, extra_yaml: &str) -> Harness {
    let kc = api.kubeconfig(dir);
    let cfg_path = dir.join("config.yaml");
    std::fs::write(
        &cfg_path,
        format!(
            "cluster:\n  enabled: true\n  kubeconfig: {}\n{extra_yaml}",
            kc.display()
        ),
    )
    .unwrap();
    let cfg = ServerConfig::from_file(&cfg_path).unwrap();
    let (adm, diags) = Admission::from_config(&cfg).unwrap();
    assert!(diags.is_empty(), "{diags:?}");
    let adm = Arc::new(adm);
    let client = live::client(&cfg.cluster).await.unwrap();
    let watching = live::spawn(adm.clone(), client, live::watched_kinds(&cfg.cluster));
    let certs = palisade_admission::tls::self_signed(&["localhost".into()]).unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let opts = ServeOptions {
        cluster: Some(watching.status.clone()),
        ..ServeOptions::default()
    };
    let running =
        server::spawn(adm.clone(), listener, TlsSource::Pem(certs.serving), opts).unwrap();
    Harness {
        client: Client::new(running.addr, &certs.ca_pem),
        running,
        _live: watching,
        admission: adm,
    }
}

fn namespace(name: &str, labels: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}})
}

fn privileged_pod(ns: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": ns},
        "spec": {"containers": [{"name": "app", "image": "nginx",
            "securityContext": {"privileged": true}}]}})
}

fn deployment(ns: &str) -> Value {
    json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d", "namespace": ns},
        "spec": {"selector": {"matchLabels": {"a": "b"}}, "template": {"metadata": {"labels": {"a": "b"}},
            "spec": {"containers": [{"name": "app", "image": "nginx",
                "securityContext": {"privileged": true}}]}}}})
}

impl Harness {
    async fn validate(&self, object: &Value) -> Value {
        let r = self
            .client
            .post("/validate", &review("u1", "CREATE", object, json!({})))
            .await;
        assert_eq!(r.status, 200, "{}", r.text());
        r.json()["response"].clone()
    }

    /// Sends `object` until the response satisfies `ok` (the watch is asynchronous), or fails
    /// after 30 s with the last response.
    async fn until(&self, object: &Value, what: &str, ok: impl Fn(&Value) -> bool) -> Value {
        let mut last = Value::Null;
        for _ in 0..300 {
            last = self.validate(object).await;
            if ok(&last) {
                return last;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("{what}: never happened; last response {last:#}");
    }

    async fn wait_ready(&self) -> String {
        for _ in 0..300 {
            let r = self.client.get("/readyz").await;
            if r.status == 200 {
                return r.text();
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!(
            "/readyz never became ready: {}",
            self.client.get("/readyz").await.text()
        );
    }

    async fn metric(&self, line_prefix: &str) -> u64 {
        let text = self.client.get("/metrics").await.text();
        text.lines()
            .find_map(|l| l.strip_prefix(line_prefix))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("no {line_prefix} in\n{text}"))
    }
}

const RESTRICTED_DENIAL: &str = "pod violates PodSecurity \"restricted:latest\": privileged (container \"app\" must not set securityContext.privileged=true)";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn namespace_labels_come_from_the_api_server_watch() {
    let dir = tempfile::tempdir().unwrap();
    let api = FakeApi::start().await;
    api.apply(namespace("team", json!({})));
    let h = start(dir.path(), &api, "").await;
    let ready = h.wait_ready().await;
    assert!(ready.contains("1 namespaces"), "{ready}");
    // Unlabelled namespace, default policy privileged: allowed.
    let pod = privileged_pod("team");
    let r = h.validate(&pod).await;
    assert_eq!(r["allowed"], true, "{r:#}");

    // The namespace is labelled enforce=restricted: the watch brings it, the pod is denied
    // with PodSecurity's message.
    api.apply(namespace(
        "team",
        json!({"pod-security.kubernetes.io/enforce": "restricted"}),
    ));
    let r = h
        .until(&pod, "denied after enforce=restricted", |r| {
            r["allowed"] == false
        })
        .await;
    assert_eq!(r["status"]["code"], 403, "{r:#}");
    let msg = r["status"]["message"].as_str().unwrap();
    assert!(msg.starts_with(RESTRICTED_DENIAL), "{msg}");
    assert_eq!(
        r["auditAnnotations"]["enforce-policy"], "restricted:latest",
        "{r:#}"
    );

    // Back to privileged: allowed again.
    api.apply(namespace(
        "team",
        json!({"pod-security.kubernetes.io/enforce": "privileged"}),
    ));
    h.until(&pod, "allowed after enforce=privileged", |r| {
        r["allowed"] == true
    })
    .await;

    // Deleted: PodSecurity's failed namespace lookup, 500 for the pod...
    api.delete("v1", "Namespace", "", "team");
    let r = h
        .until(&pod, "unknown namespace after delete", |r| {
            r["allowed"] == false
        })
        .await;
    assert_eq!(
        r["status"],
        json!({"code": 500, "reason": "InternalError", "status": "Failure", "metadata": {},
            "message": "Internal error occurred: failed to lookup namespace \"team\""}),
        "{r:#}"
    );
    assert_eq!(
        r["auditAnnotations"]["error"],
        "Internal error occurred: failed to lookup namespace \"team\": namespaces \"team\" not found"
    );
    // ... and an allowed workload with the error annotation, no warnings.
    let r = h.validate(&deployment("team")).await;
    assert_eq!(r["allowed"], true, "{r:#}");
    assert_eq!(
        r["auditAnnotations"]["error"],
        "failed to lookup namespace \"team\": namespaces \"team\" not found"
    );
    assert!(r.get("warnings").is_none(), "{r:#}");
    // Exempt users are not looked up at all (PodSecurity short-circuits before the lookup).
    assert_eq!(
        h.admission.state().unknown_namespace(),
        UnknownNamespace::Error
    );
    h.running.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pods_from_the_watch_feed_the_namespace_tightening_warnings() {
    let dir = tempfile::tempdir().unwrap();
    let api = FakeApi::start().await;
    api.apply(namespace("shop", json!({})));
    let mut running_pod = privileged_pod("shop");
    running_pod["metadata"]["name"] = json!("web-1");
    api.apply(running_pod);
    let h = start(dir.path(), &api, "").await;
    h.wait_ready().await;
    assert_eq!(
        h.metric("palisade_admission_cluster_objects{resource=\"pods\"}")
            .await,
        1
    );
    let old = namespace("shop", json!({}));
    let new = namespace(
        "shop",
        json!({"pod-security.kubernetes.io/enforce": "baseline"}),
    );
    let r = h
        .client
        .post(
            "/validate",
            &review("u2", "UPDATE", &new, json!({"oldObject": old})),
        )
        .await;
    let r = r.json()["response"].clone();
    assert_eq!(r["allowed"], true, "{r:#}");
    let warnings: Vec<&str> = r["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w.as_str().unwrap())
        .collect();
    assert_eq!(
        warnings[0],
        "existing pods in namespace \"shop\" violate the new PodSecurity enforce level \"baseline:latest\""
    );
    assert!(warnings[1].starts_with("web-1: privileged"), "{warnings:?}");
    h.running.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_drops_and_outages_keep_the_last_known_state() {
    let dir = tempfile::tempdir().unwrap();
    let api = FakeApi::start().await;
    api.apply(namespace(
        "locked",
        json!({"pod-security.kubernetes.io/enforce": "restricted"}),
    ));
    let h = start(dir.path(), &api, "").await;
    h.wait_ready().await;
    let pod = privileged_pod("locked");
    assert_eq!(h.validate(&pod).await["allowed"], false);

    // The API server ends the watch: the client watches again from where it was.
    let watches = api.watches();
    api.cut_watches();
    for _ in 0..300 {
        if api.watches() > watches {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(api.watches() > watches, "no new watch after the cut");
    api.apply(namespace(
        "locked",
        json!({"pod-security.kubernetes.io/enforce": "baseline", "rev": "2"}),
    ));
    // baseline also forbids privileged containers, with its own message.
    h.until(&pod, "baseline after reconnect", |r| {
        r["status"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("\"baseline:latest\""))
    })
    .await;

    // An outage: lists and watches fail. Decisions keep the last known labels, /readyz stays
    // ready, and the errors are counted.
    api.set_failing(true);
    let errors = "palisade_admission_cluster_watch_errors_total{resource=\"namespaces\"}";
    for _ in 0..300 {
        if h.metric(errors).await > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(h.metric(errors).await > 0);
    let r = h.validate(&pod).await;
    assert!(
        r["status"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("\"baseline:latest\"")),
        "{r:#}"
    );
    assert_eq!(h.client.get("/readyz").await.status, 200);

    // Back: a change made during the outage arrives.
    api.apply(namespace("locked", json!({})));
    api.set_failing(false);
    h.until(&pod, "privileged after the outage", |r| {
        r["allowed"] == true
    })
    .await;
    h.running.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_waits_for_the_first_list() {
    let dir = tempfile::tempdir().unwrap();
    let api = FakeApi::start().await;
    api.apply(namespace("a", json!({})));
    api.apply(namespace("b", json!({})));
    api.set_failing(true);
    let h = start(dir.path(), &api, "").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let r = h.client.get("/readyz").await;
    assert_eq!(r.status, 503, "{}", r.text());
    assert!(
        r.text().contains("waiting for the first list"),
        "{}",
        r.text()
    );
    assert_eq!(h.metric("palisade_admission_cluster_synced").await, 0);
    // Until then, an unknown namespace is PodSecurity's lookup failure, not the defaults.
    let r = h.validate(&privileged_pod("a")).await;
    assert_eq!(r["status"]["code"], 500, "{r:#}");
    api.set_failing(false);
    let ready = h.wait_ready().await;
    assert!(ready.contains("2 namespaces"), "{ready}");
    assert_eq!(h.metric("palisade_admission_cluster_synced").await, 1);
    assert_eq!(h.validate(&privileged_pod("a")).await["allowed"], true);
    h.running.shutdown().await.unwrap();
}

fn decide(adm: &Admission, object: &Value) -> Value {
    let body = serde_json::to_vec(&review("u", "CREATE", object, json!({}))).unwrap();
    let out = adm.handle(Endpoint::Validate, &body).unwrap();
    serde_json::from_slice::<Value>(&out).unwrap()["response"].clone()
}

fn file_admission(dir: &Path, pss_yaml: &str) -> Admission {
    std::fs::write(
        dir.join("ns.yaml"),
        "apiVersion: v1\nkind: Namespace\nmetadata: {name: known}\n",
    )
    .unwrap();
    let path = dir.join("config.yaml");
    std::fs::write(&path, format!("namespaces: [ns.yaml]\n{pss_yaml}")).unwrap();
    let cfg = ServerConfig::from_file(&path).unwrap();
    Admission::from_config(&cfg).unwrap().0
}

#[test]
fn file_namespaces_use_the_defaults_for_unknown_namespaces_unless_told_otherwise() {
    let dir = tempfile::tempdir().unwrap();
    // Namespace manifests are a snapshot that may miss namespaces: unknown ones get the
    // defaults (here baseline, which denies privileged pods with a 403).
    let adm = file_admission(dir.path(), "podSecurity: {defaults: {enforce: baseline}}\n");
    let r = decide(&adm, &privileged_pod("elsewhere"));
    assert_eq!(r["status"]["code"], 403, "{r:#}");
    // unknownNamespace: error is PodSecurity's behaviour.
    let adm = file_admission(
        dir.path(),
        "podSecurity: {defaults: {enforce: baseline}, unknownNamespace: error, exemptions: {usernames: [ops]}}\n",
    );
    let r = decide(&adm, &privileged_pod("elsewhere"));
    assert_eq!(r["status"]["code"], 500, "{r:#}");
    assert_eq!(
        r["status"]["message"],
        "Internal error occurred: failed to lookup namespace \"elsewhere\""
    );
    // Known namespaces are evaluated as before.
    assert_eq!(
        decide(&adm, &privileged_pod("known"))["status"]["code"],
        403
    );
    // Exempt users and ignored subresources never look the namespace up.
    let body = review(
        "u",
        "CREATE",
        &privileged_pod("elsewhere"),
        json!({"userInfo": {"username": "ops"}}),
    );
    let out = adm
        .handle(Endpoint::Validate, &serde_json::to_vec(&body).unwrap())
        .unwrap();
    let r = serde_json::from_slice::<Value>(&out).unwrap()["response"].clone();
    assert_eq!(r["allowed"], true, "{r:#}");
    let body = review(
        "u",
        "UPDATE",
        &privileged_pod("elsewhere"),
        json!({"subResource": "status", "oldObject": privileged_pod("elsewhere")}),
    );
    let out = adm
        .handle(Endpoint::Validate, &serde_json::to_vec(&body).unwrap())
        .unwrap();
    let r = serde_json::from_slice::<Value>(&out).unwrap()["response"].clone();
    assert_eq!(r["allowed"], true, "{r:#}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_lists_objects_from_the_api_server() {
    let dir = tempfile::tempdir().unwrap();
    let api = FakeApi::start().await;
    api.apply(namespace("x", json!({})));
    api.apply(deployment("x"));
    let kc = api.kubeconfig(dir.path());
    let cfg = ServerConfig::from_yaml(
        "c.yaml",
        &format!("cluster: {{kubeconfig: {}}}\n", kc.display()),
    )
    .unwrap();
    let client = live::client(&cfg.cluster).await.unwrap();
    let objects = live::list_objects(&client, &live::workload_kinds())
        .await
        .unwrap();
    let kinds: Vec<&str> = objects
        .iter()
        .map(|o| o["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["Namespace", "Deployment"]);
    assert_eq!(objects[1]["apiVersion"], "apps/v1");
    // An unreachable API server is an error naming the resource.
    api.set_failing(true);
    let e = live::list_objects(&client, &live::workload_kinds())
        .await
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("cannot list namespaces:"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_namespace_the_watch_has_not_delivered_is_fetched_like_podsecurity_does() {
    let dir = tempfile::tempdir().unwrap();
    let api = FakeApi::start().await;
    api.apply(namespace("old", json!({})));
    let h = start(dir.path(), &api, "").await;
    h.wait_ready().await;
    // Created a moment ago: the GET finds it, its labels apply, and it is kept.
    api.apply_hidden(namespace(
        "fresh",
        json!({"pod-security.kubernetes.io/enforce": "restricted"}),
    ));
    let r = h.validate(&privileged_pod("fresh")).await;
    assert_eq!(r["status"]["code"], 403, "{r:#}");
    assert!(
        r["status"]["message"]
            .as_str()
            .unwrap()
            .starts_with(RESTRICTED_DENIAL),
        "{r:#}"
    );
    assert_eq!(api.gets(), 1);
    assert!(h.admission.state().namespace("fresh").is_some());
    h.validate(&privileged_pod("fresh")).await;
    assert_eq!(api.gets(), 1, "known now: no second GET");
    assert_eq!(
        h.metric("palisade_admission_cluster_gets_total{resource=\"namespaces\"}")
            .await,
        1
    );
    // Missing on the API server too: PodSecurity's failed lookup.
    let r = h.validate(&privileged_pod("nowhere")).await;
    assert_eq!(r["status"]["code"], 500, "{r:#}");
    assert_eq!(api.gets(), 2);
    // Other kinds never trigger a GET.
    let cm = json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "c", "namespace": "nowhere"}});
    assert_eq!(h.validate(&cm).await["allowed"], true);
    assert_eq!(api.gets(), 2);
    h.running.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inventory_kinds_are_watched_for_referential_constraints() {
    let dir = tempfile::tempdir().unwrap();
    let api = FakeApi::start().await;
    api.apply(namespace("shop", json!({})));
    let service = |name: &str| {
        json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": "shop"},
            "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]}})
    };
    api.apply(service("a"));
    // A Pod with the same namespace and name as the Service: separate objects.
    let mut pod = privileged_pod("shop");
    pod["metadata"]["name"] = json!("a");
    api.apply(pod);
    let refdir = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/gatekeeper/referential");
    let h = start(
        dir.path(),
        &api,
        &format!(
            "  inventory: [{{apiVersion: v1, kind: Service}}]\ngatekeeper: [{}, {}]\n",
            refdir.join("template.yaml").display(),
            refdir.join("constraint.yaml").display()
        ),
    )
    .await;
    h.wait_ready().await;
    let r = h.validate(&service("b")).await;
    assert_eq!(r["allowed"], false, "{r:#}");
    let msg = r["status"]["message"].as_str().unwrap();
    assert!(
        msg.contains("Service shop/b has the same selector as Service a"),
        "{msg}"
    );
    // The other Service goes away: the watch removes it from data.inventory.
    api.delete("v1", "Service", "shop", "a");
    h.until(&service("b"), "allowed once a is gone", |r| {
        r["allowed"] == true
    })
    .await;
    // ... and only the Service: the Pod "a" is still known (namespace tightening warnings).
    let r = h
        .client
        .post(
            "/validate",
            &review(
                "u3",
                "UPDATE",
                &namespace(
                    "shop",
                    json!({"pod-security.kubernetes.io/enforce": "baseline"}),
                ),
                json!({"oldObject": namespace("shop", json!({}))}),
            ),
        )
        .await
        .json();
    let warnings = r["response"]["warnings"].to_string();
    assert!(warnings.contains("a: privileged"), "{r:#}");
    h.running.shutdown().await.unwrap();
}
