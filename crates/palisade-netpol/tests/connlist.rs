//! Data-driven tests of the connectivity list renderers and of the diff.
//!
//! `testdata/list/<case>.yaml`: manifests plus one document of `kind: PalisadeTestCase` (no
//! apiVersion, so the loader skips it):
//!
//! ```yaml
//! kind: PalisadeTestCase
//! description: what the case shows
//! focus: ns/name            # optional: --focus-workload
//! splitRanges: true         # optional: --split-ranges
//! txt: |                    # required: the exact text listing
//!   a/web[Deployment] => a/db[Deployment] : TCP 5432
//! csv: ...                  # optional, exact: also md, json, dot
//! ```
//!
//! `testdata/diff/<case>.yaml`: only the PalisadeTestCase document, with the two versions as
//! strings `old` and `new` and the expected `txt` (required) and optionally `csv`, `md`, `json`.

use palisade_model::{Inventory, LoadOptions};
use palisade_netpol::output::{self, Format, Peer};
use palisade_netpol::{Cluster, Endpoint, diff};
use serde::Deserialize;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ListCase {
    kind: String,
    description: String,
    #[serde(default)]
    focus: Option<String>,
    /// `--split-ranges`.
    #[serde(default, rename = "splitRanges")]
    split_ranges: bool,
    txt: Option<String>,
    #[serde(default)]
    csv: Option<String>,
    #[serde(default)]
    md: Option<String>,
    #[serde(default)]
    json: Option<String>,
    #[serde(default)]
    dot: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DiffCase {
    kind: String,
    description: String,
    old: String,
    new: String,
    txt: Option<String>,
    #[serde(default)]
    csv: Option<String>,
    #[serde(default)]
    md: Option<String>,
    #[serde(default)]
    json: Option<String>,
}

fn testdata(area: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata")
        .join(area)
}

fn cases(area: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(testdata(area))
        .expect("testdata dir")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    v.sort();
    assert!(!v.is_empty(), "no cases in testdata/{area}");
    v
}

fn header<T: for<'de> Deserialize<'de>>(text: &str) -> Result<T, String> {
    let mut found = Vec::new();
    for doc in palisade_model::yaml::parse_stream(text, &Default::default()) {
        let doc = doc.map_err(|e| format!("YAML error: {e}"))?;
        let Some(root) = doc.root else { continue };
        if root.get("kind").and_then(|k| k.as_str()) == Some("PalisadeTestCase") {
            found.push(root);
        }
    }
    if found.len() != 1 {
        return Err(format!(
            "expected one PalisadeTestCase document, found {}",
            found.len()
        ));
    }
    serde_json::from_value(found[0].to_json()).map_err(|e| format!("PalisadeTestCase: {e}"))
}

fn cluster(name: &str, text: &str) -> Result<Cluster, String> {
    let mut inv = Inventory::new();
    inv.add_text(name, text, &LoadOptions::default());
    if let Some(d) = inv
        .diagnostics
        .iter()
        .find(|d| d.level == palisade_model::DiagLevel::Error)
    {
        return Err(format!("input error: {d}"));
    }
    let (c, diags) = Cluster::from_inventory(&inv);
    if let Some(d) = diags
        .iter()
        .find(|d| d.level == palisade_model::DiagLevel::Error)
    {
        return Err(format!("engine error: {d}"));
    }
    Ok(c)
}

fn compare(failures: &mut Vec<String>, what: &str, want: &str, got: &str) {
    if want != got {
        failures.push(format!("{what}:\n--- want\n{want}--- got\n{got}"));
    }
}

fn run_list_case(path: &Path) -> Result<(), String> {
    let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
    let case: ListCase = header(&text)?;
    assert_eq!(case.kind, "PalisadeTestCase");
    if case.description.is_empty() {
        return Err("a case needs a description".into());
    }
    let Some(want_txt) = &case.txt else {
        return Err("a case needs `txt`, the expected listing".into());
    };
    let c = cluster(&path.to_string_lossy(), &text)?;
    let mut lines = output::lines(&c, &palisade_netpol::connectivity(&c));
    if case.split_ranges {
        lines = output::split_at_policy_blocks(&c, lines);
    }
    if let Some(f) = &case.focus {
        lines = output::focus(&lines, f);
    }
    let mut failures = Vec::new();
    compare(
        &mut failures,
        "txt",
        want_txt,
        &output::render(&c, &lines, Format::Txt),
    );
    for (name, want, format) in [
        ("csv", &case.csv, Format::Csv),
        ("md", &case.md, Format::Md),
        ("json", &case.json, Format::Json),
        ("dot", &case.dot, Format::Dot),
    ] {
        if let Some(w) = want {
            compare(&mut failures, name, w, &output::render(&c, &lines, format));
        }
    }
    if failures.is_empty() {
        Ok(())
    } else {
        Err(failures.join("\n"))
    }
}

fn workloads(c: &Cluster) -> BTreeSet<Peer> {
    (0..c.workloads.len())
        .map(|i| Peer::of(c, &Endpoint::Workload(i)))
        .collect()
}

fn run_diff_case(path: &Path) -> Result<(), String> {
    let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
    let case: DiffCase = header(&text)?;
    assert_eq!(case.kind, "PalisadeTestCase");
    if case.description.is_empty() {
        return Err("a case needs a description".into());
    }
    let Some(want_txt) = &case.txt else {
        return Err("a case needs `txt`, the expected diff".into());
    };
    let old = cluster("old", &case.old)?;
    let new = cluster("new", &case.new)?;
    let old_lines = output::lines(&old, &palisade_netpol::connectivity(&old));
    let new_lines = output::lines(&new, &palisade_netpol::connectivity(&new));
    let changes = diff::diff(&old_lines, &new_lines, &workloads(&old), &workloads(&new));
    let mut failures = Vec::new();
    compare(
        &mut failures,
        "txt",
        want_txt,
        &diff::render(&changes, diff::Format::Txt),
    );
    for (name, want, format) in [
        ("csv", &case.csv, diff::Format::Csv),
        ("md", &case.md, diff::Format::Md),
        ("json", &case.json, diff::Format::Json),
    ] {
        if let Some(w) = want {
            compare(&mut failures, name, w, &diff::render(&changes, format));
        }
    }
    // The diff of a version with itself is empty.
    let same = diff::diff(&new_lines, &new_lines, &workloads(&new), &workloads(&new));
    if !same.is_empty() {
        failures.push(format!("new vs new is not empty: {same:?}"));
    }
    if failures.is_empty() {
        Ok(())
    } else {
        Err(failures.join("\n"))
    }
}

fn run_all(area: &str, run: fn(&Path) -> Result<(), String>) {
    let mut failed = Vec::new();
    let all = cases(area);
    for p in &all {
        if let Err(e) = run(p) {
            failed.push(format!("{}: {e}", p.display()));
        }
    }
    assert!(
        failed.is_empty(),
        "{} of {} cases failed:\n\n{}",
        failed.len(),
        all.len(),
        failed.join("\n\n")
    );
}

#[test]
fn list_cases() {
    run_all("list", run_list_case);
}

#[test]
fn diff_cases() {
    run_all("diff", run_diff_case);
}
