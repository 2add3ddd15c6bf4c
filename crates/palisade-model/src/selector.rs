//! Label selectors (`metav1.LabelSelector`): `matchLabels` and `matchExpressions` with the
//! `In`, `NotIn`, `Exists` and `DoesNotExist` operators, as NetworkPolicies, workloads and
//! PodDisruptionBudgets use them.
//!
//! ```
//! use palisade_model::selector::LabelSelector;
//! use palisade_model::yaml::{Limits, parse_stream};
//! let doc = parse_stream("matchLabels: {app: web}\nmatchExpressions:\n- {key: tier, operator: NotIn, values: [db]}\n", &Limits::default());
//! let sel = LabelSelector::parse(doc[0].as_ref().unwrap().root.as_ref().unwrap()).unwrap();
//! let labels = [("app", "web"), ("tier", "front")].into_iter().collect();
//! assert!(sel.matches(&labels));
//! ```

use crate::node::{Node, NodeType, Pos};
use std::collections::BTreeMap;
use std::fmt;

/// The operator of a [`Requirement`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operator {
    /// The label is present and its value is one of the values.
    In,
    /// The label is absent, or its value is none of the values.
    NotIn,
    /// The label is present (any value).
    Exists,
    /// The label is absent.
    DoesNotExist,
}

impl fmt::Display for Operator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Operator::In => "In",
            Operator::NotIn => "NotIn",
            Operator::Exists => "Exists",
            Operator::DoesNotExist => "DoesNotExist",
        })
    }
}

/// One entry of `matchExpressions`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requirement {
    /// Label key.
    pub key: String,
    /// Operator.
    pub operator: Operator,
    /// Values (empty for `Exists` / `DoesNotExist`).
    pub values: Vec<String>,
}

impl Requirement {
    /// True when `labels` satisfy this requirement.
    pub fn matches(&self, labels: &BTreeMap<&str, &str>) -> bool {
        let value = labels.get(self.key.as_str());
        match self.operator {
            Operator::In => value.is_some_and(|v| self.values.iter().any(|x| x == v)),
            Operator::NotIn => value.is_none_or(|v| !self.values.iter().any(|x| x == v)),
            Operator::Exists => value.is_some(),
            Operator::DoesNotExist => value.is_none(),
        }
    }
}

/// A parsed label selector. Requirements are ANDed; an empty selector matches every label set
/// (the meaning it has in a NetworkPolicy `podSelector`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LabelSelector {
    /// `matchLabels`, as key/value pairs.
    pub match_labels: Vec<(String, String)>,
    /// `matchExpressions`.
    pub match_expressions: Vec<Requirement>,
}

/// Why a selector could not be parsed. The API server would reject such an object.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{pos}: {message}")]
pub struct SelectorError {
    /// Where the bad value is.
    pub pos: Pos,
    /// What is wrong.
    pub message: String,
}

fn err(node: &Node, message: impl Into<String>) -> SelectorError {
    SelectorError {
        pos: node.pos,
        message: message.into(),
    }
}

impl LabelSelector {
    /// Parses a `LabelSelector` mapping. A null node is the empty selector. Unknown keys are
    /// ignored; wrong types, unknown operators and value lists that do not fit the operator
    /// are errors.
    pub fn parse(node: &Node) -> Result<LabelSelector, SelectorError> {
        if node.is_null() {
            return Ok(LabelSelector::default());
        }
        if !node.is_map() {
            return Err(err(
                node,
                format!("selector: expected a mapping, got {}", node.node_type()),
            ));
        }
        let mut sel = LabelSelector::default();
        if let Some(ml) = node.get("matchLabels").filter(|n| !n.is_null()) {
            if !ml.is_map() {
                return Err(err(
                    ml,
                    format!("matchLabels: expected a mapping, got {}", ml.node_type()),
                ));
            }
            for e in ml.entries() {
                let v = scalar_text(&e.value).ok_or_else(|| {
                    err(
                        &e.value,
                        format!("matchLabels.{}: expected a string", e.key),
                    )
                })?;
                sel.match_labels.push((e.key.to_string(), v.to_string()));
            }
        }
        if let Some(me) = node.get("matchExpressions").filter(|n| !n.is_null()) {
            if !me.is_seq() {
                return Err(err(
                    me,
                    format!("matchExpressions: expected a list, got {}", me.node_type()),
                ));
            }
            for item in me.items() {
                sel.match_expressions.push(parse_requirement(item)?);
            }
        }
        Ok(sel)
    }

    /// A selector from plain key/value pairs (a Service `selector`, a `matchLabels` map).
    pub fn from_labels<'a>(labels: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        LabelSelector {
            match_labels: labels
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            match_expressions: Vec::new(),
        }
    }

    /// True when the selector has no requirement (it selects everything).
    pub fn is_empty(&self) -> bool {
        self.match_labels.is_empty() && self.match_expressions.is_empty()
    }

    /// True when `labels` satisfy every `matchLabels` pair and every expression.
    pub fn matches(&self, labels: &BTreeMap<&str, &str>) -> bool {
        self.match_labels
            .iter()
            .all(|(k, v)| labels.get(k.as_str()) == Some(&v.as_str()))
            && self.match_expressions.iter().all(|r| r.matches(labels))
    }
}

impl fmt::Display for LabelSelector {
    /// The `kubectl -l` form: `app=web,tier notin (db),!legacy`; `<all>` when empty.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            return f.write_str("<all>");
        }
        let mut parts: Vec<String> = self
            .match_labels
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        for r in &self.match_expressions {
            parts.push(match r.operator {
                Operator::In => format!("{} in ({})", r.key, r.values.join(",")),
                Operator::NotIn => format!("{} notin ({})", r.key, r.values.join(",")),
                Operator::Exists => r.key.clone(),
                Operator::DoesNotExist => format!("!{}", r.key),
            });
        }
        f.write_str(&parts.join(","))
    }
}

fn scalar_text(n: &Node) -> Option<&str> {
    match n.node_type() {
        NodeType::Sequence | NodeType::Mapping => None,
        NodeType::Null => Some(""),
        _ => n.as_str(),
    }
}

fn parse_requirement(item: &Node) -> Result<Requirement, SelectorError> {
    if !item.is_map() {
        return Err(err(item, "matchExpressions item: expected a mapping"));
    }
    let key = item
        .get("key")
        .and_then(scalar_text)
        .filter(|k| !k.is_empty())
        .ok_or_else(|| err(item, "matchExpressions item: missing key"))?;
    let op_node = item
        .get("operator")
        .ok_or_else(|| err(item, "matchExpressions item: missing operator"))?;
    let operator = match op_node.as_str() {
        Some("In") => Operator::In,
        Some("NotIn") => Operator::NotIn,
        Some("Exists") => Operator::Exists,
        Some("DoesNotExist") => Operator::DoesNotExist,
        other => {
            return Err(err(
                op_node,
                format!(
                    "matchExpressions: unknown operator {:?}",
                    other.unwrap_or("")
                ),
            ));
        }
    };
    let mut values = Vec::new();
    if let Some(vs) = item.get("values").filter(|n| !n.is_null()) {
        if !vs.is_seq() {
            return Err(err(vs, "matchExpressions values: expected a list"));
        }
        for v in vs.items() {
            let t = scalar_text(v)
                .ok_or_else(|| err(v, "matchExpressions values: expected strings"))?;
            values.push(t.to_string());
        }
    }
    match operator {
        Operator::In | Operator::NotIn if values.is_empty() => {
            return Err(err(
                item,
                format!("matchExpressions: operator {operator} needs values"),
            ));
        }
        Operator::Exists | Operator::DoesNotExist if !values.is_empty() => {
            return Err(err(
                item,
                format!("matchExpressions: operator {operator} takes no values"),
            ));
        }
        _ => {}
    }
    Ok(Requirement {
        key: key.to_string(),
        operator,
        values,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml::{Limits, parse_stream};

    fn sel(text: &str) -> Result<LabelSelector, SelectorError> {
        let docs = parse_stream(text, &Limits::default());
        match docs.into_iter().next().and_then(|d| d.unwrap().root) {
            Some(root) => LabelSelector::parse(&root),
            None => Ok(LabelSelector::default()),
        }
    }

    fn labels<'a>(pairs: &[(&'a str, &'a str)]) -> BTreeMap<&'a str, &'a str> {
        pairs.iter().copied().collect()
    }

    #[test]
    fn empty_selects_everything() {
        let s = sel("{}").unwrap();
        assert!(s.is_empty());
        assert!(s.matches(&labels(&[])));
        assert!(s.matches(&labels(&[("a", "b")])));
        assert!(sel("~").unwrap().is_empty());
        assert_eq!(s.to_string(), "<all>");
    }

    #[test]
    fn operators() {
        let s = sel(concat!(
            "matchLabels: {app: web}\n",
            "matchExpressions:\n",
            "- {key: tier, operator: In, values: [front, edge]}\n",
            "- {key: env, operator: NotIn, values: [prod]}\n",
            "- {key: team, operator: Exists}\n",
            "- {key: legacy, operator: DoesNotExist}\n",
        ))
        .unwrap();
        let ok = [("app", "web"), ("tier", "edge"), ("team", "x")];
        assert!(s.matches(&labels(&ok)));
        assert!(s.matches(&labels(&[
            ("app", "web"),
            ("tier", "front"),
            ("team", ""),
            ("env", "dev")
        ])));
        assert!(!s.matches(&labels(&[("app", "web"), ("tier", "back"), ("team", "x")])));
        assert!(!s.matches(&labels(&[("app", "api"), ("tier", "edge"), ("team", "x")])));
        assert!(!s.matches(&labels(&[
            ("app", "web"),
            ("tier", "edge"),
            ("team", "x"),
            ("env", "prod")
        ])));
        assert!(!s.matches(&labels(&[("app", "web"), ("tier", "edge")])));
        assert!(!s.matches(&labels(&[
            ("app", "web"),
            ("tier", "edge"),
            ("team", "x"),
            ("legacy", "1")
        ])));
        assert!(
            !s.matches(&labels(&[("app", "web"), ("team", "x")])),
            "In needs the key"
        );
        assert_eq!(
            s.to_string(),
            "app=web,tier in (front,edge),env notin (prod),team,!legacy"
        );
    }

    #[test]
    fn numbers_and_booleans_are_label_text() {
        let s = sel("matchLabels: {version: 2, canary: true}\n").unwrap();
        assert!(s.matches(&labels(&[("version", "2"), ("canary", "true")])));
        assert!(!s.matches(&labels(&[("version", "3"), ("canary", "true")])));
    }

    #[test]
    fn invalid_selectors_are_errors_not_panics() {
        for bad in [
            "[a]",
            "matchLabels: [a]",
            "matchLabels: {a: [b]}",
            "matchExpressions: {key: a}",
            "matchExpressions: [{key: a, operator: Has}]",
            "matchExpressions: [{key: a, operator: In}]",
            "matchExpressions: [{key: a, operator: In, values: []}]",
            "matchExpressions: [{key: a, operator: Exists, values: [x]}]",
            "matchExpressions: [{operator: Exists}]",
            "matchExpressions: [{key: a}]",
            "matchExpressions: [3]",
            "matchExpressions: [{key: a, operator: In, values: b}]",
        ] {
            assert!(sel(bad).is_err(), "{bad} should be rejected");
        }
        let e = sel("matchExpressions:\n- key: a\n  operator: Has\n").unwrap_err();
        assert_eq!(e.pos.line, 3);
    }
}
