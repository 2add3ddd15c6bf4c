//! End-to-end tests of `palisade rbac reconcile`.

use serde_json::Value;
use std::path::Path;
use std::process::{Command, Output};

fn palisade(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_palisade"))
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

fn code(o: &Output) -> i32 {
    o.status.code().expect("exit code")
}

const DESIRED: &str = "\
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: ops}
rules:
- {apiGroups: [''], resources: [pods], verbs: [get, list]}
- {nonResourceURLs: [/healthz], verbs: [get]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: reader, namespace: team-a}
rules:
- {apiGroups: [apps], resources: [deployments], verbs: [get]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: readers, namespace: team-a}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: reader}
subjects:
- {kind: ServiceAccount, name: app, namespace: team-a}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: ops}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: ops}
subjects:
- {kind: Group, apiGroup: rbac.authorization.k8s.io, name: ops}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: unrelated}
";

const CURRENT: &str = "\
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: ops}
rules:
- {apiGroups: [''], resources: ['*'], verbs: [get]}
- {apiGroups: [''], resources: [secrets], verbs: [get]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: ops}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: view}
subjects:
- {kind: Group, apiGroup: rbac.authorization.k8s.io, name: ops}
";

fn setup(desired: &str, current: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("desired.yaml"), desired).unwrap();
    std::fs::create_dir(dir.path().join("live")).unwrap();
    std::fs::write(dir.path().join("live/state.yaml"), current).unwrap();
    dir
}

#[test]
fn text_output_mirrors_kubectl_and_summarises() {
    let dir = setup(DESIRED, CURRENT);
    let out = palisade(
        dir.path(),
        &[
            "rbac",
            "reconcile",
            "-f",
            "desired.yaml",
            "--current",
            "live",
        ],
    );
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let text = stdout(&out);
    let kubectl = "\
clusterrole.rbac.authorization.k8s.io/ops reconciled
\treconciliation required update
\tmissing rules added:
\t\t{Verbs:[list] APIGroups:[] Resources:[pods] ResourceNames:[] NonResourceURLs:[]}
\t\t{Verbs:[get] APIGroups:[] Resources:[] ResourceNames:[] NonResourceURLs:[/healthz]}
role.rbac.authorization.k8s.io/reader reconciled
\treconciliation required create
\tmissing rules added:
\t\t{Verbs:[get] APIGroups:[apps] Resources:[deployments] ResourceNames:[] NonResourceURLs:[]}
rolebinding.rbac.authorization.k8s.io/readers reconciled
\treconciliation required create
\tmissing subjects added:
\t\t{Kind:ServiceAccount APIGroup: Name:app Namespace:team-a}
clusterrolebinding.rbac.authorization.k8s.io/ops reconciled
\treconciliation required recreate
";
    assert!(text.starts_with(kubectl), "{text}");
    assert!(text.contains("Namespaces to create: team-a\n"), "{text}");
    assert!(
        text.contains("roleRef ClusterRole/view -> ClusterRole/ops"),
        "{text}"
    );
    assert!(text.contains("+2 rules; 2 extra rules kept"), "{text}");
    assert!(
        text.ends_with("Reconcile would change the cluster.\n"),
        "{text}"
    );
    let err = stderr(&out);
    assert!(
        err.contains("desired.yaml:28: notice: skipping ConfigMap default/unrelated"),
        "{err}"
    );
    let quiet = palisade(
        dir.path(),
        &[
            "rbac",
            "reconcile",
            "-f",
            "desired.yaml",
            "--current",
            "live",
            "-q",
        ],
    );
    assert_eq!(stderr(&quiet), "");
}

#[test]
fn summary_counts_match_the_operations() {
    let dir = setup(DESIRED, CURRENT);
    let out = palisade(
        dir.path(),
        &[
            "rbac",
            "reconcile",
            "-f",
            "desired.yaml",
            "--current",
            "live",
        ],
    );
    let text = stdout(&out);
    assert!(
        text.contains(
            "4 RBAC objects: 2 to create, 1 to update, 1 to recreate, 0 unchanged; 1 object skipped\n"
        ),
        "{text}"
    );
}

#[test]
fn json_plan() {
    let dir = setup(DESIRED, CURRENT);
    let out = palisade(
        dir.path(),
        &[
            "rbac",
            "reconcile",
            "-f",
            "desired.yaml",
            "--current",
            "live",
            "-o",
            "json",
            "--remove-extra-permissions",
        ],
    );
    assert_eq!(code(&out), 1);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["changes"], true);
    assert_eq!(v["counts"]["create"], 2);
    assert_eq!(v["counts"]["recreate"], 1);
    assert_eq!(v["namespacesCreated"], serde_json::json!(["team-a"]));
    let ops: Vec<&str> = v["objects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["operation"].as_str().unwrap())
        .collect();
    assert_eq!(ops, ["update", "create", "create", "recreate"]);
    let role = &v["objects"][0];
    assert_eq!(role["extraRules"].as_array().unwrap().len(), 2, "{role}");
    // Extra permissions removed: the rules are exactly the desired ones.
    assert_eq!(
        role["object"]["rules"],
        serde_json::json!([
            {"verbs": ["get", "list"], "apiGroups": [""], "resources": ["pods"]},
            {"verbs": ["get"], "nonResourceURLs": ["/healthz"]}
        ])
    );
    assert_eq!(v["skipped"][0]["kind"], "ConfigMap");
}

#[test]
fn yaml_output_parses_back_and_reconciles_to_nothing() {
    let dir = setup(DESIRED, CURRENT);
    let out = palisade(
        dir.path(),
        &[
            "rbac",
            "reconcile",
            "-f",
            "desired.yaml",
            "--current",
            "live",
            "-o",
            "yaml",
            "-q",
        ],
    );
    assert_eq!(code(&out), 1);
    let yaml = stdout(&out);
    let json_out = palisade(
        dir.path(),
        &[
            "rbac",
            "reconcile",
            "-f",
            "desired.yaml",
            "--current",
            "live",
            "-o",
            "json",
            "-q",
        ],
    );
    let plan: Value = serde_json::from_slice(&json_out.stdout).unwrap();
    let docs: Vec<Value> = palisade_model::yaml::parse_stream(&yaml, &Default::default())
        .into_iter()
        .map(|d| d.expect("valid YAML").root.expect("document").to_json())
        .collect();
    let objects: Vec<Value> = plan["objects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["object"].clone())
        .collect();
    assert_eq!(docs, objects, "{yaml}");

    // The reconciled objects, merged over the cluster, are the new cluster: reconciling the same
    // desired state against it changes nothing.
    std::fs::write(dir.path().join("live/reconciled.yaml"), &yaml).unwrap();
    std::fs::remove_file(dir.path().join("live/state.yaml")).unwrap();
    let again = palisade(
        dir.path(),
        &[
            "rbac",
            "reconcile",
            "-f",
            "desired.yaml",
            "--current",
            "live",
        ],
    );
    assert_eq!(code(&again), 0, "{}", stdout(&again));
    assert!(stdout(&again).ends_with("Reconcile would change nothing.\n"));
    assert!(stdout(&again).contains("4 unchanged"));
}

#[test]
fn name_output() {
    let dir = setup(DESIRED, CURRENT);
    let out = palisade(
        dir.path(),
        &[
            "rbac",
            "reconcile",
            "-f",
            "desired.yaml",
            "--current",
            "live",
            "-o",
            "name",
        ],
    );
    assert_eq!(
        stdout(&out),
        "clusterrole.rbac.authorization.k8s.io/ops\nrole.rbac.authorization.k8s.io/reader\n\
         rolebinding.rbac.authorization.k8s.io/readers\n\
         clusterrolebinding.rbac.authorization.k8s.io/ops\n"
    );
}

#[test]
fn protected_objects_are_reported_but_do_not_count_as_changes() {
    let current = "\
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: ops
  annotations: {rbac.authorization.kubernetes.io/autoupdate: 'false'}
rules:
- {apiGroups: [''], resources: [pods], verbs: [get]}
";
    let desired = "\
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: ops}
rules:
- {apiGroups: [''], resources: [pods], verbs: [get, delete]}
";
    let dir = setup(desired, current);
    let out = palisade(
        dir.path(),
        &[
            "rbac",
            "reconcile",
            "-f",
            "desired.yaml",
            "--current",
            "live",
        ],
    );
    assert_eq!(code(&out), 0, "{}", stdout(&out));
    let text = stdout(&out);
    assert!(
        text.starts_with(
            "clusterrole.rbac.authorization.k8s.io/ops reconciled\n\treconciliation required \
             update, but object opted out (rbac.authorization.kubernetes.io/autoupdate: false)\n\
             \tmissing rules added:\n\t\t{Verbs:[delete] APIGroups:[] Resources:[pods] \
             ResourceNames:[] NonResourceURLs:[]}\n"
        ),
        "{text}"
    );
    assert!(text.contains("protected: not changed"), "{text}");
    let yaml = palisade(
        dir.path(),
        &[
            "rbac",
            "reconcile",
            "-f",
            "desired.yaml",
            "--current",
            "live",
            "-o",
            "yaml",
        ],
    );
    let y = stdout(&yaml);
    assert!(!y.contains("delete"), "protected object unchanged:\n{y}");
    assert!(
        y.contains("rbac.authorization.kubernetes.io/autoupdate: \"false\""),
        "{y}"
    );
}

#[test]
fn without_current_everything_is_created() {
    let dir = setup(DESIRED, "");
    let out = palisade(
        dir.path(),
        &["rbac", "reconcile", "-f", "desired.yaml", "-o", "json"],
    );
    assert_eq!(code(&out), 1);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["counts"]["create"], 4);
}

#[test]
fn input_errors_exit_2() {
    let dir = setup(
        "apiVersion: rbac.authorization.k8s.io/v1beta1\nkind: Role\nmetadata: {name: r, namespace: a}\n",
        "",
    );
    let out = palisade(
        dir.path(),
        &[
            "rbac",
            "reconcile",
            "-f",
            "desired.yaml",
            "--current",
            "live",
        ],
    );
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out).contains("only rbac.authorization.k8s.io/v1 is supported"),
        "{}",
        stderr(&out)
    );
    assert_eq!(stdout(&out), "");

    let dir = setup("kind: [unclosed\n", "");
    let out = palisade(dir.path(), &["rbac", "reconcile", "-f", "desired.yaml"]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));

    let dir = setup(DESIRED, "");
    let out = palisade(
        dir.path(),
        &[
            "rbac",
            "reconcile",
            "-f",
            "missing.yaml",
            "--current",
            "live",
        ],
    );
    assert_eq!(code(&out), 2, "{}", stderr(&out));

    // A malformed rule in the current state is an input error too.
    let dir = setup(
        DESIRED,
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: x}\nrules: [{verbs: get}]\n",
    );
    let out = palisade(
        dir.path(),
        &[
            "rbac",
            "reconcile",
            "-f",
            "desired.yaml",
            "--current",
            "live",
        ],
    );
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(stderr(&out).contains("rules[0].verbs"), "{}", stderr(&out));
}

#[test]
fn nothing_to_do_exits_0() {
    let dir = setup(CURRENT, CURRENT);
    let out = palisade(
        dir.path(),
        &[
            "rbac",
            "reconcile",
            "-f",
            "desired.yaml",
            "--current",
            "live",
        ],
    );
    assert_eq!(code(&out), 0, "{}", stdout(&out));
    assert_eq!(
        stdout(&out).lines().next(),
        Some("clusterrole.rbac.authorization.k8s.io/ops reconciled")
    );
    assert!(!stdout(&out).contains("reconciliation required"));
}

#[test]
fn bootstrap_roles_are_part_of_the_cluster() {
    let desired = "\
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: view}
rules:
- {apiGroups: [''], resources: [pods], verbs: [get]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: edit}
aggregationRule:
  clusterRoleSelectors:
  - matchLabels: {rbac.authorization.k8s.io/aggregate-to-edit: 'true'}
";
    let dir = setup(desired, "");
    let out = palisade(
        dir.path(),
        &["rbac", "reconcile", "-f", "desired.yaml", "-o", "json"],
    );
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let view = &v["objects"][0];
    // The aggregated bootstrap `view` covers `get pods`; the desired role has no
    // aggregationRule, so the existing one is dropped (an update) and the aggregated rules are
    // extra.
    assert_eq!(view["operation"], "update", "{view}");
    assert_eq!(view["missingRules"], serde_json::json!([]));
    assert!(view["extraRules"].as_array().unwrap().len() > 5, "{view}");
    assert!(view["object"].get("aggregationRule").is_none());
    // `edit` with the same selector: nothing to do.
    assert_eq!(v["objects"][1]["operation"], "none", "{}", v["objects"][1]);

    let out = palisade(
        dir.path(),
        &[
            "rbac",
            "reconcile",
            "-f",
            "desired.yaml",
            "-o",
            "json",
            "--with-defaults=false",
        ],
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["counts"]["create"], 2, "{v}");
}
