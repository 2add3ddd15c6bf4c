//! Findings to output: a human-readable listing, JSON, SARIF 2.1.0, JUnit XML and
//! `wgpolicyk8s.io/v1alpha2` PolicyReport YAML.
//!
//! This is the only crate that knows these formats. Callers build a [`Report`] from the
//! findings of a scan and call [`render`] with a [`Format`]:
//!
//! ```
//! use palisade_report::{Format, RenderOptions, Report, render};
//! let report = Report {
//!     findings: &[],
//!     checks: &[],
//!     diagnostics: &[],
//!     files_scanned: 1,
//!     objects_scanned: 2,
//!     show_suppressed: false,
//!     tool_version: "0.1.0",
//! };
//! let mut out = Vec::new();
//! render("json".parse::<Format>().unwrap(), &report, &mut out, &RenderOptions { color: false })
//!     .unwrap();
//! let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
//! assert_eq!(v["summary"]["objects"], 2);
//! ```
//!
//! Every renderer is deterministic: findings are sorted by file, line, column, check id and
//! object before they are written, and no timestamps are emitted.

mod checks;
mod human;
mod json;
mod junit;
mod policy;
mod sarif;
mod text;
mod xml;
mod yaml;

use palisade_model::{CheckId, CheckMeta, DiagLevel, Diagnostic, Finding, Severity};
use std::collections::HashMap;
use std::fmt;
use std::io::{self, Write};
use std::str::FromStr;

pub use checks::render_checks;
pub use sarif::fingerprint;

/// Name of the tool as written into reports.
pub const TOOL_NAME: &str = "palisade";

/// Where the tool is documented (SARIF `informationUri`).
pub const INFORMATION_URI: &str = "https://example.invalid/palisade";

/// Everything a report is made of.
#[derive(Debug, Clone, Copy)]
pub struct Report<'a> {
    /// All findings of the scan, suppressed ones included (with `suppressed: Some(..)`).
    pub findings: &'a [Finding],
    /// Metadata of every check id that may appear in `findings`.
    pub checks: &'a [CheckMeta],
    /// Problems with the input (the human format only counts the errors among them).
    pub diagnostics: &'a [Diagnostic],
    /// Number of files read.
    pub files_scanned: usize,
    /// Number of Kubernetes objects analysed.
    pub objects_scanned: usize,
    /// Whether suppressed findings are listed (human, JSON, JUnit). SARIF and PolicyReport
    /// always carry them, marked as suppressed or skipped.
    pub show_suppressed: bool,
    /// Version of the tool, written into JSON and SARIF.
    pub tool_version: &'a str,
}

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// Findings grouped by object, with a summary (`human` or `table`).
    Human,
    /// The documented JSON schema (`SCHEMA.md`).
    Json,
    /// SARIF 2.1.0.
    Sarif,
    /// JUnit XML, one test suite per check.
    Junit,
    /// `wgpolicyk8s.io/v1alpha2` PolicyReport / ClusterPolicyReport YAML documents.
    PolicyReport,
}

impl Format {
    /// Every format, in the order `--help` lists them.
    pub const ALL: [Format; 5] = [
        Format::Human,
        Format::Json,
        Format::Sarif,
        Format::Junit,
        Format::PolicyReport,
    ];

    /// The canonical name, as accepted by [`FromStr`].
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Human => "human",
            Format::Json => "json",
            Format::Sarif => "sarif",
            Format::Junit => "junit",
            Format::PolicyReport => "policyreport",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Error for an unknown format name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown output format {0:?} (expected human, table, json, sarif, junit or policyreport)")]
pub struct ParseFormatError(pub String);

impl FromStr for Format {
    type Err = ParseFormatError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s.to_ascii_lowercase().as_str() {
            "human" | "table" | "text" => Format::Human,
            "json" => Format::Json,
            "sarif" => Format::Sarif,
            "junit" | "junit-xml" => Format::Junit,
            "policyreport" | "policy-report" => Format::PolicyReport,
            _ => return Err(ParseFormatError(s.into())),
        })
    }
}

/// Presentation options.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RenderOptions {
    /// Use ANSI colours (human format only; every other format ignores it).
    pub color: bool,
}

/// Writes `report` in `format` to `out`.
pub fn render(
    format: Format,
    report: &Report<'_>,
    out: &mut dyn Write,
    opts: &RenderOptions,
) -> io::Result<()> {
    // Streamed through a buffer, not built whole in memory first: reports of large scans run to
    // tens of megabytes.
    let mut w = io::BufWriter::with_capacity(1 << 16, out);
    match format {
        Format::Human => human::render(report, &mut w, opts)?,
        Format::Json => json::render(report, &mut w)?,
        Format::Sarif => sarif::render(report, &mut w)?,
        Format::Junit => junit::render(report, &mut w)?,
        Format::PolicyReport => policy::render(report, &mut w)?,
    }
    w.flush()
}

/// Check metadata looked up by id.
pub(crate) struct Catalog<'a> {
    by_id: HashMap<&'a str, &'a CheckMeta>,
}

impl<'a> Catalog<'a> {
    pub(crate) fn new(checks: &'a [CheckMeta]) -> Self {
        let mut by_id = HashMap::with_capacity(checks.len());
        for c in checks {
            // The first definition of an id wins.
            by_id.entry(c.id.as_str()).or_insert(c);
        }
        Catalog { by_id }
    }

    pub(crate) fn get(&self, id: &CheckId) -> Option<&'a CheckMeta> {
        self.by_id.get(id.as_str()).copied()
    }

    /// The title of a check, or its id when no metadata is known.
    pub(crate) fn title<'b>(&self, id: &'b CheckId) -> &'b str
    where
        'a: 'b,
    {
        self.get(id).map_or(id.as_str(), |m| &m.title)
    }
}

/// The order every renderer writes findings in.
pub(crate) fn sort_key(f: &Finding) -> impl Ord + '_ {
    (
        f.location.file.as_str(),
        f.location.line,
        f.location.column,
        f.check.as_str(),
        &f.object,
        f.location.field_path.as_str(),
        f.container.as_deref(),
        f.message.as_str(),
    )
}

/// Findings sorted for output; `with_suppressed` keeps suppressed ones.
pub(crate) fn sorted(findings: &[Finding], with_suppressed: bool) -> Vec<&Finding> {
    let mut v: Vec<&Finding> = findings
        .iter()
        .filter(|f| with_suppressed || f.suppressed.is_none())
        .collect();
    v.sort_by(|a, b| sort_key(a).cmp(&sort_key(b)));
    v
}

/// Counts used by the summaries.
#[derive(Debug, Clone, Default)]
pub(crate) struct Counts {
    /// Unsuppressed findings.
    pub active: usize,
    /// Suppressed findings.
    pub suppressed: usize,
    /// Unsuppressed findings per severity, indexed like [`Severity::ALL`].
    pub by_severity: [usize; 5],
    /// Diagnostics of level error.
    pub input_errors: usize,
}

impl Counts {
    pub(crate) fn of(report: &Report<'_>) -> Self {
        let mut c = Counts::default();
        for f in report.findings {
            if f.suppressed.is_some() {
                c.suppressed += 1;
            } else {
                c.active += 1;
                c.by_severity[sev_index(f.severity)] += 1;
            }
        }
        c.input_errors = report
            .diagnostics
            .iter()
            .filter(|d| d.level == DiagLevel::Error)
            .count();
        c
    }

    pub(crate) fn severity(&self, s: Severity) -> usize {
        self.by_severity[sev_index(s)]
    }
}

fn sev_index(s: Severity) -> usize {
    match s {
        Severity::Info => 0,
        Severity::Low => 1,
        Severity::Medium => 2,
        Severity::High => 3,
        Severity::Critical => 4,
    }
}

/// Severities from the most to the least severe.
pub(crate) const SEVERITIES_DESC: [Severity; 5] = [
    Severity::Critical,
    Severity::High,
    Severity::Medium,
    Severity::Low,
    Severity::Info,
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_names_round_trip() {
        for f in Format::ALL {
            assert_eq!(f.as_str().parse::<Format>().unwrap(), f);
            assert_eq!(f.to_string().to_uppercase().parse::<Format>().unwrap(), f);
        }
        assert_eq!("table".parse::<Format>().unwrap(), Format::Human);
        let err = "yaml".parse::<Format>().unwrap_err();
        assert_eq!(err, ParseFormatError("yaml".into()));
        assert!(err.to_string().contains("policyreport"));
    }
}
