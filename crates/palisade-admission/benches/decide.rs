//! In-process cost of one admission decision (parse, PodSecurity, Gatekeeper, response),
//! without TLS or HTTP: `cargo bench -p palisade-admission --bench decide`. Prints microseconds
//! per review for a few typical requests, first with Pod Security only, then with the Gatekeeper
//! library's pod-security-policy templates (one sample constraint each, read at run time from
//! `GATEKEEPER_LIBRARY`, default `../shared/upstream/gatekeeper-library/library` of the
//! workspace; skipped when absent). `DECIDE_ITERS` sets the iterations per case (default
//! 20,000; a tenth of that with Gatekeeper), `DECIDE_CASE` keeps only the cases whose name
//! contains it, `DECIDE_PHASE=pss|gatekeeper` runs only one of the two phases (for instruction
//! counts with `perf stat -e instructions` at two iteration counts, or callgrind). The
//! Gatekeeper phase runs with the verdict memo off, then on.
//! `scripts/bench-admission` measures the whole server.

use palisade_admission::{Admission, Endpoint, ServerConfig};
use serde_json::json;
use std::time::Instant;

/// The allocator of the `palisade` binary, so that the figures are the server's.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
    let gk = gatekeeper_admission(&dir);
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
    let n: u32 = std::env::var("DECIDE_ITERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    let only = std::env::var("DECIDE_CASE").unwrap_or_default();
    let mut cases: Vec<(&str, Vec<u8>)> = cases.into_iter().collect();
    if let Some(path) = std::env::var_os("DECIDE_BODY") {
        // An AdmissionReview of one's own (as a load generator sends it).
        cases.insert(
            0,
            ("DECIDE_BODY", std::fs::read(path).expect("DECIDE_BODY")),
        );
    }
    let cases: Vec<_> = cases
        .into_iter()
        .filter(|(name, _)| name.contains(only.as_str()))
        .collect();
    let phase = std::env::var("DECIDE_PHASE").unwrap_or_default();
    if phase != "gatekeeper" {
        println!("Pod Security only");
        run(&adm, &cases, n);
    }
    match &gk {
        _ if phase == "pss" => {}
        Some((adm, templates)) => {
            // The same body again and again: with the verdict memo every review after the first
            // is answered from it. First without it (what a Pod spec seen for the first time
            // costs), then with it (what the Pods of a known workload cost).
            let policies = adm.policies().expect("policies");
            policies.set_memo(false);
            println!(
                "Pod Security + {templates} Gatekeeper pod-security-policy templates, verdict memo off"
            );
            run(adm, &cases, (n / 10).max(1));
            per_template(adm);
            policies.set_memo(true);
            println!("The same, verdict memo on (the same review repeated: answered from it)");
            run(adm, &cases, (n / 10).max(1));
        }
        None => println!("Gatekeeper library not found: Gatekeeper cases skipped"),
    }
    let _ = std::fs::remove_dir_all(&dir);
}

fn run(adm: &Admission, cases: &[(&str, Vec<u8>)], n: u32) {
    if std::env::var_os("DECIDE_VARY").is_some() {
        // Every review a new Pod spec (an image tag of its own), as the server sees them.
        for (name, body) in cases {
            let text = String::from_utf8_lossy(body).to_string();
            let bodies: Vec<Vec<u8>> = (0..n)
                .map(|i| {
                    text.replace("app:1\"", &format!("app:1-{i}\""))
                        .into_bytes()
                })
                .collect();
            let t = Instant::now();
            for b in &bodies {
                std::hint::black_box(adm.handle(Endpoint::Validate, b).unwrap());
            }
            let per = t.elapsed().as_nanos() / u128::from(n);
            println!(
                "  {name:32} {:>7.1} us/review, every spec new",
                per as f64 / 1000.0
            );
        }
        return;
    }
    for (name, body) in cases {
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
            "  {name:32} {:>7.1} us/review ({} bytes)",
            per as f64 / 1000.0,
            body.len()
        );
    }
}

/// Mean time per review of each template (from the server's own per-template histograms),
/// slowest first.
fn per_template(adm: &Admission) {
    let text = adm.metrics.render();
    let value = |line: &str| line.rsplit(' ').next().and_then(|v| v.parse::<f64>().ok());
    let mut rows = Vec::new();
    for line in text.lines() {
        let Some(rest) = line
            .strip_prefix("palisade_admission_policy_duration_seconds_sum{policy=\"gatekeeper/")
        else {
            continue;
        };
        let Some((kind, _)) = rest.split_once('"') else {
            continue;
        };
        let count_key = format!(
            "palisade_admission_policy_duration_seconds_count{{policy=\"gatekeeper/{kind}\"}}"
        );
        let count = text
            .lines()
            .find(|l| l.starts_with(&count_key))
            .and_then(value)
            .unwrap_or(0.0);
        if let (Some(sum), true) = (value(line), count > 0.0) {
            rows.push((sum / count * 1e6, kind.to_owned(), count));
        }
    }
    rows.sort_by(|a, b| b.0.total_cmp(&a.0));
    println!("  per template (mean over the reviews that evaluated it; evaluator):");
    let policies = adm.policies();
    for (us, kind, count) in rows {
        let evaluator = policies
            .and_then(|p| p.templates().iter().find(|t| t.kind == kind))
            .map_or("?".to_string(), |t| match t.native_refusal() {
                None => "native".into(),
                Some(why) if t.uses_vm() => format!("regorus VM: {why}"),
                Some(why) => format!("regorus interpreter: {why}"),
            });
        println!("    {kind:40} {us:>7.1} us ({count} reviews; {evaluator})");
    }
}

/// The admission with Pod Security and the library's pod-security-policy templates, each with
/// its first sample constraint (as `scripts/bench-admission` loads them).
fn gatekeeper_admission(dir: &std::path::Path) -> Option<(Admission, usize)> {
    let lib = std::env::var_os("GATEKEEPER_LIBRARY")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../../../shared/upstream/gatekeeper-library/library")
        })
        .join("pod-security-policy");
    let mut entries: Vec<_> = std::fs::read_dir(&lib)
        .ok()?
        .flatten()
        .map(|e| e.path())
        .collect();
    entries.sort();
    let mut paths = Vec::new();
    for d in entries {
        let template = d.join("template.yaml");
        let Ok(samples) = std::fs::read_dir(d.join("samples")) else {
            continue;
        };
        let mut samples: Vec<_> = samples.flatten().map(|e| e.path()).collect();
        samples.sort();
        let Some(constraint) = samples
            .iter()
            .map(|s| s.join("constraint.yaml"))
            .find(|c| c.is_file())
        else {
            continue;
        };
        if template.is_file() {
            paths.push(template);
            paths.push(constraint);
        }
    }
    let list: Vec<String> = paths
        .iter()
        .map(|p| format!("  - {:?}\n", p.display().to_string()))
        .collect();
    let cfg = ServerConfig::from_yaml(
        &dir.join("gk.yaml").display().to_string(),
        &format!("namespaces: [ns.yaml]\ngatekeeper:\n{}", list.concat()),
    )
    .ok()?;
    let (adm, _) = Admission::from_config(&cfg).ok()?;
    let templates = adm.constraint_count();
    (templates > 0).then_some((adm, templates))
}
