//! Data-driven tests of `reconcile`: what `kubectl auth reconcile` would do.
//!
//! Every file `testdata/reconcile/<case>.yaml` is one case:
//!
//! ```yaml
//! description: what the case shows
//! removeExtraPermissions: false      # optional flags
//! removeExtraSubjects: false
//! desired: |                         # manifests given to -f
//!   apiVersion: rbac.authorization.k8s.io/v1
//!   ...
//! current: |                         # the cluster before reconcile (may be empty)
//!   ...
//! expect:                            # required
//!   changes: true                    # whether anything is written
//!   namespacesCreated: [team-a]      # default []
//!   skipped: [ConfigMap/default/x]   # kind/namespace/name of skipped objects; default []
//!   warnings: 1                      # number of warnings; default 0
//!   objects:                         # every desired RBAC object, in order
//!   - object: Role/team-a/reader     # kind/namespace/name or kind/name
//!     operation: update              # create | update | recreate | none
//!     protected: false               # default false
//!     missingRules: [{verbs: [get], apiGroups: [""], resources: [pods]}]   # default []
//!     extraRules: []                 # default []
//!     missingSubjects: []            # as written in a binding; default []
//!     extraSubjects: []
//!     missingAggregationSelectors: []
//!     extraAggregationSelectors: []
//!     result: {rules: [...]}         # optional: top-level fields of the reconciled object
//!   kubectl: |                       # optional: kubectl's text for all objects, exactly
//!     role.rbac.authorization.k8s.io/reader reconciled
//! ```
//!
//! Missing and extra lists are compared exactly (order included), so a case that leaves them
//! out asserts that they are empty.

use palisade_model::{Inventory, LoadOptions};
use palisade_rbac::RbacStore;
use palisade_rbac::reconcile::{ClusterState, Options, Plan, reconcile, rule_json, subject_json};
use serde::Deserialize;
use serde_json::Value;
use std::path::{Path, PathBuf};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Case {
    description: String,
    #[serde(default)]
    remove_extra_permissions: bool,
    #[serde(default)]
    remove_extra_subjects: bool,
    desired: String,
    #[serde(default)]
    current: String,
    expect: Expect,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Expect {
    changes: bool,
    #[serde(default)]
    namespaces_created: Vec<String>,
    #[serde(default)]
    skipped: Vec<String>,
    #[serde(default)]
    warnings: usize,
    objects: Vec<ExpectObject>,
    #[serde(default)]
    kubectl: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct ExpectObject {
    object: String,
    operation: String,
    #[serde(default)]
    protected: bool,
    #[serde(default)]
    missing_rules: Vec<Value>,
    #[serde(default)]
    extra_rules: Vec<Value>,
    #[serde(default)]
    missing_subjects: Vec<Value>,
    #[serde(default)]
    extra_subjects: Vec<Value>,
    #[serde(default)]
    missing_aggregation_selectors: Vec<Value>,
    #[serde(default)]
    extra_aggregation_selectors: Vec<Value>,
    #[serde(default)]
    result: Option<serde_json::Map<String, Value>>,
}

fn load_case(path: &Path) -> Result<Case, String> {
    let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
    let docs = palisade_model::yaml::parse_stream(&text, &Default::default());
    if docs.len() != 1 {
        return Err(format!("expected one YAML document, found {}", docs.len()));
    }
    let doc = docs
        .into_iter()
        .next()
        .unwrap()
        .map_err(|e| e.to_string())?;
    let root = doc.root.ok_or("empty case")?;
    serde_json::from_value(root.to_json()).map_err(|e| format!("bad case: {e}"))
}

fn inventory(name: &str, text: &str) -> Result<Inventory, String> {
    let mut inv = Inventory::new();
    inv.add_text(name, text, &LoadOptions::default());
    if inv.has_errors() {
        return Err(format!("{name}: {:?}", inv.diagnostics));
    }
    Ok(inv)
}

fn run_case(case: &Case) -> Result<Plan, String> {
    let desired = inventory("desired.yaml", &case.desired)?;
    let (dstore, ddiags) = RbacStore::from_inventory(&desired);
    let current = inventory("current.yaml", &case.current)?;
    let (cstore, cdiags) = RbacStore::from_inventory(&current);
    if !ddiags.is_empty() || !cdiags.is_empty() {
        return Err(format!("unexpected diagnostics: {ddiags:?} {cdiags:?}"));
    }
    let mut state = ClusterState::from_store(&cstore, Some(&current));
    let opts = Options {
        remove_extra_permissions: case.remove_extra_permissions,
        remove_extra_subjects: case.remove_extra_subjects,
    };
    reconcile(&desired, &dstore, &mut state, &opts).map_err(|e| e.to_string())
}

fn check(case: &Case, plan: &Plan) -> Vec<String> {
    let mut errs = Vec::new();
    let e = &case.expect;
    if plan.changes() != e.changes {
        errs.push(format!(
            "changes: got {}, want {}",
            plan.changes(),
            e.changes
        ));
    }
    if plan.namespaces_created != e.namespaces_created {
        errs.push(format!(
            "namespacesCreated: got {:?}, want {:?}",
            plan.namespaces_created, e.namespaces_created
        ));
    }
    let skipped: Vec<String> = plan
        .skipped
        .iter()
        .map(|s| match &s.namespace {
            Some(ns) => format!("{}/{}/{}", s.kind, ns, s.name),
            None => format!("{}/{}", s.kind, s.name),
        })
        .collect();
    if skipped != e.skipped {
        errs.push(format!("skipped: got {skipped:?}, want {:?}", e.skipped));
    }
    if plan.warnings.len() != e.warnings {
        errs.push(format!(
            "warnings: got {:?}, want {} of them",
            plan.warnings, e.warnings
        ));
    }
    let got: Vec<String> = plan.objects.iter().map(|o| o.key.to_string()).collect();
    let want: Vec<&str> = e.objects.iter().map(|o| o.object.as_str()).collect();
    if got != want {
        errs.push(format!("objects: got {got:?}, want {want:?}"));
        return errs;
    }
    for (o, w) in plan.objects.iter().zip(&e.objects) {
        let name = &w.object;
        if o.operation.as_str() != w.operation {
            errs.push(format!(
                "{name}: operation {}, want {}",
                o.operation.as_str(),
                w.operation
            ));
        }
        if o.protected != w.protected {
            errs.push(format!(
                "{name}: protected {}, want {}",
                o.protected, w.protected
            ));
        }
        let lists: [(&str, Vec<Value>, &Vec<Value>); 6] = [
            (
                "missingRules",
                o.missing_rules.iter().map(rule_json).collect(),
                &w.missing_rules,
            ),
            (
                "extraRules",
                o.extra_rules.iter().map(rule_json).collect(),
                &w.extra_rules,
            ),
            (
                "missingSubjects",
                o.missing_subjects.iter().map(subject_json).collect(),
                &w.missing_subjects,
            ),
            (
                "extraSubjects",
                o.extra_subjects.iter().map(subject_json).collect(),
                &w.extra_subjects,
            ),
            (
                "missingAggregationSelectors",
                o.missing_aggregation_selectors.clone(),
                &w.missing_aggregation_selectors,
            ),
            (
                "extraAggregationSelectors",
                o.extra_aggregation_selectors.clone(),
                &w.extra_aggregation_selectors,
            ),
        ];
        for (field, got, want) in lists {
            if &got != want {
                errs.push(format!(
                    "{name}: {field}:\n  got  {}\n  want {}",
                    Value::Array(got),
                    Value::Array(want.clone())
                ));
            }
        }
        if let Some(result) = &w.result {
            for (k, want) in result {
                let got = o.object.get(k).cloned().unwrap_or(Value::Null);
                if &got != want {
                    errs.push(format!("{name}: result.{k}:\n  got  {got}\n  want {want}"));
                }
            }
        }
    }
    if let Some(want) = &e.kubectl {
        let got: String = plan
            .objects
            .iter()
            .map(|o| o.kubectl_text(&plan.options))
            .collect();
        if &got != want {
            errs.push(format!("kubectl text:\n--- got\n{got}--- want\n{want}---"));
        }
    }
    errs
}

fn cases() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/reconcile");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    files.sort();
    files
}

#[test]
fn reconcile_fixtures() {
    let files = cases();
    assert!(files.len() >= 10, "expected the reconcile fixtures");
    let mut failures = Vec::new();
    for f in &files {
        let name = f.file_name().unwrap().to_string_lossy().into_owned();
        let outcome = load_case(f).and_then(|case| {
            if case.description.trim().is_empty() {
                return Err("no description".into());
            }
            if case.expect.objects.is_empty() && case.expect.skipped.is_empty() {
                return Err("the case expects nothing".into());
            }
            let plan = run_case(&case)?;
            let errs = check(&case, &plan);
            if errs.is_empty() {
                Ok(())
            } else {
                Err(errs.join("\n"))
            }
        });
        if let Err(e) = outcome {
            failures.push(format!("{name}:\n{e}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n\n{}",
        failures.len(),
        files.len(),
        failures.join("\n\n")
    );
}

/// Reconciling the result again changes nothing (unless the input asks for changes on every
/// run, which the fixtures mark with warnings or empty maps).
#[test]
fn reconcile_is_idempotent_on_its_result() {
    for f in cases() {
        let case = load_case(&f).unwrap();
        if case.expect.warnings > 0 || case.desired.contains("{}") {
            continue;
        }
        let desired = inventory("desired.yaml", &case.desired).unwrap();
        let (dstore, _) = RbacStore::from_inventory(&desired);
        let current = inventory("current.yaml", &case.current).unwrap();
        let (cstore, _) = RbacStore::from_inventory(&current);
        let mut state = ClusterState::from_store(&cstore, Some(&current));
        let opts = Options {
            remove_extra_permissions: case.remove_extra_permissions,
            remove_extra_subjects: case.remove_extra_subjects,
        };
        reconcile(&desired, &dstore, &mut state, &opts).unwrap();
        let again = reconcile(&desired, &dstore, &mut state, &opts).unwrap();
        assert!(
            !again.changes(),
            "{}: second run still changes {:?}",
            f.display(),
            again
                .objects
                .iter()
                .filter(|o| o.changes())
                .map(|o| o.key.to_string())
                .collect::<Vec<_>>()
        );
    }
}
