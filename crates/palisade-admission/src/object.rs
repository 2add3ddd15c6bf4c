//! Objects of admission requests as model [`Object`]s, so that the posture code that scans
//! manifests evaluates them unchanged.

use crate::review::Gvk;
use palisade_model::{Entry, FieldPath, Node, Object, ObjectRef, Pos, Scalar, Value as NodeValue};
use serde_json::Value;

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
    Object {
        source: 0,
        doc_index: 0,
        item_path: FieldPath::root(),
        id: ObjectRef {
            api_version: gvk.api_version(),
            kind: gvk.kind.clone(),
            namespace: (!namespace.is_empty()).then(|| namespace.to_owned()),
            name: name.to_owned(),
        },
        namespace_explicit: true,
        node: node_from_json(v),
    }
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
}
