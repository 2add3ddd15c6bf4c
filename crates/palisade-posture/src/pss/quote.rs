//! Text helpers that reproduce the Go formatting PodSecurity uses in its messages.

/// `"a", "b"` — PodSecurity's `joinQuote`: wraps each item in double quotes without escaping.
pub(crate) fn join_quote<S: AsRef<str>>(items: &[S]) -> String {
    if items.is_empty() {
        return String::new();
    }
    let mut out = String::from("\"");
    for (i, it) in items.iter().enumerate() {
        if i > 0 {
            out.push_str("\", \"");
        }
        out.push_str(it.as_ref());
    }
    out.push('"');
    out
}

/// PodSecurity's `pluralize`.
pub(crate) fn pluralize<'a>(singular: &'a str, plural: &'a str, count: usize) -> &'a str {
    if count == 1 { singular } else { plural }
}

/// True for characters Go's `unicode.IsPrint` rejects that we can recognise without Unicode
/// tables: controls, separators other than the ASCII space, common format characters,
/// surrogates are impossible in Rust strings, private use and noncharacters.
fn go_unprintable(c: char) -> bool {
    let u = c as u32;
    c.is_control()
        || (c.is_whitespace() && c != ' ')
        || matches!(u,
            0x00AD | 0x0600..=0x0605 | 0x061C | 0x06DD | 0x070F | 0x180E
            | 0x200B..=0x200F | 0x202A..=0x202E | 0x2060..=0x2064 | 0x2066..=0x206F
            | 0xFEFF | 0xFFF9..=0xFFFB | 0xE000..=0xF8FF | 0xFDD0..=0xFDEF
            | 0xF0000..=0x10FFFF | 0xE0001 | 0xE0020..=0xE007F)
        || (u & 0xFFFE) == 0xFFFE
}

/// Go's `strconv.Quote` (the `%q` verb) for a valid UTF-8 string.
pub(crate) fn go_quote(s: &str) -> String {
    use std::fmt::Write;
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{b}' => out.push_str("\\v"),
            c if go_unprintable(c) => {
                let u = c as u32;
                let _ = if u < 0x80 {
                    write!(out, "\\x{u:02x}")
                } else if u < 0x10000 {
                    write!(out, "\\u{u:04x}")
                } else {
                    write!(out, "\\U{u:08x}")
                };
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_matches_go() {
        assert_eq!(join_quote::<&str>(&[]), "");
        assert_eq!(join_quote(&["a", "b"]), r#""a", "b""#);
        assert_eq!(go_quote("unconfined"), r#""unconfined""#);
        assert_eq!(
            go_quote("a\"b\\c\n\t\u{7f}\u{1}"),
            r#""a\"b\\c\n\t\x7f\x01""#
        );
        assert_eq!(go_quote("é✓ x"), "\"é✓ x\"");
        assert_eq!(go_quote("\u{200b}\u{85}"), r#""\u200b\u0085""#);
        assert_eq!(pluralize("volume", "volumes", 1), "volume");
        assert_eq!(pluralize("volume", "volumes", 0), "volumes");
    }
}
