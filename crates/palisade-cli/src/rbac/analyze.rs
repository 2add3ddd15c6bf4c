//! `palisade rbac analyze`: risky grants per subject and escalation paths to cluster-admin or
//! to Secrets, as text, JSON or a DOT graph.

use anyhow::{Context, Result};
use palisade_model::{DiagLevel, Inventory, LoadOptions, Severity};
use palisade_rbac::analysis::{self, GrantInfo, Hit, Principal, SourcePaths};
use serde::Serialize;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

/// Output format.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Risks per subject, then the paths, for people.
    Text,
    /// Everything, as JSON.
    Json,
    /// The escalation paths as a Graphviz DOT graph.
    Dot,
}

/// Arguments.
#[derive(clap::Args, Debug)]
#[command(
    after_help = "Examples:\n  palisade rbac analyze -f examples/guestbook/\n  palisade rbac analyze -f rbac/ -o dot | dot -Tsvg > paths.svg\n  palisade rbac analyze -f rbac/ --fail-on high\n\nExit codes: 0 nothing at or above --fail-on, 1 risks found, 2 usage or input error."
)]
pub struct Args {
    /// Manifest files or directories (`-` reads standard input).
    #[arg(short = 'f', long = "filename", value_name = "MANIFESTS", required = true, num_args = 1..)]
    pub files: Vec<PathBuf>,
    /// Include the default ClusterRoles and ClusterRoleBindings of a real cluster.
    #[arg(long, value_name = "BOOL", default_value_t = true, num_args = 0..=1, default_missing_value = "true", action = clap::ArgAction::Set)]
    pub with_defaults: bool,
    /// Output format.
    #[arg(short, long, value_enum, default_value_t = Format::Text)]
    pub output: Format,
    /// Exit with 1 when a risk or path has at least this severity (info, low, medium, high,
    /// critical); `none` never.
    #[arg(long, value_name = "SEVERITY", default_value = "none")]
    pub fail_on: String,
    /// Namespace for objects that do not set one.
    #[arg(short, long, value_name = "NS", default_value = "default")]
    pub namespace: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct JsonRisk {
    id: String,
    title: &'static str,
    severity: Severity,
    namespace: Option<String>,
    message: String,
    allows: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    resource_names: Vec<String>,
    grants: Vec<GrantInfo>,
}

#[derive(Serialize)]
struct JsonSubject {
    subject: String,
    identity: Principal,
    risks: Vec<JsonRisk>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct JsonPath {
    text: String,
    target: String,
    steps: serde_json::Value,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct JsonSource {
    source: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    cluster_admin: Option<JsonPath>,
    #[serde(skip_serializing_if = "Option::is_none")]
    secrets: Option<JsonPath>,
}

#[derive(Serialize)]
struct JsonReport {
    subjects: Vec<JsonSubject>,
    paths: Vec<JsonSource>,
}

fn json_path(p: &analysis::Path) -> Result<JsonPath> {
    Ok(JsonPath {
        text: p.to_string(),
        target: p.target().to_string(),
        steps: serde_json::to_value(&p.steps)?,
    })
}

fn json_risk(inv: &Inventory, p: &Principal, h: &Hit<'_>) -> JsonRisk {
    JsonRisk {
        id: h.risk.id.to_string(),
        title: h.risk.title,
        severity: h.severity,
        namespace: h.namespace.clone(),
        message: analysis::hit_message(Some(inv), p, h),
        allows: h.asks.clone(),
        resource_names: h.names.clone(),
        grants: h
            .grants
            .iter()
            .map(|g| GrantInfo::of(Some(inv), g))
            .collect(),
    }
}

fn text(inv: &Inventory, a: &analysis::Analysis<'_>, w: &mut impl Write) -> Result<()> {
    let risks: usize = a.subjects.iter().map(|s| s.hits.len()).sum();
    writeln!(w, "Risky grants: {risks} in {} subjects", a.subjects.len())?;
    for s in &a.subjects {
        writeln!(w, "\n{}", s.principal)?;
        for h in &s.hits {
            writeln!(
                w,
                "  {:<8} {:<28} {} {}{}",
                h.severity.as_str().to_uppercase(),
                h.risk.id,
                analysis::catalog::asks_text(&h.asks),
                analysis::scope_text(h),
                if h.names.is_empty() {
                    String::new()
                } else {
                    format!(" (only {})", h.names.join(", "))
                }
            )?;
            for g in &h.grants {
                writeln!(w, "           {}", GrantInfo::of(Some(inv), g).chain())?;
            }
        }
    }
    writeln!(w, "\nEscalation paths: {} sources", a.paths.len())?;
    for sp in &a.paths {
        writeln!(w, "\n{}", sp.source)?;
        if let Some(p) = &sp.cluster_admin {
            writeln!(w, "  to cluster-admin: {p}")?;
        }
        if let Some(p) = &sp.secrets {
            writeln!(w, "  to secrets:       {p}")?;
        }
    }
    Ok(())
}

fn worst(a: &analysis::Analysis<'_>) -> Option<Severity> {
    let hits = a.subjects.iter().flat_map(|s| &s.hits).map(|h| h.severity);
    let paths = a.paths.iter().map(|sp: &SourcePaths| {
        if sp.cluster_admin.is_some() {
            analysis::catalog::PATH_TO_CLUSTER_ADMIN.severity
        } else {
            analysis::catalog::PATH_TO_SECRETS.severity
        }
    });
    hits.chain(paths).max()
}

/// Runs `palisade rbac analyze`.
pub fn run(a: &Args) -> Result<ExitCode> {
    let fail_on: Option<Severity> = match a.fail_on.as_str() {
        "none" | "never" => None,
        s => Some(s.parse().context("--fail-on")?),
    };
    let timings = std::env::var_os("PALISADE_TIMINGS").is_some();
    let t0 = std::time::Instant::now();
    let opts = LoadOptions {
        default_namespace: a.namespace.clone(),
        ..LoadOptions::default()
    };
    let inv = Inventory::load_paths(&a.files, &opts);
    let t_load = t0.elapsed();
    let (store, rbac_diags) = analysis::load(&inv, a.with_defaults);
    let t_store = t0.elapsed();
    let mut stderr = std::io::stderr().lock();
    for d in inv.diagnostics.iter().chain(&rbac_diags) {
        if d.level != DiagLevel::Notice {
            writeln!(stderr, "{d}")?;
        }
    }
    let result = analysis::analyze(&store, &analysis::token_secrets(&inv));
    let t_analyze = t0.elapsed();
    let stdout = std::io::stdout();
    let mut w = std::io::BufWriter::new(stdout.lock());
    match a.output {
        Format::Text => text(&inv, &result, &mut w)?,
        Format::Dot => w.write_all(analysis::dot::render(&result.paths).as_bytes())?,
        Format::Json => {
            let report = JsonReport {
                subjects: result
                    .subjects
                    .iter()
                    .map(|s| JsonSubject {
                        subject: s.principal.to_string(),
                        identity: s.principal.clone(),
                        risks: s
                            .hits
                            .iter()
                            .map(|h| json_risk(&inv, &s.principal, h))
                            .collect(),
                    })
                    .collect(),
                paths: result
                    .paths
                    .iter()
                    .map(|sp| {
                        Ok(JsonSource {
                            source: sp.source.to_string(),
                            cluster_admin: sp.cluster_admin.as_ref().map(json_path).transpose()?,
                            secrets: sp.secrets.as_ref().map(json_path).transpose()?,
                        })
                    })
                    .collect::<Result<_>>()?,
            };
            serde_json::to_writer_pretty(&mut w, &report)?;
            writeln!(w)?;
        }
    }
    w.flush()?;
    if timings {
        eprintln!(
            "timings: load {:.3}s, rbac store {:.3}s, analysis {:.3}s, output {:.3}s; {} subjects with risks, {} path sources",
            t_load.as_secs_f64(),
            (t_store - t_load).as_secs_f64(),
            (t_analyze - t_store).as_secs_f64(),
            (t0.elapsed() - t_analyze).as_secs_f64(),
            result.subjects.len(),
            result.paths.len()
        );
    }
    let input_error = inv.has_errors() || rbac_diags.iter().any(|d| d.level == DiagLevel::Error);
    Ok(if input_error {
        ExitCode::from(2)
    } else if fail_on.is_some_and(|f| worst(&result).is_some_and(|s| s >= f)) {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
