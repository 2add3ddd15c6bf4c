//! Small text helpers shared by the renderers.

use palisade_model::ObjectRef;
use std::borrow::Cow;
use std::fmt::Write as _;

/// Makes text safe for a terminal: control characters (escape sequences in a hostile
/// manifest, newlines in a message) are written as `\n`, `\u{1b}`, ... so one finding stays on
/// one line and cannot repaint the screen.
pub(crate) fn clean(s: &str) -> Cow<'_, str> {
    if !s.chars().any(is_unsafe) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if is_unsafe(c) => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

fn is_unsafe(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{2028}' | '\u{2029}' | '\u{200e}' | '\u{200f}')
        || ('\u{202a}'..='\u{202e}').contains(&c)
        || ('\u{2066}'..='\u{2069}').contains(&c)
}

/// `Kind namespace/name`, or `Kind name` for a cluster-scoped object.
pub(crate) fn object_label(o: &ObjectRef) -> String {
    match &o.namespace {
        Some(ns) => format!("{} {}/{}", o.kind, ns, o.name),
        None => format!("{} {}", o.kind, o.name),
    }
}

/// `file:line:column`, leaving out what is unknown (zero).
pub(crate) fn position(file: &str, line: u32, column: u32) -> String {
    match (line, column) {
        (0, _) => file.to_string(),
        (l, 0) => format!("{file}:{l}"),
        (l, c) => format!("{file}:{l}:{c}"),
    }
}

/// Number of characters (for alignment; every cleaned string is printable).
pub(crate) fn width(s: &str) -> usize {
    s.chars().count()
}

/// `s` padded with spaces to `w` characters.
pub(crate) fn pad(s: &str, w: usize) -> String {
    let mut out = String::with_capacity(w.max(s.len()));
    out.push_str(s);
    for _ in width(s)..w {
        out.push(' ');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_escapes_controls_only() {
        assert!(matches!(clean("plain <&> text"), Cow::Borrowed(_)));
        assert_eq!(clean("a\nb\x1b[31mc"), "a\\nb\\u{1b}[31mc");
        assert_eq!(clean("x\u{202e}y"), "x\\u{202e}y");
    }

    #[test]
    fn pad_counts_chars() {
        assert_eq!(pad("é", 3), "é  ");
        assert_eq!(pad("long", 2), "long");
    }
}
