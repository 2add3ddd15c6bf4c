//! JUnit XML: one `<testsuite>` per check with findings, one `<testcase>` per object that
//! fails it (several findings of one check in one object share a test case).

use crate::text::{object_label, position};
use crate::xml::{escape, escape_text};
use crate::{Catalog, Counts, Report, TOOL_NAME, sorted};
use palisade_model::{Finding, ObjectRef};
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::io::{self, Write};

/// One test case: a check applied to one object.
struct Case<'a> {
    object: &'a ObjectRef,
    suppressed: bool,
    findings: Vec<&'a Finding>,
}

pub(crate) fn render(report: &Report<'_>, out: &mut dyn Write) -> io::Result<()> {
    let catalog = Catalog::new(report.checks);
    let findings = sorted(report.findings, report.show_suppressed);

    // check id → cases in order of their first finding; `slot` finds a case in O(1).
    let mut suites: BTreeMap<&str, Vec<Case<'_>>> = BTreeMap::new();
    let mut slot: HashMap<(&str, &ObjectRef, bool), usize> = HashMap::new();
    for f in &findings {
        let cases = suites.entry(f.check.as_str()).or_default();
        let suppressed = f.suppressed.is_some();
        let key = (f.check.as_str(), &f.object, suppressed);
        match slot.get(&key) {
            Some(&i) => cases[i].findings.push(f),
            None => {
                slot.insert(key, cases.len());
                cases.push(Case {
                    object: &f.object,
                    suppressed,
                    findings: vec![f],
                });
            }
        }
    }

    let mut xml = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let total: usize = suites.values().map(Vec::len).sum();
    let failures: usize = suites.values().flatten().filter(|c| !c.suppressed).count();
    let skipped = total - failures;
    let counts = Counts::of(report);

    if suites.is_empty() {
        // CI systems treat a report without tests as broken; one passing case says "clean".
        let _ = write!(
            xml,
            "<testsuites name=\"{name}\" tests=\"1\" failures=\"0\" errors=\"0\" skipped=\"0\">\n\
             \x20 <testsuite name=\"{name}\" tests=\"1\" failures=\"0\" errors=\"0\" skipped=\"0\">\n",
            name = TOOL_NAME
        );
        write_run_properties(&mut xml, report, &counts);
        let _ = write!(
            xml,
            "    <testcase name=\"no findings in {} objects\" classname=\"{TOOL_NAME}\"/>\n\
             \x20 </testsuite>\n</testsuites>\n",
            report.objects_scanned
        );
        return out.write_all(xml.as_bytes());
    }

    let _ = writeln!(
        xml,
        "<testsuites name=\"{TOOL_NAME}\" tests=\"{total}\" failures=\"{failures}\" errors=\"0\" skipped=\"{skipped}\">"
    );
    for (id, cases) in &suites {
        let suite_failures = cases.iter().filter(|c| !c.suppressed).count();
        let _ = writeln!(
            xml,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{suite_failures}\" errors=\"0\" skipped=\"{}\">",
            escape(id),
            cases.len(),
            cases.len() - suite_failures
        );
        let first = cases[0].findings[0];
        let meta = catalog.get(&first.check);
        xml.push_str("    <properties>\n");
        property(&mut xml, "title", catalog.title(&first.check));
        if let Some(m) = meta {
            property(&mut xml, "severity", m.severity.as_str());
            property(&mut xml, "category", &m.category);
        }
        xml.push_str("    </properties>\n");
        for case in cases {
            write_case(&mut xml, id, case, &catalog);
        }
        xml.push_str("  </testsuite>\n");
    }
    xml.push_str("</testsuites>\n");
    out.write_all(xml.as_bytes())
}

fn property(xml: &mut String, name: &str, value: &str) {
    let _ = writeln!(
        xml,
        "      <property name=\"{}\" value=\"{}\"/>",
        escape(name),
        escape(value)
    );
}

fn write_run_properties(xml: &mut String, report: &Report<'_>, counts: &Counts) {
    xml.push_str("    <properties>\n");
    property(xml, "files", &report.files_scanned.to_string());
    property(xml, "objects", &report.objects_scanned.to_string());
    property(xml, "suppressed", &counts.suppressed.to_string());
    property(xml, "inputErrors", &counts.input_errors.to_string());
    xml.push_str("    </properties>\n");
}

fn write_case(xml: &mut String, id: &str, case: &Case<'_>, catalog: &Catalog<'_>) {
    let first = case.findings[0];
    let mut name = object_label(case.object);
    if case.suppressed {
        name.push_str(" (suppressed)");
    }
    let line = match first.location.line {
        0 => String::new(),
        l => format!(" line=\"{l}\""),
    };
    let _ = writeln!(
        xml,
        "    <testcase name=\"{}\" classname=\"{}\" file=\"{}\"{line}>",
        escape(&name),
        escape(id),
        escape(&first.location.file),
    );
    if case.suppressed {
        let reasons: Vec<String> = case
            .findings
            .iter()
            .filter_map(|f| f.suppressed.as_ref())
            .map(|s| {
                let by = crate::json::suppressed_by(s.by);
                match &s.reason {
                    Some(r) => format!("suppressed by {by}: {r}"),
                    None => format!("suppressed by {by}"),
                }
            })
            .collect();
        let _ = writeln!(xml, "      <skipped message=\"{}\"/>", escape(&reasons[0]));
    } else {
        let message = if case.findings.len() == 1 {
            first.message.clone()
        } else {
            format!("{} (and {} more)", first.message, case.findings.len() - 1)
        };
        let mut body = String::new();
        for f in &case.findings {
            let at = position(&f.location.file, f.location.line, f.location.column);
            let field = &f.location.field_path;
            let sep = if field.is_empty() { "" } else { " " };
            let _ = writeln!(body, "{at}{sep}{field} [{}] {}", f.severity, f.message);
        }
        if let Some(m) = catalog.get(&first.check)
            && !m.remediation.trim().is_empty()
        {
            let _ = write!(body, "\nRemediation:\n{}\n", m.remediation.trim_end());
        }
        let _ = writeln!(
            xml,
            "      <failure message=\"{}\" type=\"{}\">{}</failure>",
            escape(&message),
            case.findings
                .iter()
                .map(|f| f.severity)
                .max()
                .unwrap_or(first.severity),
            escape_text(&body)
        );
    }
    xml.push_str("    </testcase>\n");
}
