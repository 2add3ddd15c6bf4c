//! Constraint `parameters` checked against the template's `openAPIV3Schema`: the subset of
//! OpenAPI v3 that structural CRD schemas use (`type`, `properties`, `required`, `items`,
//! `additionalProperties`, `enum`, `nullable`, `minimum`/`maximum`, `minLength`/`maxLength`,
//! `minItems`/`maxItems`, `pattern`, `x-kubernetes-int-or-string`,
//! `x-kubernetes-preserve-unknown-fields`, `allOf`/`anyOf`/`oneOf`).

use palisade_model::{Node, NodeType, Pos};
use serde_json::Value as Json;

/// One problem found in the parameters.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Issue {
    pub pos: Pos,
    pub field: String,
    pub message: String,
    /// A field the schema does not declare (the API server would prune it): a warning.
    pub unknown_field: bool,
}

/// Validates `node` against `schema`; `field` is the path of `node` for messages and `key`
/// where its key is (problems of a whole mapping, such as a missing field, point there).
pub(crate) fn validate(schema: &Json, node: &Node, field: &str, key: Pos) -> Vec<Issue> {
    let mut out = Vec::new();
    check(schema, node, field, key, &mut out);
    out
}

fn type_name(node: &Node) -> &'static str {
    match node.node_type() {
        NodeType::Null => "null",
        NodeType::Bool => "boolean",
        NodeType::Int => "integer",
        NodeType::Float => "number",
        NodeType::String => "string",
        NodeType::Sequence => "array",
        NodeType::Mapping => "object",
    }
}

fn type_ok(ty: &str, node: &Node, int_or_string: bool) -> bool {
    let t = node.node_type();
    if int_or_string && matches!(t, NodeType::Int | NodeType::String) {
        return true;
    }
    match ty {
        "object" => t == NodeType::Mapping,
        "array" => t == NodeType::Sequence,
        "string" => t == NodeType::String,
        "integer" => t == NodeType::Int,
        "number" => matches!(t, NodeType::Int | NodeType::Float),
        "boolean" => t == NodeType::Bool,
        _ => true,
    }
}

fn check(schema: &Json, node: &Node, field: &str, key: Pos, out: &mut Vec<Issue>) {
    let Some(s) = schema.as_object() else {
        return;
    };
    let mut issue = |node: &Node, message: String| {
        out.push(Issue {
            pos: node.pos,
            field: field.to_string(),
            message: format!("{field}: {message}"),
            unknown_field: false,
        })
    };
    if node.is_null() {
        if s.get("nullable").and_then(Json::as_bool) != Some(true) && s.contains_key("type") {
            issue(node, "must not be null".into());
        }
        return;
    }
    let int_or_string = s.get("x-kubernetes-int-or-string").and_then(Json::as_bool) == Some(true);
    if let Some(ty) = s.get("type").and_then(Json::as_str)
        && !type_ok(ty, node, int_or_string)
    {
        issue(
            node,
            format!("must be of type {ty}, got {}", type_name(node)),
        );
        return;
    }
    let json = node.to_json();
    if let Some(values) = s.get("enum").and_then(Json::as_array)
        && !values.contains(&json)
    {
        let list: Vec<String> = values.iter().map(Json::to_string).collect();
        issue(node, format!("{json} is not one of [{}]", list.join(", ")));
    }
    if let Some(n) = json.as_f64() {
        if let Some(min) = s.get("minimum").and_then(Json::as_f64) {
            let excl = s.get("exclusiveMinimum").and_then(Json::as_bool) == Some(true);
            if n < min || (excl && n == min) {
                issue(
                    node,
                    format!("must be {} {min}", if excl { ">" } else { ">=" }),
                );
            }
        }
        if let Some(max) = s.get("maximum").and_then(Json::as_f64) {
            let excl = s.get("exclusiveMaximum").and_then(Json::as_bool) == Some(true);
            if n > max || (excl && n == max) {
                issue(
                    node,
                    format!("must be {} {max}", if excl { "<" } else { "<=" }),
                );
            }
        }
    }
    if let Some(text) = json.as_str() {
        let len = text.chars().count() as u64;
        if let Some(min) = s
            .get("minLength")
            .and_then(Json::as_u64)
            .filter(|m| len < *m)
        {
            issue(node, format!("must be at least {min} characters long"));
        }
        if let Some(max) = s
            .get("maxLength")
            .and_then(Json::as_u64)
            .filter(|m| len > *m)
        {
            issue(node, format!("must be at most {max} characters long"));
        }
        if let Some(p) = s.get("pattern").and_then(Json::as_str)
            && let Ok(re) = regex::Regex::new(p)
            && !re.is_match(text)
        {
            issue(node, format!("{text:?} does not match the pattern {p:?}"));
        }
    }
    for (combinator, name) in [("allOf", "all"), ("anyOf", "any"), ("oneOf", "one")] {
        let Some(subs) = s.get(combinator).and_then(Json::as_array) else {
            continue;
        };
        let results: Vec<Vec<Issue>> = subs
            .iter()
            .map(|sub| validate(sub, node, field, key))
            .collect();
        let ok = results
            .iter()
            .filter(|r| r.iter().all(|i| i.unknown_field))
            .count();
        let pass = match name {
            "all" => ok == subs.len(),
            "any" => ok >= 1,
            _ => ok == 1,
        };
        if !pass {
            issue(
                node,
                format!("must match {name} of the schemas in {combinator}"),
            );
        }
    }
    match &node.value {
        palisade_model::Value::Seq(items) => {
            let len = items.len() as u64;
            if let Some(min) = s
                .get("minItems")
                .and_then(Json::as_u64)
                .filter(|m| len < *m)
            {
                issue(node, format!("must have at least {min} items"));
            }
            if let Some(max) = s
                .get("maxItems")
                .and_then(Json::as_u64)
                .filter(|m| len > *m)
            {
                issue(node, format!("must have at most {max} items"));
            }
            if let Some(items_schema) = s.get("items") {
                for (i, item) in items.iter().enumerate() {
                    check(items_schema, item, &format!("{field}[{i}]"), item.pos, out);
                }
            }
        }
        palisade_model::Value::Map(entries) => {
            if let Some(req) = s.get("required").and_then(Json::as_array) {
                for r in req.iter().filter_map(Json::as_str) {
                    if !entries.iter().any(|e| &*e.key == r) {
                        out.push(Issue {
                            pos: key,
                            field: field.to_string(),
                            message: format!("{field}: required field {r} is missing"),
                            unknown_field: false,
                        });
                    }
                }
            }
            let props = s.get("properties").and_then(Json::as_object);
            let additional = s.get("additionalProperties");
            let preserve = s
                .get("x-kubernetes-preserve-unknown-fields")
                .and_then(Json::as_bool)
                == Some(true);
            for e in entries {
                let sub = format!("{field}.{}", e.key);
                if let Some(p) = props.and_then(|p| p.get(&*e.key)) {
                    check(p, &e.value, &sub, e.key_pos, out);
                } else if let Some(a) = additional.filter(|a| a.is_object()) {
                    check(a, &e.value, &sub, e.key_pos, out);
                } else if additional == Some(&Json::Bool(false)) {
                    out.push(Issue {
                        pos: e.key_pos,
                        field: sub.clone(),
                        message: format!("{sub}: field not allowed by the schema"),
                        unknown_field: false,
                    });
                } else if props.is_some() && !preserve && additional.is_none() {
                    out.push(Issue {
                        pos: e.key_pos,
                        field: sub.clone(),
                        message: format!("{sub}: unknown field (not in the template's schema)"),
                        unknown_field: true,
                    });
                }
            }
        }
        palisade_model::Value::Scalar(_) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(yaml: &str) -> Node {
        palisade_model::yaml::parse_stream(yaml, &palisade_model::Limits::default())
            .remove(0)
            .unwrap()
            .root
            .unwrap()
    }

    #[test]
    fn types_required_enums_arrays() {
        let schema = serde_json::json!({
            "type": "object",
            "required": ["rule"],
            "properties": {
                "rule": {"type": "string", "enum": ["MustRunAs", "RunAsAny"]},
                "ranges": {"type": "array", "items": {"type": "object", "properties": {
                    "min": {"type": "integer"}, "max": {"type": "integer"}}}},
                "labels": {"type": "object", "additionalProperties": {"type": "string"}}
            }
        });
        assert!(
            validate(
                &schema,
                &node("rule: MustRunAs\nranges: [{min: 1, max: 2}]\n"),
                "p",
                Pos::default()
            )
            .is_empty()
        );
        let issues = validate(
            &schema,
            &node("rule: Other\nranges: [{min: x}]\nlabels: {a: [1]}\nextra: 1\n"),
            "p",
            Pos::default(),
        );
        let msgs: Vec<&str> = issues.iter().map(|i| i.message.as_str()).collect();
        assert!(
            msgs.contains(&"p.rule: \"Other\" is not one of [\"MustRunAs\", \"RunAsAny\"]"),
            "{msgs:?}"
        );
        assert!(
            msgs.contains(&"p.ranges[0].min: must be of type integer, got string"),
            "{msgs:?}"
        );
        assert!(
            msgs.contains(&"p.labels.a: must be of type string, got array"),
            "{msgs:?}"
        );
        assert!(
            issues
                .iter()
                .any(|i| i.field == "p.extra" && i.unknown_field)
        );
        assert_eq!(
            issues
                .iter()
                .find(|i| i.field == "p.rule")
                .unwrap()
                .pos
                .line,
            1
        );
        let missing = validate(&schema, &node("ranges: []\n"), "p", Pos::new(7, 1));
        assert_eq!(missing[0].message, "p: required field rule is missing");
        assert_eq!(missing[0].pos, Pos::new(7, 1));
    }
}
