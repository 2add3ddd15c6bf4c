//! End-to-end tests of the `palisade` binary.

use std::io::Write;
use std::process::{Command, Output, Stdio};

fn palisade(args: &[&str], stdin: Option<&str>, dir: &std::path::Path) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_palisade"))
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn palisade");
    if let Some(text) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
    } else {
        drop(child.stdin.take());
    }
    child.wait_with_output().expect("wait")
}

fn json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}):\n{}\nstderr:\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

const PRIVILEGED_POD: &str = "\
apiVersion: v1
kind: Pod
metadata:
  name: priv
spec:
  containers:
  - name: app
    image: nginx:1.27
    securityContext:
      privileged: true
";

fn findings_of<'a>(v: &'a serde_json::Value, id: &str) -> Vec<&'a serde_json::Value> {
    v["findings"]
        .as_array()
        .expect("findings array")
        .iter()
        .filter(|f| f["id"] == id)
        .collect()
}

#[test]
fn finding_points_at_the_offending_field_line() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("pod.yaml"), PRIVILEGED_POD).unwrap();
    let out = palisade(
        &["scan", "pod.yaml", "-o", "json", "--no-config"],
        None,
        dir.path(),
    );
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = json(&out);
    let privileged = findings_of(&v, "pss/privileged");
    assert_eq!(privileged.len(), 1, "{v:#}");
    let f = privileged[0];
    assert_eq!(f["line"], 10);
    assert_eq!(f["file"], "pod.yaml");
    assert_eq!(
        f["fieldPath"],
        "spec.containers[0].securityContext.privileged"
    );
    assert_eq!(f["object"]["kind"], "Pod");
    assert_eq!(f["object"]["namespace"], "default");
    assert!(f["message"].as_str().unwrap().contains("privileged"), "{f}");
}

#[test]
fn malformed_documents_are_reported_and_the_rest_is_scanned() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("a.yaml"),
        format!(
            "apiVersion: v1\nkind: Pod\nmetadata: {{name: broken\nspec: {{}}\n---\n{PRIVILEGED_POD}"
        ),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("b.yaml"),
        PRIVILEGED_POD.replace("name: priv", "name: other"),
    )
    .unwrap();
    let out = palisade(
        &["scan", ".", "-o", "json", "--no-config"],
        None,
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    // The parser notices the unclosed mapping on the next line.
    assert!(
        stderr.contains("a.yaml:4:5: error: document 1:"),
        "{stderr}"
    );
    let v = json(&out);
    let names: Vec<_> = findings_of(&v, "pss/privileged")
        .iter()
        .map(|f| f["object"]["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names, ["priv", "other"]);
    // The valid document after the broken one keeps its real line numbers.
    assert_eq!(findings_of(&v, "pss/privileged")[0]["line"], 15);
}

#[test]
fn stdin_and_namespace_flag() {
    let dir = tempfile::tempdir().unwrap();
    let out = palisade(
        &["scan", "-", "-o", "json", "-n", "team-a", "--no-config"],
        Some(PRIVILEGED_POD),
        dir.path(),
    );
    let v = json(&out);
    let f = findings_of(&v, "pss/privileged");
    assert_eq!(f[0]["file"], "<stdin>");
    assert_eq!(f[0]["object"]["namespace"], "team-a");
}

#[test]
fn fail_on_threshold_sets_the_exit_code() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("pod.yaml"), PRIVILEGED_POD).unwrap();
    let all = palisade(
        &["scan", "pod.yaml", "-o", "json", "--no-config"],
        None,
        dir.path(),
    );
    let v = json(&all);
    let max = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["severity"].as_str().unwrap().parse_sev())
        .max()
        .unwrap();
    // Nothing at or above a threshold above the worst finding: exit 0.
    if max < 4 {
        let names = ["info", "low", "medium", "high", "critical"];
        let out = palisade(
            &[
                "scan",
                "pod.yaml",
                "--no-config",
                "--fail-on",
                names[max + 1],
            ],
            None,
            dir.path(),
        );
        assert_eq!(out.status.code(), Some(0));
    }
    let out = palisade(
        &["scan", "pod.yaml", "--no-config", "--fail-on", "bogus"],
        None,
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(2));
}

trait ParseSev {
    fn parse_sev(&self) -> usize;
}
impl ParseSev for str {
    fn parse_sev(&self) -> usize {
        ["info", "low", "medium", "high", "critical"]
            .iter()
            .position(|s| *s == self)
            .expect("known severity")
    }
}

#[test]
fn annotation_suppression_is_counted_and_shown_on_request() {
    let dir = tempfile::tempdir().unwrap();
    let pod = PRIVILEGED_POD.replace(
        "  name: priv\n",
        "  name: priv\n  annotations:\n    palisade.dev/ignore: pss/privileged\n    palisade.dev/ignore-reason: needs host access\n",
    );
    std::fs::write(dir.path().join("pod.yaml"), pod).unwrap();
    let out = palisade(
        &["scan", "pod.yaml", "-o", "json", "--no-config"],
        None,
        dir.path(),
    );
    let v = json(&out);
    assert!(findings_of(&v, "pss/privileged").is_empty());
    assert!(v["summary"]["suppressed"].as_u64().unwrap() >= 1, "{v:#}");
    let out = palisade(
        &[
            "scan",
            "pod.yaml",
            "-o",
            "json",
            "--no-config",
            "--show-suppressed",
        ],
        None,
        dir.path(),
    );
    let v = json(&out);
    let f = findings_of(&v, "pss/privileged");
    assert_eq!(f.len(), 1);
    assert_eq!(f[0]["suppressed"]["reason"], "needs host access");
}

#[test]
fn config_file_exemptions_and_errors() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("pod.yaml"), PRIVILEGED_POD).unwrap();
    std::fs::write(
        dir.path().join(".palisade.yaml"),
        "exemptions:\n- checks: [pss/*]\n  names: [priv]\n  reason: lab\ndisabledChecks: [hardening/*, netpol/*]\n",
    )
    .unwrap();
    let out = palisade(&["scan", "pod.yaml", "-o", "json"], None, dir.path());
    let v = json(&out);
    assert_eq!(v["findings"].as_array().unwrap().len(), 0, "{v:#}");
    assert_eq!(out.status.code(), Some(0));
    std::fs::write(dir.path().join(".palisade.yaml"), "exemption: []\n").unwrap();
    let out = palisade(&["scan", "pod.yaml"], None, dir.path());
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(".palisade.yaml:1:1"), "{stderr}");
}

#[test]
fn pss_flags_change_the_verdict_and_are_validated() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("pod.yaml"),
        PRIVILEGED_POD.replace("privileged: true", "runAsUser: 0"),
    )
    .unwrap();
    let restricted = palisade(
        &["scan", "pod.yaml", "-o", "json", "--no-config"],
        None,
        dir.path(),
    );
    assert!(!findings_of(&json(&restricted), "pss/runAsUser").is_empty());
    let baseline = palisade(
        &[
            "scan",
            "pod.yaml",
            "-o",
            "json",
            "--no-config",
            "--pss-level",
            "baseline",
        ],
        None,
        dir.path(),
    );
    assert!(findings_of(&json(&baseline), "pss/runAsUser").is_empty());
    let old = palisade(
        &[
            "scan",
            "pod.yaml",
            "-o",
            "json",
            "--no-config",
            "--pss-version",
            "v1.22",
        ],
        None,
        dir.path(),
    );
    assert!(
        findings_of(&json(&old), "pss/runAsUser").is_empty(),
        "runAsUser exists from v1.23"
    );
    let bad = palisade(
        &["scan", "pod.yaml", "--pss-level", "strict"],
        None,
        dir.path(),
    );
    assert_eq!(bad.status.code(), Some(2));
}

#[test]
fn checks_lists_metadata_as_json() {
    let dir = tempfile::tempdir().unwrap();
    let out = palisade(&["checks", "-o", "json"], None, dir.path());
    assert_eq!(out.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let ids: Vec<&str> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.iter().filter(|i| i.starts_with("pss/")).count(), 19);
    assert!(ids.iter().filter(|i| i.starts_with("hardening/")).count() >= 40);
}
