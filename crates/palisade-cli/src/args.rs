//! Command-line arguments.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

/// Defense in depth for Kubernetes: find, block and catch what attackers use against a cluster.
#[derive(Parser, Debug)]
#[command(
    name = "palisade",
    version,
    about = "Defense in depth for Kubernetes: find, block and catch what attackers use against a cluster.",
    after_help = "Examples:\n  palisade scan examples/\n  helm template ./chart | palisade scan - -o sarif > palisade.sarif\n  palisade checks -o json"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Scan manifests for Pod Security Standards violations and hardening faults.
    #[command(after_help = SCAN_EXAMPLES)]
    Scan(Box<ScanArgs>),
    /// RBAC: can-i, who-can, reconcile, and escalation analysis, offline from manifests.
    #[command(subcommand)]
    Rbac(crate::rbac::RbacCommand),
    /// NetworkPolicy: connectivity list, eval, diff and lint, offline from manifests.
    #[command(subcommand)]
    Netpol(crate::netpol::NetpolCommand),
    /// Runtime: trace system calls and process events with the eBPF sensor (Tracee-style filters).
    Trace(Box<crate::trace::TraceArgs>),
    /// Runtime: detect attacks with Falco-compatible rules, live or from a capture.
    Detect(Box<crate::detect::DetectArgs>),
    /// Runtime: validate and list Falco-compatible rule files.
    #[command(subcommand)]
    Rules(crate::rules::RulesCommand),
    /// Admission: the validating/mutating webhook (PSS and Gatekeeper policies), verify and audit.
    #[command(subcommand)]
    Admission(crate::admission::AdmissionCommand),
    /// List every check with its metadata.
    #[command(after_help = "Examples:\n  palisade checks\n  palisade checks -o json | jq '.[].id'")]
    Checks(ChecksArgs),
}

const SCAN_EXAMPLES: &str = "\
Examples:
  palisade scan examples/                       scan a directory (recursive .yaml/.yml/.json)
  helm template ./chart | palisade scan -       scan rendered Helm output from stdin
  kustomize build overlays/prod | palisade scan -
  palisade scan k8s/ -o sarif > palisade.sarif  for GitHub code scanning
  palisade scan k8s/ --fail-on high             exit 1 only for high or critical findings
  palisade scan k8s/ --pss-level baseline --pss-version v1.29 --kube-version 1.29

Exit codes: 0 nothing at or above --fail-on, 1 findings, 2 usage or input error.";

/// Colour choice.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ColorChoice {
    /// Colour when standard output is a terminal.
    Auto,
    /// Always colour.
    Always,
    /// Never colour.
    Never,
}

/// Output format of `scan`.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutputFormat {
    /// Findings grouped by object, for people.
    Human,
    /// Stable JSON (see crates/palisade-report/SCHEMA.md).
    Json,
    /// SARIF 2.1.0 (GitHub code scanning and other SAST viewers).
    Sarif,
    /// JUnit XML for CI test reports.
    Junit,
    /// wgpolicyk8s.io/v1alpha2 PolicyReport / ClusterPolicyReport YAML.
    Policyreport,
}

impl From<OutputFormat> for palisade_report::Format {
    fn from(o: OutputFormat) -> Self {
        use palisade_report::Format;
        match o {
            OutputFormat::Human => Format::Human,
            OutputFormat::Json => Format::Json,
            OutputFormat::Sarif => Format::Sarif,
            OutputFormat::Junit => Format::Junit,
            OutputFormat::Policyreport => Format::PolicyReport,
        }
    }
}

/// Output format of `checks`.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ListFormat {
    /// A table.
    Human,
    /// JSON array of check metadata.
    Json,
}

#[derive(Args, Debug)]
pub struct ScanArgs {
    /// Files or directories to scan; `-` reads standard input.
    #[arg(default_value = ".")]
    pub paths: Vec<PathBuf>,
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
    /// Pod Security Standards level for every namespace, overriding namespace labels
    /// (privileged, baseline, restricted).
    #[arg(long, value_name = "LEVEL")]
    pub pss_level: Option<String>,
    /// Pod Security Standards version for every namespace, overriding namespace labels
    /// (v1.0 ... v1.37 or latest).
    #[arg(long, value_name = "VERSION")]
    pub pss_version: Option<String>,
    /// Kubernetes version of the API server (e.g. 1.30); some PodSecurity behaviour depends on
    /// it. Default: the newest known.
    #[arg(long, value_name = "VERSION")]
    pub kube_version: Option<String>,
    /// Configuration file (default: .palisade.yaml in the current directory, if present).
    #[arg(short, long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Do not read .palisade.yaml.
    #[arg(long, conflicts_with = "config")]
    pub no_config: bool,
    /// Disable a check (id or `family/*`); repeatable.
    #[arg(long, value_name = "CHECK")]
    pub disable: Vec<String>,
    /// Allow images only from this registry (repeatable; enables the registry check).
    #[arg(long, value_name = "REGISTRY")]
    pub allowed_registry: Vec<String>,
    /// Also list suppressed findings (with the reason).
    #[arg(long)]
    pub show_suppressed: bool,
    /// Colour.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
    /// Threads to load and analyze with (default: the number of available cores).
    #[arg(short = 'j', long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub threads: Option<u16>,
    /// Do not print notices (skipped non-Kubernetes documents) on standard error.
    #[arg(short, long)]
    pub quiet: bool,
}

#[derive(Args, Debug)]
pub struct ChecksArgs {
    /// Output format.
    #[arg(short, long, value_enum, default_value_t = ListFormat::Human)]
    pub output: ListFormat,
    /// Colour.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
}
