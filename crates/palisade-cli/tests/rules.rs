//! `palisade rules validate` and `palisade rules list`.

use std::process::{Command, Output};

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_palisade"))
        .args(args)
        .output()
        .unwrap()
}

fn out(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).to_string()
}

#[test]
fn validate_built_in_rules() {
    let o = run(&["rules", "validate"]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}{}",
        out(&o),
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(out(&o).contains("valid: "), "{}", out(&o));
}

#[test]
fn validate_reports_file_and_line_and_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.yaml");
    std::fs::write(
        &good,
        "- list: my_bins\n  items: [nc, ncat]\n- rule: Netcat used\n  desc: d\n  condition: evt.type = execve and proc.name in (my_bins)\n  output: nc (cmd=%proc.cmdline)\n  priority: NOTICE\n  tags: [T1059]\n",
    )
    .unwrap();
    let o = run(&["rules", "validate", "-r", good.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", out(&o));
    assert!(
        out(&o).contains("valid: 1 rules (1 enabled), 0 macros, 1 lists"),
        "{}",
        out(&o)
    );

    let bad = dir.path().join("bad.yaml");
    std::fs::write(
        &bad,
        "- rule: Fine\n  desc: d\n  condition: evt.type = open\n  output: o\n  priority: INFO\n\
         - rule: Broken field\n  desc: d\n  condition: evt.type = open and proc.nosuchfield = x\n  output: o\n  priority: INFO\n",
    )
    .unwrap();
    let o = run(&[
        "rules",
        "validate",
        "-r",
        good.to_str().unwrap(),
        "-r",
        bad.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    let text = out(&o);
    assert!(text.contains("bad.yaml:"), "{text}");
    assert!(text.contains("Broken field"), "{text}");
    assert!(text.contains("proc.nosuchfield"), "{text}");
    assert!(text.contains("invalid: 1 error(s)"), "{text}");

    let o = run(&["rules", "validate", "-r", "/nonexistent/rules.yaml"]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn list_text_and_json() {
    let o = run(&["rules", "list"]);
    assert_eq!(o.status.code(), Some(0));
    let text = out(&o);
    assert!(text.starts_with("RULE"), "{text}");
    assert!(text.contains("Credential file read"));
    assert!(text.contains("Namespace change or mount in container"));

    let o = run(&["rules", "list", "-o", "json", "-t", "T1611"]);
    assert_eq!(o.status.code(), Some(0));
    let v: Vec<serde_json::Value> = serde_json::from_str(&out(&o)).unwrap();
    assert!(v.len() >= 20);
    let enabled: Vec<&str> = v
        .iter()
        .filter(|r| r["enabled"] == true)
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert!(enabled.contains(&"Namespace change or mount in container"));
    assert!(!enabled.contains(&"Credential file read"));
    for r in &v {
        if r["enabled"] == true {
            assert!(r["tags"].as_array().unwrap().contains(&"T1611".into()));
        }
        assert!(r["line"].as_u64().unwrap() > 0);
        assert!(r["event_types"].is_array());
    }
}
