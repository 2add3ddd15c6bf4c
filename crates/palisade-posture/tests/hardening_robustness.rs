//! The hardening checks on malformed manifests: fields of the wrong type, missing names,
//! invalid selectors. The API server would reject these objects; the checks must neither panic
//! nor report findings that point nowhere.

use palisade_model::{Inventory, LoadOptions};
use palisade_posture::{Config, Sink, hardening};

const MALFORMED: &str = r#"
apiVersion: v1
kind: Pod
metadata: {name: wrong-types, labels: [a, b], annotations: {container.apparmor.security.beta.kubernetes.io/: x}}
spec:
  securityContext: [1, 2]
  hostAliases: {ip: 1.2.3.4}
  shareProcessNamespace: "yes"
  serviceAccountName: {a: b}
  automountServiceAccountToken: [true]
  volumes:
  - hostPath: {path: 5}
  - name: h
    hostPath: /etc
  - name: p
    projected: {sources: [{serviceAccountToken: {expirationSeconds: huge}}]}
  containers:
  - image: 7
    env: {A: b}
    envFrom: [{secretRef: x}]
    ports: [{hostPort: [1]}]
    resources: {limits: [cpu]}
    volumeMounts: [{name: h, readOnly: maybe}, 3]
    securityContext:
      capabilities: {add: {SYS_ADMIN: true}, drop: ALL}
      runAsUser: root
      readOnlyRootFilesystem: [true]
  - name: second
    image: "@"
    env: [{name: A, value: [1]}, {value: x}, 5]
    securityContext: {capabilities: {add: [1, {x: y}, "", CAP_]}}
  initContainers: 5
  ephemeralContainers: [[]]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: bad-selector}
spec:
  selector: {matchExpressions: [{key: a, operator: Near, values: [b]}]}
  template:
    metadata: {labels: {a: {b: c}}}
    spec:
      containers: [{name: c, image: ":"}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: bad}
spec:
  podSelector: {matchLabels: [x]}
  policyTypes: Ingress
  ingress: {}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: i}
spec: {tls: [{hosts: "a"}], rules: [{host: 5}, 7]}
---
apiVersion: v1
kind: Service
metadata: {name: s}
spec: {type: [NodePort], externalIPs: "1.2.3.4", ports: 80}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: cm}
data: [a, b]
---
apiVersion: v1
kind: ConfigMap
metadata: {name: cm2}
data: {"": "", k: {nested: map}, token: 12345}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: b}
roleRef: cluster-admin
subjects: {kind: User, name: system:anonymous}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: r}
rules: [{verbs: "*"}, 5, {resources: [[]]}]
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: default}
automountServiceAccountToken: "false"
---
apiVersion: v1
kind: Secret
metadata: {name: t}
type: [kubernetes.io/service-account-token]
"#;

#[test]
fn malformed_manifests_do_not_panic_and_findings_point_into_the_file() {
    let mut inv = Inventory::new();
    inv.add_text("malformed.yaml", MALFORMED, &LoadOptions::default());
    assert!(
        inv.objects.len() >= 10,
        "fixture should load as objects: {:?}",
        inv.diagnostics
    );
    let cfg = Config {
        allowed_registries: vec!["ghcr.io/acme".into(), String::new()],
        sandbox_runtime_classes: vec!["gvisor".into()],
        ..Config::default()
    };
    let mut sink = Sink::new(&inv, &cfg);
    hardening::run(&mut sink);
    let findings = sink.into_findings();
    let lines = MALFORMED.lines().count() as u32;
    for f in &findings {
        assert!(
            f.location.line >= 1 && f.location.line <= lines,
            "{} points at line {}: {}",
            f.check,
            f.location.line,
            f.message
        );
        assert!(!f.message.is_empty());
    }
    // Well-typed parts of malformed objects are still judged.
    let ids: Vec<&str> = findings.iter().map(|f| f.check.as_str()).collect();
    assert!(
        ids.contains(&"hardening/read-only-root-filesystem"),
        "readOnlyRootFilesystem: [true] is not true: {ids:?}"
    );
    assert!(
        ids.contains(&"hardening/selector-label-mismatch"),
        "invalid selector is reported: {ids:?}"
    );
}

#[test]
fn empty_inventory_has_no_findings() {
    let inv = Inventory::new();
    let cfg = Config::default();
    let mut sink = Sink::new(&inv, &cfg);
    hardening::run(&mut sink);
    assert!(sink.into_findings().is_empty());
}

#[test]
fn disabled_checks_are_not_reported() {
    let mut inv = Inventory::new();
    inv.add_text(
        "p.yaml",
        "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n  - name: a\n    image: nginx\n",
        &LoadOptions::default(),
    );
    let run = |cfg: &Config| {
        let mut sink = Sink::new(&inv, cfg);
        hardening::run(&mut sink);
        sink.into_findings()
    };
    let all = run(&Config::default());
    assert!(
        all.iter()
            .any(|f| f.check.as_str() == "hardening/image-tag-missing")
    );
    let cfg = Config {
        disabled_checks: vec!["hardening/image-*".into()],
        ..Config::default()
    };
    let some = run(&cfg);
    assert!(
        !some
            .iter()
            .any(|f| f.check.as_str().starts_with("hardening/image-"))
    );
    assert!(
        some.iter()
            .any(|f| f.check.as_str() == "hardening/read-only-root-filesystem")
    );
}
