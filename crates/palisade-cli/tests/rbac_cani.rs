//! End-to-end tests of `palisade rbac can-i` and `palisade rbac who-can`: answers, exit
//! codes, `--quiet`, `--list`, `--explain`, JSON and usage errors.

use std::path::Path;
use std::process::{Command, Output};

const MANIFESTS: &str = "\
apiVersion: v1
kind: ServiceAccount
metadata: {name: web, namespace: prod}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: prod}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      serviceAccountName: web
      containers: [{name: app, image: nginx}]
---
apiVersion: v1
kind: Pod
metadata: {name: batch, namespace: prod}
spec:
  serviceAccountName: web
  automountServiceAccountToken: false
  containers: [{name: app, image: busybox}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: secret-reader, namespace: prod}
rules:
- {apiGroups: [''], resources: [secrets], verbs: [get, list]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: web-secrets, namespace: prod}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: secret-reader}
subjects: [{kind: ServiceAccount, name: web}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: node-reader}
rules:
- {apiGroups: [''], resources: [nodes], verbs: [get]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: web-nodes, namespace: prod}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: node-reader}
subjects: [{kind: ServiceAccount, name: web}]
";

fn setup() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("rbac.yaml"), MANIFESTS).unwrap();
    dir
}

fn run(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_palisade"))
        .arg("rbac")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run palisade")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn yes_is_exit_0_and_no_is_exit_1() {
    let d = setup();
    let yes = run(
        d.path(),
        &[
            "can-i",
            "list",
            "secrets",
            "-n",
            "prod",
            "--sa",
            "prod/web",
            "-f",
            "rbac.yaml",
        ],
    );
    assert_eq!(yes.status.code(), Some(0), "{}", stderr(&yes));
    assert_eq!(stdout(&yes), "yes\n");
    let no = run(
        d.path(),
        &[
            "can-i",
            "delete",
            "secrets",
            "-n",
            "prod",
            "--sa",
            "prod/web",
            "-f",
            "rbac.yaml",
        ],
    );
    assert_eq!(no.status.code(), Some(1), "{}", stderr(&no));
    assert_eq!(stdout(&no), "no\n");
    let as_user = run(
        d.path(),
        &[
            "can-i",
            "get",
            "secrets",
            "-n",
            "prod",
            "--as",
            "system:serviceaccount:prod:web",
            "-f",
            "rbac.yaml",
        ],
    );
    assert_eq!(as_user.status.code(), Some(0));
    let other_ns = run(
        d.path(),
        &[
            "can-i",
            "get",
            "secrets",
            "--sa",
            "prod/web",
            "-f",
            "rbac.yaml",
        ],
    );
    assert_eq!(
        other_ns.status.code(),
        Some(1),
        "default namespace is `default`"
    );
    let all = run(
        d.path(),
        &[
            "can-i",
            "get",
            "secrets",
            "-A",
            "--sa",
            "prod/web",
            "-f",
            "rbac.yaml",
        ],
    );
    assert_eq!(
        all.status.code(),
        Some(1),
        "-A asks about all namespaces at once"
    );
}

#[test]
fn quiet_prints_nothing() {
    let d = setup();
    for (verb, code) in [("get", 0), ("patch", 1)] {
        let o = run(
            d.path(),
            &[
                "can-i",
                verb,
                "secrets",
                "-n",
                "prod",
                "--sa",
                "prod/web",
                "-f",
                "rbac.yaml",
                "--quiet",
            ],
        );
        assert_eq!(o.status.code(), Some(code));
        assert_eq!(stdout(&o), "");
        assert_eq!(stderr(&o), "");
    }
}

#[test]
fn cluster_scoped_through_rolebinding_is_no_with_reason() {
    let d = setup();
    let o = run(
        d.path(),
        &[
            "can-i",
            "get",
            "nodes",
            "-n",
            "prod",
            "--sa",
            "prod/web",
            "-f",
            "rbac.yaml",
        ],
    );
    assert_eq!(o.status.code(), Some(1));
    let out = stdout(&o);
    assert!(
        out.starts_with("no - nodes is cluster-scoped: RoleBinding \"prod/web-nodes\""),
        "{out}"
    );
    assert!(out.contains("kubectl would answer yes"), "{out}");
}

#[test]
fn explain_names_binding_role_and_rule() {
    let d = setup();
    let o = run(
        d.path(),
        &[
            "can-i",
            "list",
            "secrets",
            "-n",
            "prod",
            "--sa",
            "prod/web",
            "-f",
            "rbac.yaml",
            "--explain",
        ],
    );
    assert_eq!(o.status.code(), Some(0));
    let out = stdout(&o);
    assert!(out.starts_with("yes\n"), "{out}");
    assert!(
        out.contains("RoleBinding \"prod/web-secrets\" of Role \"prod/secret-reader\" to ServiceAccount \"prod/web\", rule 0"),
        "{out}"
    );
    assert!(out.contains("rbac.yaml:"), "{out}");
    let masters = run(
        d.path(),
        &[
            "can-i",
            "delete",
            "nodes",
            "--as",
            "root",
            "--as-group",
            "system:masters",
            "-f",
            "rbac.yaml",
            "--explain",
        ],
    );
    assert_eq!(masters.status.code(), Some(0));
    assert!(stdout(&masters).contains("system:masters"));
}

#[test]
fn with_defaults_toggles_the_bootstrap_policy() {
    let d = setup();
    let args = [
        "can-i",
        "create",
        "selfsubjectaccessreviews.authorization.k8s.io",
        "--as",
        "alice",
        "-f",
        "rbac.yaml",
    ];
    assert_eq!(run(d.path(), &args).status.code(), Some(0));
    let mut off = args.to_vec();
    off.push("--with-defaults=false");
    assert_eq!(run(d.path(), &off).status.code(), Some(1));
}

#[test]
fn list_prints_kubectls_table() {
    let d = setup();
    let o = run(
        d.path(),
        &[
            "can-i",
            "--list",
            "-n",
            "prod",
            "--sa",
            "prod/web",
            "-f",
            "rbac.yaml",
            "--with-defaults=false",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(
        stdout(&o),
        "Resources   Non-Resource URLs   Resource Names   Verbs\n\
         secrets     []                  []               [get list]\n\
         nodes       []                  []               [get]\n"
    );
    let nh = run(
        d.path(),
        &[
            "can-i",
            "--list",
            "--no-headers",
            "-n",
            "prod",
            "--sa",
            "prod/web",
            "-f",
            "rbac.yaml",
            "--with-defaults=false",
        ],
    );
    assert!(!stdout(&nh).contains("Resources"));
    let json = run(
        d.path(),
        &[
            "can-i",
            "--list",
            "-o",
            "json",
            "-n",
            "prod",
            "--sa",
            "prod/web",
            "-f",
            "rbac.yaml",
            "--with-defaults=false",
        ],
    );
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(v["rules"].as_array().unwrap().len(), 2);
    assert_eq!(v["user"]["name"], "system:serviceaccount:prod:web");
    let compact = run(
        d.path(),
        &[
            "can-i",
            "--list",
            "--compact",
            "-n",
            "prod",
            "--sa",
            "prod/web",
            "-f",
            "rbac.yaml",
            "--with-defaults=false",
        ],
    );
    let text = stdout(&compact);
    assert!(text.contains("namespace/prod"), "{text}");
    assert!(
        text.contains("RoleBinding \"prod/web-nodes\": get nodes"),
        "{text}"
    );
}

#[test]
fn json_answer() {
    let d = setup();
    let o = run(
        d.path(),
        &[
            "can-i",
            "get",
            "secrets",
            "-n",
            "prod",
            "--sa",
            "prod/web",
            "-f",
            "rbac.yaml",
            "-o",
            "json",
        ],
    );
    assert_eq!(o.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["allowed"], true);
    assert_eq!(v["grant"]["binding"], "web-secrets");
    assert_eq!(v["grant"]["ruleIndex"], 0);
}

#[test]
fn usage_and_input_errors_exit_2() {
    let d = setup();
    std::fs::write(
        d.path().join("bad.yaml"),
        "apiVersion: v1\nkind: [unclosed\n",
    )
    .unwrap();
    let cases: &[&[&str]] = &[
        &["can-i", "get", "pods", "-f", "rbac.yaml"],
        &[
            "can-i",
            "get",
            "pods",
            "--as",
            "a",
            "--sa",
            "x/y",
            "-f",
            "rbac.yaml",
        ],
        &[
            "can-i",
            "get",
            "pods",
            "--sa",
            "no-slash",
            "-f",
            "rbac.yaml",
        ],
        &["can-i", "get", "--as", "a", "-f", "rbac.yaml"],
        &["can-i", "get", "pods", "--as", "a"],
        &[
            "can-i",
            "get",
            "/healthz",
            "--subresource",
            "log",
            "--as",
            "a",
            "-f",
            "rbac.yaml",
        ],
        &[
            "can-i",
            "--list",
            "get",
            "pods",
            "--as",
            "a",
            "-f",
            "rbac.yaml",
        ],
        &["can-i", "--list", "--quiet", "--as", "a", "-f", "rbac.yaml"],
        &["can-i", "--list", "-A", "--as", "a", "-f", "rbac.yaml"],
        &[
            "can-i",
            "get",
            "pods",
            "--no-headers",
            "--as",
            "a",
            "-f",
            "rbac.yaml",
        ],
        &[
            "can-i",
            "get",
            "pods",
            "-n",
            "x",
            "-A",
            "--as",
            "a",
            "-f",
            "rbac.yaml",
        ],
        &["can-i", "get", "pods", "--as", "a", "-f", "missing.yaml"],
        &["can-i", "get", "pods", "--as", "a", "-f", "bad.yaml"],
        &[
            "can-i",
            "get",
            "pods",
            "--as",
            "a",
            "-f",
            "rbac.yaml",
            "--with-defaults=maybe",
        ],
        &["who-can", "get", "pods", "-f", "bad.yaml"],
        &["who-can", "get"],
    ];
    for args in cases {
        let o = run(d.path(), args);
        assert_eq!(
            o.status.code(),
            Some(2),
            "{args:?}: stdout {} stderr {}",
            stdout(&o),
            stderr(&o)
        );
        assert_eq!(stdout(&o), "", "{args:?}");
    }
}

#[test]
fn warnings_go_to_stderr() {
    let d = setup();
    let o = run(
        d.path(),
        &[
            "can-i",
            "get",
            "pods/log",
            "-n",
            "prod",
            "--as",
            "a",
            "-f",
            "rbac.yaml",
        ],
    );
    assert_eq!(stdout(&o), "no\n");
    assert!(
        stderr(&o).contains("Warning: 'pods/log' names the Pod called 'log'"),
        "{}",
        stderr(&o)
    );
    let o = run(
        d.path(),
        &[
            "can-i",
            "get",
            "widgets",
            "-n",
            "prod",
            "--as",
            "a",
            "-f",
            "rbac.yaml",
        ],
    );
    assert!(stderr(&o).contains("Warning: the server doesn't have a resource type 'widgets'"));
}

#[test]
fn who_can_lists_subjects_chains_and_pods() {
    let d = setup();
    let o = run(
        d.path(),
        &["who-can", "get", "secrets", "-n", "prod", "-f", "rbac.yaml"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(
        out.contains("Group system:masters (bypasses RBAC)"),
        "{out}"
    );
    assert!(out.contains("ServiceAccount prod/web\n    via RoleBinding \"prod/web-secrets\" -> Role \"prod/secret-reader\" -> rule 0"), "{out}");
    assert!(
        out.contains("pod Deployment prod/web (service account web, token mounted)"),
        "{out}"
    );
    assert!(
        out.contains("pod Pod prod/batch (service account web, token not mounted)"),
        "{out}"
    );
    let other = run(
        d.path(),
        &["who-can", "get", "secrets", "-n", "dev", "-f", "rbac.yaml"],
    );
    assert!(!stdout(&other).contains("prod/web"));
    let nodes = run(
        d.path(),
        &[
            "who-can",
            "get",
            "nodes",
            "-n",
            "prod",
            "-f",
            "rbac.yaml",
            "-o",
            "json",
        ],
    );
    let v: serde_json::Value = serde_json::from_slice(&nodes.stdout).unwrap();
    let names: Vec<&str> = v["allowed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["subject"]["name"].as_str().unwrap())
        .collect();
    assert!(!names.contains(&"web"), "{names:?}");
    assert_eq!(v["inert"][0]["binding"]["name"], "web-nodes");
    assert_eq!(v["allowed"][0]["subject"]["name"], "system:masters");
}
