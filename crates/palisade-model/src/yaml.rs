//! YAML (and JSON, which YAML 1.2 includes) text to [`Node`] trees with positions.
//!
//! A stream is split at its document markers first, so a syntax error in one document does not
//! stop the documents after it from loading. Depth, node count and alias expansion are bounded,
//! so hostile input (deep nesting, "billion laughs" aliases) is refused with an error instead of
//! exhausting the stack or memory.

use crate::node::{Entry, Node, Pos, Scalar, Value};
use saphyr_parser::{Event, Parser, ScalarStyle, Span};
use std::collections::HashMap;

/// Bounds applied while building trees.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Maximum nesting depth of sequences and mappings.
    pub max_depth: usize,
    /// Maximum number of nodes in one document, aliases expanded.
    pub max_nodes: usize,
    /// Maximum size of one input in bytes.
    pub max_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_depth: 100,
            max_nodes: 2_000_000,
            max_bytes: 256 * 1024 * 1024,
        }
    }
}

/// A parsed document of a stream.
#[derive(Debug, Clone)]
pub struct RawDocument {
    /// 0-based index of the document in its stream.
    pub index: usize,
    /// Line where the document's content starts.
    pub line: u32,
    /// The root node; `None` for an empty document.
    pub root: Option<Node>,
}

/// A syntax or limit error in one document.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{pos}: {message}")]
pub struct SyntaxError {
    /// 0-based index of the document in its stream.
    pub index: usize,
    /// Where the error was found.
    pub pos: Pos,
    /// What is wrong.
    pub message: String,
}

/// Parses a YAML stream into documents; each failing document yields an error and the others
/// still load.
pub fn parse_stream(text: &str, limits: &Limits) -> Vec<Result<RawDocument, SyntaxError>> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    split_documents(text)
        .into_iter()
        .enumerate()
        .map(|(index, (line_offset, chunk))| parse_chunk(index, line_offset, chunk, limits))
        .filter(|r| !matches!(r, Ok(RawDocument { root: None, .. })))
        .collect()
}

/// Splits a stream at lines that start with `---` (document start) or `...` (document end).
/// Returns (0-based line offset, text) for each chunk.
fn split_documents(text: &str) -> Vec<(u32, &str)> {
    let mut chunks = Vec::new();
    let mut start = 0usize;
    let mut start_line = 0u32;
    let mut offset = 0usize;
    for (line_no, line) in (0u32..).zip(text.split_inclusive('\n')) {
        let is_marker = |m: &str| {
            line.strip_prefix(m)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with([' ', '\t', '\r', '\n']))
        };
        if is_marker("---") {
            if offset > start {
                chunks.push((start_line, &text[start..offset]));
            }
            start = offset;
            start_line = line_no;
        } else if is_marker("...") {
            if offset > start {
                chunks.push((start_line, &text[start..offset]));
            }
            start = offset + line.len();
            start_line = line_no + 1;
        }
        offset += line.len();
    }
    if text.len() > start {
        chunks.push((start_line, &text[start..]));
    }
    chunks
}

/// Longest run of flow collection openers accepted in a row (`{{{` or `[{[`). Runs of nested
/// collections used as keys make the YAML parser take exponential time (found by fuzzing: 30
/// opening braces took minutes and gigabytes); real manifests and JSON never open more than a
/// few in a row.
const MAX_OPENER_RUN: usize = 12;

/// Finds a run of more than `max` flow-collection openers separated only by whitespace, outside
/// comments; returns where the run starts.
fn long_opener_run(text: &str, max: usize) -> Option<Pos> {
    let mut run = 0usize;
    let mut run_start = Pos::default();
    let (mut line, mut col) = (1u32, 0u32);
    let mut in_comment = false;
    let mut prev_blank = true;
    for ch in text.chars() {
        col += 1;
        if ch == '\n' {
            line += 1;
            col = 0;
            in_comment = false;
            prev_blank = true;
            continue;
        }
        if in_comment {
            continue;
        }
        match ch {
            '#' if prev_blank => {
                in_comment = true;
                run = 0;
            }
            '{' | '[' => {
                if run == 0 {
                    run_start = Pos::new(line, col);
                }
                run += 1;
                if run > max {
                    return Some(run_start);
                }
            }
            ' ' | '\t' | '\r' => {}
            _ => run = 0,
        }
        prev_blank = matches!(ch, ' ' | '\t');
    }
    None
}

struct Builder<'a> {
    limits: &'a Limits,
    line_offset: u32,
    index: usize,
    anchors: HashMap<usize, Node>,
    nodes: usize,
}

enum Frame {
    Seq(Vec<Node>, Pos, usize),
    Map(Vec<Entry>, Option<(Box<str>, Pos)>, Pos, usize),
}

impl Builder<'_> {
    fn pos(&self, span: &Span) -> Pos {
        Pos::new(
            span.start.line() as u32 + self.line_offset,
            span.start.col() as u32 + 1,
        )
    }

    fn err(&self, pos: Pos, message: impl Into<String>) -> SyntaxError {
        SyntaxError {
            index: self.index,
            pos,
            message: message.into(),
        }
    }

    fn count(&mut self, n: usize, pos: Pos) -> Result<(), SyntaxError> {
        self.nodes += n;
        if self.nodes > self.limits.max_nodes {
            return Err(self.err(
                pos,
                format!(
                    "document too large: more than {} nodes (aliases expanded)",
                    self.limits.max_nodes
                ),
            ));
        }
        Ok(())
    }
}

fn parse_chunk(
    index: usize,
    line_offset: u32,
    chunk: &str,
    limits: &Limits,
) -> Result<RawDocument, SyntaxError> {
    let mut b = Builder {
        limits,
        line_offset,
        index,
        anchors: HashMap::new(),
        nodes: 0,
    };
    if chunk.len() > limits.max_bytes {
        return Err(b.err(
            Pos::new(line_offset + 1, 1),
            format!(
                "document too large: {} bytes (limit {})",
                chunk.len(),
                limits.max_bytes
            ),
        ));
    }
    if let Some(pos) = long_opener_run(chunk, MAX_OPENER_RUN) {
        let pos = Pos::new(pos.line + line_offset, pos.col);
        return Err(b.err(
            pos,
            format!(
                "more than {MAX_OPENER_RUN} flow collections opened in a row ('{{'/'['); refused (the YAML parser's time grows exponentially with them)"
            ),
        ));
    }
    let mut stack: Vec<Frame> = Vec::new();
    let mut root: Option<Node> = None;
    let mut docs_seen = 0;
    let mut parser = Parser::new_from_str(chunk);
    loop {
        let (event, span) = match parser.next_event() {
            None => break,
            Some(Ok(ev)) => ev,
            Some(Err(e)) => {
                let m = e.marker();
                return Err(b.err(
                    Pos::new(m.line() as u32 + line_offset, m.col() as u32 + 1),
                    e.info().to_string(),
                ));
            }
        };
        let pos = b.pos(&span);
        let done: Option<(Node, usize)> = match event {
            Event::StreamEnd => break,
            Event::DocumentStart(_) => {
                docs_seen += 1;
                if docs_seen > 1 {
                    return Err(b.err(pos, "unexpected second document in one chunk"));
                }
                None
            }
            Event::StreamStart | Event::DocumentEnd | Event::Nothing => None,
            Event::Alias(id) => {
                let Some(node) = b.anchors.get(&id).cloned() else {
                    return Err(b.err(pos, "alias to an unknown anchor"));
                };
                b.count(node.count(), pos)?;
                Some((node, 0))
            }
            Event::Scalar(text, style, anchor, tag) => {
                b.count(1, pos)?;
                let str_tag = tag.as_ref().is_some_and(|t| {
                    t.is_yaml_core_schema() && t.suffix == "str"
                        || t.handle == "!" && t.suffix.is_empty()
                });
                let node = Node {
                    value: Value::Scalar(Scalar {
                        text: text.into_owned().into_boxed_str(),
                        plain: style == ScalarStyle::Plain && !str_tag,
                    }),
                    pos,
                };
                Some((node, anchor))
            }
            Event::SequenceStart(anchor, _) => {
                b.count(1, pos)?;
                if stack.len() >= limits.max_depth {
                    return Err(b.err(
                        pos,
                        format!("nesting deeper than {} levels", limits.max_depth),
                    ));
                }
                stack.push(Frame::Seq(Vec::new(), pos, anchor));
                None
            }
            Event::MappingStart(anchor, _) => {
                b.count(1, pos)?;
                if stack.len() >= limits.max_depth {
                    return Err(b.err(
                        pos,
                        format!("nesting deeper than {} levels", limits.max_depth),
                    ));
                }
                stack.push(Frame::Map(Vec::new(), None, pos, anchor));
                None
            }
            Event::SequenceEnd => match stack.pop() {
                Some(Frame::Seq(items, p, anchor)) => Some((
                    Node {
                        value: Value::Seq(items),
                        pos: p,
                    },
                    anchor,
                )),
                _ => return Err(b.err(pos, "unbalanced sequence end")),
            },
            Event::MappingEnd => match stack.pop() {
                Some(Frame::Map(entries, _, p, anchor)) => Some((
                    Node {
                        value: Value::Map(merge_keys(entries)),
                        pos: p,
                    },
                    anchor,
                )),
                _ => return Err(b.err(pos, "unbalanced mapping end")),
            },
        };
        if let Some((node, anchor)) = done {
            if anchor != 0 {
                b.anchors.insert(anchor, node.clone());
            }
            match stack.last_mut() {
                None => root = Some(node),
                Some(Frame::Seq(items, ..)) => items.push(node),
                Some(Frame::Map(entries, pending, ..)) => match pending.take() {
                    None => {
                        // Kubernetes objects are JSON: a mapping key must be a scalar (the API
                        // server's decoder rejects `{a: 1}: x` and `[a]: x` too).
                        let Value::Scalar(s) = node.value else {
                            return Err(b.err(
                                node.pos,
                                "mapping key is not a scalar (a list or mapping used as a key)",
                            ));
                        };
                        *pending = Some((s.text, node.pos));
                    }
                    Some((key, key_pos)) => entries.push(Entry {
                        key,
                        key_pos,
                        value: node,
                    }),
                },
            }
        }
    }
    let root = root.filter(|r| !r.is_null());
    let line = root.as_ref().map_or(line_offset + 1, |r| r.pos.line);
    Ok(RawDocument { index, line, root })
}

/// Applies YAML merge keys (`<<: *anchor`), which the API server's decoder honours.
fn merge_keys(entries: Vec<Entry>) -> Vec<Entry> {
    if !entries.iter().any(|e| &*e.key == "<<") {
        return entries;
    }
    let mut own = Vec::with_capacity(entries.len());
    let mut merged: Vec<Entry> = Vec::new();
    for e in entries {
        if &*e.key == "<<" {
            let sources: Vec<&Node> = match &e.value.value {
                Value::Seq(items) => items.iter().collect(),
                _ => vec![&e.value],
            };
            for src in sources {
                for se in src.entries() {
                    if !merged.iter().any(|m| m.key == se.key) {
                        merged.push(se.clone());
                    }
                }
            }
        } else {
            own.push(e);
        }
    }
    merged.retain(|m| !own.iter().any(|o| o.key == m.key));
    own.extend(merged);
    own
}

#[cfg(test)]
mod tests {
    use super::*;

    fn docs(text: &str) -> Vec<Result<RawDocument, SyntaxError>> {
        parse_stream(text, &Limits::default())
    }

    #[test]
    fn positions_point_at_keys_and_values() {
        let d = docs("a: 1\nb:\n  c: [x, y]\n");
        let root = d[0].as_ref().unwrap().root.as_ref().unwrap();
        let b = root.entry("b").unwrap();
        assert_eq!(b.key_pos, Pos::new(2, 1));
        let c = b.value.entry("c").unwrap();
        assert_eq!(c.key_pos, Pos::new(3, 3));
        assert_eq!(c.value.items()[1].pos, Pos::new(3, 10));
    }

    #[test]
    fn an_error_in_one_document_keeps_the_others() {
        let d = docs("a: 1\n---\nb: [unclosed\n---\nc: 3\n");
        assert_eq!(d.len(), 3);
        assert!(d[0].is_ok());
        let e = d[1].as_ref().unwrap_err();
        assert_eq!(e.index, 1);
        assert!(e.pos.line >= 3, "{e}");
        let third = d[2].as_ref().unwrap();
        assert_eq!(third.root.as_ref().unwrap().get("c").unwrap().pos.line, 5);
    }

    #[test]
    fn empty_documents_are_dropped() {
        let d = docs("---\n---\na: 1\n...\n");
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].as_ref().unwrap().index, 1);
    }

    #[test]
    fn deep_nesting_and_alias_bombs_are_refused() {
        let deep = "[a, ".repeat(500) + &"]".repeat(500);
        let e = docs(&deep).remove(0).unwrap_err();
        assert!(
            e.message.contains("nesting") || e.message.contains("recursion"),
            "{e}"
        );
        let mut bomb = String::from("a: &a [x,x,x,x,x,x,x,x,x,x]\n");
        for i in 0..8 {
            let prev = if i == 0 {
                "a".to_string()
            } else {
                format!("l{}", i - 1)
            };
            bomb.push_str(&format!(
                "l{i}: &l{i} [*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev}]\n"
            ));
        }
        let limits = Limits {
            max_nodes: 100_000,
            ..Limits::default()
        };
        let r = parse_stream(&bomb, &limits);
        assert!(r[0].as_ref().unwrap_err().message.contains("too large"));
    }

    #[test]
    fn runs_of_flow_openers_are_refused_before_parsing() {
        // Found by fuzzing: this took exponential time and memory in the parser.
        let bad = format!("a:\n  b: {}{}\n---\nc: 1\n", "{".repeat(40), "}".repeat(40));
        let d = docs(&bad);
        let e = d[0].as_ref().unwrap_err();
        assert_eq!(e.pos, Pos::new(2, 6));
        assert!(e.message.contains("in a row"), "{e}");
        assert!(d[1].is_ok(), "the next document still loads");
        // Ordinary nesting, arrays of objects and comments are fine.
        let ok = "a: [{b: [{c: [[1, 2], [3]]}]}]\n# {{{{{{{{{{{{{{{{{{{{\nd: \"x\"\n";
        assert!(docs(ok)[0].is_ok());
        assert_eq!(long_opener_run("{{{{ {", 4), Some(Pos::new(1, 1)));
        assert_eq!(long_opener_run("{{x{{", 3), None);
    }

    #[test]
    fn non_scalar_keys_are_refused() {
        // Found by fuzzing: rendering nested complex keys as text grew exponentially.
        let nested = format!("{}{}", "{x, ".repeat(40), "}".repeat(40));
        let e = docs(&nested).remove(0).unwrap_err();
        assert!(e.message.contains("not a scalar"), "{e}");
        assert!(docs("? [a, b]\n: c\n")[0].is_err());
        assert!(docs("a: {b: [1, {c: d}]}\n")[0].is_ok());
    }

    #[test]
    fn json_and_merge_keys() {
        let d = docs("{\"kind\": \"Pod\", \"spec\": {\"x\": true}}");
        let root = d[0].as_ref().unwrap().root.as_ref().unwrap();
        assert_eq!(root.at(&["spec", "x"]).unwrap().as_bool(), Some(true));
        let d = docs("base: &b {x: 1, y: 2}\nd:\n  <<: *b\n  y: 3\n");
        let root = d[0].as_ref().unwrap().root.as_ref().unwrap();
        let dd = root.get("d").unwrap();
        assert_eq!(dd.get("x").unwrap().as_i64(), Some(1));
        assert_eq!(dd.get("y").unwrap().as_i64(), Some(3));
    }
}
