//! The verdict memo (`gatekeeper::memo`): which input each fixture template is found to read,
//! that Pods differing only where a template does not read share its verdict, and that a run of
//! reviews gets exactly the verdicts it gets without the memo. Cases: `testdata/gatekeeper/memo`.

mod gatekeeper_cases;

use gatekeeper_cases::pod_request as request;
use palisade_admission::gatekeeper::rego::Backend;
use palisade_admission::gatekeeper::{PolicySet, ReviewContext};
use serde_json::{Value as Json, json};

fn policies(backend: Backend) -> PolicySet {
    gatekeeper_cases::policies("memo", backend, 3)
}

fn cases() -> Json {
    gatekeeper_cases::cases("memo")
}

/// Messages of the memoisable templates (the clock's verdict is random by design).
fn messages(set: &PolicySet, req: &Json) -> Vec<String> {
    let mut m: Vec<String> = set
        .review(req, &ReviewContext::new())
        .into_iter()
        .filter(|v| v.template != "k8smemoclock")
        .map(|v| format!("{}: {}", v.constraint_name, v.message))
        .collect();
    m.sort();
    m
}

fn counts(set: &PolicySet, template: &str) -> (u64, u64) {
    let t = set.templates().iter().find(|t| t.name == template).unwrap();
    t.memo_counts()
}

#[test]
fn each_template_reads_what_its_rego_references() {
    let set = policies(Backend::Auto);
    let expected = &cases()["reads"];
    for t in set.templates() {
        let want: Option<Vec<String>> = serde_json::from_value(expected[&t.name].clone()).unwrap();
        assert_eq!(t.memo_reads(), want, "{}", t.name);
    }
}

#[test]
fn pods_that_differ_only_where_a_template_does_not_read_share_its_verdict() {
    let set = policies(Backend::Auto);
    let pods = cases()["pods"].as_array().unwrap().clone();
    let first = messages(&set, &request(&pods[0]));
    assert_eq!(
        first,
        ["read-only-root: container app has a writable root filesystem"]
    );
    assert_eq!(counts(&set, "k8smemorootfs"), (0, 1));
    // The same spec under another name: the root-filesystem template answers from the memo.
    let second = messages(&set, &request(&pods[1]));
    assert_eq!(second, first);
    assert_eq!(counts(&set, "k8smemorootfs"), (1, 1));
    // The host-PID template reads the name (its message holds it): two evaluations so far, and
    // the messages name each Pod.
    assert_eq!(counts(&set, "k8smemohostpid"), (0, 2));
    let a = messages(&set, &request(&pods[7]));
    let b = messages(&set, &request(&pods[8]));
    assert!(
        a.iter().any(|m| m.contains("pod host-pid-a shares")),
        "{a:?}"
    );
    assert!(
        b.iter().any(|m| m.contains("pod host-pid-b shares")),
        "{b:?}"
    );
    // The clock template is never memoised.
    assert_eq!(counts(&set, "k8smemoclock"), (0, 0));
}

#[test]
fn a_run_of_reviews_gets_the_verdicts_it_gets_without_the_memo() {
    for backend in [Backend::Auto, Backend::Interpreter] {
        let with = policies(backend);
        let without = policies(backend);
        without.set_memo(false);
        let pods = cases()["pods"].as_array().unwrap().clone();
        // Twice through, so that the second pass is answered from the memo.
        for pass in 0..2 {
            for case in &pods {
                let req = request(case);
                assert_eq!(
                    messages(&with, &req),
                    messages(&without, &req),
                    "{backend:?}, pass {pass}, pod {}",
                    case["name"]
                );
            }
        }
        let (hits, misses) = counts(&with, "k8smemorootfs");
        assert!(hits >= pods.len() as u64, "{hits} hits, {misses} misses");
        assert_eq!(counts(&without, "k8smemorootfs"), (0, 0));
    }
}

/// The reads found are the reads that matter: changing what a template is found not to read
/// (names, labels, other spec fields) does not change its verdict when evaluated afresh.
#[test]
fn changing_what_a_template_does_not_read_does_not_change_its_verdict() {
    let set = policies(Backend::Auto);
    set.set_memo(false);
    for case in cases()["pods"].as_array().unwrap() {
        let base = messages(&set, &request(case));
        let rootfs_only = |m: &[String]| -> Vec<String> {
            m.iter()
                .filter(|m| m.starts_with("read-only-root"))
                .cloned()
                .collect()
        };
        let mut other = case.clone();
        other["name"] = json!("another-name");
        other["labels"] = json!({"pod-template-hash": "5d9c7"});
        other["spec"]["nodeName"] = json!("node-7");
        other["spec"]["serviceAccountName"] = json!("builder");
        let changed = messages(&set, &request(&other));
        assert_eq!(
            rootfs_only(&changed),
            rootfs_only(&base),
            "{}",
            case["name"]
        );
    }
}
