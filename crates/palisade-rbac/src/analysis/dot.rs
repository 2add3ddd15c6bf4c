//! The escalation paths as a Graphviz DOT graph: the union of the shortest paths, pods as
//! ellipses, identities as boxes, targets as red octagons, edges labelled with their grant.

use super::paths::{Graph, Node, SourcePaths};
use std::collections::BTreeSet;
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
        Node::Principal { .. } => "shape=box",
        Node::ClusterAdmin | Node::Secrets { .. } => "shape=octagon, color=red, fontcolor=red",
    }
}

/// Renders the edges of `paths` (each edge once) as a DOT digraph.
pub fn render(graph: &Graph, paths: &[SourcePaths]) -> String {
    let mut edges: BTreeSet<usize> = BTreeSet::new();
    for sp in paths {
        for p in sp.cluster_admin.iter().chain(sp.secrets.iter()) {
            edges.extend(p.edges.iter().copied());
        }
    }
    let mut nodes: BTreeSet<usize> = BTreeSet::new();
    for &e in &edges {
        nodes.insert(graph.edges[e].from);
        nodes.insert(graph.edges[e].to);
    }
    let mut out = String::from(
        "digraph rbac {\n  rankdir=LR;\n  node [fontname=\"Helvetica\"];\n  edge [fontname=\"Helvetica\", fontsize=10];\n",
    );
    for &n in &nodes {
        let node = &graph.nodes[n];
        let _ = writeln!(
            out,
            "  n{n} [label={}, {}];",
            quote(&node.to_string()),
            shape(node)
        );
    }
    for &e in &edges {
        let edge = &graph.edges[e];
        let label = match (&edge.via, &edge.note) {
            (Some(v), _) => v.to_string(),
            (None, Some(n)) => n.clone(),
            (None, None) => String::from("token"),
        };
        let _ = writeln!(
            out,
            "  n{} -> n{} [label={}];",
            edge.from,
            edge.to,
            quote(&label)
        );
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
