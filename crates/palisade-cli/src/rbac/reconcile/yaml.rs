//! A block-style YAML writer for JSON values (the reconciled manifests).
//!
//! Strings are written plain only when they are made of a safe set of characters and cannot be
//! read back as anything else (null, a boolean, a number) under YAML 1.1 or 1.2; everything
//! else is double-quoted with escapes.

use serde_json::{Map, Value};

/// Appends `v` as the body of a YAML document.
pub fn document(out: &mut String, v: &Value) {
    match v {
        Value::Object(m) if !m.is_empty() => map(out, m, 0),
        Value::Array(a) if !a.is_empty() => seq(out, a, 0),
        other => {
            out.push_str(&scalar(other));
            out.push('\n');
        }
    }
}

fn pad(out: &mut String, n: usize) {
    out.extend(std::iter::repeat_n(' ', n));
}

fn nested(v: &Value) -> bool {
    match v {
        Value::Object(m) => !m.is_empty(),
        Value::Array(a) => !a.is_empty(),
        _ => false,
    }
}

fn map(out: &mut String, m: &Map<String, Value>, indent: usize) {
    for (i, (k, v)) in m.iter().enumerate() {
        // The first key of a mapping inside a sequence item follows the dash.
        if i > 0 {
            pad(out, indent);
        }
        entry(out, k, v, indent);
    }
}

fn entry(out: &mut String, k: &str, v: &Value, indent: usize) {
    out.push_str(&string(k));
    out.push(':');
    match v {
        Value::Object(m) if !m.is_empty() => {
            out.push('\n');
            pad(out, indent + 2);
            map(out, m, indent + 2);
        }
        // Sequences under a key sit at the key's indentation, as kubectl writes them.
        Value::Array(a) if !a.is_empty() => {
            out.push('\n');
            pad(out, indent);
            seq(out, a, indent);
        }
        other => {
            out.push(' ');
            out.push_str(&scalar(other));
            out.push('\n');
        }
    }
}

fn seq(out: &mut String, a: &[Value], indent: usize) {
    for (i, v) in a.iter().enumerate() {
        if i > 0 {
            pad(out, indent);
        }
        out.push_str("- ");
        match v {
            Value::Object(m) if nested(v) => map(out, m, indent + 2),
            Value::Array(inner) if nested(v) => seq(out, inner, indent + 2),
            other => {
                out.push_str(&scalar(other));
                out.push('\n');
            }
        }
    }
}

fn scalar(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => string(s),
        Value::Object(_) => "{}".into(),
        Value::Array(_) => "[]".into(),
    }
}

/// Words YAML 1.1 or 1.2 resolves to null or a boolean (compared case-insensitively).
const RESERVED: &[&str] = &[
    "null", "~", "true", "false", "yes", "no", "on", "off", "y", "n",
];

fn plain_ok(s: &str) -> bool {
    let Some(first) = s.chars().next() else {
        return false;
    };
    if !(first.is_ascii_alphabetic() || first == '/' || first == '_') {
        return false;
    }
    if RESERVED.iter().any(|r| r.eq_ignore_ascii_case(s)) {
        return false;
    }
    s.chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/'))
}

/// A string as a plain or double-quoted YAML scalar.
pub fn string(s: &str) -> String {
    if plain_ok(s) {
        return s.to_owned();
    }
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c if matches!(
                c,
                '\u{85}' | '\u{a0}' | '\u{2028}' | '\u{2029}' | '\u{feff}'
            ) =>
            {
                out.push_str(&format!("\\u{:04x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn round_trip(v: &Value) -> Value {
        let mut text = String::new();
        document(&mut text, v);
        let docs = palisade_model::yaml::parse_stream(&text, &Default::default());
        assert_eq!(docs.len(), 1, "{text}");
        let root = docs.into_iter().next().unwrap().unwrap().root.unwrap();
        root.to_json()
    }

    #[test]
    fn strings_that_need_quotes() {
        for s in [
            "",
            "*",
            "yes",
            "No",
            "null",
            "~",
            "1.0",
            "0x1f",
            "-",
            "a: b",
            "a #b",
            " x",
            "x ",
            "\"q\"",
            "back\\slash",
            "line\nbreak",
            "tab\there",
            "\u{1}",
            "/api*",
            "[x]",
            "{}",
            "é",
            "@at",
            "%p",
            "!tag",
            "&a",
            "|",
            ">",
            "'",
            ",",
            "?",
            "true",
            "TRUE",
            "on",
        ] {
            let v = json!({ s: s });
            assert_eq!(round_trip(&v), v, "{s:?}");
        }
        assert_eq!(
            string("rbac.authorization.k8s.io/autoupdate"),
            "rbac.authorization.k8s.io/autoupdate"
        );
        assert_eq!(string("*"), "\"*\"");
        assert_eq!(string("yes"), "\"yes\"");
    }

    #[test]
    fn nested_structures_round_trip() {
        let v = json!({
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": {"name": "x", "labels": {"a": "true"}, "annotations": {}},
            "rules": [
                {"verbs": ["get", "*"], "apiGroups": [""], "resources": ["pods", "*/scale"]},
                {"verbs": ["get"], "nonResourceURLs": ["/healthz", "/api*"]}
            ],
            "aggregationRule": {"clusterRoleSelectors": [
                {"matchLabels": {"x": "y"}},
                {"matchExpressions": [{"key": "k", "operator": "In", "values": ["1", "2"]}]}
            ]},
            "nested": [[1, 2], [], [{"a": null}], {}],
            "numbers": [0, -3, 1.5, true, false, null],
            "empty": [],
        });
        assert_eq!(round_trip(&v), v);
    }
}
