//! Objects of admission requests as model [`Object`]s, so that the posture code that scans
//! manifests evaluates them unchanged.

use crate::review::Gvk;
use palisade_model::{Entry, FieldPath, Node, Object, ObjectRef, Pos, Scalar, Value as NodeValue};
use serde::de::{DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::Value;
use std::collections::HashMap;

/// Converts JSON into a model tree. Strings become quoted scalars (they stay strings whatever
/// their text), numbers, booleans and null plain scalars, as the YAML loader would read the
/// same JSON. Positions are all `0:0`: the object has no source file.
pub fn node_from_json(v: &Value) -> Node {
    let pos = Pos::default();
    let scalar = |text: &str, plain: bool| Node {
        value: NodeValue::Scalar(Scalar {
            text: text.into(),
            plain,
        }),
        pos,
    };
    match v {
        Value::Null => scalar("null", true),
        Value::Bool(b) => scalar(if *b { "true" } else { "false" }, true),
        Value::Number(n) => scalar(&n.to_string(), true),
        Value::String(s) => scalar(s, false),
        Value::Array(a) => Node {
            value: NodeValue::Seq(a.iter().map(node_from_json).collect()),
            pos,
        },
        Value::Object(m) => Node {
            value: NodeValue::Map(
                m.iter()
                    .map(|(k, v)| Entry {
                        key: k.as_str().into(),
                        key_pos: pos,
                        value: node_from_json(v),
                    })
                    .collect(),
            ),
            pos,
        },
    }
}

/// Parses JSON text straight into the model tree [`node_from_json`] would build from the
/// parsed `serde_json::Value` (same scalars, same key order, a duplicated key keeping its first
/// place and last value, as `serde_json` with `preserve_order` does), without building that
/// `Value` first. Errors are `serde_json`'s (syntax, trailing characters, nesting limit).
pub fn parse_node(text: &[u8]) -> Result<Node, serde_json::Error> {
    let mut de = serde_json::Deserializer::from_slice(text);
    let node = NodeSeed.deserialize(&mut de)?;
    de.end()?;
    Ok(node)
}

/// The JSON a tree of [`node_from_json`] or [`parse_node`] came from: the exact inverse for
/// such trees (quoted scalars are strings; plain ones `null`, booleans or numbers, read back
/// with `serde_json`'s own number syntax). Not for YAML trees: use [`Node::to_json`] there.
pub fn node_to_json(n: &Node) -> Value {
    match &n.value {
        NodeValue::Scalar(s) if !s.plain => Value::String(s.text.to_string()),
        NodeValue::Scalar(s) => match &*s.text {
            "null" => Value::Null,
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            t => number(t).map_or_else(|| Value::String(t.to_owned()), Value::Number),
        },
        NodeValue::Seq(items) => Value::Array(items.iter().map(node_to_json).collect()),
        NodeValue::Map(entries) => Value::Object(
            entries
                .iter()
                .map(|e| (e.key.to_string(), node_to_json(&e.value)))
                .collect(),
        ),
    }
}

/// The number `serde_json` printed as `text`: integers as such, anything else as the `f64`
/// whose shortest form it is (read with the standard library's exact parser; `serde_json`'s
/// own may be one unit in the last place off without its `float_roundtrip` feature).
fn number(text: &str) -> Option<serde_json::Number> {
    if let Ok(u) = text.parse::<u64>() {
        return Some(u.into());
    }
    if let Ok(i) = text.parse::<i64>() {
        return Some(i.into());
    }
    serde_json::Number::from_f64(text.parse::<f64>().ok()?)
}

fn scalar_node(text: Box<str>, plain: bool) -> Node {
    Node {
        value: NodeValue::Scalar(Scalar { text, plain }),
        pos: Pos::default(),
    }
}

/// Beyond this many keys a mapping being parsed gets a hash index for duplicate keys (below
/// it a scan is cheaper).
const SCAN_KEYS: usize = 16;

struct NodeSeed;

impl<'de> DeserializeSeed<'de> for NodeSeed {
    type Value = Node;

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Node, D::Error> {
        d.deserialize_any(NodeVisitor)
    }
}

struct NodeVisitor;

impl<'de> Visitor<'de> for NodeVisitor {
    type Value = Node;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, b: bool) -> Result<Node, E> {
        Ok(scalar_node(if b { "true" } else { "false" }.into(), true))
    }

    fn visit_i64<E>(self, n: i64) -> Result<Node, E> {
        Ok(scalar_node(n.to_string().into(), true))
    }

    fn visit_u64<E>(self, n: u64) -> Result<Node, E> {
        Ok(scalar_node(n.to_string().into(), true))
    }

    fn visit_f64<E>(self, f: f64) -> Result<Node, E> {
        // The text `serde_json::Value` would print for it.
        let text = serde_json::Number::from_f64(f).map_or_else(|| "null".into(), |n| n.to_string());
        Ok(scalar_node(text.into(), true))
    }

    fn visit_str<E>(self, s: &str) -> Result<Node, E> {
        Ok(scalar_node(s.into(), false))
    }

    fn visit_string<E>(self, s: String) -> Result<Node, E> {
        Ok(scalar_node(s.into_boxed_str(), false))
    }

    fn visit_unit<E>(self) -> Result<Node, E> {
        Ok(scalar_node("null".into(), true))
    }

    fn visit_none<E: serde::de::Error>(self) -> Result<Node, E> {
        self.visit_unit()
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(64));
        while let Some(n) = seq.next_element_seed(NodeSeed)? {
            items.push(n);
        }
        Ok(Node {
            value: NodeValue::Seq(items),
            pos: Pos::default(),
        })
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
        let mut entries: Vec<Entry> = Vec::new();
        let mut index: Option<HashMap<Box<str>, usize>> = None;
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            let value = map.next_value_seed(NodeSeed)?;
            let found = match &index {
                Some(ix) => ix.get(&*key).copied(),
                None => entries.iter().position(|e| *e.key == *key),
            };
            if let Some(i) = found {
                entries[i].value = value;
                continue;
            }
            let key: Box<str> = key.into();
            if let Some(ix) = &mut index {
                ix.insert(key.clone(), entries.len());
            } else if entries.len() == SCAN_KEYS {
                let mut ix: HashMap<Box<str>, usize> = entries
                    .iter()
                    .enumerate()
                    .map(|(i, e)| (e.key.clone(), i))
                    .collect();
                ix.insert(key.clone(), entries.len());
                index = Some(ix);
            }
            entries.push(Entry {
                key,
                key_pos: Pos::default(),
                value,
            });
        }
        Ok(Node {
            value: NodeValue::Map(entries),
            pos: Pos::default(),
        })
    }
}

/// The object of a request as a model object of kind `gvk` in `namespace`.
pub fn object_from_json(v: &Value, gvk: &Gvk, namespace: &str, name: &str) -> Object {
    let name = if name.is_empty() {
        v.pointer("/metadata/name")
            .and_then(Value::as_str)
            .or_else(|| v.pointer("/metadata/generateName").and_then(Value::as_str))
            .unwrap_or("")
    } else {
        name
    };
    object_from_node(node_from_json(v), gvk, namespace, name)
}

/// [`object_from_json`] for a tree already converted (by [`parse_node`]): the name is the
/// request's, else `metadata.name`, else `metadata.generateName` (strings only).
pub fn object_from_node(node: Node, gvk: &Gvk, namespace: &str, name: &str) -> Object {
    let meta_str = |key: &str| {
        node.at(&["metadata", key])
            .and_then(json_str)
            .map(str::to_owned)
    };
    let name = if name.is_empty() {
        meta_str("name")
            .or_else(|| meta_str("generateName"))
            .unwrap_or_default()
    } else {
        name.to_owned()
    };
    Object {
        source: 0,
        doc_index: 0,
        item_path: FieldPath::root(),
        id: ObjectRef {
            api_version: gvk.api_version(),
            kind: gvk.kind.clone(),
            namespace: (!namespace.is_empty()).then(|| namespace.to_owned()),
            name,
        },
        namespace_explicit: true,
        node,
    }
}

/// The text of a node that was a JSON string (a quoted scalar); `None` for anything else.
pub fn json_str(n: &Node) -> Option<&str> {
    match &n.value {
        NodeValue::Scalar(s) if !s.plain => Some(&s.text),
        _ => None,
    }
}

/// True when the node was JSON `null`.
pub fn json_null(n: &Node) -> bool {
    matches!(&n.value, NodeValue::Scalar(s) if s.plain && &*s.text == "null")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_scalars_keep_their_types() {
        let n = node_from_json(&serde_json::json!({
            "a": "true", "b": true, "c": 5, "d": null, "e": ["x"], "f": "0"
        }));
        assert_eq!(n.get("a").unwrap().as_bool(), None);
        assert_eq!(n.get("a").unwrap().as_str(), Some("true"));
        assert_eq!(n.get("b").unwrap().as_bool(), Some(true));
        assert_eq!(n.get("c").unwrap().as_i64(), Some(5));
        assert!(n.get("d").unwrap().is_null());
        assert_eq!(n.get("e").unwrap().items().len(), 1);
        assert_eq!(n.get("f").unwrap().as_i64(), None);
        assert_eq!(n.to_json()["c"], 5);
    }

    #[test]
    fn parsing_text_builds_the_same_tree_and_converts_back() {
        let texts = [
            r#"{"b": 1, "a": [true, false, null, -3, 2.5, 1e300, 18446744073709551615, 123456789012345678901234], "s": "x\u00e9\n", "o": {}}"#,
            r#"{"k": 1, "j": {"x": "1"}, "k": {"y": [1, "2"]}}"#,
            r#"[]"#,
            r#""plain string""#,
            r#"-0.0"#,
        ];
        for t in texts {
            let json: Value = serde_json::from_str(t).unwrap();
            let node = parse_node(t.as_bytes()).unwrap();
            assert_eq!(node, node_from_json(&json), "{t}");
            let back = node_to_json(&node);
            assert_eq!(back, json, "{t}");
            assert_eq!(
                serde_json::to_string(&back).unwrap(),
                serde_json::to_string(&json).unwrap()
            );
        }
        // Many keys (hash index) with duplicates: first place, last value.
        let mut text = String::from("{");
        for i in 0..40 {
            text.push_str(&format!("\"k{i}\": {i}, "));
        }
        text.push_str("\"k3\": \"again\", \"k30\": null}");
        let json: Value = serde_json::from_str(&text).unwrap();
        let node = parse_node(text.as_bytes()).unwrap();
        assert_eq!(node, node_from_json(&json));
        assert_eq!(node.entries().len(), 40);
        assert_eq!(node.get("k3").and_then(json_str), Some("again"));
        assert!(node.get("k30").is_some_and(json_null));
    }

    #[test]
    fn parse_errors_are_serde_json_errors() {
        for bad in ["{", "{} x", "[1,]", "nul"] {
            let want = serde_json::from_str::<Value>(bad).unwrap_err().to_string();
            assert_eq!(parse_node(bad.as_bytes()).unwrap_err().to_string(), want);
        }
        let deep = "[".repeat(200) + &"]".repeat(200);
        assert!(parse_node(deep.as_bytes()).is_err());
    }
}
