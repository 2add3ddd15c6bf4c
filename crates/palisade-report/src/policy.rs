//! `wgpolicyk8s.io/v1alpha2` reports: one `PolicyReport` per namespace with findings and one
//! `ClusterPolicyReport` for cluster-scoped objects, as a multi-document YAML stream.
//!
//! Suppressed findings are always included with `result: skip`. No timestamps are written, so
//! the output only changes when the findings do.

use crate::json::suppressed_by;
use crate::{Catalog, Report, TOOL_NAME, sorted};
use palisade_model::Finding;
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;
use std::io::{self, Write};

/// API version of the reports.
pub(crate) const API_VERSION: &str = "wgpolicyk8s.io/v1alpha2";

fn result_json(f: &Finding, catalog: &Catalog<'_>) -> Value {
    let meta = catalog.get(&f.check);
    let id = f.check.as_str();
    let rule = id.split_once('/').map_or(id, |(_, r)| r);
    let mut resource = Map::new();
    resource.insert("apiVersion".into(), json!(f.object.api_version));
    resource.insert("kind".into(), json!(f.object.kind));
    if let Some(ns) = &f.object.namespace {
        resource.insert("namespace".into(), json!(ns));
    }
    resource.insert("name".into(), json!(f.object.name));

    let mut props = Map::new();
    props.insert("title".into(), json!(catalog.title(&f.check)));
    props.insert("file".into(), json!(f.location.file));
    if f.location.line > 0 {
        props.insert("line".into(), json!(f.location.line.to_string()));
        if f.location.column > 0 {
            props.insert("column".into(), json!(f.location.column.to_string()));
        }
    }
    props.insert("fieldPath".into(), json!(f.location.field_path));
    if let Some(c) = &f.container {
        props.insert("container".into(), json!(c));
    }
    if let Some(s) = &f.suppressed {
        props.insert("suppressedBy".into(), json!(suppressed_by(s.by)));
        if let Some(r) = &s.reason {
            props.insert("suppressionReason".into(), json!(r));
        }
    }

    let mut r = Map::new();
    r.insert("source".into(), json!(TOOL_NAME));
    r.insert("policy".into(), json!(id));
    r.insert("rule".into(), json!(rule));
    if let Some(m) = meta {
        r.insert("category".into(), json!(m.category));
    }
    r.insert("severity".into(), json!(f.severity.as_str()));
    let verdict = if f.suppressed.is_some() {
        "skip"
    } else {
        "fail"
    };
    r.insert("result".into(), json!(verdict));
    r.insert("scored".into(), json!(true));
    r.insert("message".into(), json!(f.message));
    r.insert("resources".into(), json!([resource]));
    r.insert("properties".into(), Value::Object(props));
    Value::Object(r)
}

fn report_json(namespace: Option<&str>, findings: &[&Finding], catalog: &Catalog<'_>) -> Value {
    let fail = findings.iter().filter(|f| f.suppressed.is_none()).count();
    let skip = findings.len() - fail;
    let mut metadata = Map::new();
    match namespace {
        Some(ns) => {
            metadata.insert("name".into(), json!(format!("{TOOL_NAME}-{ns}")));
            metadata.insert("namespace".into(), json!(ns));
        }
        None => {
            metadata.insert("name".into(), json!(format!("{TOOL_NAME}-cluster")));
        }
    }
    metadata.insert(
        "labels".into(),
        json!({
            "app.kubernetes.io/managed-by": TOOL_NAME,
            "wgpolicyk8s.io/engine": TOOL_NAME,
        }),
    );
    json!({
        "apiVersion": API_VERSION,
        "kind": if namespace.is_some() { "PolicyReport" } else { "ClusterPolicyReport" },
        "metadata": metadata,
        "summary": { "pass": 0, "fail": fail, "warn": 0, "error": 0, "skip": skip },
        "results": findings.iter().map(|f| result_json(f, catalog)).collect::<Vec<_>>(),
    })
}

/// The report documents, namespaced ones sorted by namespace, the cluster report last.
pub(crate) fn documents(report: &Report<'_>) -> Vec<Value> {
    let catalog = Catalog::new(report.checks);
    let mut by_ns: BTreeMap<&str, Vec<&Finding>> = BTreeMap::new();
    let mut cluster = Vec::new();
    let mut findings = sorted(report.findings, true);
    // Within a report, results are grouped by resource.
    findings.sort_by(|a, b| (&a.object, crate::sort_key(a)).cmp(&(&b.object, crate::sort_key(b))));
    for f in findings {
        match &f.object.namespace {
            Some(ns) => by_ns.entry(ns.as_str()).or_default().push(f),
            None => cluster.push(f),
        }
    }
    let mut docs: Vec<Value> = by_ns
        .iter()
        .map(|(ns, fs)| report_json(Some(ns), fs, &catalog))
        .collect();
    docs.push(report_json(None, &cluster, &catalog));
    docs
}

pub(crate) fn render(report: &Report<'_>, out: &mut dyn Write) -> io::Result<()> {
    let mut text = String::new();
    for doc in documents(report) {
        text.push_str("---\n");
        crate::yaml::emit(&mut text, &doc);
    }
    out.write_all(text.as_bytes())
}
