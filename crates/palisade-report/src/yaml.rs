//! A small block-style YAML emitter for JSON values (used for PolicyReport documents).
//!
//! Strings are written plain only when they cannot be read back as anything but the same
//! string under YAML 1.1 or 1.2 rules; everything else is double-quoted with escapes for every
//! character YAML does not allow raw.

use serde_json::Value;
use std::fmt::Write as _;

/// Appends `v` as a YAML document body (no `---`) to `out`.
pub(crate) fn emit(out: &mut String, v: &Value) {
    match v {
        Value::Object(m) if !m.is_empty() => emit_map(out, m, 0),
        Value::Array(a) if !a.is_empty() => emit_seq(out, a, 0),
        scalar => {
            out.push_str(&inline(scalar));
            out.push('\n');
        }
    }
}

fn indent(out: &mut String, n: usize) {
    for _ in 0..n {
        out.push(' ');
    }
}

/// Whether a value is written on the same line as its key or dash.
fn is_inline(v: &Value) -> bool {
    match v {
        Value::Object(m) => m.is_empty(),
        Value::Array(a) => a.is_empty(),
        _ => true,
    }
}

/// A scalar, `{}` or `[]` as text.
fn inline(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => string(s),
        Value::Object(_) => "{}".into(),
        Value::Array(_) => "[]".into(),
    }
}

fn emit_map(out: &mut String, m: &serde_json::Map<String, Value>, level: usize) {
    for (k, v) in m {
        indent(out, level);
        emit_entry(out, k, v, level);
    }
}

/// `key: value` at the current position (indentation already written).
fn emit_entry(out: &mut String, k: &str, v: &Value, level: usize) {
    out.push_str(&string(k));
    out.push(':');
    if is_inline(v) {
        out.push(' ');
        out.push_str(&inline(v));
        out.push('\n');
    } else {
        out.push('\n');
        match v {
            Value::Object(m) => emit_map(out, m, level + 2),
            Value::Array(a) => emit_seq(out, a, level + 2),
            _ => unreachable!("is_inline covers scalars"),
        }
    }
}

fn emit_seq(out: &mut String, a: &[Value], level: usize) {
    for item in a {
        indent(out, level);
        match item {
            Value::Object(m) if !m.is_empty() => {
                out.push_str("- ");
                // The first entry shares the dash's line; the rest align under it.
                let mut entries = m.iter();
                if let Some((k, v)) = entries.next() {
                    emit_entry(out, k, v, level + 2);
                }
                for (k, v) in entries {
                    indent(out, level + 2);
                    emit_entry(out, k, v, level + 2);
                }
            }
            Value::Array(inner) if !inner.is_empty() => {
                out.push_str("-\n");
                emit_seq(out, inner, level + 2);
            }
            scalar => {
                out.push_str("- ");
                out.push_str(&inline(scalar));
                out.push('\n');
            }
        }
    }
}

/// Words that some YAML version reads as a null or boolean.
const RESERVED: &[&str] = &[
    "null", "~", "true", "false", "yes", "no", "on", "off", "y", "n",
];

/// Whether `s` can be written as a plain scalar and read back as the same string.
fn plain_ok(s: &str) -> bool {
    let Some(first) = s.chars().next() else {
        return false;
    };
    first.is_ascii_alphabetic()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/'))
        && !RESERVED.contains(&s.to_ascii_lowercase().as_str())
    // `.inf`/`.nan` start with a dot and are excluded above; sexagesimal and other
    // number forms start with a digit or sign, also excluded.
}

/// A string as a YAML scalar.
pub(crate) fn string(s: &str) -> String {
    if plain_ok(s) {
        return s.to_string();
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
            c if printable(c) => out.push(c),
            c if (c as u32) <= 0xff => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if (c as u32) <= 0xffff => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => {
                let _ = write!(out, "\\U{:08x}", c as u32);
            }
        }
    }
    out.push('"');
    out
}

/// The `c-printable` production of YAML 1.2, minus the byte-order mark.
fn printable(c: char) -> bool {
    matches!(c,
        '\u{20}'..='\u{7e}'
        | '\u{85}'
        | '\u{a0}'..='\u{d7ff}'
        | '\u{e000}'..='\u{fefe}'
        | '\u{ff00}'..='\u{fffd}'
        | '\u{10000}'..='\u{10ffff}')
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn quoting() {
        assert_eq!(string("pss/privileged"), "pss/privileged");
        for s in [
            "yes", "No", "null", "", "1.0", "0x1f", "-", "a: b", "#x", " lead", "12", "é",
        ] {
            assert!(string(s).starts_with('"'), "{s} must be quoted");
        }
        assert_eq!(
            string("a\"b\\c\nd\u{1b}\u{feff}"),
            r#""a\"b\\c\nd\x1b\ufeff""#
        );
    }

    #[test]
    fn block_layout() {
        let mut out = String::new();
        emit(
            &mut out,
            &json!({"a": 1, "b": {"c": [], "d": [{"e": "x", "f": {"g": true}}, "s", [1]]}, "h": {}}),
        );
        assert_eq!(
            out,
            "a: 1\nb:\n  c: []\n  d:\n    - e: x\n      f:\n        g: true\n    - s\n    -\n      - 1\nh: {}\n"
        );
    }
}
