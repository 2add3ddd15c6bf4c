//! A YAML/JSON value tree that remembers where every key and value came from.
//!
//! Scalars keep their source text and whether they were written plain (unquoted). Their type is
//! resolved on access, the way the API server's YAML decoder (`sigs.k8s.io/yaml`, YAML 1.1
//! rules) would resolve them for the target field: `privileged: yes` is `true` for a boolean
//! field, while `name: yes` stays the string `"yes"`.

use std::fmt;

/// A position in a source file: 1-based line and 1-based column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, serde::Serialize)]
pub struct Pos {
    /// 1-based line number.
    pub line: u32,
    /// 1-based column number.
    pub col: u32,
}

impl Pos {
    /// A position from a 1-based line and column.
    pub const fn new(line: u32, col: u32) -> Self {
        Pos { line, col }
    }
}

impl fmt::Display for Pos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.col)
    }
}

/// A scalar as written in the source.
#[derive(Debug, Clone, PartialEq)]
pub struct Scalar {
    /// The scalar's text after YAML unescaping/folding.
    pub text: Box<str>,
    /// True when the scalar was written plain (unquoted, no `!!str` tag); only plain scalars
    /// resolve to null, booleans and numbers.
    pub plain: bool,
}

/// One key of a mapping with its value.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// The key text (non-scalar keys are rendered as their JSON text).
    pub key: Box<str>,
    /// Where the key starts: the line a finding about this field points at.
    pub key_pos: Pos,
    /// The value.
    pub value: Node,
}

/// The value part of a [`Node`].
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A scalar (string, number, boolean or null, resolved on access).
    Scalar(Scalar),
    /// A sequence.
    Seq(Vec<Node>),
    /// A mapping, in source order.
    Map(Vec<Entry>),
}

/// A value with its source position.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// The value.
    pub value: Value,
    /// Where the value starts.
    pub pos: Pos,
}

/// Kind of a node, for type error messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeType {
    /// `null`, `~` or an empty value.
    Null,
    /// A boolean.
    Bool,
    /// An integer.
    Int,
    /// A floating-point number.
    Float,
    /// A string.
    String,
    /// A sequence.
    Sequence,
    /// A mapping.
    Mapping,
}

impl fmt::Display for NodeType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            NodeType::Null => "null",
            NodeType::Bool => "boolean",
            NodeType::Int => "integer",
            NodeType::Float => "number",
            NodeType::String => "string",
            NodeType::Sequence => "list",
            NodeType::Mapping => "mapping",
        })
    }
}

const NULLS: &[&str] = &["", "~", "null", "Null", "NULL"];
// YAML 1.1 booleans as go-yaml v2 (used by sigs.k8s.io/yaml) resolves them.
const TRUES: &[&str] = &[
    "true", "True", "TRUE", "y", "Y", "yes", "Yes", "YES", "on", "On", "ON",
];
const FALSES: &[&str] = &[
    "false", "False", "FALSE", "n", "N", "no", "No", "NO", "off", "Off", "OFF",
];

fn parse_int(s: &str) -> Option<i64> {
    let (neg, digits) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let v = if let Some(h) = digits.strip_prefix("0x") {
        i64::from_str_radix(h, 16).ok()?
    } else if let Some(o) = digits.strip_prefix("0o") {
        i64::from_str_radix(o, 8).ok()?
    } else if let Some(b) = digits.strip_prefix("0b") {
        i64::from_str_radix(b, 2).ok()?
    } else {
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit() || b == b'_') {
            return None;
        }
        digits.replace('_', "").parse::<i64>().ok()?
    };
    Some(if neg { -v } else { v })
}

fn parse_float(s: &str) -> Option<f64> {
    match s {
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => return Some(f64::INFINITY),
        "-.inf" | "-.Inf" | "-.INF" => return Some(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => return Some(f64::NAN),
        _ => {}
    }
    let b = s.as_bytes();
    if b.is_empty() || !b.iter().any(u8::is_ascii_digit) {
        return None;
    }
    if !b
        .iter()
        .all(|c| c.is_ascii_digit() || matches!(c, b'.' | b'e' | b'E' | b'+' | b'-'))
    {
        return None;
    }
    s.parse::<f64>().ok()
}

impl Scalar {
    /// The resolved type of this scalar under the YAML rules the API server uses.
    pub fn node_type(&self) -> NodeType {
        if !self.plain {
            return NodeType::String;
        }
        let t = &*self.text;
        if NULLS.contains(&t) {
            NodeType::Null
        } else if TRUES.contains(&t) || FALSES.contains(&t) {
            NodeType::Bool
        } else if parse_int(t).is_some() {
            NodeType::Int
        } else if parse_float(t).is_some() {
            NodeType::Float
        } else {
            NodeType::String
        }
    }
}

static NULL_NODE: Node = Node {
    value: Value::Seq(Vec::new()),
    pos: Pos { line: 0, col: 0 },
};

impl Node {
    /// A plain scalar node (used by tests and synthetic objects).
    pub fn scalar(text: &str, plain: bool, pos: Pos) -> Node {
        Node {
            value: Value::Scalar(Scalar {
                text: text.into(),
                plain,
            }),
            pos,
        }
    }

    /// The type of this node.
    pub fn node_type(&self) -> NodeType {
        match &self.value {
            Value::Scalar(s) => s.node_type(),
            Value::Seq(_) => NodeType::Sequence,
            Value::Map(_) => NodeType::Mapping,
        }
    }

    /// The value of `key` if this is a mapping that has it.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.entry(key).map(|e| &e.value)
    }

    /// The entry (key position and value) of `key` if this is a mapping that has it.
    /// Like the API server's JSON decoder, a duplicated key keeps its last value.
    pub fn entry(&self, key: &str) -> Option<&Entry> {
        match &self.value {
            Value::Map(entries) => entries.iter().rev().find(|e| &*e.key == key),
            _ => None,
        }
    }

    /// Follows a chain of mapping keys.
    pub fn at(&self, keys: &[&str]) -> Option<&Node> {
        keys.iter().try_fold(self, |n, k| n.get(k))
    }

    /// The mapping entries, or an empty slice.
    pub fn entries(&self) -> &[Entry] {
        match &self.value {
            Value::Map(e) => e,
            _ => &[],
        }
    }

    /// The sequence items, or an empty slice (also for null).
    pub fn items(&self) -> &[Node] {
        match &self.value {
            Value::Seq(v) => v,
            _ => &[],
        }
    }

    /// True when this node is a mapping.
    pub fn is_map(&self) -> bool {
        matches!(self.value, Value::Map(_))
    }

    /// True when this node is a sequence.
    pub fn is_seq(&self) -> bool {
        matches!(self.value, Value::Seq(_))
    }

    /// True when this node is null (`null`, `~` or empty).
    pub fn is_null(&self) -> bool {
        matches!(&self.value, Value::Scalar(s) if s.plain && NULLS.contains(&&*s.text))
    }

    /// The node as a boolean field would decode it (YAML 1.1 plain forms such as `yes`/`on`
    /// included, as the API server's decoder accepts them). Quoted strings are not booleans.
    pub fn as_bool(&self) -> Option<bool> {
        match &self.value {
            Value::Scalar(s) if s.plain => {
                if TRUES.contains(&&*s.text) {
                    Some(true)
                } else if FALSES.contains(&&*s.text) {
                    Some(false)
                } else {
                    None
                }
            }
            _ => None,
        }
    }

    /// The node as an integer field would decode it.
    pub fn as_i64(&self) -> Option<i64> {
        match &self.value {
            Value::Scalar(s) if s.plain => parse_int(&s.text).or_else(|| {
                // JSON decoders accept 5.0 for an integer field.
                parse_float(&s.text)
                    .filter(|f| f.fract() == 0.0 && f.abs() < 9.0e15)
                    .map(|f| f as i64)
            }),
            _ => None,
        }
    }

    /// The node as a string field would decode it: any non-null scalar's text (a plain `yes`
    /// or `1.0` given to a string field stays that text, as with `sigs.k8s.io/yaml`).
    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::Scalar(s) if !(s.plain && NULLS.contains(&&*s.text)) => Some(&s.text),
            _ => None,
        }
    }

    /// The text of a scalar that resolved to a string (quoted, or plain but not a
    /// null/bool/number).
    pub fn as_string_value(&self) -> Option<&str> {
        match &self.value {
            Value::Scalar(s) if s.node_type() == NodeType::String => Some(&s.text),
            _ => None,
        }
    }

    /// A node that is an empty sequence, handy as a default.
    pub fn empty() -> &'static Node {
        &NULL_NODE
    }

    /// Converts the tree to JSON using the YAML 1.2 core schema for plain scalars.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match &self.value {
            Value::Scalar(s) => match s.node_type() {
                NodeType::Null => J::Null,
                NodeType::Bool => J::Bool(TRUES.contains(&&*s.text)),
                NodeType::Int => J::from(parse_int(&s.text).unwrap_or_default()),
                NodeType::Float => {
                    serde_json::Number::from_f64(parse_float(&s.text).unwrap_or_default())
                        .map_or(J::Null, J::Number)
                }
                _ => J::String(s.text.to_string()),
            },
            Value::Seq(items) => J::Array(items.iter().map(Node::to_json).collect()),
            Value::Map(entries) => J::Object(
                entries
                    .iter()
                    .map(|e| (e.key.to_string(), e.value.to_json()))
                    .collect(),
            ),
        }
    }

    /// Counts nodes in the tree (including this one).
    pub fn count(&self) -> usize {
        1 + match &self.value {
            Value::Scalar(_) => 0,
            Value::Seq(v) => v.iter().map(Node::count).sum(),
            Value::Map(e) => e.iter().map(|e| e.value.count()).sum(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plain(t: &str) -> Node {
        Node::scalar(t, true, Pos::new(1, 1))
    }

    #[test]
    fn yaml11_booleans_decode_for_bool_fields_only() {
        assert_eq!(plain("yes").as_bool(), Some(true));
        assert_eq!(plain("Off").as_bool(), Some(false));
        assert_eq!(plain("yes").as_str(), Some("yes"));
        assert_eq!(Node::scalar("true", false, Pos::default()).as_bool(), None);
        assert_eq!(plain("truthy").as_bool(), None);
    }

    #[test]
    fn integers_and_nulls() {
        assert_eq!(plain("0").as_i64(), Some(0));
        assert_eq!(plain("-12").as_i64(), Some(-12));
        assert_eq!(plain("0x10").as_i64(), Some(16));
        assert_eq!(plain("1000.0").as_i64(), Some(1000));
        assert_eq!(plain("1.5").as_i64(), None);
        assert_eq!(Node::scalar("0", false, Pos::default()).as_i64(), None);
        assert!(plain("~").is_null());
        assert!(plain("").is_null());
        assert_eq!(plain("null").as_str(), None);
        assert_eq!(plain("12").node_type(), NodeType::Int);
        assert_eq!(plain("1e3").node_type(), NodeType::Float);
        assert_eq!(plain("1.2.3").node_type(), NodeType::String);
    }
}
