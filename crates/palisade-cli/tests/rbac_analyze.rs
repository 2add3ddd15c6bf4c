//! End-to-end tests of `palisade rbac analyze` and of the `rbac/` findings of `palisade scan`
//! and `palisade checks`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn palisade(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_palisade"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run palisade")
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}):\n{}\nstderr:\n{}",
            stdout(out),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

fn ids(v: &serde_json::Value) -> Vec<String> {
    v["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| f["id"].as_str().unwrap_or("").to_string())
        .collect()
}

const CHAIN: &str = "\
apiVersion: v1
kind: Pod
metadata: {name: frontend, namespace: shop}
spec:
  containers: [{name: c, image: nginx}]
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: admin-sa, namespace: shop}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: pod-maker, namespace: shop}
rules:
- {apiGroups: [\"\"], resources: [pods], verbs: [create]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: x, namespace: shop}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: pod-maker}
subjects: [{kind: ServiceAccount, name: default}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: y}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin}
subjects: [{kind: ServiceAccount, name: admin-sa, namespace: shop}]
";

#[test]
fn guestbook_text_shows_the_frontend_token_paths() {
    let out = palisade(&["rbac", "analyze", "-f", "examples/guestbook/"], &root());
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    let text = stdout(&out);
    assert!(
        text.contains("to secrets:       pod guestbook/frontend (Deployment) -> sa guestbook/default -> (ClusterRoleBinding guestbook-default-admin: get/list/watch secrets) -> secrets in all namespaces"),
        "{text}"
    );
    assert!(
        text.contains("to cluster-admin: pod guestbook/frontend (Deployment) -> sa guestbook/default -> (ClusterRoleBinding guestbook-default-admin: *) -> cluster-admin"),
        "{text}"
    );
    assert!(text.contains("rbac/secrets-read"), "{text}");
    assert!(text.contains("examples/guestbook/rbac.yaml:30"), "{text}");
}

#[test]
fn multi_hop_path_json_dot_and_fail_on() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("chain.yaml"), CHAIN).unwrap();
    let out = palisade(
        &["rbac", "analyze", "-f", "chain.yaml", "-o", "json"],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(0));
    let v = json(&out);
    let pod = v["paths"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["source"] == "pod shop/frontend")
        .expect("pod source");
    assert_eq!(
        pod["clusterAdmin"]["text"],
        "pod shop/frontend -> sa shop/default -> (RoleBinding shop/x: create pods) -> sa shop/admin-sa -> (ClusterRoleBinding y: *) -> cluster-admin"
    );
    assert_eq!(pod["clusterAdmin"]["steps"].as_array().unwrap().len(), 4);
    let default = v["subjects"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["subject"] == "sa shop/default")
        .expect("sa shop/default");
    let risk = &default["risks"][0];
    assert_eq!(risk["id"], "rbac/pod-create");
    assert_eq!(risk["namespace"], "shop");
    assert_eq!(risk["grants"][0]["bindingAt"], "chain.yaml:21");
    assert_eq!(risk["grants"][0]["ruleAt"], "chain.yaml:15");

    let out = palisade(
        &["rbac", "analyze", "-f", "chain.yaml", "-o", "dot"],
        dir.path(),
    );
    let dot = stdout(&out);
    assert!(dot.starts_with("digraph rbac {"), "{dot}");
    assert!(
        dot.contains("label=\"RoleBinding shop/x: create pods\""),
        "{dot}"
    );
    assert!(dot.contains("label=\"cluster-admin\""), "{dot}");

    let out = palisade(
        &[
            "rbac",
            "analyze",
            "-f",
            "chain.yaml",
            "--fail-on",
            "critical",
        ],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(1));
    // Without the bootstrap policy, cluster-admin is an unknown role: nothing to report.
    let out = palisade(
        &[
            "rbac",
            "analyze",
            "-f",
            "chain.yaml",
            "--with-defaults=false",
            "--fail-on",
            "critical",
            "-o",
            "json",
        ],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(0));
    let v = json(&out);
    assert!(v["paths"].as_array().unwrap().is_empty(), "{v:#}");
}

#[test]
fn bad_input_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("bad.yaml"),
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata: {name: r, namespace: a}\nrules: [{verbs: get}]\n",
    )
    .unwrap();
    let out = palisade(&["rbac", "analyze", "-f", "bad.yaml"], dir.path());
    assert_eq!(out.status.code(), Some(2));
    let out = palisade(&["rbac", "analyze", "-f", "missing.yaml"], dir.path());
    assert_eq!(out.status.code(), Some(2));
    let out = palisade(
        &["rbac", "analyze", "-f", "bad.yaml", "--fail-on", "urgent"],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn scan_reports_rbac_findings_with_config_and_annotations() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("chain.yaml"), CHAIN).unwrap();
    let out = palisade(
        &["scan", "chain.yaml", "-o", "json", "--no-config"],
        dir.path(),
    );
    let v = json(&out);
    let found = ids(&v);
    for id in [
        "rbac/pod-create",
        "rbac/cluster-admin",
        "rbac/path-to-cluster-admin",
    ] {
        assert!(found.iter().any(|f| f == id), "{id} missing: {found:?}");
    }
    let admin = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["id"] == "rbac/cluster-admin")
        .unwrap();
    assert_eq!(admin["line"], 27, "{admin:#}");
    assert_eq!(admin["fieldPath"], "subjects[0]");

    // The ignore annotation on the binding suppresses its finding.
    let annotated = CHAIN.replace(
        "metadata: {name: y}",
        "metadata: {name: y, annotations: {palisade.dev/ignore: rbac/cluster-admin}}",
    );
    std::fs::write(dir.path().join("chain.yaml"), annotated).unwrap();
    let out = palisade(
        &["scan", "chain.yaml", "-o", "json", "--no-config"],
        dir.path(),
    );
    let found = ids(&json(&out));
    assert!(
        !found.iter().any(|f| f == "rbac/cluster-admin"),
        "{found:?}"
    );
    assert!(found.iter().any(|f| f == "rbac/pod-create"), "{found:?}");

    // Disabled checks and severity overrides from the configuration.
    std::fs::write(
        dir.path().join(".palisade.yaml"),
        "disabledChecks: [rbac/path-*]\nseverityOverrides: {rbac/pod-create: low}\n",
    )
    .unwrap();
    let out = palisade(&["scan", "chain.yaml", "-o", "json"], dir.path());
    let v = json(&out);
    let found = ids(&v);
    assert!(
        !found.iter().any(|f| f.starts_with("rbac/path-")),
        "{found:?}"
    );
    let pc = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["id"] == "rbac/pod-create")
        .unwrap();
    assert_eq!(pc["severity"], "low");
}

#[test]
fn hardened_guestbook_stays_clean() {
    let out = palisade(
        &["scan", "examples/guestbook-hardened/", "--no-config"],
        &root(),
    );
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
}

#[test]
fn checks_list_the_rbac_catalogue_once() {
    let out = palisade(&["checks", "-o", "json"], &root());
    let v = json(&out);
    let ids: Vec<&str> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert!(ids.iter().filter(|i| i.starts_with("rbac/")).count() >= 25);
    assert!(ids.iter().filter(|i| i.starts_with("hardening/")).count() >= 40);
    for gone in [
        "hardening/cluster-admin-binding",
        "hardening/rbac-wildcard",
        "hardening/rbac-anonymous-binding",
    ] {
        assert!(!ids.contains(&gone), "{gone} is superseded by rbac/");
    }
}
