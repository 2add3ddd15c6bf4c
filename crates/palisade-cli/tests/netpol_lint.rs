//! End-to-end tests of `palisade netpol lint` and of the `netpol/` findings of `palisade scan`
//! and `palisade checks`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn palisade(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_palisade"))
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
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

/// `(id, file, line, fieldPath)` of every finding of a JSON report.
fn findings(v: &serde_json::Value) -> Vec<(String, String, u64, String)> {
    v["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| {
            (
                f["id"].as_str().unwrap_or("").to_string(),
                f["file"].as_str().unwrap_or("").to_string(),
                f["line"].as_u64().unwrap_or(0),
                f["fieldPath"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

const POLICIES: &str = "\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web, namespace: shop}
spec:
  podSelector:
    matchLabels: {app: web}
  policyTypes: [Ingress]
  ingress:
  - from:
    - namespaceSelector:
        matchLabels: {kubernetes.io/metadata.name: monitoring}
    - podSelector:
        matchLabels: {app: prometheus}
---
apiVersion: v1
kind: Pod
metadata:
  name: web
  namespace: shop
  labels: {app: web}
spec:
  containers: [{name: web, image: web:1}]
";

fn write(dir: &Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), text).expect("write fixture");
}

#[test]
fn insecure_guestbook_has_unselected_pods_and_no_default_deny() {
    let out = palisade(
        &["netpol", "lint", "-f", "examples/guestbook/", "-o", "json"],
        &root(),
    );
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    let f = findings(&json(&out));
    assert!(f.iter().all(|x| x.0.starts_with("netpol/")), "{f:?}");
    let unselected: Vec<&str> = f
        .iter()
        .filter(|x| x.0 == "netpol/pod-not-selected")
        .map(|x| x.1.as_str())
        .collect();
    for file in [
        "frontend.yaml",
        "message-service.yaml",
        "redis.yaml",
        "user-service.yaml",
    ] {
        assert!(
            unselected.iter().any(|u| u.ends_with(file)),
            "{file} not reported: {f:?}"
        );
    }
    // The log collector runs with hostNetwork: NetworkPolicies do not apply to it.
    assert!(
        !unselected.iter().any(|u| u.ends_with("log-collector.yaml")),
        "{f:?}"
    );
    let deny: Vec<_> = f
        .iter()
        .filter(|x| x.0 == "netpol/namespace-default-deny-missing")
        .collect();
    assert_eq!(deny.len(), 1, "{f:?}");
    assert!(
        deny[0].1.ends_with("namespace.yaml") && deny[0].3 == "metadata.name",
        "{f:?}"
    );
}

#[test]
fn hardened_guestbook_is_clean_for_lint_and_scan() {
    let out = palisade(
        &["netpol", "lint", "-f", "examples/guestbook-hardened/"],
        &root(),
    );
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    assert!(stdout(&out).contains("No findings."), "{}", stdout(&out));
    let out = palisade(&["scan", "examples/guestbook-hardened/"], &root());
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    assert!(stdout(&out).contains("No findings."), "{}", stdout(&out));
}

#[test]
fn scan_reports_netpol_findings_once_and_checks_lists_them() {
    let out = palisade(&["scan", "examples/guestbook/", "-o", "json"], &root());
    assert_eq!(out.status.code(), Some(1));
    let ids: Vec<String> = findings(&json(&out)).into_iter().map(|x| x.0).collect();
    assert_eq!(
        ids.iter()
            .filter(|i| *i == "netpol/pod-not-selected")
            .count(),
        4,
        "{ids:?}"
    );
    assert!(
        ids.iter()
            .any(|i| i == "netpol/namespace-default-deny-missing")
    );
    assert!(
        !ids.iter()
            .any(|i| i.starts_with("hardening/network-policy")),
        "{ids:?}"
    );
    assert!(
        !ids.iter()
            .any(|i| i == "hardening/namespace-default-deny-missing")
    );

    let out = palisade(&["checks", "-o", "json"], &root());
    assert_eq!(out.status.code(), Some(0));
    let v = json(&out);
    let listed: Vec<&str> = v
        .as_array()
        .expect("array")
        .iter()
        .filter_map(|c| c["id"].as_str())
        .collect();
    let netpol = listed.iter().filter(|i| i.starts_with("netpol/")).count();
    assert_eq!(netpol, 13, "{listed:?}");
    assert!(listed.contains(&"netpol/egress-dns-blocked"));
    assert!(
        listed
            .iter()
            .filter(|i| i.starts_with("hardening/"))
            .count()
            >= 40
    );
    assert!(!listed.contains(&"hardening/network-policy-missing"));
}

#[test]
fn findings_point_at_the_field_and_follow_the_configuration() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "np.yaml", POLICIES);
    let out = palisade(
        &["netpol", "lint", "-f", "np.yaml", "-o", "json"],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    let f = findings(&json(&out));
    assert!(
        f.contains(&(
            "netpol/selector-and-or-confusion".into(),
            "np.yaml".into(),
            12,
            "spec.ingress[0].from[1]".into()
        )),
        "{f:?}"
    );
    assert!(
        f.iter()
            .any(|x| x.0 == "netpol/namespace-default-deny-missing"),
        "{f:?}"
    );

    // --disable, then the configuration file, then its severity override.
    let out = palisade(
        &[
            "netpol",
            "lint",
            "-f",
            "np.yaml",
            "-o",
            "json",
            "--disable",
            "netpol/namespace-default-deny-missing",
        ],
        dir.path(),
    );
    let ids: Vec<String> = findings(&json(&out)).into_iter().map(|x| x.0).collect();
    assert!(
        ids.iter().any(|i| i == "netpol/selector-and-or-confusion"),
        "{ids:?}"
    );
    assert!(
        !ids.iter()
            .any(|i| i == "netpol/namespace-default-deny-missing"),
        "{ids:?}"
    );
    write(
        dir.path(),
        ".palisade.yaml",
        "disabledChecks: [netpol/namespace-default-deny-missing]\n",
    );
    let out = palisade(
        &["netpol", "lint", "-f", "np.yaml", "--fail-on", "high"],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(0), "medium only: {}", stdout(&out));
    let text = stdout(&out);
    assert!(text.contains("netpol/selector-and-or-confusion"), "{text}");
    assert!(!text.contains("default-deny"), "{text}");
    let out = palisade(&["scan", "np.yaml", "-o", "json"], dir.path());
    let ids: Vec<String> = findings(&json(&out)).into_iter().map(|x| x.0).collect();
    assert!(
        ids.iter().any(|i| i == "netpol/selector-and-or-confusion"),
        "{ids:?}"
    );
    assert!(
        !ids.iter()
            .any(|i| i == "netpol/namespace-default-deny-missing"),
        "{ids:?}"
    );
}

#[test]
fn ignore_annotation_suppresses_a_finding() {
    let dir = tempfile::tempdir().expect("tempdir");
    let text = POLICIES.replace(
        "metadata: {name: web, namespace: shop}",
        "metadata:\n  name: web\n  namespace: shop\n  annotations: {palisade.dev/ignore: netpol/selector-and-or-confusion, palisade.dev/ignore-reason: both wanted}",
    );
    write(dir.path(), "np.yaml", &text);
    let out = palisade(
        &[
            "netpol",
            "lint",
            "-f",
            "np.yaml",
            "-o",
            "json",
            "--no-config",
            "--show-suppressed",
        ],
        dir.path(),
    );
    let v = json(&out);
    let confusion: Vec<&serde_json::Value> = v["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|f| f["id"] == "netpol/selector-and-or-confusion")
        .collect();
    assert_eq!(confusion.len(), 1, "{v}");
    assert_eq!(confusion[0]["suppressed"]["reason"], "both wanted", "{v}");
}

#[test]
fn sarif_and_exit_codes() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "np.yaml", POLICIES);
    let out = palisade(
        &["netpol", "lint", "-f", "np.yaml", "-o", "sarif"],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(1));
    let v = json(&out);
    let rules: Vec<&str> = v["runs"][0]["results"]
        .as_array()
        .expect("results")
        .iter()
        .filter_map(|r| r["ruleId"].as_str())
        .collect();
    assert!(rules.contains(&"netpol/selector-and-or-confusion"), "{v}");

    write(dir.path(), "bad.yaml", "kind: [\n");
    let out = palisade(&["netpol", "lint", "-f", "bad.yaml"], dir.path());
    assert_eq!(out.status.code(), Some(2), "{}", stdout(&out));
    let out = palisade(&["netpol", "lint", "-f", "missing.yaml"], dir.path());
    assert_eq!(out.status.code(), Some(2));
    let out = palisade(
        &["netpol", "lint", "-f", "np.yaml", "--fail-on", "urgent"],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(2));
    let out = palisade(&["netpol", "lint"], dir.path());
    assert_eq!(out.status.code(), Some(2), "-f is required");
}
