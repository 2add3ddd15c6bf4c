//! Structural checks of every format: the output parses with an independent reader and says
//! what the fixture says (counts, identities, escaped text read back unchanged).

mod common;

use common::{Fixture, finding, obj, render_to_string};
use palisade_model::yaml::{Limits, parse_stream};
use palisade_model::{Finding, Node, Severity, SuppressedBy};
use palisade_report::{Format, RenderOptions, Report, render, render_checks};
use quick_xml::events::Event;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

fn active(fs: &[Finding]) -> usize {
    fs.iter().filter(|f| f.suppressed.is_none()).count()
}

fn json_of(format: Format, report: &Report<'_>) -> Value {
    serde_json::from_str(&render_to_string(format, report, false)).expect("valid JSON")
}

// ---------------------------------------------------------------- JSON

#[test]
fn json_summary_matches_findings() {
    let fx = Fixture::new();
    let v = json_of(Format::Json, &fx.report(false));
    let s = &v["summary"];
    assert_eq!(s["files"], 4);
    assert_eq!(s["objects"], 9);
    assert_eq!(s["findings"], active(&fx.findings));
    assert_eq!(s["suppressed"], fx.findings.len() - active(&fx.findings));
    assert_eq!(s["inputErrors"], 1);
    for sev in Severity::ALL {
        let expected = fx
            .findings
            .iter()
            .filter(|f| f.suppressed.is_none() && f.severity == sev)
            .count();
        assert_eq!(s["bySeverity"][sev.as_str()], expected, "{sev}");
    }
    let listed = v["findings"].as_array().unwrap();
    assert_eq!(listed.len(), active(&fx.findings));
    assert!(listed.iter().all(|f| f["suppressed"].is_null()));
    assert_eq!(
        v["diagnostics"].as_array().unwrap().len(),
        fx.diagnostics.len()
    );
}

#[test]
fn json_show_suppressed_lists_them_with_reason() {
    let fx = Fixture::new();
    let v = json_of(Format::Json, &fx.report(true));
    let listed = v["findings"].as_array().unwrap();
    assert_eq!(listed.len(), fx.findings.len());
    let supp: Vec<&Value> = listed
        .iter()
        .filter(|f| !f["suppressed"].is_null())
        .collect();
    assert_eq!(supp.len(), fx.findings.len() - active(&fx.findings));
    let by_annotation = supp
        .iter()
        .find(|f| f["suppressed"]["by"] == "annotation")
        .unwrap();
    assert_eq!(
        by_annotation["suppressed"]["reason"],
        "debug pod, see <JIRA-1> & \"co\""
    );
}

#[test]
fn json_round_trips_and_keeps_text() {
    let fx = Fixture::new();
    let text = render_to_string(Format::Json, &fx.report(true), false);
    let v: Value = serde_json::from_str(&text).unwrap();
    // One finding or diagnostic per line, each a JSON document of its own.
    let lines: Vec<Value> = text
        .lines()
        .filter(|l| l.starts_with("    {"))
        .map(|l| serde_json::from_str(l.trim_end_matches(',')).unwrap())
        .collect();
    let listed: Vec<&Value> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .chain(v["diagnostics"].as_array().unwrap())
        .collect();
    assert_eq!(lines.iter().collect::<Vec<_>>(), listed);
    let messages: BTreeSet<&str> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["message"].as_str().unwrap())
        .collect();
    let expected: BTreeSet<&str> = fx.findings.iter().map(|f| f.message.as_str()).collect();
    assert_eq!(messages, expected);
}

/// A small JSON Schema validator covering what `schema/report.schema.json` uses.
fn validate(schema: &Value, root: &Value, v: &Value, path: &str, errors: &mut Vec<String>) {
    if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
        let mut target = root;
        for part in r.trim_start_matches("#/").split('/') {
            target = &target[part];
        }
        assert!(!target.is_null(), "dangling $ref {r}");
        return validate(target, root, v, path, errors);
    }
    if let Some(alts) = schema.get("oneOf").and_then(Value::as_array) {
        let ok = alts
            .iter()
            .filter(|alt| {
                let mut e = Vec::new();
                validate(alt, root, v, path, &mut e);
                e.is_empty()
            })
            .count();
        if ok != 1 {
            errors.push(format!("{path}: matches {ok} of oneOf"));
        }
    }
    if let Some(t) = schema.get("type") {
        let types: Vec<&str> = match t {
            Value::String(s) => vec![s.as_str()],
            Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
            _ => vec![],
        };
        let actual = match v {
            Value::Null => "null",
            Value::Bool(_) => "boolean",
            Value::Number(n) if n.is_u64() || n.is_i64() => "integer",
            Value::Number(_) => "number",
            Value::String(_) => "string",
            Value::Array(_) => "array",
            Value::Object(_) => "object",
        };
        let number_ok = actual == "integer" && types.contains(&"number");
        if !(types.contains(&actual) || number_ok) {
            errors.push(format!("{path}: {actual} is not {types:?}"));
            return;
        }
    }
    if let Some(e) = schema.get("enum").and_then(Value::as_array)
        && !e.contains(v)
    {
        errors.push(format!("{path}: {v} not in enum"));
    }
    if let (Some(min), Some(n)) = (schema.get("minimum").and_then(Value::as_i64), v.as_i64())
        && n < min
    {
        errors.push(format!("{path}: {n} < {min}"));
    }
    if let Value::Object(map) = v {
        for req in schema
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if !map.contains_key(req.as_str().unwrap()) {
                errors.push(format!("{path}: missing {req}"));
            }
        }
        let props = schema.get("properties").and_then(Value::as_object);
        for (k, child) in map {
            match props.and_then(|p| p.get(k)) {
                Some(s) => validate(s, root, child, &format!("{path}.{k}"), errors),
                None if schema.get("additionalProperties") == Some(&Value::Bool(false)) => {
                    errors.push(format!("{path}: undocumented key {k}"))
                }
                None => {}
            }
        }
    }
    if let (Value::Array(items), Some(s)) = (v, schema.get("items")) {
        for (i, item) in items.iter().enumerate() {
            validate(s, root, item, &format!("{path}[{i}]"), errors);
        }
    }
}

fn report_schema() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/schema/report.schema.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn json_matches_its_published_schema() {
    let schema = report_schema();
    let fx = Fixture::new();
    for show in [false, true] {
        let v = json_of(Format::Json, &fx.report(show));
        let mut errors = Vec::new();
        validate(&schema, &schema, &v, "$", &mut errors);
        assert!(errors.is_empty(), "{errors:#?}");
    }
}

#[test]
fn schema_validator_rejects_drift() {
    // The validator must notice an undocumented key, a missing key and a bad enum value,
    // otherwise the test above proves nothing.
    let schema = report_schema();
    let fx = Fixture::new();
    let mut v = json_of(Format::Json, &fx.report(true));
    v["findings"][0]["extra"] = Value::Bool(true);
    v["summary"].as_object_mut().unwrap().remove("inputErrors");
    v["findings"][1]["severity"] = "urgent".into();
    v["findings"][2]["line"] = 0.into();
    let mut errors = Vec::new();
    validate(&schema, &schema, &v, "$", &mut errors);
    assert_eq!(errors.len(), 4, "{errors:#?}");
}

#[test]
fn schema_doc_mentions_every_schema_key() {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/SCHEMA.md")).unwrap();
    fn keys(v: &Value, out: &mut BTreeSet<String>) {
        if let Some(props) = v.get("properties").and_then(Value::as_object) {
            for (k, child) in props {
                out.insert(k.clone());
                keys(child, out);
            }
        }
        for k in ["items", "$defs"] {
            if let Some(child) = v.get(k) {
                keys(child, out);
                if let Some(m) = child.as_object() {
                    for c in m.values() {
                        keys(c, out);
                    }
                }
            }
        }
        if let Some(alts) = v.get("oneOf").and_then(Value::as_array) {
            alts.iter().for_each(|a| keys(a, out));
        }
    }
    let mut all = BTreeSet::new();
    keys(&report_schema(), &mut all);
    assert!(all.len() > 30, "walked the schema: {all:?}");
    for k in all {
        assert!(
            doc.contains(&format!("`{k}`")),
            "SCHEMA.md does not document `{k}`"
        );
    }
}

// ---------------------------------------------------------------- SARIF

#[test]
fn sarif_has_required_fields_and_valid_regions() {
    let fx = Fixture::new();
    let v = json_of(Format::Sarif, &fx.report(false));
    assert_eq!(v["version"], "2.1.0");
    assert!(
        v["$schema"]
            .as_str()
            .unwrap()
            .ends_with("sarif-schema-2.1.0.json")
    );
    let runs = v["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 1);
    let driver = &runs[0]["tool"]["driver"];
    assert_eq!(driver["name"], "palisade");
    assert_eq!(driver["version"], "0.1.0-test");
    let rules = driver["rules"].as_array().unwrap();
    let rule_ids: Vec<&str> = rules.iter().map(|r| r["id"].as_str().unwrap()).collect();
    let used: BTreeSet<&str> = fx.findings.iter().map(|f| f.check.as_str()).collect();
    assert_eq!(rule_ids.iter().copied().collect::<BTreeSet<_>>(), used);
    for r in rules {
        let score: f64 = r["properties"]["security-severity"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((0.0..=10.0).contains(&score));
        assert!(r["shortDescription"]["text"].is_string());
    }

    // SARIF keeps suppressed results, marked, even without show_suppressed.
    let results = runs[0]["results"].as_array().unwrap();
    assert_eq!(results.len(), fx.findings.len());
    let mut suppressed = 0;
    for r in results {
        assert!(r["message"]["text"].is_string());
        let idx = r["ruleIndex"].as_u64().unwrap() as usize;
        assert_eq!(rules[idx]["id"], r["ruleId"]);
        assert!(["error", "warning", "note"].contains(&r["level"].as_str().unwrap()));
        let region = &r["locations"][0]["physicalLocation"]["region"];
        assert!(region["startLine"].as_u64().unwrap() >= 1);
        assert!(region["startColumn"].as_u64().unwrap() >= 1);
        let uri = r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
            .as_str()
            .unwrap();
        assert!(!uri.contains(['<', '>', ' ', '\\']), "{uri}");
        assert_eq!(r["locations"][0]["logicalLocations"][0]["kind"], "resource");
        if let Some(s) = r.get("suppressions") {
            suppressed += 1;
            let kind = s[0]["kind"].as_str().unwrap();
            assert!(kind == "inSource" || kind == "external");
        }
    }
    assert_eq!(suppressed, fx.findings.len() - active(&fx.findings));
    let stdin = results
        .iter()
        .find(|r| r["ruleId"] == "pss/hostPID")
        .unwrap();
    assert_eq!(
        stdin["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
        "stdin"
    );
    let annotated = results
        .iter()
        .find(|r| r["suppressions"][0]["kind"] == "inSource")
        .unwrap();
    assert_eq!(
        annotated["suppressions"][0]["justification"],
        "debug pod, see <JIRA-1> & \"co\""
    );
    // An input error makes the run unsuccessful.
    assert_eq!(runs[0]["invocations"][0]["executionSuccessful"], false);
}

#[test]
fn sarif_levels_follow_severity() {
    let fx = Fixture::new();
    let v = json_of(Format::Sarif, &fx.report(false));
    let results = v["runs"][0]["results"].as_array().unwrap();
    for (r, f) in results.iter().zip(sorted_like_output(&fx.findings)) {
        assert_eq!(r["ruleId"], f.check.as_str());
        let expected = match f.severity {
            Severity::Critical | Severity::High => "error",
            Severity::Medium => "warning",
            Severity::Low | Severity::Info => "note",
        };
        assert_eq!(r["level"], expected, "{}", f.check);
    }
}

fn sorted_like_output(fs: &[Finding]) -> Vec<&Finding> {
    let mut v: Vec<&Finding> = fs.iter().collect();
    v.sort_by(|a, b| {
        (
            &a.location.file,
            a.location.line,
            a.location.column,
            a.check.as_str(),
        )
            .cmp(&(
                &b.location.file,
                b.location.line,
                b.location.column,
                b.check.as_str(),
            ))
    });
    v
}

#[test]
fn sarif_fingerprints_are_stable_and_ignore_lines() {
    let fx = Fixture::new();
    let prints = |findings: &[Finding]| -> Vec<String> {
        let report = Report {
            findings,
            ..fx.report(false)
        };
        let v = json_of(Format::Sarif, &report);
        v["runs"][0]["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                r["partialFingerprints"]["palisade/v1"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .collect()
    };
    let a = prints(&fx.findings);
    assert_eq!(a.iter().collect::<BTreeSet<_>>().len(), a.len(), "unique");
    // Moving every finding down ten lines (an edit above the object) keeps every fingerprint.
    let moved: Vec<Finding> = fx
        .findings
        .iter()
        .cloned()
        .map(|mut f| {
            f.location.line += 10;
            f
        })
        .collect();
    let b = prints(&moved);
    assert_eq!(
        a.iter().collect::<BTreeSet<_>>(),
        b.iter().collect::<BTreeSet<_>>()
    );
}

#[test]
fn sarif_repeated_identity_gets_distinct_fingerprints() {
    let fx = Fixture::new();
    // Two findings of one check at the same field of the same object (different messages).
    let mut twice = vec![fx.findings[0].clone(), fx.findings[0].clone()];
    twice[1].message.push_str(" (again)");
    let report = Report {
        findings: &twice,
        ..fx.report(false)
    };
    let v = json_of(Format::Sarif, &report);
    let fps: Vec<&str> = v["runs"][0]["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["partialFingerprints"]["palisade/v1"].as_str().unwrap())
        .collect();
    assert_eq!(fps.len(), 2);
    assert_eq!(fps[1], format!("{}:2", fps[0]));
}

#[test]
fn sarif_without_input_errors_is_successful_and_has_no_notifications() {
    let fx = Fixture::new();
    let report = Report {
        diagnostics: &[],
        ..fx.report(false)
    };
    let v = json_of(Format::Sarif, &report);
    let inv = &v["runs"][0]["invocations"][0];
    assert_eq!(inv["executionSuccessful"], true);
    assert!(inv.get("toolExecutionNotifications").is_none());
}

// ---------------------------------------------------------------- JUnit

struct Xml {
    /// element name → attribute maps, in document order.
    elements: Vec<(String, BTreeMap<String, String>)>,
    /// text content of `failure` elements.
    failure_bodies: Vec<String>,
}

fn parse_xml(text: &str) -> Xml {
    let mut reader = quick_xml::Reader::from_str(text);
    let mut elements = Vec::new();
    let mut failure_bodies = Vec::new();
    let mut in_failure = false;
    loop {
        match reader.read_event().expect("well-formed XML") {
            Event::Start(e) | Event::Empty(e) => {
                let name = String::from_utf8(e.name().as_ref().to_vec()).unwrap();
                let attrs = e
                    .attributes()
                    .map(|a| {
                        let a = a.expect("valid attribute");
                        let key = String::from_utf8(a.key.as_ref().to_vec()).unwrap();
                        let value = a.unescape_value().expect("valid escapes").into_owned();
                        (key, value)
                    })
                    .collect();
                in_failure = name == "failure";
                if in_failure {
                    failure_bodies.push(String::new());
                }
                elements.push((name, attrs));
            }
            Event::Text(t) if in_failure => {
                let s = t.decode().unwrap();
                let s = quick_xml::escape::unescape(&s).unwrap();
                failure_bodies.last_mut().unwrap().push_str(&s);
            }
            Event::GeneralRef(r) if in_failure => {
                let body = failure_bodies.last_mut().unwrap();
                match r.resolve_char_ref().expect("valid character reference") {
                    Some(c) => body.push(c),
                    None => {
                        let name = r.decode().unwrap();
                        let c = quick_xml::escape::resolve_predefined_entity(&name)
                            .expect("known entity");
                        body.push_str(c);
                    }
                }
            }
            Event::End(e) if e.name().as_ref() == b"failure" => in_failure = false,
            Event::Eof => break,
            _ => {}
        }
    }
    Xml {
        elements,
        failure_bodies,
    }
}

fn attr<'a>(el: &'a (String, BTreeMap<String, String>), k: &str) -> &'a str {
    el.1.get(k).map_or("", String::as_str)
}

#[test]
fn junit_is_well_formed_and_counts_match() {
    let fx = Fixture::new();
    for show in [false, true] {
        let text = render_to_string(Format::Junit, &fx.report(show), false);
        let xml = parse_xml(&text);
        let root = &xml.elements[0];
        assert_eq!(root.0, "testsuites");
        let count = |name: &str| xml.elements.iter().filter(|e| e.0 == name).count();
        assert_eq!(
            attr(root, "tests").parse::<usize>().unwrap(),
            count("testcase")
        );
        assert_eq!(
            attr(root, "failures").parse::<usize>().unwrap(),
            count("failure")
        );
        assert_eq!(
            attr(root, "skipped").parse::<usize>().unwrap(),
            count("skipped")
        );
        // One suite per check with findings shown; one case per (check, object).
        let shown: Vec<&Finding> = fx
            .findings
            .iter()
            .filter(|f| show || f.suppressed.is_none())
            .collect();
        let checks: BTreeSet<&str> = shown.iter().map(|f| f.check.as_str()).collect();
        assert_eq!(count("testsuite"), checks.len());
        let cases: BTreeSet<(&str, String, bool)> = shown
            .iter()
            .map(|f| {
                (
                    f.check.as_str(),
                    f.object.to_string(),
                    f.suppressed.is_some(),
                )
            })
            .collect();
        assert_eq!(count("testcase"), cases.len());
        assert_eq!(count("skipped"), cases.iter().filter(|c| c.2).count());
        for suite in xml.elements.iter().filter(|e| e.0 == "testsuite") {
            assert!(checks.contains(attr(suite, "name")));
        }
    }
}

#[test]
fn junit_escaping_reads_back_unchanged() {
    let fx = Fixture::new();
    let text = render_to_string(Format::Junit, &fx.report(true), false);
    let xml = parse_xml(&text);
    let special = "container \"app\" is privileged <&\"'>";
    let failure = xml
        .elements
        .iter()
        .find(|e| e.0 == "failure" && attr(e, "message").starts_with(special))
        .expect("failure with the special message");
    assert_eq!(attr(failure, "message"), format!("{special} (and 1 more)"));
    assert!(xml.failure_bodies.iter().any(|b| b.contains(special)));
    let skipped = xml
        .elements
        .iter()
        .find(|e| e.0 == "skipped" && attr(e, "message").contains("annotation"))
        .unwrap();
    assert_eq!(
        attr(skipped, "message"),
        "suppressed by annotation: debug pod, see <JIRA-1> & \"co\""
    );
    let stdin_case = xml
        .elements
        .iter()
        .find(|e| e.0 == "testcase" && attr(e, "classname") == "pss/hostPID")
        .unwrap();
    assert_eq!(attr(stdin_case, "file"), "<stdin>");
}

// ---------------------------------------------------------------- PolicyReport

fn parse_docs(text: &str) -> Vec<Node> {
    parse_stream(text, &Limits::default())
        .into_iter()
        .map(|d| d.expect("valid YAML").root.expect("non-empty document"))
        .collect()
}

fn int(n: &Node, path: &[&str]) -> usize {
    n.at(path).and_then(Node::as_i64).expect("integer") as usize
}

#[test]
fn policyreport_parses_back_and_counts_match() {
    let fx = Fixture::new();
    let text = render_to_string(Format::PolicyReport, &fx.report(false), false);
    let docs = parse_docs(&text);
    let namespaces: BTreeSet<&str> = fx
        .findings
        .iter()
        .filter_map(|f| f.object.namespace.as_deref())
        .collect();
    assert_eq!(docs.len(), namespaces.len() + 1);
    let (mut fail, mut skip, mut results) = (0, 0, 0);
    for d in &docs {
        assert_eq!(
            d.get("apiVersion").unwrap().as_str(),
            Some("wgpolicyk8s.io/v1alpha2")
        );
        let kind = d.get("kind").unwrap().as_str().unwrap();
        let ns = d.at(&["metadata", "namespace"]).and_then(Node::as_str);
        match kind {
            "PolicyReport" => {
                let ns = ns.expect("namespaced report has a namespace");
                assert!(namespaces.contains(ns));
                assert_eq!(
                    d.at(&["metadata", "name"]).unwrap().as_str().unwrap(),
                    format!("palisade-{ns}")
                );
            }
            "ClusterPolicyReport" => assert!(ns.is_none()),
            other => panic!("unexpected kind {other}"),
        }
        let items = d.get("results").unwrap().items();
        let f = int(d, &["summary", "fail"]);
        let s = int(d, &["summary", "skip"]);
        assert_eq!(f + s, items.len());
        let verdicts = |v: &str| {
            items
                .iter()
                .filter(|r| r.get("result").unwrap().as_str() == Some(v))
                .count()
        };
        assert_eq!(verdicts("fail"), f);
        assert_eq!(verdicts("skip"), s);
        for r in items {
            assert!(r.get("policy").unwrap().as_str().is_some());
            assert_eq!(r.get("scored").unwrap().as_bool(), Some(true));
            let res = &r.get("resources").unwrap().items()[0];
            assert_eq!(res.get("namespace").and_then(Node::as_str), ns);
        }
        fail += f;
        skip += s;
        results += items.len();
    }
    assert_eq!(fail, active(&fx.findings));
    assert_eq!(skip, fx.findings.len() - active(&fx.findings));
    assert_eq!(results, fx.findings.len());
}

#[test]
fn policyreport_strings_read_back_unchanged() {
    let fx = Fixture::new();
    let text = render_to_string(Format::PolicyReport, &fx.report(false), false);
    let docs = parse_docs(&text);
    let messages: BTreeSet<String> = docs
        .iter()
        .flat_map(|d| d.get("results").unwrap().items().to_vec())
        .map(|r| r.get("message").unwrap().as_str().unwrap().to_owned())
        .collect();
    let expected: BTreeSet<String> = fx.findings.iter().map(|f| f.message.clone()).collect();
    assert_eq!(messages, expected);
    // Properties are strings (map[string]string), including numbers.
    let line = docs[0].get("results").unwrap().items()[0]
        .at(&["properties", "line"])
        .unwrap();
    assert!(
        line.as_string_value().is_some(),
        "line must be a quoted string"
    );
}

// ---------------------------------------------------------------- all formats

fn hostile_findings() -> Vec<Finding> {
    let o = obj("v1", "Pod", Some("ns\u{1b}[2J"), "na'me\"<x>");
    let nasty = "esc \u{1b}[31mred\u{1b}[0m nul \u{0} nl \n tab \t bom \u{feff} ls \u{2028} \
                 del \u{7f} c1 \u{85}\u{9b} bidi \u{202e} astral \u{1f600} yes: no # & < > \\";
    vec![
        finding(
            "x/y: z",
            Severity::High,
            &o,
            Some("c"),
            "dir with space/é.yaml",
            (1, 1),
            "spec.containers[0]",
            nasty,
        ),
        common::suppressed(
            finding(
                "x/y: z",
                Severity::Low,
                &obj("v1", "Node", None, "n"),
                None,
                "<stdin>",
                (2, 2),
                "",
                "--- ...",
            ),
            SuppressedBy::Annotation,
            Some(nasty),
        ),
    ]
}

fn hostile_report(findings: &[Finding]) -> Report<'_> {
    Report {
        findings,
        checks: &[],
        diagnostics: &[],
        files_scanned: 1,
        objects_scanned: 2,
        show_suppressed: true,
        tool_version: "0",
    }
}

#[test]
fn hostile_text_stays_inert_in_human_output() {
    let fs = hostile_findings();
    let text = render_to_string(Format::Human, &hostile_report(&fs), false);
    assert!(!text.contains('\u{1b}'), "no raw escape sequences");
    assert!(!text.contains('\u{0}') && !text.contains('\u{202e}') && !text.contains('\u{9b}'));
    assert!(text.contains("\\u{1b}[31mred"));
    // Each finding stays on its own line: the embedded newline is escaped.
    assert!(text.contains(" nl \\n tab "));
}

#[test]
fn hostile_text_round_trips_through_machine_formats() {
    let fs = hostile_findings();
    let report = hostile_report(&fs);
    let nasty = fs[0].message.as_str();

    // Output is sorted by file: `<stdin>` sorts before `dir with space/...`.
    let v = json_of(Format::Json, &report);
    assert_eq!(v["findings"][1]["message"], nasty);
    assert_eq!(v["findings"][1]["object"]["name"], "na'me\"<x>");
    assert_eq!(v["findings"][0]["suppressed"]["reason"], nasty);

    let v = json_of(Format::Sarif, &report);
    let r = &v["runs"][0]["results"][1];
    assert_eq!(r["message"]["text"], nasty);
    assert_eq!(
        r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
        "dir%20with%20space/%C3%A9.yaml"
    );
    assert_eq!(
        r["locations"][0]["logicalLocations"][0]["fullyQualifiedName"],
        "Pod/ns\u{1b}[2J/na'me\"<x>"
    );

    let docs = parse_docs(&render_to_string(Format::PolicyReport, &report, false));
    let results: Vec<Node> = docs
        .iter()
        .flat_map(|d| d.get("results").unwrap().items().to_vec())
        .collect();
    let got: Vec<&str> = results
        .iter()
        .map(|r| r.get("message").unwrap().as_str().unwrap())
        .collect();
    assert!(got.contains(&nasty), "{got:?}");
    assert!(got.contains(&"--- ..."));
    let reason = results
        .iter()
        .find_map(|r| r.at(&["properties", "suppressionReason"]))
        .unwrap();
    assert_eq!(reason.as_str(), Some(nasty));

    // XML cannot carry NUL or the C0 controls; everything else must read back unchanged.
    let xml = parse_xml(&render_to_string(Format::Junit, &report, false));
    let failure = xml.elements.iter().find(|e| e.0 == "failure").unwrap();
    let expected: String = nasty
        .chars()
        .map(|c| {
            if c < ' ' && !matches!(c, '\t' | '\n' | '\r') {
                '\u{fffd}'
            } else {
                c
            }
        })
        .collect();
    assert_eq!(attr(failure, "message"), expected);
}

#[test]
fn empty_report_is_valid_in_every_format() {
    let report = Report {
        findings: &[],
        checks: &[],
        diagnostics: &[],
        files_scanned: 0,
        objects_scanned: 0,
        show_suppressed: false,
        tool_version: "0",
    };
    let human = render_to_string(Format::Human, &report, false);
    assert!(human.starts_with("No findings."), "{human}");
    let v = json_of(Format::Json, &report);
    assert_eq!(v["findings"], Value::Array(vec![]));
    let v = json_of(Format::Sarif, &report);
    assert_eq!(v["runs"][0]["results"], Value::Array(vec![]));
    assert_eq!(
        v["runs"][0]["tool"]["driver"]["rules"],
        Value::Array(vec![])
    );
    let xml = parse_xml(&render_to_string(Format::Junit, &report, false));
    assert_eq!(xml.elements.iter().filter(|e| e.0 == "testcase").count(), 1);
    assert_eq!(xml.elements.iter().filter(|e| e.0 == "failure").count(), 0);
    let docs = parse_docs(&render_to_string(Format::PolicyReport, &report, false));
    assert_eq!(docs.len(), 1);
    assert_eq!(
        docs[0].get("kind").unwrap().as_str(),
        Some("ClusterPolicyReport")
    );
    assert!(docs[0].get("results").unwrap().items().is_empty());
}

#[test]
fn color_only_when_asked() {
    let fx = Fixture::new();
    let plain = render_to_string(Format::Human, &fx.report(true), false);
    let colored = render_to_string(Format::Human, &fx.report(true), true);
    assert!(!plain.contains('\u{1b}'));
    assert!(colored.contains("\u{1b}["));
    for f in [
        Format::Json,
        Format::Sarif,
        Format::Junit,
        Format::PolicyReport,
    ] {
        assert_eq!(
            render_to_string(f, &fx.report(true), true),
            render_to_string(f, &fx.report(true), false),
            "{f} ignores colour"
        );
    }
}

#[test]
fn output_is_deterministic_regardless_of_input_order() {
    let fx = Fixture::new();
    let mut reversed = fx.findings.clone();
    reversed.reverse();
    for f in Format::ALL {
        let a = render_to_string(f, &fx.report(true), false);
        let b = render_to_string(
            f,
            &Report {
                findings: &reversed,
                ..fx.report(true)
            },
            false,
        );
        assert_eq!(a, b, "{f}");
    }
}

struct FailingWriter;

impl std::io::Write for FailingWriter {
    fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
        Err(std::io::Error::new(
            std::io::ErrorKind::BrokenPipe,
            "closed",
        ))
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn write_errors_are_returned() {
    let fx = Fixture::new();
    for f in Format::ALL {
        let err = render(
            f,
            &fx.report(false),
            &mut FailingWriter,
            &RenderOptions::default(),
        )
        .unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::BrokenPipe);
    }
}

// ---------------------------------------------------------------- checks

#[test]
fn checks_json_lists_full_metadata() {
    let checks = common::checks();
    let mut out = Vec::new();
    render_checks(Format::Json, &checks, &mut out, &RenderOptions::default()).unwrap();
    let v: Value = serde_json::from_slice(&out).unwrap();
    let arr = v.as_array().unwrap();
    assert_eq!(arr.len(), checks.len());
    for (j, c) in arr.iter().zip(&checks) {
        assert_eq!(j["id"], c.id.as_str());
        assert_eq!(j["severity"], c.severity.as_str());
        assert_eq!(j["remediation"], c.remediation.as_ref());
        for k in ["title", "category", "rationale", "references"] {
            assert!(j.get(k).is_some(), "{k}");
        }
    }
}

#[test]
fn checks_human_groups_by_family_and_rejects_other_formats() {
    let checks = common::checks();
    let mut out = Vec::new();
    render_checks(Format::Human, &checks, &mut out, &RenderOptions::default()).unwrap();
    let text = String::from_utf8(out).unwrap();
    for c in &checks {
        let line = text
            .lines()
            .find(|l| l.starts_with(c.id.as_str()))
            .unwrap_or_else(|| panic!("{} listed", c.id));
        assert!(line.contains(&c.severity.as_str().to_ascii_uppercase()));
        assert!(line.ends_with(c.title.as_ref()));
    }
    // Title column aligned: every check line has its title at the same offset.
    let offsets: BTreeSet<usize> = checks
        .iter()
        .map(|c| {
            let line = text.lines().find(|l| l.starts_with(c.id.as_str())).unwrap();
            line.find(c.title.as_ref()).unwrap()
        })
        .collect();
    assert_eq!(offsets.len(), 1);
    for f in [Format::Sarif, Format::Junit, Format::PolicyReport] {
        let err =
            render_checks(f, &checks, &mut Vec::new(), &RenderOptions::default()).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::Unsupported);
    }
}

#[test]
fn human_prints_short_remediations_once_and_points_to_long_ones() {
    let mut checks = common::checks();
    let long: String = (0..12).map(|i| format!("line{i}: x\n")).collect();
    checks
        .iter_mut()
        .find(|c| c.id.as_str() == "pss/hostPID")
        .unwrap()
        .remediation = long.into();
    let findings = common::findings();
    let report = Report {
        findings: &findings,
        checks: &checks,
        diagnostics: &[],
        files_scanned: 1,
        objects_scanned: 1,
        show_suppressed: false,
        tool_version: "0",
    };
    let text = render_to_string(Format::Human, &report, false);
    assert!(!text.contains("line0: x"), "{text}");
    assert!(text.contains("a 12-line example, see `palisade checks -o json` (pss/hostPID)"));
    // pss/privileged has two findings; its short remediation is printed once.
    assert_eq!(text.matches("privileged: false").count(), 1);
    // Read-only root filesystem and privileged in full, hostPID as a pointer; the RBAC check
    // has an empty remediation and the custom check no metadata.
    assert_eq!(text.matches("remediation:").count(), 3);
}
