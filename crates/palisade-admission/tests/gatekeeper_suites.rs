//! The gator suites under `testdata/gatekeeper`, and proof that the quirk fixtures really
//! exercise regorus's differences from OPA (plain regorus gets each of them wrong).

use palisade_admission::gatekeeper::rego::Backend;
use palisade_admission::gatekeeper::suite::{
    CaseOutcome, RunFilter, find_suites, run_suite, run_suite_with,
};
use palisade_admission::gatekeeper::{PolicySet, ReviewContext, review_for_object};
use palisade_model::yaml::parse_stream;
use serde_json::Value as Json;
use std::path::{Path, PathBuf};

fn testdata(p: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata/gatekeeper")
        .join(p)
}

fn yaml(path: &Path) -> Json {
    let text = std::fs::read_to_string(path).unwrap();
    let docs = parse_stream(&text, &palisade_model::Limits::default());
    docs[0].as_ref().unwrap().root.as_ref().unwrap().to_json()
}

#[test]
fn every_own_suite_passes_on_every_evaluator() {
    let (suites, errors) = find_suites(&[testdata("")]);
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(suites.len(), 7, "{suites:?}");
    // Auto: the native evaluator where it applies; Vm and Interpreter: regorus only.
    for backend in [Backend::Auto, Backend::Vm, Backend::Interpreter] {
        let mut passed = 0;
        for s in &suites {
            let report = run_suite_with(s, &RunFilter::default(), backend).unwrap();
            for t in &report.tests {
                assert_eq!(t.error, None, "{backend:?} {}: {}", s.display(), t.name);
                for c in &t.cases {
                    assert_eq!(
                        c.outcome,
                        CaseOutcome::Pass,
                        "{backend:?} {}: {} / {}",
                        s.display(),
                        t.name,
                        c.name
                    );
                    passed += 1;
                }
            }
        }
        assert_eq!(passed, 19, "{backend:?}");
    }
}

#[test]
fn templates_run_on_the_vm_unless_told_otherwise() {
    let paths = [testdata("match/template.yaml")];
    let (auto, _) = PolicySet::load_with(&paths, Backend::Auto);
    assert!(auto.templates()[0].uses_vm());
    let (interp, _) = PolicySet::load_with(&paths, Backend::Interpreter);
    assert!(!interp.templates()[0].uses_vm());
    // A sprintf whose arguments are not a literal array stays on the interpreter, whose
    // sprintf is Go's.
    let text = r#"
apiVersion: templates.gatekeeper.sh/v1
kind: ConstraintTemplate
metadata: {name: testdynamicformat}
spec:
  crd: {spec: {names: {kind: TestDynamicFormat}}}
  targets:
  - target: admission.k8s.gatekeeper.sh
    rego: |
      package testdynamicformat
      violation[{"msg": msg}] {
        args := [input.review.object.metadata.name]
        msg := sprintf("%v is %v", args)
      }
"#;
    let (set, diags) = PolicySet::from_texts_with([("t.yaml", text)], Backend::Auto);
    assert!(diags.is_empty(), "{diags:?}");
    assert!(!set.templates()[0].uses_vm());
}

#[test]
fn failing_assertions_are_reported_with_the_violations() {
    let dir = tempfile::tempdir().unwrap();
    let quirk = testdata("quirks/sprintf-missing");
    for f in ["template.yaml", "constraint.yaml", "deployment-five.yaml"] {
        std::fs::copy(quirk.join(f), dir.path().join(f)).unwrap();
    }
    let suite = dir.path().join("suite.yaml");
    std::fs::write(
        &suite,
        "kind: Suite\napiVersion: test.gatekeeper.sh/v1alpha1\ntests:\n- name: t\n  template: template.yaml\n  constraint: constraint.yaml\n  cases:\n  - name: wrong\n    object: deployment-five.yaml\n    assertions:\n    - violations: 2\n  - name: also-wrong\n    object: deployment-five.yaml\n    assertions:\n    - violations: \"no\"\n  - name: right\n    object: deployment-five.yaml\n    assertions:\n    - violations: \"1\"\n      message: limit\n  - name: missing-file\n    object: nope.yaml\n",
    )
    .unwrap();
    let report = run_suite(&suite, &RunFilter::default()).unwrap();
    let cases = &report.tests[0].cases;
    assert!(
        matches!(&cases[0].outcome, CaseOutcome::Fail(m) if m.contains("want 2 violation(s)") && m.contains("got 1") && m.contains("limit is %!v(MISSING)")),
        "{cases:?}"
    );
    assert!(matches!(&cases[1].outcome, CaseOutcome::Fail(_)));
    assert_eq!(cases[2].outcome, CaseOutcome::Pass);
    assert!(matches!(&cases[3].outcome, CaseOutcome::Fail(m) if m.contains("nope.yaml")));
    assert_eq!(report.counts(), (1, 3, 0));
    // --run selects cases by name.
    let only = run_suite(&suite, &RunFilter::new(Some("^right$")).unwrap()).unwrap();
    assert_eq!(only.counts(), (1, 0, 0));
}

/// Rego of a fixture template.
fn rego_of(dir: &str) -> String {
    let t = yaml(&testdata(dir).join("template.yaml"));
    t["spec"]["targets"][0]["rego"]
        .as_str()
        .unwrap()
        .to_string()
}

/// Evaluates a template with plain regorus (v0, defaults), as a naive port would.
fn plain_regorus(dir: &str, object: &str, parameters: Json) -> Result<Json, String> {
    let rego = rego_of(dir);
    let mut engine = regorus::Engine::new();
    engine.set_rego_v0(true);
    let pkg = engine
        .add_policy("t.rego".into(), rego)
        .map_err(|e| e.to_string())?;
    let obj = yaml(&testdata(dir).join(object));
    let input = serde_json::json!({"review": review_for_object(&obj), "parameters": parameters});
    engine.set_input(regorus::Value::from(input));
    let v = engine
        .eval_rule(format!("{pkg}.violation"))
        .map_err(|e| e.to_string())?;
    Ok(serde_json::to_value(v).unwrap())
}

/// Messages Palisade reports for one fixture object under a constraint file (the same on both
/// evaluators).
fn palisade(dir: &str, constraint: &str, object: &str) -> Vec<String> {
    let d = testdata(dir);
    let paths = [d.join("template.yaml"), d.join(constraint)];
    let obj = yaml(&d.join(object));
    let mut results = Vec::new();
    for backend in [Backend::Interpreter, Backend::Auto] {
        let (set, diags) = PolicySet::load_with(&paths, backend);
        assert!(diags.is_empty(), "{diags:?}");
        let mut m: Vec<String> = set
            .review(&review_for_object(&obj), &ReviewContext::new())
            .into_iter()
            .map(|v| v.message)
            .collect();
        m.sort();
        results.push(m);
    }
    assert_eq!(results[0], results[1], "interpreter vs VM");
    results.remove(0)
}

#[test]
fn newline_then_paren_quirk() {
    let err = plain_regorus(
        "quirks/newline-paren",
        "pod-three-containers.yaml",
        serde_json::json!({"maxSidecars": 1}),
    )
    .unwrap_err();
    assert!(err.contains("maxSidecars"), "{err}");
    assert_eq!(
        palisade(
            "quirks/newline-paren",
            "constraint.yaml",
            "pod-three-containers.yaml"
        ),
        ["pod crowded has 2 sidecars, at most 1 allowed"]
    );
}

#[test]
fn sprintf_missing_argument_quirk() {
    let plain = plain_regorus(
        "quirks/sprintf-missing",
        "deployment-five.yaml",
        serde_json::json!({"max": 3}),
    );
    assert!(plain.is_err(), "{plain:?}");
    assert_eq!(
        palisade(
            "quirks/sprintf-missing",
            "constraint.yaml",
            "deployment-five.yaml"
        ),
        ["5 replicas requested, limit is %!v(MISSING)"]
    );
}

#[test]
fn multi_body_rule_quirk() {
    let plain = plain_regorus("quirks/multi-body", "pod-hostpid.yaml", Json::Null);
    assert!(plain.is_err(), "{plain:?}");
    assert_eq!(
        palisade("quirks/multi-body", "constraint.yaml", "pod-hostpid.yaml"),
        ["shares a host namespace", "uses the host PID namespace"]
    );
}

#[test]
fn negated_call_with_undefined_argument_quirk() {
    // Plain regorus reports port 80 although `ranges` is not set.
    let plain = plain_regorus(
        "quirks/not-call-undefined",
        "pod-port-80.yaml",
        serde_json::json!({}),
    )
    .unwrap();
    assert_eq!(plain.as_array().map(Vec::len), Some(1), "{plain}");
    assert!(
        palisade(
            "quirks/not-call-undefined",
            "constraint-no-ranges.yaml",
            "pod-port-80.yaml"
        )
        .is_empty()
    );
    assert_eq!(
        palisade(
            "quirks/not-call-undefined",
            "constraint-ranges.yaml",
            "pod-port-80.yaml"
        ),
        ["container nginx listens on port 80, outside the allowed ranges"]
    );
}

#[test]
fn builtin_errors_quirk() {
    let plain = plain_regorus(
        "quirks/builtin-errors",
        "configmap-bad-values.yaml",
        Json::Null,
    );
    assert!(plain.is_err(), "{plain:?}");
    assert_eq!(
        palisade(
            "quirks/builtin-errors",
            "constraint.yaml",
            "configmap-bad-values.yaml"
        ),
        ["scratch objects are not allowed"]
    );
}
