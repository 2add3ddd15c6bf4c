//! The JSON report (schema version 1, documented in `SCHEMA.md` and
//! `schema/report.schema.json`).

use crate::{Catalog, Counts, Report, SEVERITIES_DESC, TOOL_NAME, sorted};
use palisade_model::{Diagnostic, Finding, ObjectRef, SuppressedBy};
use serde_json::{Map, Value, json};
use std::io::{self, Write};

/// The schema version written into every report.
pub(crate) const SCHEMA_VERSION: &str = "1";

pub(crate) fn object_json(o: &ObjectRef) -> Value {
    json!({
        "apiVersion": o.api_version,
        "kind": o.kind,
        "namespace": o.namespace,
        "name": o.name,
    })
}

pub(crate) fn suppressed_by(by: SuppressedBy) -> &'static str {
    match by {
        SuppressedBy::Annotation => "annotation",
        SuppressedBy::Config => "config",
    }
}

fn finding_json(f: &Finding, catalog: &Catalog<'_>) -> Value {
    let meta = catalog.get(&f.check);
    json!({
        "id": f.check.as_str(),
        "severity": f.severity.as_str(),
        "title": catalog.title(&f.check),
        "category": meta.map(|m| m.category.as_ref()),
        "message": f.message,
        "object": object_json(&f.object),
        "container": f.container,
        "file": f.location.file,
        "line": (f.location.line > 0).then_some(f.location.line),
        "column": (f.location.line > 0 && f.location.column > 0).then_some(f.location.column),
        "fieldPath": f.location.field_path,
        "remediation": meta
            .map(|m| m.remediation.as_ref())
            .filter(|r| !r.trim().is_empty()),
        "references": meta.map_or(Vec::new(), |m| m.references.iter().map(|r| r.as_ref()).collect()),
        "suppressed": f.suppressed.as_ref().map(|s| json!({
            "by": suppressed_by(s.by),
            "reason": s.reason,
        })),
    })
}

fn diagnostic_json(d: &Diagnostic) -> Value {
    json!({
        "level": d.level,
        "code": d.code,
        "file": d.file,
        "line": d.pos.map(|p| p.line).filter(|&l| l > 0),
        "column": d.pos.filter(|p| p.line > 0).map(|p| p.col).filter(|&c| c > 0),
        "field": d.field,
        "message": d.message,
    })
}

pub(crate) fn to_value(report: &Report<'_>) -> Value {
    let catalog = Catalog::new(report.checks);
    let counts = Counts::of(report);
    let mut by_sev = Map::new();
    for s in SEVERITIES_DESC {
        by_sev.insert(s.as_str().into(), counts.severity(s).into());
    }
    let findings: Vec<Value> = sorted(report.findings, report.show_suppressed)
        .into_iter()
        .map(|f| finding_json(f, &catalog))
        .collect();
    json!({
        "schemaVersion": SCHEMA_VERSION,
        "tool": { "name": TOOL_NAME, "version": report.tool_version },
        "summary": {
            "files": report.files_scanned,
            "objects": report.objects_scanned,
            "findings": counts.active,
            "suppressed": counts.suppressed,
            "bySeverity": by_sev,
            "inputErrors": counts.input_errors,
        },
        "findings": findings,
        "diagnostics": report.diagnostics.iter().map(diagnostic_json).collect::<Vec<_>>(),
    })
}

pub(crate) fn render(report: &Report<'_>, out: &mut dyn Write) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, &to_value(report))?;
    out.write_all(b"\n")
}
