//! The escalation paths as a Graphviz DOT graph: the union of the shortest paths, pods as
//! ellipses, identities as boxes, targets as red octagons, edges labelled with their grant.

use super::paths::{Node, SourcePaths};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

/// Quotes a DOT string.
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn shape(n: &Node) -> &'static str {
    match n {
        Node::Pod { .. } => "shape=ellipse",
        Node::Principal { .. } | Node::Hub { .. } => "shape=box",
        Node::ClusterAdmin | Node::Secrets { .. } => "shape=octagon, color=red, fontcolor=red",
    }
}

/// Renders the shortest paths (each node and edge once) as a DOT digraph.
pub fn render(paths: &[SourcePaths]) -> String {
    let mut ids: BTreeMap<&Node, usize> = BTreeMap::new();
    let mut order: Vec<&Node> = Vec::new();
    let mut edges: Vec<(usize, usize, String)> = Vec::new();
    let mut seen: BTreeSet<(usize, usize)> = BTreeSet::new();
    for sp in paths {
        for p in sp.cluster_admin.iter().chain(sp.secrets.iter()) {
            let mut prev: Option<usize> = None;
            for step in &p.steps {
                let id = *ids.entry(&step.node).or_insert_with(|| {
                    order.push(&step.node);
                    order.len() - 1
                });
                if let Some(from) = prev
                    && seen.insert((from, id))
                {
                    let label = match (&step.via, &step.note) {
                        (Some(v), _) => v.to_string(),
                        (None, Some(n)) => n.clone(),
                        (None, None) => String::from("token"),
                    };
                    edges.push((from, id, label));
                }
                prev = Some(id);
            }
        }
    }
    let mut out = String::from(
        "digraph rbac {\n  rankdir=LR;\n  node [fontname=\"Helvetica\"];\n  edge [fontname=\"Helvetica\", fontsize=10];\n",
    );
    for (i, node) in order.iter().enumerate() {
        let _ = writeln!(
            out,
            "  n{i} [label={}, {}];",
            quote(&node.to_string()),
            shape(node)
        );
    }
    for (from, to, label) in edges {
        let _ = writeln!(out, "  n{from} -> n{to} [label={}];", quote(&label));
    }
    out.push_str("}\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting() {
        assert_eq!(quote("a\"b\\c"), "\"a\\\"b\\\\c\"");
    }
}
