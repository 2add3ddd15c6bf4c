//! End-to-end tests of `palisade netpol eval`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn palisade(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_palisade"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run palisade")
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

const HARDENED: &str = "examples/guestbook-hardened";

/// A policy for the user service's database, kept out of the example itself.
const USER_DB: &str = "crates/palisade-netpol/testdata/context/user-service-database.yaml";

fn eval(extra: &[&str]) -> Output {
    let mut args = vec!["netpol", "eval", "-f", HARDENED];
    if extra.contains(&"guestbook/user-service") {
        args.push(USER_DB);
    }
    args.extend_from_slice(extra);
    palisade(&args, &root())
}

#[test]
fn allowed_names_the_admitting_rules_with_file_and_line() {
    let out = eval(&[
        "--src",
        "guestbook/message-service",
        "--dst",
        "guestbook/redis",
        "--port",
        "6379/TCP",
    ]);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        "allowed: guestbook/message-service[Deployment] => guestbook/redis[StatefulSet] : TCP 6379"
    );
    assert!(
        lines[1].contains("admitted by NetworkPolicy guestbook/message-service spec.egress[")
            && lines[1].contains("examples/guestbook-hardened/network-policies.yaml:"),
        "{text}"
    );
    assert!(
        lines[2].contains("isolated by guestbook/default-deny-all")
            && lines[2].contains("admitted by NetworkPolicy guestbook/redis spec.ingress[0]"),
        "{text}"
    );
}

#[test]
fn denied_exits_1_and_says_no_rule_admits() {
    let out = eval(&[
        "--src",
        "guestbook/frontend",
        "--dst",
        "guestbook/redis",
        "--port",
        "6379",
    ]);
    assert_eq!(out.status.code(), Some(1), "stderr: {}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.starts_with(
            "denied: guestbook/frontend[Deployment] => guestbook/redis[StatefulSet] : TCP 6379\n"
        ),
        "{text}"
    );
    assert!(text.contains("no rule admits TCP 6379"), "{text}");
}

#[test]
fn named_ports_resolve_on_the_destination() {
    let out = eval(&[
        "--src",
        "guestbook/frontend",
        "--dst",
        "guestbook/message-service",
        "--port",
        "http",
    ]);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    assert!(
        stdout(&out).starts_with("allowed: guestbook/frontend[Deployment] => guestbook/message-service[Deployment] : TCP 8080 (http)\n"),
        "{}",
        stdout(&out)
    );
    // The same port name over UDP does not exist on the destination.
    let out = eval(&[
        "--src",
        "guestbook/frontend",
        "--dst",
        "guestbook/message-service",
        "--port",
        "http/UDP",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("no container port named http with protocol UDP"));
}

#[test]
fn addresses_outside_the_cluster_and_json() {
    let out = eval(&[
        "--src",
        "guestbook/user-service",
        "--dst",
        "10.20.0.7",
        "--port",
        "5432",
        "-o",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    let v: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("JSON");
    assert_eq!(v["allowed"], true);
    assert_eq!(v["src"], "guestbook/user-service[Deployment]");
    assert_eq!(v["dst"], "10.20.0.7/32");
    assert_eq!(v["protocol"], "TCP");
    assert_eq!(v["port"], 5432);
    assert_eq!(v["egress"]["decided_by"], "network-policy");
    assert_eq!(v["ingress"]["decided_by"], "not-applicable");
    let admitted = v["egress"]["admitted_by"].as_array().expect("list");
    assert_eq!(admitted.len(), 1);
    assert_eq!(admitted[0]["policy"], "guestbook/user-service");
    assert!(admitted[0]["line"].as_u64().is_some_and(|l| l > 0));
    // A different address is refused.
    let out = eval(&[
        "--src",
        "guestbook/user-service",
        "--dst",
        "10.21.0.7",
        "--port",
        "5432",
        "-o",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("JSON");
    assert_eq!(v["allowed"], false);
    assert_eq!(v["egress"]["admitted_by"].as_array().map(Vec::len), Some(0));
}

#[test]
fn usage_errors_exit_2() {
    for (args, needle) in [
        (
            &[
                "--src",
                "guestbook/nope",
                "--dst",
                "guestbook/redis",
                "--port",
                "1",
            ][..],
            "guestbook/nope",
        ),
        (
            &[
                "--src",
                "guestbook/frontend",
                "--dst",
                "guestbook/redis",
                "--port",
                "70000",
            ][..],
            "--port 70000",
        ),
        (
            &[
                "--src",
                "guestbook/frontend",
                "--dst",
                "guestbook/redis",
                "--port",
                "80/ICMP",
            ][..],
            "unknown protocol",
        ),
        (
            &[
                "--src",
                "guestbook/frontend",
                "--dst",
                "10.0.0.1",
                "--port",
                "http",
            ][..],
            "needs a workload",
        ),
        (
            &["--src", "10.0.0.1", "--dst", "10.0.0.2", "--port", "80"][..],
            "both outside",
        ),
    ] {
        let out = eval(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stdout(&out));
        assert!(stderr(&out).contains(needle), "{args:?}: {}", stderr(&out));
    }
}

#[test]
fn admin_policies_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("m.yaml"),
        concat!(
            "apiVersion: v1\nkind: Pod\nmetadata: {name: a, namespace: x}\nspec: {containers: [{name: c, image: i}]}\n---\n",
            "apiVersion: v1\nkind: Pod\nmetadata: {name: b, namespace: y}\nspec: {containers: [{name: c, image: i}]}\n---\n",
            "apiVersion: policy.networking.k8s.io/v1alpha1\nkind: AdminNetworkPolicy\nmetadata: {name: block-x}\nspec:\n  priority: 3\n  subject: {namespaces: {matchLabels: {kubernetes.io/metadata.name: y}}}\n  ingress:\n  - name: from-x\n    action: Deny\n    from: [{namespaces: {matchLabels: {kubernetes.io/metadata.name: x}}}]\n",
        ),
    )
    .unwrap();
    let out = palisade(
        &[
            "netpol", "eval", "-f", "m.yaml", "--src", "x/a", "--dst", "y/b", "--port", "80",
        ],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(1), "stderr: {}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains(
            "denied by AdminNetworkPolicy block-x spec.ingress[0] (from-x) Deny at m.yaml:"
        ),
        "{text}"
    );
    let out = palisade(
        &[
            "netpol", "eval", "-f", "m.yaml", "--src", "y/b", "--dst", "x/a", "--port", "80",
        ],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
}
