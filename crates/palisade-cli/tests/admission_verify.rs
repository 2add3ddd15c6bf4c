//! `palisade admission verify`: gator suites from the command line.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn gatekeeper_testdata(p: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../palisade-admission/testdata/gatekeeper")
        .join(p)
}

fn verify(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_palisade"))
        .args(["admission", "verify"])
        .args(args)
        .output()
        .expect("run palisade")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn passing_suites_print_each_case_and_exit_zero() {
    let dir = gatekeeper_testdata("");
    let out = verify(&[dir.to_str().unwrap()]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("=== RUN   multi-body-rules"), "{text}");
    assert!(text.contains("    --- PASS: host-network"), "{text}");
    assert!(text.contains("--- PASS: multi-body-rules"), "{text}");
    assert!(
        text.lines()
            .any(|l| l.starts_with("ok\t") && l.contains("referential")),
        "{text}"
    );
    assert!(
        text.contains("cases: 19 passed, 0 failed, 0 skipped (7 suite(s))"),
        "{text}"
    );
}

#[test]
fn a_failing_case_is_named_and_exits_one() {
    let dir = tempfile::tempdir().unwrap();
    let src = gatekeeper_testdata("quirks/multi-body");
    for f in [
        "template.yaml",
        "constraint.yaml",
        "pod-plain.yaml",
        "pod-hostpid.yaml",
    ] {
        std::fs::copy(src.join(f), dir.path().join(f)).unwrap();
    }
    std::fs::write(
        dir.path().join("suite.yaml"),
        "kind: Suite\napiVersion: test.gatekeeper.sh/v1alpha1\ntests:\n- name: hosts\n  template: template.yaml\n  constraint: constraint.yaml\n  cases:\n  - name: plain-is-fine\n    object: pod-plain.yaml\n    assertions:\n    - violations: no\n  - name: wrong-expectation\n    object: pod-hostpid.yaml\n    assertions:\n    - violations: no\n",
    )
    .unwrap();
    let suite = dir.path().join("suite.yaml");
    let out = verify(&[suite.to_str().unwrap()]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("    --- PASS: plain-is-fine"), "{text}");
    assert!(
        text.contains("    --- FAIL: wrong-expectation (hosts)"),
        "{text}"
    );
    assert!(text.contains("uses the host PID namespace"), "{text}");
    assert!(text.contains("cases: 1 passed, 1 failed"), "{text}");
    // --run narrows to the passing case.
    let out = verify(&["--run", "plain", suite.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
}

#[test]
fn unreadable_or_invalid_suites_fail() {
    let out = verify(&["/nonexistent/suite.yaml"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stdout(&out).contains("FAIL\t/nonexistent/suite.yaml"),
        "{}",
        stdout(&out)
    );
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("suite.yaml");
    std::fs::write(&bad, "kind: Suite\ntests: [\n").unwrap();
    let out = verify(&[bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    let out = verify(&["--run", "(", bad.to_str().unwrap()]);
    assert_ne!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--run"));
}
