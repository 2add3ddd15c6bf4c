//! `palisade admission serve` and `audit` end to end, and the deployment manifests scanned by
//! Palisade itself.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn palisade(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_palisade"))
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .expect("spawn palisade")
}

fn yaml(path: &Path) -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(path).unwrap();
    palisade_model::yaml::parse_stream(&text, &Default::default())
        .into_iter()
        .filter_map(|d| d.unwrap().root.map(|r| r.to_json()))
        .collect()
}

#[test]
fn scan_of_deploy_reports_nothing() {
    let out = palisade(&["scan", "deploy/", "-o", "json"], &repo());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["summary"]["findings"], 0, "{stdout}");
    assert_eq!(v["summary"]["inputErrors"], 0);
    // the plain manifests were really scanned: the Deployment, Service, PDB, webhooks...
    assert!(v["summary"]["objects"].as_u64().unwrap() >= 12, "{stdout}");
    // ...and the same with PSS restricted forced on every namespace
    let out = palisade(
        &["scan", "deploy/", "--pss-level", "restricted", "-q"],
        &repo(),
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn deploy_manifests_have_what_the_issue_asks_for_and_the_chart_matches() {
    let dir = repo().join("deploy/manifests");
    let mut objs = Vec::new();
    for e in std::fs::read_dir(&dir).unwrap() {
        objs.extend(yaml(&e.unwrap().path()));
    }
    let find = |kind: &str| {
        objs.iter()
            .find(|o| o["kind"] == kind)
            .unwrap_or_else(|| panic!("no {kind}"))
    };
    let d = find("Deployment");
    assert!(d["spec"]["replicas"].as_u64().unwrap() >= 2);
    assert!(d["spec"]["template"]["spec"]["affinity"]["podAntiAffinity"].is_object());
    assert!(
        find("PodDisruptionBudget")["spec"]["minAvailable"]
            .as_u64()
            .unwrap()
            >= 1
    );
    for kind in [
        "ValidatingWebhookConfiguration",
        "MutatingWebhookConfiguration",
    ] {
        for w in find(kind)["webhooks"].as_array().unwrap() {
            assert_eq!(w["sideEffects"], "None", "{kind}");
            assert!(w["timeoutSeconds"].as_u64().unwrap() <= 10, "{kind}");
            let excluded = &w["namespaceSelector"]["matchExpressions"][0];
            assert_eq!(excluded["operator"], "NotIn");
            let values: Vec<&str> = excluded["values"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(|v| v.as_str())
                .collect();
            assert!(values.contains(&"kube-system") && values.contains(&"palisade-system"));
        }
    }
    // the chart's defaults carry the same security settings as the plain Deployment
    let values = &yaml(&repo().join("deploy/helm/palisade/values.yaml"))[0];
    let pod = &d["spec"]["template"]["spec"];
    assert_eq!(values["podSecurityContext"], pod["securityContext"]);
    assert_eq!(
        values["securityContext"],
        pod["containers"][0]["securityContext"]
    );
    assert_eq!(values["resources"], pod["containers"][0]["resources"]);
    assert_eq!(values["replicaCount"], d["spec"]["replicas"]);
    let cm = find("ConfigMap");
    let config = palisade_model::yaml::parse_stream(
        cm["data"]["config.yaml"].as_str().unwrap(),
        &Default::default(),
    );
    let config = config
        .into_iter()
        .next()
        .unwrap()
        .unwrap()
        .root
        .unwrap()
        .to_json();
    assert_eq!(values["config"], config);
    // the server accepts that configuration
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(
        tmp.path().join("c.yaml"),
        cm["data"]["config.yaml"].as_str().unwrap(),
    )
    .unwrap();
    palisade_admission::ServerConfig::from_file(&tmp.path().join("c.yaml")).unwrap();
}

const CLUSTER: &str = "\
apiVersion: v1
kind: Namespace
metadata: {name: team, labels: {pod-security.kubernetes.io/enforce: baseline, pod-security.kubernetes.io/warn: restricted}}
---
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: team}
spec:
  hostPID: true
  containers:
  - {name: app, image: nginx:1.27}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: api, namespace: team, labels: {cost-center: a1}}
spec:
  selector: {matchLabels: {app: api}}
  template:
    metadata: {labels: {app: api}}
    spec:
      securityContext: {runAsNonRoot: true, seccompProfile: {type: RuntimeDefault}}
      containers:
      - name: api
        image: api:1
        securityContext: {allowPrivilegeEscalation: false, capabilities: {drop: [ALL]}}
";

#[test]
fn audit_reports_pss_and_gatekeeper_violations_like_scan() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("cluster.yaml"), CLUSTER).unwrap();
    let policies = repo().join("crates/palisade-admission/testdata/policies");
    let out = palisade(
        &[
            "admission",
            "audit",
            "-f",
            "cluster.yaml",
            "--policies",
            policies.to_str().unwrap(),
            "-o",
            "json",
        ],
        tmp.path(),
    );
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let findings = v["findings"].as_array().unwrap();
    let has = |id: &str, name: &str, msg: &str| {
        findings.iter().any(|f| {
            f["id"] == id
                && f["object"]["name"] == name
                && f["message"].as_str().unwrap().contains(msg)
        })
    };
    // enforce (baseline) rejects the pod, at the hostPID line
    assert!(has(
        "pss/hostNamespaces",
        "web",
        "pod violates PodSecurity \"baseline:latest\": host namespaces (hostPID=true)"
    ));
    let host = findings
        .iter()
        .find(|f| f["id"] == "pss/hostNamespaces")
        .unwrap();
    assert_eq!(
        (host["line"].as_u64(), host["fieldPath"].as_str()),
        (Some(9), Some("spec.hostPID"))
    );
    // warn (restricted) only
    assert!(has(
        "pss/runAsNonRoot",
        "web",
        "would violate PodSecurity \"restricted:latest\""
    ));
    // the compliant Deployment has no PSS finding
    assert!(
        !findings
            .iter()
            .any(|f| f["object"]["name"] == "api" && f["id"].as_str().unwrap().starts_with("pss/"))
    );
    // dryrun Gatekeeper constraint: the pod lacks the cost-center label, the Deployment has it
    assert!(has(
        "gatekeeper/PalRequiredLabels",
        "web",
        "[cost-center] missing required labels: cost-center"
    ));
    assert!(!has("gatekeeper/PalRequiredLabels", "api", "cost-center"));

    // the same report formats as scan: SARIF names the gatekeeper rule
    let out = palisade(
        &[
            "admission",
            "audit",
            "-f",
            "cluster.yaml",
            "--policies",
            policies.to_str().unwrap(),
            "-o",
            "sarif",
        ],
        tmp.path(),
    );
    let sarif: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let rules = sarif["runs"][0]["tool"]["driver"]["rules"].to_string();
    assert!(
        rules.contains("gatekeeper/PalRequiredLabels") && rules.contains("pss/hostNamespaces"),
        "{rules}"
    );

    // a compliant input exits 0
    std::fs::write(
        tmp.path().join("ok.yaml"),
        CLUSTER.split("---").last().unwrap(),
    )
    .unwrap();
    let out = palisade(&["admission", "audit", "-f", "ok.yaml"], tmp.path());
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn serve_without_certificate_explains() {
    let tmp = tempfile::tempdir().unwrap();
    let out = palisade(&["admission", "serve"], tmp.path());
    assert_ne!(out.status.code(), Some(0));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--self-signed") && err.contains("tls.certFile"),
        "{err}"
    );
    std::fs::write(tmp.path().join("bad.yaml"), "listen: [1]\n").unwrap();
    let out = palisade(&["admission", "serve", "--config", "bad.yaml"], tmp.path());
    assert_ne!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stderr).contains("bad.yaml:1:"));
}

#[test]
fn serve_self_signed_prints_ca_bundle_and_stops_on_sigterm() {
    let tmp = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_palisade"))
        .args([
            "admission",
            "serve",
            "--self-signed",
            "--listen",
            "127.0.0.1:0",
            "--cert-dir",
            "certs",
        ])
        .current_dir(tmp.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    let bundle = line
        .trim()
        .strip_prefix("caBundle: ")
        .expect("caBundle line");
    let pem = base64_decode(bundle);
    assert_eq!(pem, std::fs::read(tmp.path().join("certs/ca.crt")).unwrap());
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut ready = String::new();
    stderr.read_line(&mut ready).unwrap();
    let addr = ready
        .split("https://")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .unwrap_or_else(|| panic!("{ready}"));
    assert!(addr.starts_with("127.0.0.1:"), "{ready}");
    std::net::TcpStream::connect(addr).unwrap();
    // the parent stops reading: logging to a closed stderr must not stop the shutdown
    drop(stderr);
    // the shell's kill builtin: no procps needed
    let status = Command::new("sh")
        .args(["-c", &format!("kill -TERM {}", child.id())])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = child.wait().unwrap();
    assert!(exit.success(), "{exit:?}");
    assert!(std::net::TcpStream::connect(addr).is_err());
}

/// Standard base64 (with padding), enough to read the caBundle back.
fn base64_decode(s: &str) -> Vec<u8> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = Vec::new();
    let (mut acc, mut bits) = (0u32, 0);
    for c in s.bytes().filter(|&c| c != b'=') {
        let v = ALPHABET
            .iter()
            .position(|&a| a == c)
            .expect("base64 character") as u32;
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    out
}
