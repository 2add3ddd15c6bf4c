//! `gator verify` test suites: `kind: Suite` files whose tests pair a ConstraintTemplate with a
//! Constraint and check the violations of objects (cases) against assertions.
//!
//! Format (paths relative to the suite file):
//!
//! ```yaml
//! kind: Suite
//! apiVersion: test.gatekeeper.sh/v1alpha1
//! tests:
//! - name: allowed-repos
//!   template: template.yaml
//!   constraint: samples/constraint.yaml
//!   cases:
//!   - name: allowed
//!     object: samples/allowed.yaml       # an object, or an AdmissionReview (its request is reviewed)
//!     inventory: [samples/inventory.yaml] # objects for data.inventory (and namespaceSelector)
//!     assertions:
//!     - violations: no                    # yes | no | N (default yes)
//!       message: "regex"                  # only violations whose message matches count
//! ```

use super::rego::Backend;
use super::{EnforcementPoint, Inventory, PolicySet, ReviewContext, review_for_object};
use palisade_model::{Node, NodeType};
use serde_json::Value as Json;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

/// How one case ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CaseOutcome {
    /// Every assertion held.
    Pass,
    /// An assertion failed or the case could not run; the reason.
    Fail(String),
    /// `skip: true`.
    Skip,
}

/// One case's result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseReport {
    /// The case's name.
    pub name: String,
    /// Its outcome.
    pub outcome: CaseOutcome,
}

/// One test's result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestReport {
    /// The test's name.
    pub name: String,
    /// `skip: true`.
    pub skipped: bool,
    /// Why the test could not run (template or constraint failed to load), if so.
    pub error: Option<String>,
    /// Case results.
    pub cases: Vec<CaseReport>,
}

impl TestReport {
    /// True when the test ran and nothing failed (or it was skipped).
    pub fn passed(&self) -> bool {
        self.error.is_none()
            && self
                .cases
                .iter()
                .all(|c| !matches!(c.outcome, CaseOutcome::Fail(_)))
    }
}

/// One suite file's result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SuiteReport {
    /// The suite file.
    pub file: PathBuf,
    /// Test results.
    pub tests: Vec<TestReport>,
}

impl SuiteReport {
    /// (passed, failed, skipped) cases; a test that could not run counts each of its cases
    /// (at least one) as failed.
    pub fn counts(&self) -> (usize, usize, usize) {
        let (mut p, mut f, mut s) = (0, 0, 0);
        for t in &self.tests {
            if t.skipped {
                s += t.cases.len().max(1);
                continue;
            }
            if t.error.is_some() && t.cases.is_empty() {
                f += 1;
            }
            for c in &t.cases {
                match c.outcome {
                    CaseOutcome::Pass => p += 1,
                    CaseOutcome::Fail(_) => f += 1,
                    CaseOutcome::Skip => s += 1,
                }
            }
        }
        (p, f, s)
    }
}

/// Why a suite file could not be run at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SuiteError {
    /// The file could not be read.
    #[error("{file}: {message}")]
    Io {
        /// The file.
        file: String,
        /// The error.
        message: String,
    },
    /// The file is not valid YAML or not a suite.
    #[error("{file}:{line}: {message}")]
    Invalid {
        /// The file.
        file: String,
        /// Line of the problem.
        line: u32,
        /// What is wrong.
        message: String,
    },
    /// The file is YAML but not a `kind: Suite` (gator ignores such files).
    #[error("{file}: not a gator Suite (kind: Suite); ignored")]
    NotASuite {
        /// The file.
        file: String,
    },
}

/// Filters tests and cases by name (`gator verify --run`): a test runs when the regex matches
/// its name; a case runs when it matches the test's or the case's name.
#[derive(Debug, Clone, Default)]
pub struct RunFilter(Option<regex::Regex>);

impl RunFilter {
    /// A filter from an optional regular expression; an invalid one is an error.
    pub fn new(pattern: Option<&str>) -> Result<RunFilter, String> {
        pattern
            .map(regex::Regex::new)
            .transpose()
            .map(RunFilter)
            .map_err(|e| e.to_string())
    }

    fn keeps(&self, test: &str, case: Option<&str>) -> bool {
        match &self.0 {
            None => true,
            Some(re) => re.is_match(test) || case.is_some_and(|c| re.is_match(c)),
        }
    }
}

fn read_docs(path: &Path) -> Result<Vec<Node>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    super::parse_yaml(&text)
        .into_iter()
        .map(|r| r.map_err(|e| format!("{}:{}: {}", path.display(), e.pos, e.message)))
        .collect()
}

/// Resolves a path written in a suite: relative to the suite's directory; absolute paths are
/// refused as gator refuses them.
fn resolve(base: &Path, rel: &str) -> Result<PathBuf, String> {
    let p = Path::new(rel);
    if p.is_absolute() || p.components().any(|c| matches!(c, Component::Prefix(_))) {
        return Err(format!("{rel}: absolute paths are not allowed in a suite"));
    }
    Ok(base.join(p))
}

fn field_str<'a>(n: &'a Node, key: &str) -> Option<&'a str> {
    n.get(key).and_then(Node::as_str)
}

fn flag(n: &Node, key: &str) -> bool {
    n.get(key).and_then(Node::as_bool) == Some(true)
}

/// Runs one suite file (evaluator from [`Backend::from_env`]).
pub fn run_suite(path: &Path, filter: &RunFilter) -> Result<SuiteReport, SuiteError> {
    run_suite_with(path, filter, Backend::from_env())
}

/// Runs one suite file with a chosen evaluator.
pub fn run_suite_with(
    path: &Path,
    filter: &RunFilter,
    backend: Backend,
) -> Result<SuiteReport, SuiteError> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| SuiteError::Io {
        file: file.clone(),
        message: e.to_string(),
    })?;
    let root = match super::parse_yaml(&text).into_iter().next() {
        Some(Ok(d)) => Some(d),
        Some(Err(e)) => {
            return Err(SuiteError::Invalid {
                file,
                line: e.pos.line,
                message: e.message,
            });
        }
        None => None,
    };
    let Some(root) = root.filter(|r| field_str(r, "kind") == Some("Suite")) else {
        return Err(SuiteError::NotASuite { file });
    };
    let base = path.parent().unwrap_or(Path::new("."));
    let mut report = SuiteReport {
        file: path.to_path_buf(),
        tests: Vec::new(),
    };
    let tests = root.get("tests").map(Node::items).unwrap_or_default();
    for (i, test) in tests.iter().enumerate() {
        let name = field_str(test, "name")
            .map(str::to_string)
            .unwrap_or_else(|| format!("test-{i}"));
        if !filter.keeps(&name, None)
            && !test
                .get("cases")
                .map(Node::items)
                .unwrap_or_default()
                .iter()
                .any(|c| filter.keeps(&name, field_str(c, "name")))
        {
            continue;
        }
        report
            .tests
            .push(run_test(base, &name, test, filter, backend));
    }
    Ok(report)
}

fn load_policy(base: &Path, test: &Node, backend: Backend) -> Result<PolicySet, String> {
    let mut texts = Vec::new();
    for key in ["template", "constraint"] {
        let rel = field_str(test, key).ok_or_else(|| format!("test has no {key}"))?;
        let p = resolve(base, rel)?;
        let text = std::fs::read_to_string(&p).map_err(|e| format!("{}: {e}", p.display()))?;
        texts.push((p.display().to_string(), text));
    }
    let (set, diags) =
        PolicySet::from_texts_with(texts.iter().map(|(n, t)| (n.as_str(), t.as_str())), backend);
    let errors: Vec<String> = diags
        .iter()
        .filter(|d| d.level == palisade_model::DiagLevel::Error)
        .map(ToString::to_string)
        .collect();
    if !errors.is_empty() {
        return Err(errors.join("; "));
    }
    if set.templates().len() != 1 {
        return Err("the template file must hold exactly one ConstraintTemplate".into());
    }
    if set.constraints().len() != 1 {
        return Err(format!(
            "the constraint file must hold exactly one constraint of kind {}",
            set.templates()[0].kind
        ));
    }
    Ok(set)
}

fn run_test(
    base: &Path,
    name: &str,
    test: &Node,
    filter: &RunFilter,
    backend: Backend,
) -> TestReport {
    let mut report = TestReport {
        name: name.to_string(),
        skipped: flag(test, "skip"),
        error: None,
        cases: Vec::new(),
    };
    let cases = test.get("cases").map(Node::items).unwrap_or_default();
    if report.skipped {
        return report;
    }
    let policy = load_policy(base, test, backend);
    if flag(test, "invalid") {
        // The template (or constraint) is expected not to load.
        if policy.is_ok() {
            report.error = Some("expected the template to be invalid, but it loaded".into());
        }
        return report;
    }
    let policy = match policy {
        Ok(p) => p,
        Err(e) => {
            report.error = Some(e);
            return report;
        }
    };
    if test.get("expansion").is_some_and(|n| !n.is_null()) {
        report.error = Some("expansion templates are not supported".into());
        return report;
    }
    for (i, case) in cases.iter().enumerate() {
        let cname = field_str(case, "name")
            .map(str::to_string)
            .unwrap_or_else(|| format!("case-{i}"));
        if !filter.keeps(name, Some(&cname)) {
            continue;
        }
        let outcome = if flag(case, "skip") {
            CaseOutcome::Skip
        } else {
            match run_case(base, &policy, case) {
                Ok(()) => CaseOutcome::Pass,
                Err(e) => CaseOutcome::Fail(e),
            }
        };
        report.cases.push(CaseReport {
            name: cname,
            outcome,
        });
    }
    report
}

/// An assertion's `violations`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    Some,
    None,
    Exactly(usize),
}

fn parse_expect(n: Option<&Node>) -> Result<Expect, String> {
    let Some(n) = n.filter(|n| !n.is_null()) else {
        return Ok(Expect::Some);
    };
    // `yes`/`no` are strings to gator (intstr) and booleans to YAML 1.1: accept both.
    if let Some(b) = n.as_bool() {
        return Ok(if b { Expect::Some } else { Expect::None });
    }
    if n.node_type() == NodeType::Int {
        let i = n.as_i64().unwrap_or(-1);
        return usize::try_from(i)
            .map(Expect::Exactly)
            .map_err(|_| format!("line {}: violations must not be negative", n.pos.line));
    }
    match n.as_str().map(str::to_ascii_lowercase).as_deref() {
        Some("yes") => Ok(Expect::Some),
        Some("no") => Ok(Expect::None),
        Some(s) => s.parse::<usize>().map(Expect::Exactly).map_err(|_| {
            format!(
                "line {}: violations must be yes, no or a number, got {s:?}",
                n.pos.line
            )
        }),
        None => Err(format!(
            "line {}: violations must be yes, no or a number",
            n.pos.line
        )),
    }
}

fn run_case(base: &Path, policy: &PolicySet, case: &Node) -> Result<(), String> {
    let rel = field_str(case, "object").ok_or("case has no object")?;
    let objects = read_docs(&resolve(base, rel)?)?;
    let [object] = objects.as_slice() else {
        return Err(format!(
            "{rel}: expected exactly one object, found {}",
            objects.len()
        ));
    };
    let object = object.to_json();
    let request = if object.get("kind").and_then(Json::as_str) == Some("AdmissionReview") {
        object
            .get("request")
            .filter(|r| r.is_object())
            .cloned()
            .ok_or_else(|| format!("{rel}: AdmissionReview without request"))?
    } else {
        review_for_object(&object)
    };
    let mut inventory = Vec::new();
    if let Some(inv) = case.get("inventory").filter(|n| !n.is_null()) {
        for item in inv.items() {
            let rel = item
                .as_str()
                .ok_or("inventory entries must be file paths")?;
            for doc in read_docs(&resolve(base, rel)?)? {
                inventory.push(doc.to_json());
            }
        }
    }
    let ctx = ReviewContext::new()
        .with_namespaces_from(inventory.iter())
        .with_inventory(Arc::new(Inventory::from_objects(inventory.iter())));
    let outcome = policy.evaluate(&request, &ctx, EnforcementPoint::Gator);
    if let Some(e) = outcome.errors.first() {
        return Err(format!("evaluation error: {}", e.message));
    }
    let assertions = case.get("assertions").map(Node::items).unwrap_or_default();
    let mut failures = Vec::new();
    for a in assertions {
        let expect = parse_expect(a.get("violations"))?;
        let re = match field_str(a, "message") {
            Some(m) if !m.is_empty() => Some(
                regex::Regex::new(m)
                    .map_err(|e| format!("line {}: bad message regex: {e}", a.pos.line))?,
            ),
            _ => None,
        };
        let matching = outcome
            .violations
            .iter()
            .filter(|v| re.as_ref().is_none_or(|re| re.is_match(&v.message)))
            .count();
        let ok = match expect {
            Expect::Some => matching > 0,
            Expect::None => matching == 0,
            Expect::Exactly(n) => matching == n,
        };
        if !ok {
            let want = match expect {
                Expect::Some => "at least 1".to_string(),
                Expect::None => "0".to_string(),
                Expect::Exactly(n) => n.to_string(),
            };
            let msg = re.map_or(String::new(), |r| format!(" matching {:?}", r.as_str()));
            let got: Vec<String> = outcome
                .violations
                .iter()
                .map(|v| format!("{:?}", v.message))
                .collect();
            failures.push(format!(
                "line {}: want {want} violation(s){msg}, got {matching}; violations: [{}]",
                a.pos.line,
                got.join(", ")
            ));
        }
    }
    if failures.is_empty() {
        Ok(())
    } else {
        Err(failures.join("; "))
    }
}

/// Finds suite files: files are taken as given; directories are searched recursively for
/// `.yaml`/`.yml` files whose first document is `kind: Suite`.
pub fn find_suites(paths: &[PathBuf]) -> (Vec<PathBuf>, Vec<SuiteError>) {
    let (inputs, diags) = palisade_model::collect_inputs(paths);
    let errors = diags
        .into_iter()
        .map(|d| SuiteError::Io {
            file: d.file,
            message: d.message,
        })
        .collect();
    let mut out = Vec::new();
    for input in inputs {
        let palisade_model::Input::File(p) = input else {
            continue;
        };
        let given = paths.iter().any(|g| g == &p);
        if given || is_suite_file(&p) {
            out.push(p);
        }
    }
    (out, errors)
}

fn is_suite_file(p: &Path) -> bool {
    std::fs::read_to_string(p).is_ok_and(|t| {
        t.lines()
            .any(|l| l.trim_end() == "kind: Suite" || l.trim_end() == "kind: \"Suite\"")
    })
}
