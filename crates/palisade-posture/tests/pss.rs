//! Data-driven tests of the Pod Security Standards engine.
//!
//! Every `testdata/pss/eval/*.yaml` file is one test: its first YAML document is a header with
//! the expected verdicts, the next document is the pod or workload to evaluate.
//!
//! ```yaml
//! description: what the fixture is about
//! cases:
//! - level: restricted            # privileged | baseline | restricted
//!   versions: [v1.24, latest]    # or `version: v1.24`
//!   kubeVersion: "1.29"          # optional API server version (default 1.37)
//!   userNamespacesGate: true     # optional (1.29–1.34 servers)
//!   emulatedVersion: "1.33"      # optional emulated minor (caps the policy version)
//!   allowed: false
//!   checks: [runAsNonRoot]       # the failed checks, in PSA order (required when denied)
//!   message: 'violates PodSecurity "restricted:v1.24": ...'   # optional, exact
//!   details: {runAsNonRoot: 'pod or container "app" must ...'} # optional, exact
//!   reasons: {runAsNonRoot: 'runAsNonRoot != true'}           # optional, exact
//!   fields: {runAsNonRoot: [spec.securityContext]}             # optional, exact
//!   containers: {runAsNonRoot: [app]}                          # optional, exact
//! ```
//!
//! Every `testdata/pss/scan/*.yaml` file runs the whole PSS analyzer ([`pss::run`]) on all the
//! objects after the header and compares the findings:
//!
//! ```yaml
//! description: ...
//! config: {pss: {level: baseline}, kubeVersion: "1.30"}   # optional `.palisade.yaml` content
//! findings:                                             # exact, in scan order
//! - {check: pss/privileged, severity: critical, object: Pod/default/web,
//!    path: spec.containers[0].securityContext.privileged, container: app, message: '...'}
//! ```

use libtest_mimic::{Arguments, Failed, Trial};
use palisade_model::{DiagCode, Inventory, LoadOptions, pod_template};
use palisade_posture::pss::{
    self, KubeVersion, Level, Policy, PssCheck, PssOptions, Version, evaluate, message,
};
use palisade_posture::{Config, Sink};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EvalFixture {
    description: String,
    cases: Vec<Case>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Case {
    level: String,
    #[serde(default)]
    version: Option<String>,
    #[serde(default)]
    versions: Vec<String>,
    #[serde(default)]
    kube_version: Option<String>,
    #[serde(default)]
    user_namespaces_gate: bool,
    #[serde(default)]
    emulated_version: Option<String>,
    allowed: Option<bool>,
    #[serde(default)]
    checks: Vec<String>,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    details: BTreeMap<String, String>,
    #[serde(default)]
    reasons: BTreeMap<String, String>,
    #[serde(default)]
    fields: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    containers: BTreeMap<String, Vec<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ScanFixture {
    description: String,
    #[serde(default)]
    config: Option<serde_json::Value>,
    findings: Vec<ExpectedFinding>,
}

#[derive(Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
struct ExpectedFinding {
    check: String,
    severity: String,
    object: String,
    path: String,
    #[serde(default)]
    container: Option<String>,
    message: String,
}

/// Splits a fixture into its header (as JSON) and the text of the remaining documents.
fn header(path: &Path) -> Result<(serde_json::Value, String), String> {
    let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
    let docs = palisade_model::yaml::parse_stream(&text, &Default::default());
    let first = docs
        .into_iter()
        .next()
        .ok_or("empty fixture")?
        .map_err(|e| e.to_string())?;
    let root = first.root.ok_or("empty header")?;
    Ok((root.to_json(), text))
}

fn load(path: &Path, text: &str) -> Result<Inventory, String> {
    let mut inv = Inventory::new();
    inv.add_text(&path.display().to_string(), text, &LoadOptions::default());
    // Field type errors are expected in fixtures about odd values; syntax errors are not.
    let broken: Vec<_> = inv
        .diagnostics
        .iter()
        .filter(|d| matches!(d.code, DiagCode::Syntax | DiagCode::Limit | DiagCode::Io))
        .collect();
    if !broken.is_empty() {
        return Err(format!("fixture does not load: {broken:?}"));
    }
    Ok(inv)
}

fn run_eval(path: &Path) -> Result<(), Failed> {
    let (head, text) = header(path)?;
    let fx: EvalFixture = serde_json::from_value(head).map_err(|e| format!("header: {e}"))?;
    if fx.description.trim().is_empty() {
        return Err("fixture needs a description".into());
    }
    if fx.cases.is_empty() {
        return Err("fixture has no cases".into());
    }
    let inv = load(path, &text)?;
    let templates: Vec<_> = inv.objects.iter().filter_map(pod_template).collect();
    let [t] = templates.as_slice() else {
        return Err(format!(
            "expected exactly one pod or workload, found {}",
            templates.len()
        )
        .into());
    };
    let mut errors = Vec::new();
    for (i, case) in fx.cases.iter().enumerate() {
        let mut versions = case.versions.clone();
        versions.extend(case.version.clone());
        if versions.is_empty() {
            return Err(format!("case {i}: no version").into());
        }
        let Some(allowed) = case.allowed else {
            return Err(format!("case {i}: no expectation (`allowed` missing)").into());
        };
        if allowed != case.checks.is_empty() {
            return Err(format!(
                "case {i}: `checks` must list the failed checks exactly when denied"
            )
            .into());
        }
        let level = Level::parse(&case.level).map_err(|e| format!("case {i}: {e}"))?;
        let mut opts = PssOptions::default();
        if let Some(k) = &case.kube_version {
            opts.server = KubeVersion::parse(k).map_err(|e| format!("case {i}: {e}"))?;
        }
        opts.user_namespaces_gate = case.user_namespaces_gate;
        if let Some(e) = &case.emulated_version {
            opts.emulated_minor = Some(
                KubeVersion::parse(e)
                    .map_err(|e| format!("case {i}: {e}"))?
                    .minor,
            );
        }
        for key in case
            .details
            .keys()
            .chain(case.reasons.keys())
            .chain(case.fields.keys())
            .chain(case.containers.keys())
        {
            if !case.checks.contains(key) {
                return Err(
                    format!("case {i}: expectation for {key}, which is not in `checks`").into(),
                );
            }
        }
        for v in &versions {
            let version = Version::parse(v).map_err(|e| format!("case {i}: {e}"))?;
            let policy = Policy::new(level, version);
            let at = format!("case {i} ({policy}, server {})", opts.server);
            let results = evaluate(t, policy, &opts);
            let got: Vec<&str> = results.iter().map(|r| r.check.id()).collect();
            if got != case.checks {
                errors.push(format!(
                    "{at}: failed checks {got:?}, expected {:?}\n    message: {}",
                    case.checks,
                    message(policy, &results)
                ));
                continue;
            }
            if let Some(m) = &case.message {
                let actual = message(policy, &results);
                if &actual != m {
                    errors.push(format!(
                        "{at}: message\n    got:      {actual}\n    expected: {m}"
                    ));
                }
            }
            for r in &results {
                let id = r.check.id();
                if let Some(d) = case.details.get(id)
                    && &r.detail != d
                {
                    errors.push(format!(
                        "{at}: {id} detail\n    got:      {}\n    expected: {d}",
                        r.detail
                    ));
                }
                if let Some(d) = case.reasons.get(id)
                    && &r.reason != d
                {
                    errors.push(format!(
                        "{at}: {id} reason\n    got:      {}\n    expected: {d}",
                        r.reason
                    ));
                }
                if let Some(f) = case.fields.get(id) {
                    let actual: Vec<String> = r.fields.iter().map(|p| p.to_string()).collect();
                    if &actual != f {
                        errors.push(format!(
                            "{at}: {id} fields\n    got:      {actual:?}\n    expected: {f:?}"
                        ));
                    }
                }
                if let Some(c) = case.containers.get(id)
                    && &r.containers != c
                {
                    errors.push(format!(
                        "{at}: {id} containers: got {:?}, expected {c:?}",
                        r.containers
                    ));
                }
            }
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors.join("\n").into())
    }
}

fn run_scan(path: &Path) -> Result<(), Failed> {
    let (head, text) = header(path)?;
    let fx: ScanFixture = serde_json::from_value(head).map_err(|e| format!("header: {e}"))?;
    if fx.description.trim().is_empty() {
        return Err("fixture needs a description".into());
    }
    let cfg: Config = match fx.config {
        Some(c) => serde_json::from_value(c).map_err(|e| format!("config: {e}"))?,
        None => Config::default(),
    };
    let inv = load(path, &text)?;
    let mut sink = Sink::new(&inv, &cfg);
    pss::run(&mut sink);
    let got: Vec<ExpectedFinding> = sink
        .into_findings()
        .into_iter()
        .map(|f| ExpectedFinding {
            check: f.check.to_string(),
            severity: f.severity.to_string(),
            object: f.object.to_string(),
            path: f.location.field_path,
            container: f.container,
            message: f.message,
        })
        .collect();
    if got == fx.findings {
        return Ok(());
    }
    let show = |v: &[ExpectedFinding]| {
        v.iter()
            .map(|f| format!("  - {f:?}"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    Err(format!(
        "findings differ\ngot:\n{}\nexpected:\n{}",
        show(&got),
        show(&fx.findings)
    )
    .into())
}

fn fixtures(dir: &str) -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata/pss")
        .join(dir);
    let mut v: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap_or_else(|e| panic!("{}: {e}", root.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    v.sort();
    v
}

fn main() {
    let args = Arguments::from_args();
    let mut trials = Vec::new();
    for (dir, runner) in [
        ("eval", run_eval as fn(&Path) -> Result<(), Failed>),
        ("scan", run_scan),
    ] {
        for path in fixtures(dir) {
            let name = format!(
                "{dir}/{}",
                path.file_stem().unwrap_or_default().to_string_lossy()
            );
            trials.push(Trial::test(name, move || runner(&path)));
        }
    }
    // Every check has at least one fixture that fails it.
    let covered: Vec<PssCheck> = PssCheck::ALL.to_vec();
    trials.push(Trial::test(
        "every check is covered by a failing fixture",
        move || {
            let mut missing = Vec::new();
            for c in &covered {
                let needle = format!("checks: [{}", c.id());
                let needle2 = format!(", {}", c.id());
                let found = fixtures("eval").iter().any(|p| {
                    std::fs::read_to_string(p).is_ok_and(|t| {
                        t.lines().any(|l| {
                            l.contains("checks:") && (l.contains(&needle) || l.contains(&needle2))
                        })
                    })
                });
                if !found {
                    missing.push(c.id());
                }
            }
            if missing.is_empty() {
                Ok(())
            } else {
                Err(format!("no failing fixture for {missing:?}").into())
            }
        },
    ));
    libtest_mimic::run(&args, trials).exit();
}
