//! XML escaping for the JUnit renderer.

/// Escapes text for an XML attribute value or element content. Characters XML 1.0 cannot
/// carry at all (most C0 controls, unpaired surrogates cannot occur in `str`, U+FFFE/U+FFFF)
/// become U+FFFD; tab, newline and carriage return are written as character references so
/// attribute normalisation keeps them.
pub(crate) fn escape(s: &str) -> String {
    escape_inner(s, false)
}

/// Escapes element content, keeping newlines, tabs and quotes literal for readability.
pub(crate) fn escape_text(s: &str) -> String {
    escape_inner(s, true)
}

fn escape_inner(s: &str, literal_whitespace: bool) -> String {
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\n' | '\t' | '"' | '\'' if literal_whitespace => out.push(c),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' => out.push_str("&#9;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            c if is_xml_char(c) => out.push(c),
            _ => out.push('\u{fffd}'),
        }
    }
    out
}

/// The `Char` production of XML 1.0 (fifth edition), excluding the characters escaped above.
fn is_xml_char(c: char) -> bool {
    matches!(c, '\u{20}'..='\u{d7ff}' | '\u{e000}'..='\u{fffd}' | '\u{10000}'..='\u{10ffff}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_controls() {
        assert_eq!(
            escape(r#"<a href="x">&'"#),
            "&lt;a href=&quot;x&quot;&gt;&amp;&apos;"
        );
        assert_eq!(
            escape("a\u{0}b\u{1b}c\u{fffe}"),
            "a\u{fffd}b\u{fffd}c\u{fffd}"
        );
        assert_eq!(escape("l1\nl2"), "l1&#10;l2");
        assert_eq!(escape_text("l1\n<l2> \"q\""), "l1\n&lt;l2&gt; \"q\"");
        assert_eq!(escape("ünïcødé 🚀"), "ünïcødé 🚀");
    }
}
