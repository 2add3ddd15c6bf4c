//! The JSON report (schema version 1, documented in `SCHEMA.md` and
//! `schema/report.schema.json`).

use crate::{Catalog, Counts, Report, SEVERITIES_DESC, TOOL_NAME, sorted};
use palisade_model::{Diagnostic, Finding, SuppressedBy};
use serde::Serialize;
use serde_json::{Map, Value};
use std::io::{self, Write};

/// The schema version written into every report.
pub(crate) const SCHEMA_VERSION: &str = "1";

pub(crate) fn suppressed_by(by: SuppressedBy) -> &'static str {
    match by {
        SuppressedBy::Annotation => "annotation",
        SuppressedBy::Config => "config",
    }
}

/// An object reference as written in reports.
#[derive(Serialize)]
struct ObjectOut<'a> {
    #[serde(rename = "apiVersion")]
    api_version: &'a str,
    kind: &'a str,
    namespace: Option<&'a str>,
    name: &'a str,
}

#[derive(Serialize)]
struct SuppressedOut<'a> {
    by: &'static str,
    reason: Option<&'a str>,
}

/// One finding. Serialised straight to the writer: large scans produce hundreds of thousands
/// of these, and building a `serde_json::Value` tree first costs more than the scan itself.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct FindingOut<'a> {
    id: &'a str,
    severity: &'static str,
    title: &'a str,
    category: Option<&'a str>,
    message: &'a str,
    object: ObjectOut<'a>,
    container: Option<&'a str>,
    file: &'a str,
    line: Option<u32>,
    column: Option<u32>,
    field_path: &'a str,
    remediation: Option<&'a str>,
    references: Vec<&'a str>,
    suppressed: Option<SuppressedOut<'a>>,
}

#[derive(Serialize)]
struct DiagnosticOut<'a> {
    level: palisade_model::DiagLevel,
    code: palisade_model::DiagCode,
    file: &'a str,
    line: Option<u32>,
    column: Option<u32>,
    field: Option<&'a str>,
    message: &'a str,
}

#[derive(Serialize)]
struct ToolOut<'a> {
    name: &'static str,
    version: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SummaryOut {
    files: usize,
    objects: usize,
    findings: usize,
    suppressed: usize,
    by_severity: Map<String, Value>,
    input_errors: usize,
}

/// Everything before the findings.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct HeadOut<'a> {
    schema_version: &'static str,
    tool: ToolOut<'a>,
    summary: SummaryOut,
}

fn finding_out<'a>(f: &'a Finding, catalog: &Catalog<'a>) -> FindingOut<'a> {
    let meta = catalog.get(&f.check);
    FindingOut {
        id: f.check.as_str(),
        severity: f.severity.as_str(),
        title: catalog.title(&f.check),
        category: meta.map(|m| m.category.as_ref()),
        message: &f.message,
        object: ObjectOut {
            api_version: &f.object.api_version,
            kind: &f.object.kind,
            namespace: f.object.namespace.as_deref(),
            name: &f.object.name,
        },
        container: f.container.as_deref(),
        file: &f.location.file,
        line: (f.location.line > 0).then_some(f.location.line),
        column: (f.location.line > 0 && f.location.column > 0).then_some(f.location.column),
        field_path: &f.location.field_path,
        remediation: meta
            .map(|m| m.remediation.as_ref())
            .filter(|r| !r.trim().is_empty()),
        references: meta.map_or(Vec::new(), |m| {
            m.references.iter().map(|r| r.as_ref()).collect()
        }),
        suppressed: f.suppressed.as_ref().map(|s| SuppressedOut {
            by: suppressed_by(s.by),
            reason: s.reason.as_deref(),
        }),
    }
}

fn diagnostic_out(d: &Diagnostic) -> DiagnosticOut<'_> {
    DiagnosticOut {
        level: d.level,
        code: d.code,
        file: &d.file,
        line: d.pos.map(|p| p.line).filter(|&l| l > 0),
        column: d
            .pos
            .filter(|p| p.line > 0)
            .map(|p| p.col)
            .filter(|&c| c > 0),
        field: d.field.as_deref(),
        message: &d.message,
    }
}

pub(crate) fn render(report: &Report<'_>, out: &mut dyn Write) -> io::Result<()> {
    let catalog = Catalog::new(report.checks);
    let counts = Counts::of(report);
    let mut by_severity = Map::new();
    for s in SEVERITIES_DESC {
        by_severity.insert(s.as_str().into(), counts.severity(s).into());
    }
    let findings: Vec<FindingOut<'_>> = sorted(report.findings, report.show_suppressed)
        .into_iter()
        .map(|f| finding_out(f, &catalog))
        .collect();
    let diagnostics: Vec<DiagnosticOut<'_>> =
        report.diagnostics.iter().map(diagnostic_out).collect();
    let head = HeadOut {
        schema_version: SCHEMA_VERSION,
        tool: ToolOut {
            name: TOOL_NAME,
            version: report.tool_version,
        },
        summary: SummaryOut {
            files: report.files_scanned,
            objects: report.objects_scanned,
            findings: counts.active,
            suppressed: counts.suppressed,
            by_severity,
            input_errors: counts.input_errors,
        },
    };
    // The header is pretty-printed; each finding and diagnostic is one compact line, so large
    // reports stay small, fast to write, and easy to grep and diff.
    let w: &mut dyn Write = out;
    let head = serde_json::to_string_pretty(&head)?;
    let head = head.trim_end();
    let head = head.strip_suffix('}').unwrap_or(head).trim_end();
    w.write_all(head.as_bytes())?;
    write_list(w, "findings", &findings)?;
    write_list(w, "diagnostics", &diagnostics)?;
    w.write_all(b"\n}\n")
}

fn write_list<T: Serialize>(w: &mut dyn Write, key: &str, items: &[T]) -> io::Result<()> {
    write!(w, ",\n  \"{key}\": [")?;
    for (i, item) in items.iter().enumerate() {
        w.write_all(if i == 0 { b"\n    " } else { b",\n    " })?;
        serde_json::to_writer(&mut *w, item)?;
    }
    w.write_all(if items.is_empty() { b"]" } else { b"\n  ]" })
}
