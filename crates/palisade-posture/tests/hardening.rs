//! Data-driven tests of the hardening checks.
//!
//! Every file `testdata/hardening/<check-name>/<case>.yaml` is one test case: a multi-document
//! YAML stream of manifests to scan plus one document of `kind: PalisadeTestCase` (by
//! convention the last, so that the manifests' line numbers do not depend on it) describing
//! the expectation:
//!
//! ```yaml
//! kind: PalisadeTestCase          # no apiVersion: the loader skips this document
//! description: what the case shows
//! config:                         # optional .palisade.yaml settings (allowedRegistries, ...)
//!   allowedRegistries: [ghcr.io/acme]
//! expect:                         # findings of these checks, exactly (no more, no fewer)
//! - check: hardening/read-only-root-filesystem
//!   line: 12                      # required: line of the finding
//!   fieldPath: spec.containers[0].securityContext.readOnlyRootFilesystem   # optional
//!   container: app                # optional ("" means: no container)
//!   object: Pod/default/web       # optional, as ObjectRef displays it
//!   message: "readOnlyRootFilesystem: false"   # optional substring of the message
//!   severity: medium              # optional
//! absent: [hardening/host-aliases]   # checks that must not fire at all
//! ```
//!
//! Only hardening checks run (PSS is not involved), with the default configuration unless the
//! case gives one. Checks that the case mentions neither in `expect` nor in `absent` are not
//! compared. Two extra tests check that every registered check has, in its own directory, a
//! case where it fires and a case where it must not.

use libtest_mimic::{Arguments, Failed, Trial};
use palisade_model::{Finding, Inventory, LoadOptions};
use palisade_posture::{Config, Sink, hardening};
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Header {
    kind: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    config: Option<serde_json::Value>,
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
    #[serde(default)]
    field_path: Option<String>,
    #[serde(default)]
    container: Option<String>,
    #[serde(default)]
    object: Option<String>,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    severity: Option<String>,
}

impl Expected {
    fn matches(&self, f: &Finding) -> bool {
        f.check.as_str() == self.check
            && f.location.line == self.line
            && self
                .field_path
                .as_ref()
                .is_none_or(|p| *p == f.location.field_path)
            && self
                .container
                .as_ref()
                .is_none_or(|c| f.container.as_deref().unwrap_or("") == c)
            && self
                .object
                .as_ref()
                .is_none_or(|o| *o == f.object.to_string())
            && self
                .message
                .as_ref()
                .is_none_or(|m| f.message.contains(m.as_str()))
            && self
                .severity
                .as_ref()
                .is_none_or(|s| s == f.severity.as_str())
    }
}

struct Case {
    /// `<dir>/<file>`.
    name: String,
    /// The check directory the case lives in (`hardening/<dir>`).
    dir_check: String,
    header: Header,
    config: Config,
    text: String,
    path: PathBuf,
}

fn testdata() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/hardening")
}

fn load_case(path: &Path) -> Result<Case, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut headers = Vec::new();
    for doc in palisade_model::yaml::parse_stream(&text, &Default::default()) {
        let doc = doc.map_err(|e| format!("YAML error: {e}"))?;
        let Some(root) = doc.root else { continue };
        if root.get("kind").and_then(|k| k.as_str()) == Some("PalisadeTestCase") {
            if root.get("apiVersion").is_some() {
                return Err("the PalisadeTestCase document must not have an apiVersion".into());
            }
            headers.push(root);
        }
    }
    if headers.len() != 1 {
        return Err(format!(
            "expected exactly one PalisadeTestCase document, found {}",
            headers.len()
        ));
    }
    let header: Header = serde_json::from_value(headers[0].to_json())
        .map_err(|e| format!("PalisadeTestCase: {e}"))?;
    debug_assert_eq!(header.kind, "PalisadeTestCase");
    let config = match &header.config {
        None => Config::default(),
        Some(v) => serde_json::from_value(v.clone()).map_err(|e| format!("config: {e}"))?,
    };
    let dir = path
        .parent()
        .and_then(Path::file_name)
        .and_then(|s| s.to_str())
        .unwrap_or("");
    let file = path.file_name().and_then(|s| s.to_str()).unwrap_or("");
    Ok(Case {
        name: format!("{dir}/{file}"),
        dir_check: format!("hardening/{dir}"),
        header,
        config,
        text,
        path: path.to_path_buf(),
    })
}

fn load_cases() -> Result<Vec<Case>, String> {
    let mut files = Vec::new();
    for dir in std::fs::read_dir(testdata()).map_err(|e| e.to_string())? {
        let dir = dir.map_err(|e| e.to_string())?.path();
        if !dir.is_dir() {
            continue;
        }
        for f in std::fs::read_dir(&dir).map_err(|e| e.to_string())? {
            let f = f.map_err(|e| e.to_string())?.path();
            if f.extension().is_some_and(|e| e == "yaml") {
                files.push(f);
            }
        }
    }
    files.sort();
    files
        .iter()
        .map(|f| load_case(f).map_err(|e| format!("{}: {e}", f.display())))
        .collect()
}

/// Scans the case's manifests with the hardening checks only.
fn scan(case: &Case) -> Result<Vec<Finding>, String> {
    let mut inv = Inventory::new();
    inv.add_text(
        &case.path.display().to_string(),
        &case.text,
        &LoadOptions::default(),
    );
    if inv.has_errors() {
        return Err(format!(
            "fixture does not load cleanly: {:?}",
            inv.diagnostics
        ));
    }
    let mut sink = Sink::new(&inv, &case.config);
    hardening::run(&mut sink);
    Ok(sink
        .into_findings()
        .into_iter()
        .filter(|f| f.check.family() == "hardening")
        .collect())
}

fn render(f: &Finding) -> String {
    format!(
        "{} line {} {} [{}] container={:?}: {}",
        f.check,
        f.location.line,
        f.location.field_path,
        f.object,
        f.container.as_deref().unwrap_or(""),
        f.message
    )
}

fn run_case(case: &Case, registered: &BTreeSet<String>) -> Result<(), Failed> {
    let h = &case.header;
    let mut problems = Vec::new();
    let mentioned: BTreeSet<&str> = h
        .expect
        .iter()
        .map(|e| e.check.as_str())
        .chain(h.absent.iter().map(String::as_str))
        .collect();
    for id in &mentioned {
        if !registered.contains(*id) {
            problems.push(format!("{id} is not a registered hardening check"));
        }
    }
    if !mentioned.contains(case.dir_check.as_str()) {
        problems.push(format!(
            "case does not mention {} (its directory's check)",
            case.dir_check
        ));
    }
    for a in &h.absent {
        if h.expect.iter().any(|e| &e.check == a) {
            problems.push(format!("{a} is both expected and absent"));
        }
    }
    let findings = scan(case)?;
    let mut relevant: Vec<&Finding> = findings
        .iter()
        .filter(|f| mentioned.contains(f.check.as_str()))
        .collect();
    for e in &h.expect {
        match relevant.iter().position(|f| e.matches(f)) {
            Some(i) => {
                relevant.remove(i);
            }
            None => problems.push(format!("missing: {e:?}")),
        }
    }
    for f in relevant {
        problems.push(format!("unexpected: {}", render(f)));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        let all: Vec<String> = findings.iter().map(render).collect();
        Err(format!(
            "{} ({})\n  {}\nall hardening findings:\n  {}",
            case.name,
            h.description,
            problems.join("\n  "),
            all.join("\n  ")
        )
        .into())
    }
}

/// Every registered check has a case in its own directory where it fires, and one where it is
/// listed as absent and indeed does not fire.
fn coverage(cases: &[Case]) -> Result<(), Failed> {
    let mut fires: BTreeMap<&str, usize> = BTreeMap::new();
    let mut quiet: BTreeMap<&str, usize> = BTreeMap::new();
    for case in cases {
        let findings = scan(case)?;
        let dir = case.dir_check.as_str();
        let fired = findings.iter().any(|f| f.check.as_str() == dir);
        if fired && case.header.expect.iter().any(|e| e.check == dir) {
            *fires.entry(dir).or_default() += 1;
        }
        if !fired && case.header.absent.iter().any(|a| a == dir) {
            *quiet.entry(dir).or_default() += 1;
        }
    }
    let mut missing = Vec::new();
    for c in hardening::REGISTRY {
        let id = c.id.as_str();
        if !fires.contains_key(id) {
            missing.push(format!(
                "{id}: no case where it fires (testdata/hardening/{})",
                &id["hardening/".len()..]
            ));
        }
        if !quiet.contains_key(id) {
            missing.push(format!("{id}: no case where it must not fire"));
        }
    }
    if missing.is_empty() {
        Ok(())
    } else {
        Err(missing.join("\n").into())
    }
}

/// Every case directory is named after a registered check.
fn directories(registered: &BTreeSet<String>) -> Result<(), Failed> {
    let mut bad = Vec::new();
    for dir in std::fs::read_dir(testdata()).map_err(|e| e.to_string())? {
        let dir = dir.map_err(|e| e.to_string())?;
        let name = dir.file_name().to_string_lossy().to_string();
        if !registered.contains(&format!("hardening/{name}")) {
            bad.push(name);
        }
    }
    if bad.is_empty() {
        Ok(())
    } else {
        Err(format!("directories not named after a check: {bad:?}").into())
    }
}

fn main() {
    let args = Arguments::from_args();
    let registered: BTreeSet<String> = hardening::REGISTRY
        .iter()
        .map(|c| c.id.to_string())
        .collect();
    let mut trials = Vec::new();
    match load_cases() {
        Err(e) => trials.push(Trial::test("load-cases", move || Err(e.into()))),
        Ok(cases) => {
            let cases = std::sync::Arc::new(cases);
            for i in 0..cases.len() {
                let cases = cases.clone();
                let registered = registered.clone();
                let name = cases[i].name.clone();
                trials.push(Trial::test(name, move || run_case(&cases[i], &registered)));
            }
            let all = cases.clone();
            trials.push(Trial::test(
                "meta/every-check-fires-and-stays-quiet",
                move || coverage(&all),
            ));
        }
    }
    trials.push(Trial::test("meta/directories-name-checks", move || {
        directories(&registered)
    }));
    libtest_mimic::run(&args, trials).exit();
}
