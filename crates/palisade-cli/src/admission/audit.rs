//! `palisade admission audit`.

use crate::args::{ColorChoice, OutputFormat};
use crate::scan::write_report;
use anyhow::{Context, Result};
use clap::Args;
use palisade_admission::engine::ClusterState;
use palisade_admission::{Admission, ServerConfig, live};
use palisade_model::{DiagLevel, Inventory, LoadOptions, Severity};
use palisade_report::{Format, Report};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `palisade admission audit`.
#[derive(Args, Debug)]
pub struct AuditArgs {
    /// Files or directories of existing objects (a cluster dump); repeatable.
    #[arg(
        short = 'f',
        long = "filename",
        value_name = "PATH",
        required_unless_present = "cluster"
    )]
    pub paths: Vec<PathBuf>,
    /// List the objects from the API server instead (Namespaces, Pods, workloads and the kinds
    /// the constraints match), with the configuration's `cluster.kubeconfig`, `--kubeconfig`,
    /// the in-cluster service account, `$KUBECONFIG` or `~/.kube/config`.
    #[arg(long)]
    pub cluster: bool,
    /// Kubeconfig file for --cluster.
    #[arg(long, value_name = "FILE", requires = "cluster")]
    pub kubeconfig: Option<PathBuf>,
    /// Server configuration: PSS defaults and exemptions, Gatekeeper policies, namespaces.
    #[arg(short, long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Gatekeeper ConstraintTemplates and Constraints (files or directories; repeatable), in
    /// addition to those of the configuration.
    #[arg(long, value_name = "PATH")]
    pub policies: Vec<PathBuf>,
    /// Output format.
    #[arg(short, long, value_enum, default_value_t = OutputFormat::Human)]
    pub output: OutputFormat,
    /// Write the report to this file instead of standard output.
    #[arg(long, value_name = "FILE")]
    pub output_file: Option<PathBuf>,
    /// Exit with 1 when a finding has at least this severity (info, low, medium, high, critical).
    #[arg(long, value_name = "SEVERITY", default_value = "info")]
    pub fail_on: String,
    /// Namespace for objects that do not set one.
    #[arg(short, long, value_name = "NS", default_value = "default")]
    pub namespace: String,
    /// Also list suppressed findings (with the reason).
    #[arg(long)]
    pub show_suppressed: bool,
    /// Colour.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
}

/// Runs `palisade admission audit`.
pub fn run(a: &AuditArgs) -> Result<ExitCode> {
    let fail_on: Severity = a.fail_on.parse().context("--fail-on")?;
    let mut cfg = match &a.config {
        Some(p) => ServerConfig::from_file(p)?,
        None => ServerConfig::default(),
    };
    cfg.gatekeeper.extend(a.policies.iter().cloned());
    let opts = LoadOptions {
        default_namespace: a.namespace.clone(),
        ..LoadOptions::default()
    };
    let mut inv = Inventory::load_paths(&a.paths, &opts);
    // What the admission controller would know: the configured namespaces plus every object
    // audited (its Namespaces' labels, its pods, the Gatekeeper inventory).
    let mut known_paths = cfg.namespaces.clone();
    known_paths.extend(a.paths.iter().cloned());
    cfg.namespaces.clear();
    let (admission, diags) = Admission::from_config(&cfg)?;
    let mut known = Inventory::load_paths(&known_paths, &opts);
    let mut stderr = anstream::stderr();
    if a.cluster {
        if let Some(k) = &a.kubeconfig {
            cfg.cluster.kubeconfig = Some(k.clone());
        }
        let (objects, notes) = list_cluster(&cfg, &admission)?;
        for n in notes {
            writeln!(stderr, "note: {n}")?;
        }
        for o in &objects {
            let text = serde_json::to_string_pretty(o)?;
            let name = source_name(o);
            inv.add_text(&name, &text, &opts);
            known.add_text(&name, &text, &opts);
        }
    }
    admission.set_state(ClusterState::from_inventory(&known));
    for d in diags.iter().chain(&inv.diagnostics) {
        if d.level != DiagLevel::Notice {
            writeln!(stderr, "{d}")?;
        }
    }
    let policy_errors = diags.iter().any(|d| d.level == DiagLevel::Error);
    let (findings, checks) = palisade_admission::audit::audit(&admission, &inv);
    let findings =
        palisade_posture::sink::apply_config(&inv, &palisade_posture::Config::default(), findings);
    let findings = palisade_posture::sort_findings(&inv, findings);
    let report = Report {
        findings: &findings,
        checks: &checks,
        diagnostics: &inv.diagnostics,
        files_scanned: inv.sources.len(),
        objects_scanned: inv.objects.len(),
        show_suppressed: a.show_suppressed,
        tool_version: env!("CARGO_PKG_VERSION"),
    };
    write_report(
        &report,
        Format::from(a.output),
        a.output_file.as_deref(),
        a.color,
    )?;
    Ok(if inv.has_errors() || policy_errors {
        ExitCode::from(2)
    } else if findings
        .iter()
        .any(|f| f.suppressed.is_none() && f.severity >= fail_on)
    {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// Lists the objects to audit from the API server: Namespaces, Pods, workloads, the kinds the
/// constraints match and the configured inventory kinds.
fn list_cluster(
    cfg: &ServerConfig,
    admission: &Admission,
) -> Result<(Vec<serde_json::Value>, Vec<String>)> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let client = live::client(&cfg.cluster).await?;
        let mut kinds = live::workload_kinds();
        for k in &cfg.cluster.inventory {
            let k = live::inventory_kind(k);
            if !kinds
                .iter()
                .any(|x| x.resource.group == k.resource.group && x.resource.kind == k.resource.kind)
            {
                kinds.push(k);
            }
        }
        let (extra, notes) = live::constraint_kinds(&client, admission, &kinds).await;
        kinds.extend(extra);
        let objects = live::list_objects(&client, &kinds).await?;
        Ok((objects, notes))
    })
}

/// `cluster:<apiVersion>/<Kind>/<namespace>/<name>`: the report's "file" for a listed object.
fn source_name(o: &serde_json::Value) -> String {
    let s = |p: &str| {
        o.pointer(p)
            .and_then(serde_json::Value::as_str)
            .unwrap_or("")
    };
    let ns = s("/metadata/namespace");
    let mut name = format!("cluster:{}/{}/", s("/apiVersion"), s("/kind"));
    if !ns.is_empty() {
        name.push_str(ns);
        name.push('/');
    }
    name.push_str(s("/metadata/name"));
    name
}
