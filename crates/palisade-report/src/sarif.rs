//! SARIF 2.1.0: one run, one rule per check that has results, suppressed findings kept with
//! `suppressions`.

use crate::{Catalog, INFORMATION_URI, Report, TOOL_NAME, sorted};
use palisade_model::{CheckId, CheckMeta, DiagLevel, Finding, ObjectRef, Severity, SuppressedBy};
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::io::{self, Write};

/// `$schema` of the log.
pub(crate) const SARIF_SCHEMA: &str =
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json";

/// Key of the partial fingerprint.
pub(crate) const FINGERPRINT_KEY: &str = "palisade/v1";

/// SARIF level of a severity: critical and high are errors, medium a warning, the rest notes.
fn level(s: Severity) -> &'static str {
    match s {
        Severity::Critical | Severity::High => "error",
        Severity::Medium => "warning",
        Severity::Low | Severity::Info => "note",
    }
}

/// The `security-severity` score GitHub code scanning ranks by.
fn security_severity(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "9.5",
        Severity::High => "8.0",
        Severity::Medium => "5.5",
        Severity::Low => "2.0",
        Severity::Info => "0.0",
    }
}

/// A stable 64-bit FNV-1a hash (hex) of a check and the object field (and container) it is
/// about; line numbers are deliberately left out so an alert survives edits elsewhere in the
/// file. SARIF output appends `:2`, `:3`, ... to repeats within one run.
pub fn fingerprint(
    check: &CheckId,
    object: &ObjectRef,
    container: Option<&str>,
    field_path: &str,
) -> String {
    let parts = [
        check.as_str(),
        object.kind.as_str(),
        object.namespace.as_deref().unwrap_or(""),
        object.name.as_str(),
        container.unwrap_or(""),
        field_path,
    ];
    // Each part is terminated by a byte that cannot occur in UTF-8 text, so ("a", "bc") and
    // ("ab", "c") hash differently.
    let bytes = parts
        .iter()
        .flat_map(|p| p.as_bytes().iter().copied().chain([0xff]));
    format!("{:016x}", fnv1a(bytes))
}

/// 64-bit FNV-1a.
fn fnv1a(bytes: impl IntoIterator<Item = u8>) -> u64 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    bytes
        .into_iter()
        .fold(OFFSET, |h, b| (h ^ u64::from(b)).wrapping_mul(PRIME))
}

/// A file name as a URI reference: forward slashes, percent-encoding where a URI needs it,
/// `<stdin>` as `stdin`, absolute paths as `file://` URIs.
pub(crate) fn artifact_uri(file: &str) -> String {
    if file == "<stdin>" || file == "-" {
        return "stdin".into();
    }
    let mut path = file.replace('\\', "/");
    while let Some(rest) = path.strip_prefix("./") {
        path = rest.to_string();
    }
    let bytes = path.as_bytes();
    let prefix = if path.starts_with('/') {
        "file://"
    } else if bytes.len() >= 2 && bytes[0].is_ascii_alphabetic() && bytes[1] == b':' {
        "file:///"
    } else {
        ""
    };
    let mut out = String::from(prefix);
    for (i, b) in path.bytes().enumerate() {
        let keep = b.is_ascii_alphanumeric()
            || matches!(b, b'-' | b'.' | b'_' | b'~' | b'/')
            || (b == b':' && !prefix.is_empty() && i == 1);
        if keep {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    if out.is_empty() {
        out.push_str("unknown");
    }
    out
}

fn rule_json(id: &CheckId, meta: Option<&CheckMeta>, fallback: Severity) -> Value {
    let severity = meta.map_or(fallback, |m| m.severity);
    let title = meta.map_or(id.as_str(), |m| &m.title);
    let mut rule = json!({
        "id": id.as_str(),
        "name": rule_name(id),
        "shortDescription": { "text": title },
    });
    if let Some(m) = meta {
        if !m.rationale.trim().is_empty() {
            rule["fullDescription"] = json!({ "text": m.rationale });
        }
        let mut text = String::new();
        let mut markdown = format!("**{}**\n\n", m.title.trim());
        if !m.rationale.trim().is_empty() {
            let _ = write!(markdown, "{}\n\n", m.rationale.trim());
        }
        if !m.remediation.trim().is_empty() {
            let _ = write!(text, "Remediation:\n{}\n", m.remediation.trim_end());
            let _ = write!(
                markdown,
                "**Remediation**\n\n```yaml\n{}\n```\n",
                m.remediation.trim_end().replace("```", "` ` `")
            );
        }
        if !m.references.is_empty() {
            text.push_str("\nReferences:\n");
            markdown.push_str("\n**References**\n\n");
            for r in &m.references {
                let _ = writeln!(text, "- {r}");
                let _ = writeln!(markdown, "- <{r}>");
            }
        }
        if text.is_empty() {
            text.push_str(title);
        }
        rule["help"] = json!({ "text": text.trim_end(), "markdown": markdown.trim_end() });
        if let Some(first) = m.references.first() {
            rule["helpUri"] = json!(first);
        }
    }
    let category = meta.map_or_else(|| id.family().to_string(), |m| m.category.to_string());
    rule["defaultConfiguration"] = json!({ "level": level(severity) });
    rule["properties"] = json!({
        "security-severity": security_severity(severity),
        "tags": [category, "security"],
        "precision": "very-high",
    });
    rule
}

/// `pss/runAsNonRoot` → `PssRunAsNonRoot`: SARIF recommends a PascalCase identifier-like name.
fn rule_name(id: &CheckId) -> String {
    let mut out = String::new();
    let mut upper = true;
    for c in id.as_str().chars() {
        if c.is_ascii_alphanumeric() {
            if upper {
                out.push(c.to_ascii_uppercase());
            } else {
                out.push(c);
            }
            upper = false;
        } else {
            upper = true;
        }
    }
    out
}

fn result_json(f: &Finding, rule_index: usize, fingerprint: String) -> Value {
    let mut result = json!({
        "ruleId": f.check.as_str(),
        "ruleIndex": rule_index,
        "level": level(f.severity),
        "message": { "text": f.message },
        "locations": [{
            "physicalLocation": {
                "artifactLocation": { "uri": artifact_uri(&f.location.file) },
                "region": {
                    "startLine": f.location.line.max(1),
                    "startColumn": f.location.column.max(1),
                },
            },
            "logicalLocations": [{
                "fullyQualifiedName": fully_qualified_name(&f.object),
                "name": f.object.name,
                "kind": "resource",
            }],
        }],
        "partialFingerprints": {
            FINGERPRINT_KEY: fingerprint,
        },
        "properties": {
            "severity": f.severity.as_str(),
            "apiVersion": f.object.api_version,
            "fieldPath": f.location.field_path,
        },
    });
    if let Some(c) = &f.container {
        result["properties"]["container"] = json!(c);
    }
    if let Some(s) = &f.suppressed {
        let kind = match s.by {
            SuppressedBy::Annotation => "inSource",
            SuppressedBy::Config => "external",
        };
        let mut sup = json!({ "kind": kind, "status": "accepted" });
        if let Some(reason) = &s.reason {
            sup["justification"] = json!(reason);
        }
        result["suppressions"] = json!([sup]);
    }
    result
}

/// `kind/namespace/name`, or `kind/name` for cluster-scoped objects.
fn fully_qualified_name(o: &ObjectRef) -> String {
    match &o.namespace {
        Some(ns) => format!("{}/{}/{}", o.kind, ns, o.name),
        None => format!("{}/{}", o.kind, o.name),
    }
}

fn invocation(report: &Report<'_>) -> Value {
    let notifications: Vec<Value> = report
        .diagnostics
        .iter()
        .map(|d| {
            let mut n = json!({
                "level": match d.level {
                    DiagLevel::Error => "error",
                    DiagLevel::Warning => "warning",
                    DiagLevel::Notice => "note",
                },
                "message": { "text": d.to_string() },
            });
            let mut phys = json!({ "artifactLocation": { "uri": artifact_uri(&d.file) } });
            if let Some(p) = d.pos {
                phys["region"] = json!({ "startLine": p.line.max(1), "startColumn": p.col.max(1) });
            }
            n["locations"] = json!([{ "physicalLocation": phys }]);
            n
        })
        .collect();
    let ok = !report
        .diagnostics
        .iter()
        .any(|d| d.level == DiagLevel::Error);
    let mut inv = json!({ "executionSuccessful": ok });
    if !notifications.is_empty() {
        inv["toolExecutionNotifications"] = json!(notifications);
    }
    inv
}

pub(crate) fn to_value(report: &Report<'_>) -> Value {
    let catalog = Catalog::new(report.checks);
    let findings = sorted(report.findings, true);

    // One rule per check with results, sorted by id; the highest severity seen is the
    // fallback when the check has no metadata.
    let mut rule_ids: BTreeMap<&str, (&CheckId, Severity)> = BTreeMap::new();
    for f in &findings {
        let e = rule_ids
            .entry(f.check.as_str())
            .or_insert((&f.check, f.severity));
        e.1 = e.1.max(f.severity);
    }
    let index: BTreeMap<&str, usize> = rule_ids.keys().enumerate().map(|(i, k)| (*k, i)).collect();
    let rules: Vec<Value> = rule_ids
        .values()
        .map(|(id, sev)| rule_json(id, catalog.get(id), *sev))
        .collect();
    let mut seen: HashMap<String, usize> = HashMap::new();
    let results: Vec<Value> = findings
        .iter()
        .map(|f| {
            let fp = fingerprint(
                &f.check,
                &f.object,
                f.container.as_deref(),
                &f.location.field_path,
            );
            // Distinct results must not share a fingerprint (consumers merge them).
            let n = seen.entry(fp.clone()).or_insert(0);
            *n += 1;
            let fp = if *n == 1 { fp } else { format!("{fp}:{n}") };
            result_json(f, index[f.check.as_str()], fp)
        })
        .collect();

    json!({
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {
                "driver": {
                    "name": TOOL_NAME,
                    "version": report.tool_version,
                    "semanticVersion": report.tool_version,
                    "informationUri": INFORMATION_URI,
                    "rules": rules,
                },
            },
            "invocations": [invocation(report)],
            "columnKind": "unicodeCodePoints",
            "results": results,
        }],
    })
}

pub(crate) fn render(report: &Report<'_>, out: &mut dyn Write) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, &to_value(report))?;
    out.write_all(b"\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obj(ns: Option<&str>, name: &str) -> ObjectRef {
        ObjectRef {
            api_version: "v1".into(),
            kind: "Pod".into(),
            namespace: ns.map(str::to_owned),
            name: name.into(),
        }
    }

    #[test]
    fn fingerprint_is_stable_and_discriminating() {
        let id = CheckId::new("pss/privileged");
        let web = obj(Some("ns"), "web");
        let a = fingerprint(&id, &web, None, "spec.containers[0]");
        // FNV-1a is fixed: the same input gives the same value on every run and platform.
        assert_eq!(a, fingerprint(&id, &web, None, "spec.containers[0]"));
        assert_eq!(a.len(), 16);
        assert_ne!(a, fingerprint(&id, &web, None, "spec.containers[1]"));
        assert_ne!(a, fingerprint(&id, &web, Some("app"), "spec.containers[0]"));
        assert_ne!(
            a,
            fingerprint(&id, &obj(None, "web"), None, "spec.containers[0]")
        );
        assert_ne!(
            fingerprint(&id, &obj(Some("a"), "bc"), None, ""),
            fingerprint(&id, &obj(Some("ab"), "c"), None, "")
        );
        let other = CheckId::new("pss/hostPID");
        assert_ne!(a, fingerprint(&other, &web, None, "spec.containers[0]"));
    }

    #[test]
    fn fnv1a_matches_published_test_vectors() {
        assert_eq!(fnv1a(*b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(*b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a(*b"foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn uris() {
        assert_eq!(artifact_uri("<stdin>"), "stdin");
        assert_eq!(artifact_uri("./k8s/deploy.yaml"), "k8s/deploy.yaml");
        assert_eq!(artifact_uri("k8s\\my app#1.yaml"), "k8s/my%20app%231.yaml");
        assert_eq!(artifact_uri("/abs/x.yaml"), "file:///abs/x.yaml");
        assert_eq!(artifact_uri("C:\\x\\y.yaml"), "file:///C:/x/y.yaml");
        assert_eq!(artifact_uri("dé.yaml"), "d%C3%A9.yaml");
        assert_eq!(artifact_uri(""), "unknown");
    }

    #[test]
    fn levels_and_scores() {
        assert_eq!(level(Severity::Critical), "error");
        assert_eq!(level(Severity::Medium), "warning");
        assert_eq!(level(Severity::Info), "note");
        assert_eq!(security_severity(Severity::High), "8.0");
        assert_eq!(
            rule_name(&CheckId::new("pss/runAsNonRoot")),
            "PssRunAsNonRoot"
        );
        assert_eq!(
            rule_name(&CheckId::new("hardening/read-only-root-filesystem")),
            "HardeningReadOnlyRootFilesystem"
        );
    }
}
