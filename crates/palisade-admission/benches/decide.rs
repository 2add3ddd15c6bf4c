//! In-process cost of one admission decision (parse, PodSecurity, response), without TLS or
//! HTTP: `cargo bench -p palisade-admission --bench decide`. Prints nanoseconds per review for
//! a few typical requests; `scripts/bench-admission` measures the whole server.

use palisade_admission::{Admission, Endpoint, ServerConfig};
use serde_json::json;
use std::time::Instant;

fn review(obj: serde_json::Value, resource: &str) -> Vec<u8> {
    let av = obj["apiVersion"].as_str().unwrap().to_owned();
    let (group, version) = av.split_once('/').unwrap_or(("", &av));
    serde_json::to_vec(&json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
        "request": {"uid": "0f9c", "kind": {"group": group, "version": version, "kind": obj["kind"]},
            "resource": {"group": group, "version": version, "resource": resource},
            "namespace": obj["metadata"]["namespace"], "name": obj["metadata"]["name"],
            "operation": "CREATE", "userInfo": {"username": "dev", "groups": ["system:authenticated"]},
            "object": obj}}))
    .unwrap()
}

fn main() {
    let dir = std::env::temp_dir().join(format!("palisade-decide-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("ns.yaml"),
        "apiVersion: v1\nkind: Namespace\nmetadata: {name: r, labels: {pod-security.kubernetes.io/enforce: restricted}}\n---\napiVersion: v1\nkind: Namespace\nmetadata: {name: b, labels: {pod-security.kubernetes.io/enforce: baseline, pod-security.kubernetes.io/warn: restricted, pod-security.kubernetes.io/audit: restricted}}\n",
    )
    .unwrap();
    let cfg = ServerConfig::from_yaml(
        &dir.join("c.yaml").display().to_string(),
        "namespaces: [ns.yaml]\n",
    )
    .unwrap();
    let (adm, _) = Admission::from_config(&cfg).unwrap();
    let spec = json!({"securityContext": {"runAsNonRoot": true, "seccompProfile": {"type": "RuntimeDefault"}},
        "containers": [{"name": "app", "image": "registry.example/app:1", "ports": [{"containerPort": 8080}],
            "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}},
            "securityContext": {"allowPrivilegeEscalation": false, "capabilities": {"drop": ["ALL"]}}},
            {"name": "sidecar", "image": "envoy:1", "securityContext": {"allowPrivilegeEscalation": false, "capabilities": {"drop": ["ALL"]}}}]});
    let cases = [
        (
            "restricted pod, compliant",
            review(
                json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "r", "labels": {"app": "x"}}, "spec": spec}),
                "pods",
            ),
        ),
        (
            "baseline pod, warned",
            review(
                json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "b"}, "spec": {"containers": [{"name": "app", "image": "nginx"}]}}),
                "pods",
            ),
        ),
        (
            "restricted pod, denied",
            review(
                json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "r"}, "spec": {"hostNetwork": true, "containers": [{"name": "app", "image": "nginx", "securityContext": {"privileged": true}}]}}),
                "pods",
            ),
        ),
        (
            "deployment",
            review(
                json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d", "namespace": "b"}, "spec": {"template": {"spec": spec}}}),
                "deployments",
            ),
        ),
        (
            "configmap",
            review(
                json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "b"}, "data": {"a": "b"}}),
                "configmaps",
            ),
        ),
    ];
    for (name, body) in &cases {
        let n: u32 = std::env::var("DECIDE_ITERS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(20_000);
        for _ in 0..n / 20 {
            adm.handle(Endpoint::Validate, body).unwrap();
        }
        let t = Instant::now();
        for _ in 0..n {
            std::hint::black_box(
                adm.handle(Endpoint::Validate, std::hint::black_box(body))
                    .unwrap(),
            );
        }
        let per = t.elapsed().as_nanos() / u128::from(n);
        println!(
            "{name:32} {:>6.1} us/review ({} bytes)",
            per as f64 / 1000.0,
            body.len()
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
