//! The webhook over real HTTPS: the table of reviews in `testdata/reviews.yaml`, malformed and
//! oversized bodies, health and metrics endpoints, concurrency, dry runs, certificate reload and
//! graceful shutdown. Servers listen on 127.0.0.1 ephemeral ports.

mod common;

use common::{review, start};
use palisade_admission::server::ServeOptions;
use serde_json::{Value, json};
use std::path::Path;

fn testdata() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/testdata"))
}

fn yaml_file(name: &str) -> Value {
    let text = std::fs::read_to_string(testdata().join(name)).unwrap();
    let docs = palisade_model::yaml::parse_stream(&text, &Default::default());
    let doc = docs.into_iter().next().unwrap().unwrap();
    doc.root.unwrap().to_json()
}

/// A server with testdata/config.yaml (its relative paths resolved against testdata/).
async fn server(dir: &Path, opts: ServeOptions) -> common::TestServer {
    let cfg = std::fs::read_to_string(testdata().join("config.yaml"))
        .unwrap()
        .replace(
            "namespaces.yaml",
            &testdata().join("namespaces.yaml").display().to_string(),
        );
    start(dir, &cfg, opts).await
}

fn check_case(case: &Value, reply: &Value) {
    let name = case["name"].as_str().unwrap();
    let resp = &reply["response"];
    let exp = &case["expect"];
    assert_eq!(reply["apiVersion"], "admission.k8s.io/v1", "{name}");
    assert_eq!(reply["kind"], "AdmissionReview", "{name}");
    assert_eq!(resp["uid"], name, "{name}: uid echoed");
    assert_eq!(resp["allowed"], exp["allowed"], "{name}: {resp}");
    if exp["allowed"] == false {
        assert_eq!(resp["status"]["code"], exp["code"], "{name}");
        assert_eq!(resp["status"]["reason"], exp["reason"], "{name}");
        assert_eq!(resp["status"]["message"], exp["message"], "{name}");
    } else {
        assert!(resp.get("status").is_none(), "{name}: {resp}");
    }
    let warnings = resp.get("warnings").cloned().unwrap_or(json!([]));
    assert_eq!(
        warnings,
        exp.get("warnings").cloned().unwrap_or(json!([])),
        "{name}"
    );
    let annotations = resp.get("auditAnnotations").cloned().unwrap_or(json!({}));
    assert_eq!(
        annotations,
        exp.get("auditAnnotations").cloned().unwrap_or(json!({})),
        "{name}"
    );
    assert!(
        resp.get("patch").is_none(),
        "{name}: /validate never patches"
    );
}

fn case_review(case: &Value) -> Value {
    let name = case["name"].as_str().unwrap();
    let obj = if case["object"].is_null() {
        &case["oldObject"]
    } else {
        &case["object"]
    };
    let mut extra = json!({
        "operation": case.get("operation").cloned().unwrap_or(json!("CREATE")),
        "object": case["object"],
        "oldObject": case.get("oldObject").cloned().unwrap_or(Value::Null),
        "dryRun": case.get("dryRun").cloned().unwrap_or(json!(false)),
    });
    if let Some(s) = case.get("subResource") {
        extra["subResource"] = s.clone();
    }
    if let Some(u) = case.get("username") {
        extra["userInfo"] = json!({"username": u, "groups": ["system:serviceaccounts"]});
    }
    let op = extra["operation"].as_str().unwrap().to_owned();
    review(name, &op, obj, extra)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reviews_table() {
    let dir = tempfile::tempdir().unwrap();
    let s = server(dir.path(), ServeOptions::default()).await;
    let cases = yaml_file("reviews.yaml");
    let cases = cases.as_array().unwrap();
    assert!(cases.len() >= 20);
    for case in cases {
        let reply = s.client.post("/validate", &case_review(case)).await;
        assert_eq!(reply.status, 200, "{}: {}", case["name"], reply.text());
        check_case(case, &reply.json());
    }
    s.running.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_and_oversized_bodies_get_4xx_and_the_server_survives() {
    let dir = tempfile::tempdir().unwrap();
    let opts = ServeOptions {
        max_body_bytes: 64 * 1024,
        ..ServeOptions::default()
    };
    let s = server(dir.path(), opts).await;
    let bad: Vec<(Vec<u8>, &str)> = vec![
        (b"".to_vec(), "not valid JSON"),
        (b"{\"apiVersion\": ".to_vec(), "not valid JSON"),
        (vec![0xff, 0xfe, 0x00], "not valid JSON"),
        (b"\"a string\"".to_vec(), "expected a JSON object"),
        (
            br#"{"apiVersion":"admission.k8s.io/v1beta1","kind":"AdmissionReview","request":{}}"#
                .to_vec(),
            "apiVersion",
        ),
        (
            br#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}"#.to_vec(),
            "request: missing",
        ),
        (
            br#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"x","kind":{"kind":"Pod"},"resource":{"resource":"pods"},"operation":"CREATE","object":"pod"}}"#.to_vec(),
            "request.object",
        ),
        ("[".repeat(10_000).into_bytes(), "not valid JSON"),
    ];
    for (body, want) in bad {
        let r = s.client.request("POST", "/validate", body).await.unwrap();
        assert_eq!(r.status, 400, "{}", r.text());
        assert!(
            r.text().contains(want),
            "{:?} should mention {want:?}",
            r.text()
        );
    }
    // over the limit
    let huge = json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
        "request": {"uid": "big", "padding": "x".repeat(100 * 1024)}});
    let r = s.client.post("/validate", &huge).await;
    assert_eq!(r.status, 413, "{}", r.text());
    // wrong method and unknown path
    assert_eq!(s.client.get("/validate").await.status, 405);
    assert_eq!(s.client.get("/nope").await.status, 404);
    // still serving
    let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "open"},
        "spec": {"containers": [{"name": "a", "image": "nginx"}]}});
    let r = s
        .client
        .post("/validate", &review("after", "CREATE", &pod, json!({})))
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["response"]["uid"], "after");
    s.running.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_ready_and_metrics() {
    let dir = tempfile::tempdir().unwrap();
    let s = server(dir.path(), ServeOptions::default()).await;
    let h = s.client.get("/healthz").await;
    assert_eq!((h.status, h.text().trim()), (200, "ok"));
    let r = s.client.get("/readyz").await;
    assert_eq!(r.status, 200);
    assert!(r.text().contains("6 namespaces"), "{}", r.text());
    let plain = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "restricted"},
        "spec": {"containers": [{"name": "a", "image": "nginx"}]}});
    for i in 0..3 {
        let r = s
            .client
            .post(
                "/validate",
                &review(&format!("m{i}"), "CREATE", &plain, json!({})),
            )
            .await;
        assert_eq!(r.json()["response"]["allowed"], false);
    }
    s.client
        .request("POST", "/validate", b"{".to_vec())
        .await
        .unwrap();
    let m = s.client.get("/metrics").await.text();
    assert!(
        m.contains("palisade_admission_requests_total{endpoint=\"/validate\",code=\"200\"} 3"),
        "{m}"
    );
    assert!(
        m.contains("palisade_admission_requests_total{endpoint=\"/validate\",code=\"400\"} 1"),
        "{m}"
    );
    assert!(
        m.contains("palisade_admission_decisions_total{policy=\"pss\",decision=\"deny\"} 3"),
        "{m}"
    );
    assert!(
        m.contains("palisade_admission_policy_duration_seconds_count{policy=\"pss\"} 3"),
        "{m}"
    );
    assert!(
        m.contains("palisade_admission_request_duration_seconds_bucket{le=\"+Inf\"} 4"),
        "{m}"
    );
    s.running.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_reviews_each_get_their_own_answer() {
    let dir = tempfile::tempdir().unwrap();
    let s = server(dir.path(), ServeOptions::default()).await;
    let client = std::sync::Arc::new(s.client);
    let mut tasks = Vec::new();
    for t in 0..16 {
        let client = client.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..12 {
                let (ns, allowed) = if (t + i) % 2 == 0 {
                    ("open", true)
                } else {
                    ("restricted", false)
                };
                let uid = format!("c-{t}-{i}");
                let pod = json!({"apiVersion": "v1", "kind": "Pod",
                    "metadata": {"name": format!("p{t}-{i}"), "namespace": ns},
                    "spec": {"containers": [{"name": "a", "image": "nginx"}]}});
                let r = client
                    .post("/validate", &review(&uid, "CREATE", &pod, json!({})))
                    .await;
                assert_eq!(r.status, 200);
                let v = r.json();
                assert_eq!(v["response"]["uid"], uid);
                assert_eq!(v["response"]["allowed"], allowed, "{uid}");
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let m = s.admission.metrics.render();
    assert!(m.contains("code=\"200\"} 192"), "{m}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dry_run_namespace_changes_have_no_effect() {
    let dir = tempfile::tempdir().unwrap();
    let s = server(dir.path(), ServeOptions::default()).await;
    let ns = json!({"apiVersion": "v1", "kind": "Namespace",
        "metadata": {"name": "fresh", "labels": {"pod-security.kubernetes.io/enforce": "privileged"}}});
    let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "fresh"},
        "spec": {"hostPID": true, "containers": [{"name": "a", "image": "nginx"}]}});
    let allowed = |r: common::Reply| r.json()["response"]["allowed"].as_bool().unwrap();
    // unknown namespace: the configured default (baseline) rejects hostPID
    assert!(!allowed(
        s.client
            .post("/validate", &review("p1", "CREATE", &pod, json!({})))
            .await
    ));
    // a dry-run namespace creation is admitted but not remembered
    let r = s
        .client
        .post(
            "/validate",
            &review("n1", "CREATE", &ns, json!({"dryRun": true})),
        )
        .await;
    assert!(allowed(r));
    assert!(!allowed(
        s.client
            .post("/validate", &review("p2", "CREATE", &pod, json!({})))
            .await
    ));
    // a real one is
    assert!(allowed(
        s.client
            .post("/validate", &review("n2", "CREATE", &ns, json!({})))
            .await
    ));
    assert!(allowed(
        s.client
            .post("/validate", &review("p3", "CREATE", &pod, json!({})))
            .await
    ));
    // and so is its deletion
    let del = review(
        "n3",
        "DELETE",
        &ns,
        json!({"object": null, "oldObject": ns.clone()}),
    );
    assert!(allowed(s.client.post("/validate", &del).await));
    assert!(!allowed(
        s.client
            .post("/validate", &review("p4", "CREATE", &pod, json!({})))
            .await
    ));
    s.running.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn certificate_is_reloaded_when_the_files_change() {
    let dir = tempfile::tempdir().unwrap();
    let s = server(dir.path(), ServeOptions::default()).await;
    assert_eq!(s.client.get("/healthz").await.status, 200);
    let next = palisade_admission::tls::self_signed(&["localhost".into()]).unwrap();
    let new_client = common::Client::new(s.running.addr, &next.ca_pem);
    assert!(
        new_client.request("GET", "/healthz", vec![]).await.is_err(),
        "new CA not trusted yet"
    );
    // a broken key is reported and the old certificate kept
    std::fs::write(dir.path().join("tls.key"), "garbage").unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    assert_eq!(s.client.get("/healthz").await.status, 200);
    std::fs::write(dir.path().join("tls.crt"), &next.serving.cert).unwrap();
    std::fs::write(dir.path().join("tls.key"), &next.serving.key).unwrap();
    let mut ok = false;
    for _ in 0..50 {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        if new_client.request("GET", "/healthz", vec![]).await.is_ok() {
            ok = true;
            break;
        }
    }
    assert!(ok, "the new certificate was not picked up");
    assert!(
        s.client.request("GET", "/healthz", vec![]).await.is_err(),
        "old CA no longer matches"
    );
    s.running.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_shutdown_stops_listening() {
    let dir = tempfile::tempdir().unwrap();
    let s = server(dir.path(), ServeOptions::default()).await;
    let addr = s.running.addr;
    assert_eq!(s.client.get("/healthz").await.status, 200);
    s.running.shutdown().await.unwrap();
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutation_patches_opted_in_namespaces_only() {
    let dir = tempfile::tempdir().unwrap();
    let s = server(dir.path(), ServeOptions::default()).await;
    let ns = json!({"apiVersion": "v1", "kind": "Namespace",
        "metadata": {"name": "mut", "labels": {"palisade.dev/mutate": "enabled", "pod-security.kubernetes.io/enforce": "restricted"}}});
    s.client
        .post("/validate", &review("ns", "CREATE", &ns, json!({})))
        .await;
    let pod = |ns: &str| {
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": ns},
        "spec": {"containers": [{"name": "a", "image": "registry.example/nonroot/app:1"}]}})
    };
    let r = s
        .client
        .post("/mutate", &review("m1", "CREATE", &pod("mut"), json!({})))
        .await
        .json();
    let resp = &r["response"];
    assert_eq!(resp["uid"], "m1");
    assert_eq!(resp["allowed"], true);
    assert_eq!(resp["patchType"], "JSONPatch");
    use base64::Engine as _;
    let ops: Value = serde_json::from_slice(
        &base64::engine::general_purpose::STANDARD
            .decode(resp["patch"].as_str().unwrap())
            .unwrap(),
    )
    .unwrap();
    let patched = palisade_admission::mutate::apply(&pod("mut"), ops.as_array().unwrap()).unwrap();
    assert!(
        resp["auditAnnotations"]["mutations"]
            .as_str()
            .unwrap()
            .contains("/spec/securityContext")
    );
    // the patched pod passes restricted validation
    let v = s
        .client
        .post("/validate", &review("v1", "CREATE", &patched, json!({})))
        .await
        .json();
    assert_eq!(v["response"]["allowed"], true, "{v}");
    // not opted in: no patch
    let r = s
        .client
        .post(
            "/mutate",
            &review("m2", "CREATE", &pod("restricted"), json!({})),
        )
        .await
        .json();
    assert!(r["response"].get("patch").is_none());
    s.running.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gatekeeper_constraints_deny_warn_and_dryrun() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = format!(
        "namespaces: [{}]\ngatekeeper: [{}]\n",
        testdata().join("namespaces.yaml").display(),
        testdata().join("policies").display()
    );
    let s = start(dir.path(), &cfg, ServeOptions::default()).await;
    assert_eq!(s.admission.constraint_count(), 3);
    let pod = |labels: Value| {
        json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "p", "namespace": "baseline", "labels": labels},
            "spec": {"securityContext": {"runAsNonRoot": true, "seccompProfile": {"type": "RuntimeDefault"}},
                "containers": [{"name": "a", "image": "nginx", "securityContext": {"allowPrivilegeEscalation": false, "capabilities": {"drop": ["ALL"]}}}]}})
    };
    // missing team: denied by the deny constraint; warnings are not added to a denial
    let r = s
        .client
        .post(
            "/validate",
            &review("g1", "CREATE", &pod(json!({})), json!({})),
        )
        .await
        .json();
    let resp = &r["response"];
    assert_eq!(resp["allowed"], false, "{resp}");
    assert_eq!(resp["status"]["code"], 403);
    assert_eq!(
        resp["status"]["message"],
        "[team-label] missing required labels: team"
    );
    assert!(resp.get("warnings").is_none(), "{resp}");
    assert_eq!(
        resp["auditAnnotations"]["gatekeeper-dryrun-violations"],
        "[cost-center] missing required labels: cost-center"
    );
    assert_eq!(resp["auditAnnotations"]["enforce-policy"], "baseline:v1.30");
    // team present: admitted with the warn constraint's warning
    let r = s
        .client
        .post(
            "/validate",
            &review("g2", "CREATE", &pod(json!({"team": "a"})), json!({})),
        )
        .await
        .json();
    let resp = &r["response"];
    assert_eq!(resp["allowed"], true, "{resp}");
    assert_eq!(
        resp["warnings"],
        json!(["[owner-label] missing required labels: owner"])
    );
    // PSS and Gatekeeper denials together: both messages
    let mut bad = pod(json!({}));
    bad["spec"]["hostNetwork"] = json!(true);
    let r = s
        .client
        .post("/validate", &review("g3", "CREATE", &bad, json!({})))
        .await
        .json();
    assert_eq!(
        r["response"]["status"]["message"],
        "pod violates PodSecurity \"baseline:v1.30\": host namespaces (hostNetwork=true)\n[team-label] missing required labels: team"
    );
    // other namespaces are outside the deny constraint's match
    let mut elsewhere = pod(json!({"cost-center": "x"}));
    elsewhere["metadata"]["namespace"] = json!("open");
    let r = s
        .client
        .post("/validate", &review("g4", "CREATE", &elsewhere, json!({})))
        .await
        .json();
    assert_eq!(r["response"]["allowed"], true);
    assert!(r["response"].get("auditAnnotations").is_none(), "{r}");
    let m = s.client.get("/metrics").await.text();
    assert!(
        m.contains("palisade_admission_policy_duration_seconds_count{policy=\"gatekeeper\"} 4"),
        "{m}"
    );
    // one latency observation per review per template evaluated (three constraints of one
    // template matched g1 to g3, one matched g4)
    assert!(
        m.contains(
            "palisade_admission_policy_duration_seconds_count{policy=\"gatekeeper/PalRequiredLabels\"} 4"
        ),
        "{m}"
    );
    assert!(m.contains("decision=\"deny\"} 2"), "{m}");
    // The template's verdict memo (it reads the labels and the parameters): g1, g2 and g3 each
    // matched the three constraints, g4 only cost-center. g3's Pod has g1's labels (none), so
    // its three verdicts came from the memo, and its denial above is still the right one.
    let memo = |result: &str| -> u64 {
        let key = format!(
            "palisade_admission_gatekeeper_memo_total{{template=\"palrequiredlabels\",result=\"{result}\"}} "
        );
        m.lines()
            .find_map(|l| l.strip_prefix(&key))
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no {key} in {m}"))
    };
    assert_eq!((memo("hit"), memo("miss")), (3, 7), "{m}");
    // The template runs on the native evaluator, which handed none of its reviews to regorus.
    assert!(
        m.contains(
            "palisade_admission_gatekeeper_native_fallbacks_total{template=\"palrequiredlabels\"} 0\n"
        ),
        "{m}"
    );
    s.running.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reviews_over_the_deadline_get_503() {
    let dir = tempfile::tempdir().unwrap();
    // A template that takes far longer than the deadline, so the timer always wins the race
    // (a fast review could otherwise finish before a 1 ns timer is first polled).
    let slow = dir.path().join("slow.yaml");
    std::fs::write(
        &slow,
        r#"apiVersion: templates.gatekeeper.sh/v1
kind: ConstraintTemplate
metadata: {name: testslowreview}
spec:
  crd: {spec: {names: {kind: TestSlowReview}}}
  targets:
  - target: admission.k8s.gatekeeper.sh
    rego: |
      package testslowreview
      violation[{"msg": "done"}] {
        input.review.object
        n := count([1 | numbers.range(1, 3000)[_]; numbers.range(1, 3000)[_]])
        n < 0
      }
---
apiVersion: constraints.gatekeeper.sh/v1beta1
kind: TestSlowReview
metadata: {name: slow}
"#,
    )
    .unwrap();
    let cfg = format!(
        "namespaces: [{}]\ngatekeeper: [{}, {}]\n",
        testdata().join("namespaces.yaml").display(),
        testdata().join("policies").display(),
        slow.display()
    );
    let opts = ServeOptions {
        timeout: std::time::Duration::from_millis(5),
        ..ServeOptions::default()
    };
    let s = start(dir.path(), &cfg, opts).await;
    let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "baseline"},
        "spec": {"containers": [{"name": "a", "image": "nginx"}]}});
    let r = s
        .client
        .post("/validate", &review("late", "CREATE", &pod, json!({})))
        .await;
    assert_eq!(r.status, 503, "{}", r.text());
    assert!(r.text().contains("not decided within"), "{}", r.text());
    assert!(
        s.client
            .get("/metrics")
            .await
            .text()
            .contains("code=\"503\"} 1")
    );
    s.running.shutdown().await.unwrap();
}
