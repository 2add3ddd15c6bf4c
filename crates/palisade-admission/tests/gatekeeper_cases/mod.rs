//! Fixture loading shared by the table-driven Gatekeeper tests: a directory under
//! `testdata/gatekeeper` with `templates.yaml`, `constraints.yaml` and `cases.yaml`, whose Pods
//! are reviewed as the webhook receives them.

#![allow(dead_code)]

use palisade_admission::gatekeeper::rego::Backend;
use palisade_admission::gatekeeper::{PolicySet, review_for_object};
use serde_json::{Value as Json, json};
use std::path::PathBuf;

/// `testdata/gatekeeper/<name>`.
pub fn dir(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("testdata/gatekeeper")
        .join(name)
}

/// The directory's templates and constraints, loaded without a diagnostic, `templates` of them.
pub fn policies(name: &str, backend: Backend, templates: usize) -> PolicySet {
    let paths = [
        dir(name).join("templates.yaml"),
        dir(name).join("constraints.yaml"),
    ];
    let (set, diags) = PolicySet::load_with(&paths, backend);
    assert!(diags.is_empty(), "{diags:?}");
    assert_eq!(set.templates().len(), templates);
    set
}

/// The directory's `cases.yaml`.
pub fn cases(name: &str) -> Json {
    let text = std::fs::read_to_string(dir(name).join("cases.yaml")).unwrap();
    yaml_serde::from_str(&text).unwrap()
}

/// The AdmissionRequest for a case's Pod: `name`, `labels`, `annotations` and `spec` of the
/// Pod (namespace `apps`), `operation` of the request (CREATE when absent).
pub fn pod_request(case: &Json) -> Json {
    let mut metadata = json!({"name": case["name"], "namespace": "apps"});
    for field in ["labels", "annotations"] {
        if let Some(v) = case.get(field) {
            metadata[field] = v.clone();
        }
    }
    let pod =
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": case["spec"]});
    let mut req = review_for_object(&pod);
    req["operation"] = case
        .get("operation")
        .cloned()
        .unwrap_or_else(|| json!("CREATE"));
    req
}
