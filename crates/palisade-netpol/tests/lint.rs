//! Table-driven tests of the `netpol/` lint checks.
//!
//! Each file `testdata/lint/<check-name>/<case>.yaml` is a case: manifests, then one document
//! of `kind: PalisadeTestCase` (no apiVersion, so loading skips it; last, so that it does not
//! shift the manifests' lines):
//!
//! ```yaml
//! kind: PalisadeTestCase
//! description: why the case matters
//! expect:                      # exactly these findings of the checks named here
//! - check: netpol/rule-allows-all
//!   line: 9                    # line of the finding
//!   fieldPath: spec.ingress[0] # path of the offending field
//!   object: NetworkPolicy/shop/web   # optional
//!   message: every source      # optional substring
//! absent: [netpol/redundant-rule]    # checks that must not fire
//! ```
//!
//! The checks named in `expect` or `absent` are compared exactly; the case's own directory
//! check always is. A case with neither `expect` nor `absent` is an error, as is an unknown
//! field. Every registered check must have a case where it fires and one where it stays quiet.

use palisade_model::{Finding, Inventory, LoadOptions};
use palisade_netpol::lint;
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Header {
    #[allow(dead_code)]
    kind: String,
    description: String,
    #[serde(default)]
    expect: Vec<Expected>,
    #[serde(default)]
    absent: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Expected {
    check: String,
    line: u32,
    field_path: String,
    #[serde(default)]
    object: Option<String>,
    #[serde(default)]
    message: Option<String>,
}

impl Expected {
    fn matches(&self, f: &Finding) -> bool {
        f.check.as_str() == self.check
            && f.location.line == self.line
            && f.location.field_path == self.field_path
            && self
                .object
                .as_ref()
                .is_none_or(|o| *o == f.object.to_string())
            && self
                .message
                .as_ref()
                .is_none_or(|m| f.message.contains(m.as_str()))
    }
}

struct Case {
    name: String,
    dir_check: String,
    header: Header,
    findings: Vec<Finding>,
}

fn cases() -> Vec<Case> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/lint");
    let mut files: Vec<PathBuf> = Vec::new();
    for dir in std::fs::read_dir(&root).expect("testdata/lint") {
        let dir = dir.expect("dir entry").path();
        if dir.is_dir() {
            for f in std::fs::read_dir(&dir).expect("case dir") {
                let f = f.expect("file").path();
                if f.extension().is_some_and(|e| e == "yaml") {
                    files.push(f);
                }
            }
        }
    }
    files.sort();
    assert!(!files.is_empty(), "no cases under {}", root.display());
    files.iter().map(|f| load(f)).collect()
}

fn load(path: &Path) -> Case {
    let dir = path
        .parent()
        .and_then(Path::file_name)
        .and_then(|s| s.to_str())
        .unwrap_or("");
    let file = path.file_name().and_then(|s| s.to_str()).unwrap_or("");
    let name = format!("{dir}/{file}");
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{name}: {e}"));
    let headers: Vec<_> = palisade_model::yaml::parse_stream(&text, &Default::default())
        .into_iter()
        .filter_map(|d| d.ok().and_then(|d| d.root))
        .filter(|r| r.get("kind").and_then(|k| k.as_str()) == Some("PalisadeTestCase"))
        .collect();
    assert_eq!(
        headers.len(),
        1,
        "{name}: exactly one PalisadeTestCase document"
    );
    assert!(
        headers[0].get("apiVersion").is_none(),
        "{name}: the test case has no apiVersion"
    );
    let header: Header = serde_json::from_value(headers[0].to_json())
        .unwrap_or_else(|e| panic!("{name}: PalisadeTestCase: {e}"));
    assert!(
        !header.expect.is_empty() || !header.absent.is_empty(),
        "{name}: the case expects nothing (give expect or absent)"
    );
    assert!(!header.description.trim().is_empty(), "{name}: description");
    let mut inv = Inventory::new();
    inv.add_text(&name, &text, &LoadOptions::default());
    assert!(
        !inv.has_errors(),
        "{name}: fixture does not load: {:?}",
        inv.diagnostics
    );
    Case {
        findings: lint::findings(&inv),
        dir_check: format!("netpol/{dir}"),
        name,
        header,
    }
}

fn render(f: &Finding) -> String {
    format!(
        "{} line {} {} [{}]: {}",
        f.check, f.location.line, f.object, f.location.field_path, f.message
    )
}

fn compare(case: &Case) -> Result<(), String> {
    let mut compared: BTreeSet<&str> = case
        .header
        .expect
        .iter()
        .map(|e| e.check.as_str())
        .collect();
    compared.extend(case.header.absent.iter().map(String::as_str));
    compared.insert(&case.dir_check);
    let known: BTreeSet<String> = lint::checks().iter().map(|c| c.id.to_string()).collect();
    if let Some(unknown) = compared.iter().find(|c| !known.contains(**c)) {
        return Err(format!("unknown check {unknown}"));
    }
    let mut got: Vec<&Finding> = case
        .findings
        .iter()
        .filter(|f| compared.contains(f.check.as_str()))
        .collect();
    let mut missing = Vec::new();
    for e in &case.header.expect {
        match got.iter().position(|f| e.matches(f)) {
            Some(i) => {
                got.remove(i);
            }
            None => missing.push(format!("{e:?}")),
        }
    }
    if missing.is_empty() && got.is_empty() {
        return Ok(());
    }
    Err(format!(
        "missing:\n  {}\nunexpected:\n  {}\nall findings:\n  {}",
        missing.join("\n  "),
        got.iter()
            .map(|f| render(f))
            .collect::<Vec<_>>()
            .join("\n  "),
        case.findings
            .iter()
            .map(render)
            .collect::<Vec<_>>()
            .join("\n  ")
    ))
}

#[test]
fn lint_cases() {
    let cases = cases();
    let failures: Vec<String> = cases
        .iter()
        .filter_map(|c| compare(c).err().map(|e| format!("{}:\n{e}", c.name)))
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n\n")
    );
}

#[test]
fn every_check_has_a_firing_and_a_quiet_case() {
    let cases = cases();
    let mut fires: BTreeMap<String, usize> = BTreeMap::new();
    let mut quiet: BTreeMap<String, usize> = BTreeMap::new();
    for c in &cases {
        let own = c
            .header
            .expect
            .iter()
            .filter(|e| e.check == c.dir_check)
            .count();
        if own > 0 {
            *fires.entry(c.dir_check.clone()).or_default() += 1;
        } else {
            *quiet.entry(c.dir_check.clone()).or_default() += 1;
        }
    }
    for check in lint::checks() {
        let id = check.id.to_string();
        assert!(
            fires.contains_key(&id),
            "{id}: no case in testdata/lint/ where it fires"
        );
        assert!(
            quiet.contains_key(&id),
            "{id}: no case in testdata/lint/ where it is quiet"
        );
    }
}

#[test]
fn findings_point_into_their_files() {
    for c in cases() {
        for f in &c.findings {
            assert_eq!(f.location.file, c.name, "{}", render(f));
            assert!(
                f.location.line > 0 && f.location.column > 0,
                "{}",
                render(f)
            );
            assert!(f.check.as_str().starts_with("netpol/"));
        }
    }
}

const MALFORMED: &str = r#"apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: bad, namespace: x}
spec:
  podSelector: {matchLabels: [x]}
  policyTypes: Ingress
  ingress: {}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: worse, namespace: x}
spec:
  podSelector: 5
  policyTypes: [7, {a: b}, Egress]
  ingress: [5, [], {from: 3, ports: [1, {port: [], endPort: x}, {protocol: ICMP, port: 1}]}]
  egress:
  - to: [{ipBlock: 5}, {ipBlock: {cidr: [1], except: 3}}, {podSelector: {matchExpressions: [{key: a, operator: Near}]}}, {}]
    ports: [{port: -5, endPort: -9}, {port: 65535, endPort: 999999999999}]
  - to: [{namespaceSelector: null, podSelector: null}]
---
apiVersion: v1
kind: Pod
metadata: {name: p, namespace: x, labels: [a]}
spec:
  hostNetwork: maybe
  containers: [{name: c, image: i, ports: [{name: [], containerPort: x}, 5, {name: dns, containerPort: 53, protocol: ICMP}]}]
---
apiVersion: v1
kind: Namespace
metadata: {name: x, labels: 5}
"#;

#[test]
fn malformed_policies_do_not_panic() {
    let mut inv = Inventory::new();
    inv.add_text("malformed.yaml", MALFORMED, &LoadOptions::default());
    assert!(inv.objects.len() >= 4, "{:?}", inv.diagnostics);
    let found = lint::findings(&inv);
    let lines = MALFORMED.lines().count() as u32;
    for f in &found {
        assert!(
            f.location.line >= 1 && f.location.line <= lines,
            "{}",
            render(f)
        );
    }
    // The out-of-range ports are still reported where they are written.
    assert!(
        found
            .iter()
            .any(|f| f.check.as_str() == "netpol/port-range-invalid" && f.location.line == 18),
        "{}",
        found.iter().map(render).collect::<Vec<_>>().join("\n")
    );
}
