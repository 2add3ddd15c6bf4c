//! `palisade netpol lint`: the `netpol/` checks alone (common NetworkPolicy mistakes), reported
//! like `palisade scan` reports findings.

use crate::args::{ColorChoice, OutputFormat};
use anyhow::{Context, Result};
use palisade_model::{DiagLevel, Inventory, LoadOptions, Severity};
use palisade_posture::Config;
use palisade_report::{Format, RenderOptions, Report};
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments.
#[derive(clap::Args, Debug)]
#[command(
    after_help = "Checks: policies selecting no pod, peers matching nothing, egress isolation without DNS, namespaceSelector/podSelector AND-OR confusion, rules allowing everything, named ports no pod exposes, invalid ipBlocks and port ranges, pods no policy selects, namespaces without a default deny, rules ignored by policyTypes, redundant policies and rules (`palisade checks` lists them).\n\nExamples:\n  palisade netpol lint -f examples/guestbook/\n  palisade netpol lint -f k8s/ -o sarif > netpol.sarif\n  palisade netpol lint -f k8s/ --fail-on medium\n\nExit codes: 0 nothing at or above --fail-on, 1 findings, 2 usage or input error."
)]
pub struct Args {
    /// Manifest files or directories (`-` reads standard input).
    #[arg(short = 'f', long = "filename", value_name = "MANIFESTS", required = true, num_args = 1..)]
    pub files: Vec<PathBuf>,
    /// Output format.
    #[arg(short, long, value_enum, default_value_t = OutputFormat::Human)]
    pub output: OutputFormat,
    /// Exit with 1 when a finding has at least this severity (info, low, medium, high, critical).
    #[arg(long, value_name = "SEVERITY", default_value = "info")]
    pub fail_on: String,
    /// Namespace for objects that do not set one.
    #[arg(short, long, value_name = "NS", default_value = "default")]
    pub namespace: String,
    /// Configuration file (default: .palisade.yaml in the current directory, if present).
    #[arg(short, long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Do not read .palisade.yaml.
    #[arg(long, conflicts_with = "config")]
    pub no_config: bool,
    /// Disable a check (id or `netpol/*`); repeatable.
    #[arg(long, value_name = "CHECK")]
    pub disable: Vec<String>,
    /// Also list suppressed findings (with the reason).
    #[arg(long)]
    pub show_suppressed: bool,
    /// Colour.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
}

fn load_config(a: &Args) -> Result<Config> {
    let mut cfg = crate::scan::config_file(a.no_config, a.config.as_deref())?;
    cfg.disabled_checks.extend(a.disable.iter().cloned());
    Ok(cfg)
}

/// Runs `palisade netpol lint`.
pub fn run(a: &Args) -> Result<ExitCode> {
    let fail_on: Severity = a.fail_on.parse().context("--fail-on")?;
    let cfg = load_config(a)?;
    let opts = LoadOptions {
        default_namespace: a.namespace.clone(),
        ..LoadOptions::default()
    };
    let inv = Inventory::load_paths(&a.files, &opts);
    let mut stderr = std::io::stderr().lock();
    for d in inv
        .diagnostics
        .iter()
        .filter(|d| d.level != DiagLevel::Notice)
    {
        writeln!(stderr, "{d}")?;
    }
    let raw = palisade_netpol::lint::findings(&inv);
    let findings = palisade_posture::sort_findings(
        &inv,
        palisade_posture::sink::apply_config(&inv, &cfg, raw),
    );
    let checks = palisade_netpol::lint::checks();
    let report = Report {
        findings: &findings,
        checks: &checks,
        diagnostics: &inv.diagnostics,
        files_scanned: inv.sources.len(),
        objects_scanned: inv.objects.len(),
        show_suppressed: a.show_suppressed,
        tool_version: env!("CARGO_PKG_VERSION"),
    };
    let format = Format::from(a.output);
    let stdout = std::io::stdout();
    let color = crate::scan::use_color(a.color, stdout.is_terminal());
    let mut w = std::io::BufWriter::new(stdout.lock());
    palisade_report::render(format, &report, &mut w, &RenderOptions { color })?;
    w.flush()?;
    Ok(if inv.has_errors() {
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
