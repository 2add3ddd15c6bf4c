//! PolicySet loading, matching, enforcement actions and concurrency, on the fixtures in
//! `testdata/gatekeeper/match`.

use palisade_admission::gatekeeper::rego::Backend;
use palisade_admission::gatekeeper::{
    EnforcementAction, EnforcementPoint, PolicySet, ReviewContext, Violation, review_for_object,
};
use serde_json::{Value as Json, json};
use std::path::{Path, PathBuf};

fn testdata(p: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata/gatekeeper")
        .join(p)
}

fn load_match() -> PolicySet {
    let (set, _) = PolicySet::load(&[testdata("match")]);
    set
}

fn object(api_version: &str, kind: &str, ns: Option<&str>, name: &str, labels: Json) -> Json {
    let mut meta = json!({"name": name, "labels": labels});
    if let Some(ns) = ns {
        meta["namespace"] = json!(ns);
    }
    json!({"apiVersion": api_version, "kind": kind, "metadata": meta})
}

fn by_constraint<'a>(v: &'a [Violation], name: &str) -> Vec<&'a Violation> {
    v.iter().filter(|v| v.constraint_name == name).collect()
}

#[test]
fn load_keeps_good_policies_and_reports_bad_documents_with_lines() {
    let (set, diags) = PolicySet::load(&[testdata("match")]);
    assert_eq!(set.templates().len(), 1, "{diags:#?}");
    let names: Vec<&str> = set.constraints().iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "team-in-prod",
            "owner-where-selected",
            "namespaces-need-contact",
            "audit-only"
        ]
    );
    let find = |needle: &str| {
        diags
            .iter()
            .find(|d| d.to_string().contains(needle))
            .unwrap_or_else(|| panic!("no diagnostic containing {needle:?} in {diags:#?}"))
    };
    let d = find("wrong-parameter-type: spec.parameters.labels: must be of type array");
    assert!(d.file.ends_with("bad-constraints.yaml"));
    assert_eq!(d.pos.map(|p| p.line), Some(8));
    assert_eq!(d.field.as_deref(), Some("spec.parameters.labels"));
    let d = find("missing-required-parameter: spec.parameters: required field labels is missing");
    assert_eq!(d.pos.map(|p| p.line), Some(15));
    let d = find("spec.parameters.label: unknown field");
    assert_eq!(d.level, palisade_model::DiagLevel::Warning);
    let d = find("no ConstraintTemplate defines kind \"TestUnknownKind\"");
    assert_eq!(d.pos.map(|p| p.line), Some(18));
    let d = find("enforcementAction \"block\" is not one of");
    assert_eq!(d.pos.map(|p| p.line), Some(28));
    let d = find("ConstraintTemplate testbrokenrego: Rego does not compile");
    assert!(d.pos.is_some_and(|p| p.line >= 44), "{d}");
}

#[test]
fn kinds_namespaces_globs_and_exclusions() {
    let set = load_match();
    let ctx = ReviewContext::new();
    let review = |o: &Json| set.review(&review_for_object(o), &ctx);
    let pod = object("v1", "Pod", Some("prod-eu"), "web", json!({}));
    let v = review(&pod);
    let team = by_constraint(&v, "team-in-prod");
    assert_eq!(team.len(), 1, "{v:#?}");
    assert_eq!(team[0].message, "Pod web is missing labels {\"team\"}");
    assert_eq!(team[0].enforcement_action, EnforcementAction::Deny);
    assert_eq!(team[0].template, "testrequiredlabels");
    assert_eq!(team[0].constraint_kind, "TestRequiredLabels");
    assert_eq!(team[0].details, json!({"missing": ["team"]}));
    // Labelled: nothing.
    let labelled = object("v1", "Pod", Some("prod-eu"), "web", json!({"team": "a"}));
    assert!(by_constraint(&review(&labelled), "team-in-prod").is_empty());
    // Excluded namespace, namespace outside the glob, kind not listed, group not listed.
    for o in [
        object("v1", "Pod", Some("prod-sandbox"), "web", json!({})),
        object("v1", "Pod", Some("dev"), "web", json!({})),
        object("v1", "Service", Some("prod-eu"), "web", json!({})),
        object("batch/v1", "Job", Some("prod-eu"), "web", json!({})),
    ] {
        assert!(by_constraint(&review(&o), "team-in-prod").is_empty(), "{o}");
    }
    let deploy = object("apps/v1", "Deployment", Some("prod-us"), "api", json!({}));
    assert_eq!(by_constraint(&review(&deploy), "team-in-prod").len(), 1);
    // A cluster-scoped object cannot be disqualified by namespaces (if its kind matched).
    let v = review(&object("v1", "Pod", None, "web", json!({})));
    assert_eq!(by_constraint(&v, "team-in-prod").len(), 1);
}

#[test]
fn label_and_namespace_selectors() {
    let set = load_match();
    let mut ctx = ReviewContext::new();
    ctx.add_namespace(object(
        "v1",
        "Namespace",
        None,
        "shop",
        json!({"audited": "true"}),
    ));
    ctx.add_namespace(object(
        "v1",
        "Namespace",
        None,
        "lab",
        json!({"audited": "false"}),
    ));
    let count = |o: &Json, ctx: &ReviewContext| {
        by_constraint(
            &set.review(&review_for_object(o), ctx),
            "owner-where-selected",
        )
        .len()
    };
    let front = |ns: &str| object("v1", "ConfigMap", Some(ns), "cfg", json!({"tier": "front"}));
    assert_eq!(count(&front("shop"), &ctx), 1);
    let v = set.review(&review_for_object(&front("shop")), &ctx);
    assert_eq!(
        by_constraint(&v, "owner-where-selected")[0].enforcement_action,
        EnforcementAction::Warn
    );
    assert_eq!(count(&front("lab"), &ctx), 0, "namespace not selected");
    assert_eq!(count(&front("unknown"), &ctx), 0, "namespace not known");
    let untiered = object(
        "v1",
        "ConfigMap",
        Some("shop"),
        "cfg",
        json!({"tier": "db"}),
    );
    assert_eq!(count(&untiered, &ctx), 0, "labelSelector does not match");
    // scope: Namespaced excludes cluster-scoped objects.
    let cluster = object(
        "rbac.authorization.k8s.io/v1",
        "ClusterRole",
        None,
        "r",
        json!({"tier": "front"}),
    );
    assert_eq!(count(&cluster, &ctx), 0);
    // The namespace may also come with the request (namespaceObject).
    let mut req = review_for_object(&front("elsewhere"));
    req["namespaceObject"] = object(
        "v1",
        "Namespace",
        None,
        "elsewhere",
        json!({"audited": "true"}),
    );
    let v = set.review(&req, &ReviewContext::new());
    assert_eq!(by_constraint(&v, "owner-where-selected").len(), 1);
    // An UPDATE matches when either the new or the old object is selected.
    let req = json!({
        "uid": "1", "operation": "UPDATE", "namespace": "shop", "name": "cfg",
        "kind": {"group": "", "version": "v1", "kind": "ConfigMap"},
        "object": object("v1", "ConfigMap", Some("shop"), "cfg", json!({"tier": "db"})),
        "oldObject": front("shop"),
    });
    assert_eq!(
        by_constraint(&set.review(&req, &ctx), "owner-where-selected").len(),
        1
    );
}

#[test]
fn namespace_objects_scope_and_name_globs() {
    let set = load_match();
    let ctx = ReviewContext::new();
    let ns = |name: &str, labels: Json| object("v1", "Namespace", None, name, labels);
    let v = set.evaluate(
        &review_for_object(&ns("team-a", json!({}))),
        &ctx,
        EnforcementPoint::Webhook,
    );
    let hits = by_constraint(&v.violations, "namespaces-need-contact");
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].enforcement_action, EnforcementAction::Dryrun);
    assert_eq!(
        hits[0].message,
        "Namespace team-a is missing labels {\"contact\"}"
    );
    let v = set.review(&review_for_object(&ns("platform", json!({}))), &ctx);
    assert!(
        by_constraint(&v, "namespaces-need-contact").is_empty(),
        "name glob"
    );
    let v = set.review(
        &review_for_object(&ns("team-b", json!({"contact": "x"}))),
        &ctx,
    );
    assert!(by_constraint(&v, "namespaces-need-contact").is_empty());
}

#[test]
fn scoped_enforcement_actions_apply_per_point() {
    let set = load_match();
    let ctx = ReviewContext::new();
    let req = review_for_object(&object("v1", "ConfigMap", Some("x"), "c", json!({})));
    let at = |p| {
        let out = set.evaluate(&req, &ctx, p);
        by_constraint(&out.violations, "audit-only")
            .iter()
            .map(|v| v.enforcement_action)
            .collect::<Vec<_>>()
    };
    assert_eq!(at(EnforcementPoint::Webhook), []);
    assert_eq!(at(EnforcementPoint::Audit), [EnforcementAction::Deny]);
    assert_eq!(at(EnforcementPoint::Gator), [EnforcementAction::Warn]);
}

#[test]
fn delete_requests_use_the_old_object() {
    let set = load_match();
    let old = object("v1", "Pod", Some("prod-eu"), "web", json!({}));
    let req = json!({
        "uid": "2", "operation": "DELETE", "namespace": "prod-eu", "name": "web",
        "kind": {"group": "", "version": "v1", "kind": "Pod"},
        "object": null, "oldObject": old,
    });
    // The template reads input.review.object, which is null on DELETE: no violation, and
    // no error either.
    let out = set.evaluate(&req, &ReviewContext::new(), EnforcementPoint::Webhook);
    assert!(out.errors.is_empty(), "{:?}", out.errors);
    assert!(by_constraint(&out.violations, "team-in-prod").is_empty());
}

#[test]
fn evaluation_errors_are_reported_not_dropped() {
    let template = r#"
apiVersion: templates.gatekeeper.sh/v1
kind: ConstraintTemplate
metadata: {name: testnumbermsg}
spec:
  crd: {spec: {names: {kind: TestNumberMsg}}}
  targets:
  - target: admission.k8s.gatekeeper.sh
    rego: |
      package testnumbermsg
      violation[{"msg": 42}] { input.review.object }
---
apiVersion: constraints.gatekeeper.sh/v1beta1
kind: TestNumberMsg
metadata: {name: n}
"#;
    let (set, diags) = PolicySet::from_texts([("inline.yaml", template)]);
    assert!(diags.is_empty(), "{diags:?}");
    let req = review_for_object(&object("v1", "Pod", Some("a"), "p", json!({})));
    let out = set.evaluate(&req, &ReviewContext::new(), EnforcementPoint::Webhook);
    assert!(out.violations.is_empty());
    assert_eq!(out.errors.len(), 1);
    assert!(
        out.errors[0].message.contains("msg is not a string"),
        "{:?}",
        out.errors
    );
}

#[test]
fn concurrent_reviews_agree_with_sequential_ones() {
    let set = load_match();
    let mut ctx = ReviewContext::new();
    ctx.add_namespace(object(
        "v1",
        "Namespace",
        None,
        "shop",
        json!({"audited": "true"}),
    ));
    let objects: Vec<Json> = (0..20)
        .map(|i| {
            let ns = if i % 2 == 0 { "prod-eu" } else { "shop" };
            let labels = if i % 3 == 0 {
                json!({"tier": "front"})
            } else {
                json!({"team": "x"})
            };
            object("v1", "Pod", Some(ns), &format!("p{i}"), labels)
        })
        .collect();
    let expected: Vec<Vec<Violation>> = objects
        .iter()
        .map(|o| set.review(&review_for_object(o), &ctx))
        .collect();
    assert!(expected.iter().any(|v| !v.is_empty()));
    std::thread::scope(|s| {
        for _ in 0..6 {
            s.spawn(|| {
                for _ in 0..10 {
                    for (o, want) in objects.iter().zip(&expected) {
                        assert_eq!(&set.review(&review_for_object(o), &ctx), want);
                    }
                }
            });
        }
    });
}

/// A template named `name` with one `violation` rule of `body` and a Constraint of kind `kind`,
/// loaded on `backend`, reviewing a Pod named "p" at `point`: the one error it must give.
fn the_one_error(
    name: &str,
    kind: &str,
    body: &str,
    backend: Backend,
    point: EnforcementPoint,
) -> String {
    let template = format!(
        "apiVersion: templates.gatekeeper.sh/v1
kind: ConstraintTemplate
metadata: {{name: {name}}}
spec:
  crd: {{spec: {{names: {{kind: {kind}}}}}}}
  targets:
  - target: admission.k8s.gatekeeper.sh
    rego: |
      package {name}
      violation[{{\"msg\": \"done\"}}] {{
        {body}
      }}
---
apiVersion: constraints.gatekeeper.sh/v1beta1
kind: {kind}
metadata: {{name: slow}}
"
    );
    let (set, diags) = PolicySet::from_texts_with([("inline.yaml", template.as_str())], backend);
    assert!(diags.is_empty(), "{diags:?}");
    let req = review_for_object(&object("v1", "Pod", Some("a"), "p", json!({})));
    let out = set.evaluate(&req, &ReviewContext::new(), point);
    assert!(out.violations.is_empty());
    assert_eq!(out.errors.len(), 1, "{backend:?} {out:?}");
    out.errors[0].message.clone()
}

#[test]
fn runaway_templates_are_stopped_with_an_error() {
    let body = "input.review.object
        n := count([1 | numbers.range(1, 20000)[_]; numbers.range(1, 20000)[_]])
        n > 0";
    for backend in [Backend::Auto, Backend::Interpreter] {
        let message = the_one_error(
            "testslow",
            "TestSlow",
            body,
            backend,
            EnforcementPoint::Webhook,
        );
        assert!(message.contains("time"), "{backend:?} {message}");
    }
}

/// A review the native evaluator stops on its time limit is handed to regorus with what is left
/// of the same budget (nothing, here), not a fresh one: without a webhook deadline (audit,
/// `verify`) one template still costs at most `EVAL_TIME_LIMIT`.
#[test]
fn the_native_evaluator_and_regorus_share_one_time_budget() {
    let body = "big := numbers.range(1, 20000 * count(input.review.object.metadata.name))
        n := count([s | numbers.range(1, 1000000)[i]; s := json.marshal(array.concat(big, [i]))])
        n > 0";
    let message = the_one_error(
        "testslowsteps",
        "TestSlowSteps",
        body,
        Backend::Auto,
        EnforcementPoint::Audit,
    );
    assert!(message.contains("its time had run out"), "{message}");
}

/// The webhook builds `input.review` and the match target straight from the parsed
/// AdmissionReview's tree (`PolicySet::evaluate_review_timed`); every request must get the same
/// outcome as through its JSON (`evaluate_timed` on `request_json`), and `input.review` must be
/// the request exactly as sent (numbers keep their types), plus `namespaceObject` when the
/// namespace is known and the request has none.
#[test]
fn reviews_from_the_parsed_tree_match_the_json_path() {
    let echo = r#"
apiVersion: templates.gatekeeper.sh/v1
kind: ConstraintTemplate
metadata: {name: testecho}
spec:
  crd: {spec: {names: {kind: TestEcho}}}
  targets:
  - target: admission.k8s.gatekeeper.sh
    rego: |
      package testecho
      violation[{"msg": "echo", "details": d}] {
        d := input.review
      }
---
apiVersion: constraints.gatekeeper.sh/v1beta1
kind: TestEcho
metadata: {name: echo}
"#;
    let mut texts: Vec<(String, String)> = ["template.yaml", "constraints.yaml"]
        .iter()
        .map(|f| {
            let p = testdata("match").join(f);
            (
                p.display().to_string(),
                std::fs::read_to_string(&p).unwrap(),
            )
        })
        .collect();
    texts.push(("echo.yaml".into(), echo.into()));
    for backend in [Backend::Auto, Backend::Interpreter] {
        let (set, diags) = PolicySet::from_texts_with(
            texts.iter().map(|(n, t)| (n.as_str(), t.as_str())),
            backend,
        );
        assert_eq!(set.constraints().len(), 5, "{diags:#?}");
        let mut ctx = ReviewContext::new();
        let shop = object("v1", "Namespace", None, "shop", json!({"audited": "true"}));
        ctx.add_namespace(shop.clone());
        ctx.add_namespace(object("v1", "Namespace", None, "prod-eu", json!({})));
        let numbers = json!({"i": -3, "z": 0, "f": 2.5, "e": 1e300, "big": 18446744073709551615u64,
            "max": 9223372036854775807i64, "min": -9223372036854775808i64, "whole": 4.0,
            "s": "12", "b": [true, false, null], "u": "x\u{e9}\n", "o": {}, "a": [[1, "1"], []]});
        let pod = json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "web", "namespace": "prod-eu", "labels": {"tier": "front", "n": "1"}},
            "spec": {"containers": [{"name": "a", "image": "x", "ports": [{"containerPort": 80}]}]},
            "extra": numbers});
        let kind = |group: &str, kind: &str| json!({"group": group, "version": "v1", "kind": kind});
        let requests = [
            json!({"uid": "1", "kind": kind("", "Pod"), "resource": {"group": "", "version": "v1", "resource": "pods"},
                "namespace": "prod-eu", "name": "web", "operation": "CREATE",
                "userInfo": {"username": "u", "groups": ["g"]}, "object": pod, "dryRun": false}),
            // No name, namespace or kind.group in the request: taken from the object.
            json!({"uid": "2", "kind": {"version": "v1", "kind": "ConfigMap"}, "resource": {"group": "", "version": "v1", "resource": "configmaps"},
                "operation": "CREATE", "object": object("v1", "ConfigMap", Some("shop"), "cfg", json!({"tier": "front"}))}),
            // UPDATE: the old object is selected, the new one is not.
            json!({"uid": "3", "kind": kind("", "ConfigMap"), "resource": {"group": "", "version": "v1", "resource": "configmaps"},
                "namespace": "shop", "name": "cfg", "operation": "UPDATE",
                "object": object("v1", "ConfigMap", Some("shop"), "cfg", json!({"tier": "db"})),
                "oldObject": object("v1", "ConfigMap", Some("shop"), "cfg", json!({"tier": "front"}))}),
            // DELETE: object null, the old object matched.
            json!({"uid": "4", "kind": kind("", "Pod"), "resource": {"group": "", "version": "v1", "resource": "pods"},
                "namespace": "prod-eu", "name": "web", "operation": "DELETE", "object": null,
                "oldObject": object("v1", "Pod", Some("prod-eu"), "web", json!({}))}),
            // The namespace comes with the request (and is not known).
            json!({"uid": "5", "kind": kind("", "ConfigMap"), "resource": {"group": "", "version": "v1", "resource": "configmaps"},
                "namespace": "elsewhere", "name": "cfg", "operation": "CREATE",
                "object": object("v1", "ConfigMap", Some("elsewhere"), "cfg", json!({"tier": "back"})),
                "namespaceObject": object("v1", "Namespace", None, "elsewhere", json!({"audited": "true"}))}),
            // A null namespaceObject is kept, not replaced by the known namespace.
            json!({"uid": "6", "kind": kind("", "ConfigMap"), "resource": {"group": "", "version": "v1", "resource": "configmaps"},
                "namespace": "shop", "name": "cfg", "operation": "CREATE", "namespaceObject": null,
                "object": object("v1", "ConfigMap", Some("shop"), "cfg", json!({"tier": "front"}))}),
            // Namespaces and cluster-scoped objects.
            json!({"uid": "7", "kind": kind("", "Namespace"), "resource": {"group": "", "version": "v1", "resource": "namespaces"},
                "name": "team-a", "operation": "CREATE", "object": object("v1", "Namespace", None, "team-a", json!({}))}),
            json!({"uid": "8", "kind": kind("rbac.authorization.k8s.io", "ClusterRole"),
                "resource": {"group": "rbac.authorization.k8s.io", "version": "v1", "resource": "clusterroles"},
                "name": "r", "operation": "CREATE",
                "object": object("rbac.authorization.k8s.io/v1", "ClusterRole", None, "r", json!({"tier": "front"}))}),
        ];
        for req in requests {
            let body = serde_json::to_vec(&json!({"apiVersion": "admission.k8s.io/v1",
                "kind": "AdmissionReview", "request": req}))
            .unwrap();
            let review = palisade_admission::review::parse(&body).unwrap();
            assert_eq!(review.request_json(), &req);
            let via_json =
                set.evaluate_timed(review.request_json(), &ctx, EnforcementPoint::Webhook, None);
            let via_tree =
                set.evaluate_review_timed(&review, &ctx, EnforcementPoint::Webhook, None, None);
            assert!(via_tree.errors.is_empty(), "{:?}", via_tree.errors);
            assert_eq!(via_tree, via_json, "{req}");
            let echoed = &by_constraint(&via_tree.violations, "echo")[0].details;
            let mut want = req.clone();
            if let Some(whole) = want.pointer_mut("/object/extra/whole") {
                // regorus holds 4.0 as the integer 4, whichever way the value is built.
                *whole = json!(4);
            }
            // The target's namespace: the request's, else the object's.
            let ns = req["namespace"]
                .as_str()
                .or(req
                    .pointer("/object/metadata/namespace")
                    .and_then(Json::as_str))
                .unwrap_or("");
            if want.get("namespaceObject").is_none()
                && let Some(known) = ctx.namespace(ns)
            {
                want["namespaceObject"] = known.clone();
            }
            assert_eq!(echoed, &want, "{backend:?}");
        }
        // The selectors did their work on both paths.
        let body = |req: Json| {
            serde_json::to_vec(&json!({"apiVersion": "admission.k8s.io/v1",
                "kind": "AdmissionReview", "request": req}))
            .unwrap()
        };
        let selected = palisade_admission::review::parse(&body(json!({"uid": "9",
            "kind": kind("", "ConfigMap"), "resource": {"group": "", "version": "v1", "resource": "configmaps"},
            "namespace": "shop", "name": "cfg", "operation": "CREATE",
            "object": object("v1", "ConfigMap", Some("shop"), "cfg", json!({"tier": "front"}))})))
        .unwrap();
        let out = set.evaluate_review_timed(&selected, &ctx, EnforcementPoint::Webhook, None, None);
        assert_eq!(
            by_constraint(&out.violations, "owner-where-selected").len(),
            1
        );
        let mut other = ReviewContext::new();
        other.add_namespace(object(
            "v1",
            "Namespace",
            None,
            "shop",
            json!({"audited": "no"}),
        ));
        let out =
            set.evaluate_review_timed(&selected, &other, EnforcementPoint::Webhook, None, None);
        assert!(by_constraint(&out.violations, "owner-where-selected").is_empty());
        // A deadline already passed: a verdict the memo holds is still given (it costs
        // nothing)...
        let past = std::time::Instant::now();
        let out =
            set.evaluate_review_timed(&selected, &ctx, EnforcementPoint::Webhook, None, Some(past));
        assert!(out.errors.is_empty(), "{:?}", out.errors);
        assert_eq!(
            by_constraint(&out.violations, "owner-where-selected").len(),
            1
        );
        // ...but without it, the constraint that applies is not evaluated, and says so (an
        // error, which denies), instead of being skipped as if it had allowed.
        set.set_memo(false);
        let out =
            set.evaluate_review_timed(&selected, &ctx, EnforcementPoint::Webhook, None, Some(past));
        assert!(out.violations.is_empty(), "{:?}", out.violations);
        assert!(
            out.errors
                .iter()
                .any(|e| e.constraint_name == "owner-where-selected"
                    && e.message.contains("deadline")),
            "{:?}",
            out.errors
        );
    }
}
