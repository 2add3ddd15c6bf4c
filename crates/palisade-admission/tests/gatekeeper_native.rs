//! The native evaluator (`gatekeeper::native`): which templates it runs, and that its verdicts
//! are regorus's, message for message and detail for detail, including the reviews it hands
//! back to regorus. Cases: `testdata/gatekeeper/native`.

mod gatekeeper_cases;

use gatekeeper_cases::pod_request as request;
use palisade_admission::gatekeeper::rego::Backend;
use palisade_admission::gatekeeper::{EnforcementPoint, PolicySet, ReviewContext};
use serde_json::{Value as Json, json};

fn policies(backend: Backend) -> PolicySet {
    gatekeeper_cases::policies("native", backend, 6)
}

fn cases() -> Json {
    gatekeeper_cases::cases("native")
}

/// (template, message, details) of every violation, and the templates that failed; the clock
/// template (random by design) left out.
fn outcome(set: &PolicySet, req: &Json) -> (Vec<(String, String, Json)>, Vec<String>) {
    let out = set.evaluate(req, &ReviewContext::new(), EnforcementPoint::Webhook);
    let mut v: Vec<_> = out
        .violations
        .into_iter()
        .filter(|v| v.template != "k8snativeclock")
        .map(|v| (v.template, v.message, v.details))
        .collect();
    v.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
    let mut e: Vec<String> = out
        .errors
        .into_iter()
        .map(|e| e.template)
        .filter(|t| t != "k8snativeclock")
        .collect();
    e.sort();
    (v, e)
}

#[test]
fn templates_run_where_expected() {
    let set = policies(Backend::Auto);
    let expected = &cases()["evaluators"];
    for t in set.templates() {
        let want = expected[&t.name].as_str().unwrap();
        match (want, t.native_refusal()) {
            ("native", None) => {}
            ("native", Some(why)) => panic!("{} left to regorus: {why}", t.name),
            (_, None) => panic!("{} runs natively; expected: {want}", t.name),
            (piece, Some(why)) => assert!(why.contains(piece), "{}: {why}", t.name),
        }
    }
    // PALISADE_GATEKEEPER_ENGINE=vm|interpreter keep every template on regorus.
    for backend in [Backend::Vm, Backend::Interpreter] {
        let set = policies(backend);
        assert!(set.templates().iter().all(|t| t.native_refusal().is_some()));
    }
}

#[test]
fn native_verdicts_are_regorus_verdicts() {
    let native = policies(Backend::Auto);
    let vm = policies(Backend::Vm);
    let interpreter = policies(Backend::Interpreter);
    for set in [&native, &vm, &interpreter] {
        set.set_memo(false);
    }
    let cases = cases();
    let vm_differs: Vec<&str> = cases["vm_differs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m.as_str().unwrap())
        .collect();
    let mut fired: Vec<String> = Vec::new();
    let mut differed = 0;
    for case in cases["pods"].as_array().unwrap() {
        let req = request(case);
        let got = outcome(&native, &req);
        let mut from_vm = outcome(&vm, &req);
        let before = from_vm.0.len();
        from_vm.0.retain(|v| !vm_differs.contains(&v.1.as_str()));
        differed += before - from_vm.0.len();
        assert_eq!(got, from_vm, "pod {} (VM)", case["name"]);
        // The interpreter fails on conflicting rule values where the VM leaves them undefined:
        // compare it on the others.
        let skip_conflict = |o: (Vec<(String, String, Json)>, Vec<String>)| {
            (
                o.0.into_iter()
                    .filter(|v| v.0 != "k8snativeconflict")
                    .collect::<Vec<_>>(),
                o.1.into_iter()
                    .filter(|t| t != "k8snativeconflict")
                    .collect::<Vec<_>>(),
            )
        };
        assert_eq!(
            skip_conflict(got.clone()),
            skip_conflict(outcome(&interpreter, &req)),
            "pod {} (interpreter)",
            case["name"]
        );
        fired.extend(
            got.0
                .into_iter()
                .filter(|v| v.0 == "k8snativeshapes")
                .map(|v| v.1),
        );
    }
    assert!(differed > 0, "the VM's known difference did not show");
    for piece in cases["shapes_fire"].as_array().unwrap() {
        let piece = piece.as_str().unwrap();
        assert!(
            fired.iter().any(|m| m.contains(piece)),
            "no violation with {piece:?} in {fired:#?}"
        );
    }
    // The details of the else-chain rule come through as objects.
    let req = request(&cases["pods"][1]);
    let (violations, _) = outcome(&native, &req);
    assert!(
        violations
            .iter()
            .any(|v| v.2 == json!({"container": "app", "level": "high"}))
    );
}

#[test]
fn reviews_left_to_regorus_are_counted() {
    let set = policies(Backend::Auto);
    set.set_memo(false);
    let cases = cases();
    for case in cases["pods"].as_array().unwrap() {
        set.review(&request(case), &ReviewContext::new());
    }
    for (name, want) in cases["fallbacks"].as_object().unwrap() {
        let t = set.templates().iter().find(|t| &t.name == name).unwrap();
        let (count, why) = t.native_fallbacks();
        assert_eq!(count, want.as_u64().unwrap(), "{name}: {why:?}");
    }
    let order = set
        .templates()
        .iter()
        .find(|t| t.name == "k8snativeorder")
        .unwrap();
    assert_eq!(
        order.native_fallbacks().1.as_deref(),
        Some("a variable read before it is bound")
    );
}
