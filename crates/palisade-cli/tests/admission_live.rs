//! `palisade admission audit --cluster` end to end through the binary, against a fake
//! Kubernetes API server (plain HTTP on 127.0.0.1, see palisade-admission's tests/fake_api).

#[path = "../../palisade-admission/tests/fake_api/mod.rs"]
mod fake_api;

use fake_api::FakeApi;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn testdata() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../palisade-admission/testdata")
}

fn palisade(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_palisade"))
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .expect("spawn palisade")
}

fn objects() -> Vec<Value> {
    let privileged = json!({"privileged": true});
    vec![
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "prod",
            "labels": {"pod-security.kubernetes.io/enforce": "restricted"}}}),
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "dev"}}),
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web", "namespace": "prod"},
            "spec": {"containers": [{"name": "app", "image": "nginx", "securityContext": privileged}]}}),
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "tool", "namespace": "dev"},
            "spec": {"containers": [{"name": "app", "image": "nginx", "securityContext": privileged}]}}),
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "api", "namespace": "prod"},
            "spec": {"selector": {"matchLabels": {"a": "b"}}, "template": {"metadata": {"labels": {"a": "b"}},
                "spec": {"hostNetwork": true, "containers": [{"name": "app", "image": "nginx"}]}}}}),
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings", "namespace": "dev"},
            "data": {"k": "v"}}),
    ]
}

/// (check, object kind/namespace/name, message) of every finding of a JSON report.
fn findings(out: &Output) -> Vec<(String, String, String)> {
    let v: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    let mut f: Vec<(String, String, String)> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let o = &f["object"];
            (
                f["id"].as_str().unwrap().to_owned(),
                format!(
                    "{}/{}/{}",
                    o["kind"].as_str().unwrap_or(""),
                    o["namespace"].as_str().unwrap_or(""),
                    o["name"].as_str().unwrap_or("")
                ),
                f["message"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    f.sort();
    f
}

#[test]
fn audit_cluster_lists_from_the_api_server_like_a_dump() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let api = rt.block_on(FakeApi::start());
    for o in objects() {
        api.apply(o);
    }
    let tmp = tempfile::tempdir().unwrap();
    let kc = api.kubeconfig(tmp.path());
    // A constraint on ConfigMaps: the audit discovers the kind and lists it too.
    std::fs::copy(
        testdata().join("policies/template.yaml"),
        tmp.path().join("template.yaml"),
    )
    .unwrap();
    std::fs::write(
        tmp.path().join("constraint.yaml"),
        "apiVersion: constraints.gatekeeper.sh/v1beta1\nkind: PalRequiredLabels\nmetadata: {name: cm-owner}\nspec:\n  match:\n    kinds: [{apiGroups: [\"\"], kinds: [ConfigMap]}]\n  parameters:\n    labels: [owner]\n",
    )
    .unwrap();
    let kc = kc.display().to_string();
    let live = palisade(
        &[
            "admission",
            "audit",
            "--cluster",
            "--kubeconfig",
            &kc,
            "--policies",
            "template.yaml",
            "--policies",
            "constraint.yaml",
            "-o",
            "json",
        ],
        tmp.path(),
    );
    let stderr = String::from_utf8_lossy(&live.stderr);
    assert_eq!(live.status.code(), Some(1), "{stderr}");
    let got = findings(&live);
    let has = |check: &str, obj: &str, msg: &str| {
        assert!(
            got.iter()
                .any(|(c, o, m)| c == check && o == obj && m.starts_with(msg)),
            "no {check} on {obj} starting with {msg:?} in {got:#?}"
        );
    };
    has(
        "pss/privileged",
        "Pod/prod/web",
        "pod violates PodSecurity \"restricted:latest\": privileged",
    );
    has(
        "pss/hostNamespaces",
        "Deployment/prod/api",
        "pods of this Deployment would be rejected: violates PodSecurity \"restricted:latest\": host namespaces",
    );
    has(
        "gatekeeper/PalRequiredLabels",
        "ConfigMap/dev/settings",
        "[cm-owner]",
    );
    // dev is privileged by default: its privileged pod is fine.
    assert!(!got.iter().any(|(_, o, _)| o == "Pod/dev/tool"), "{got:#?}");
    // The report names the listed objects.
    let report: Value = serde_json::from_slice(&live.stdout).unwrap();
    let text = report.to_string();
    assert!(text.contains("cluster:v1/Pod/prod/web"), "{text}");

    // The same objects from files: the same findings.
    let dump: String = objects()
        .iter()
        .map(|o| format!("---\n{}\n", serde_json::to_string_pretty(o).unwrap()))
        .collect();
    std::fs::write(tmp.path().join("dump.yaml"), dump).unwrap();
    let files = palisade(
        &[
            "admission",
            "audit",
            "-f",
            "dump.yaml",
            "--policies",
            "template.yaml",
            "--policies",
            "constraint.yaml",
            "-o",
            "json",
        ],
        tmp.path(),
    );
    assert_eq!(findings(&files), got);

    // An API server that fails: exit 2 with the resource named.
    api.set_failing(true);
    let out = palisade(
        &["admission", "audit", "--cluster", "--kubeconfig", &kc],
        tmp.path(),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("cannot list namespaces"), "{stderr}");
    // --kubeconfig needs --cluster; -f or --cluster is required.
    let out = palisade(&["admission", "audit", "--kubeconfig", &kc], tmp.path());
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn serve_watches_the_cluster_and_stops_on_sigterm() {
    use std::io::{BufRead, BufReader};
    let rt = tokio::runtime::Runtime::new().unwrap();
    let api = rt.block_on(FakeApi::start());
    for o in objects() {
        api.apply(o);
    }
    let tmp = tempfile::tempdir().unwrap();
    let kc = api.kubeconfig(tmp.path());
    std::fs::write(
        tmp.path().join("config.yaml"),
        format!("cluster: {{enabled: true, kubeconfig: {}}}\n", kc.display()),
    )
    .unwrap();
    // A kubeconfig that cannot be read is reported before serving, naming the file.
    std::fs::write(
        tmp.path().join("broken.yaml"),
        "cluster: {enabled: true, kubeconfig: missing.yaml}\n",
    )
    .unwrap();
    let out = palisade(
        &[
            "admission",
            "serve",
            "--self-signed",
            "--listen",
            "127.0.0.1:0",
            "--config",
            "broken.yaml",
        ],
        tmp.path(),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("missing.yaml"), "{stderr}");

    let mut child = Command::new(env!("CARGO_BIN_EXE_palisade"))
        .args([
            "admission",
            "serve",
            "--self-signed",
            "--listen",
            "127.0.0.1:0",
            "--config",
            "config.yaml",
        ])
        .current_dir(tmp.path())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    // Two lines in either order (the watches run on their own thread): the server listens,
    // and it lists then watches Namespaces and Pods and logs when it is synced.
    let mut lines = String::new();
    for _ in 0..2 {
        stderr.read_line(&mut lines).unwrap();
    }
    assert!(
        lines.contains("listening on https://127.0.0.1:")
            && lines.contains("namespaces from the API server"),
        "{lines}"
    );
    assert!(
        lines.contains("cluster state synced") && lines.contains("namespaces: 2 objects"),
        "{lines}"
    );
    assert!(api.lists() >= 2, "lists: {}", api.lists());
    for _ in 0..100 {
        if api.watches() >= 2 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(api.watches() >= 2, "watches: {}", api.watches());
    let status = Command::new("sh")
        .args(["-c", &format!("kill -TERM {}", child.id())])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = child.wait().unwrap();
    assert!(exit.success(), "{exit:?}");
}
