//! One implementation, two entry points: the webhook's Pod Security verdicts equal what
//! `palisade scan` (posture) reports for the same objects in the same namespaces.
//!
//! Namespaces with every combination of enforce/warn levels and versions (including invalid
//! values) hold pods and Deployments with a range of violations; every pod is sent to the
//! admission decision as an AdmissionReview and compared with the scan's findings.

use palisade_admission::engine::object_of;
use palisade_admission::{Admission, ServerConfig};
use palisade_model::{Inventory, LoadOptions};
use serde_json::{Value, json};
use std::collections::BTreeSet;

const POD_SPECS: &[(&str, &str)] = &[
    ("bare", "containers: [{name: app, image: nginx}]"),
    (
        "restricted",
        "securityContext: {runAsNonRoot: true, seccompProfile: {type: RuntimeDefault}}\n    containers: [{name: app, image: nginx, securityContext: {allowPrivilegeEscalation: false, capabilities: {drop: [ALL]}}}]",
    ),
    (
        "hostnet",
        "hostNetwork: true\n    securityContext: {runAsNonRoot: true, seccompProfile: {type: RuntimeDefault}}\n    containers: [{name: app, image: nginx, securityContext: {allowPrivilegeEscalation: false, capabilities: {drop: [ALL]}}}]",
    ),
    (
        "privileged",
        "containers: [{name: app, image: nginx, securityContext: {privileged: true}}, {name: side, image: envoy}]",
    ),
    (
        "root-user",
        "securityContext: {runAsNonRoot: true, runAsUser: 0, seccompProfile: {type: RuntimeDefault}}\n    containers: [{name: app, image: nginx, securityContext: {allowPrivilegeEscalation: false, capabilities: {drop: [ALL]}}}]",
    ),
    (
        "caps-hostpath",
        "volumes: [{name: h, hostPath: {path: /var/run}}]\n    containers: [{name: app, image: nginx, securityContext: {capabilities: {add: [NET_ADMIN, NET_BIND_SERVICE]}}}]",
    ),
    (
        "seccomp-unconfined",
        "securityContext: {runAsNonRoot: true, seccompProfile: {type: Unconfined}}\n    initContainers: [{name: init, image: busybox, securityContext: {allowPrivilegeEscalation: false, capabilities: {drop: [ALL]}}}]\n    containers: [{name: app, image: nginx, securityContext: {allowPrivilegeEscalation: false, capabilities: {drop: [ALL]}}}]",
    ),
    (
        "sysctl-procmount",
        "securityContext: {sysctls: [{name: kernel.msgmax, value: \"1\"}]}\n    containers: [{name: app, image: nginx, securityContext: {procMount: Unmasked}}]",
    ),
];

fn namespaces() -> Vec<(String, Vec<(&'static str, &'static str)>)> {
    let enforce = [
        vec![],
        vec![("enforce", "privileged")],
        vec![("enforce", "baseline")],
        vec![("enforce", "restricted")],
        vec![("enforce", "restricted"), ("enforce-version", "v1.22")],
        vec![("enforce", "baseline"), ("enforce-version", "v1.0")],
        vec![("enforce", "strict")],
        vec![("enforce", "restricted"), ("enforce-version", "1.30")],
    ];
    let warn = [
        vec![],
        vec![("warn", "restricted")],
        vec![("warn", "baseline"), ("warn-version", "v1.25")],
        vec![("audit", "restricted"), ("warn", "bogus")],
    ];
    let mut out = Vec::new();
    for (i, e) in enforce.iter().enumerate() {
        for (j, w) in warn.iter().enumerate() {
            let mut labels = e.clone();
            labels.extend(w.iter().copied());
            if labels.is_empty() {
                continue;
            }
            out.push((format!("ns-{i}-{j}"), labels));
        }
    }
    out
}

fn corpus() -> String {
    let mut y = String::new();
    for (ns, labels) in namespaces() {
        y.push_str(&format!(
            "---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: {ns}\n  labels:\n"
        ));
        for (k, v) in labels {
            y.push_str(&format!("    pod-security.kubernetes.io/{k}: \"{v}\"\n"));
        }
        for (name, spec) in POD_SPECS {
            y.push_str(&format!(
                "---\napiVersion: v1\nkind: Pod\nmetadata: {{name: {name}, namespace: {ns}}}\nspec:\n    {spec}\n"
            ));
            let tspec = spec.replace("\n    ", "\n          ");
            y.push_str(&format!(
                "---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: {name}, namespace: {ns}}}\nspec:\n  selector: {{matchLabels: {{app: x}}}}\n  template:\n    metadata: {{labels: {{app: x}}}}\n    spec:\n          {tspec}\n"
            ));
        }
    }
    y
}

fn review(obj: &Value) -> Vec<u8> {
    let api_version = obj["apiVersion"].as_str().unwrap();
    let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
    let kind = obj["kind"].as_str().unwrap();
    let resource = if kind == "Pod" { "pods" } else { "deployments" };
    serde_json::to_vec(&json!({
        "apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
        "request": {
            "uid": "u", "operation": "CREATE",
            "kind": {"group": group, "version": version, "kind": kind},
            "resource": {"group": group, "version": version, "resource": resource},
            "namespace": obj["metadata"]["namespace"], "name": obj["metadata"]["name"],
            "userInfo": {"username": "dev"}, "object": obj
        }
    }))
    .unwrap()
}

#[test]
fn webhook_verdicts_equal_scan_findings() {
    let text = corpus();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cluster.yaml");
    std::fs::write(&path, &text).unwrap();
    let mut inv = Inventory::new();
    inv.add_text("cluster.yaml", &text, &LoadOptions::default());
    assert!(inv.diagnostics.is_empty(), "{:?}", inv.diagnostics);
    let findings = palisade_posture::scan(&inv, &palisade_posture::Config::default());

    let cfg = ServerConfig::from_yaml(
        &dir.path().join("c.yaml").display().to_string(),
        "namespaces: [cluster.yaml]\n",
    )
    .unwrap();
    let (adm, diags) = Admission::from_config(&cfg).unwrap();
    assert!(diags.is_empty());

    let (mut denied, mut warned, mut compared) = (0, 0, 0);
    for obj in &inv.objects {
        let kind = obj.id.kind.as_str();
        if kind != "Pod" && kind != "Deployment" {
            continue;
        }
        compared += 1;
        let json = obj.node.to_json();
        let mine: Vec<_> = findings
            .iter()
            .filter(|f| f.object == obj.id && f.check.family() == "pss")
            .collect();
        let rejected: BTreeSet<&str> = mine
            .iter()
            .filter(|f| f.message.contains("would be rejected"))
            .map(|f| f.check.as_str())
            .collect();
        let warn_texts: Vec<&str> = mine
            .iter()
            .filter(|f| f.message.contains("warned"))
            .map(|f| f.message.as_str())
            .collect();
        let out: Value = serde_json::from_slice(
            &adm.handle(palisade_admission::Endpoint::Validate, &review(&json))
                .unwrap(),
        )
        .unwrap();
        let resp = &out["response"];
        let allowed = resp["allowed"].as_bool().unwrap();
        let warnings: Vec<&str> = resp["warnings"]
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let who = format!("{}: {resp}", obj.id);
        if kind == "Pod" {
            assert_eq!(allowed, rejected.is_empty(), "{who}\nscan: {mine:#?}");
            if !allowed {
                denied += 1;
                let msg = resp["status"]["message"].as_str().unwrap();
                // every check the scan says rejects the pod is in the webhook's message, with
                // the same PSA text
                for f in mine
                    .iter()
                    .filter(|f| f.message.contains("would be rejected"))
                {
                    let text = f.message.split_once("\": ").unwrap().1;
                    assert!(msg.contains(text), "{who}\n{text:?} not in {msg:?}");
                }
                assert!(msg.matches(" (").count() >= rejected.len(), "{who}");
            }
        } else {
            assert!(allowed, "{who}: workloads are never denied");
        }
        // warnings. Pods: the webhook warns exactly when the scan reports warned checks (for
        // admitted pods), with the same texts. Workloads: every check the scan says is warned is
        // in the webhook's warning (the scan words some workload findings from the enforce
        // policy's side, so only this direction is compared).
        if allowed {
            if kind == "Pod" {
                assert_eq!(
                    !warnings.is_empty(),
                    !warn_texts.is_empty(),
                    "{who}\nscan: {mine:#?}"
                );
            }
            for t in warn_texts
                .iter()
                .filter(|t| t.contains("warned") && t.contains("would violate"))
            {
                let text = t.split_once("\": ").unwrap().1;
                assert!(
                    warnings.first().is_some_and(|w| w.contains(text)),
                    "{who}\n{text:?}"
                );
            }
            warned += usize::from(!warnings.is_empty());
        }
        // the object helper builds the same model object the request carries
        assert_eq!(object_of(&json).id, obj.id);
    }
    assert!(compared > 400, "{compared}");
    assert!(
        denied > 50 && warned > 50,
        "denied {denied}, warned {warned}"
    );
}
