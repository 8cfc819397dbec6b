//! Escaping for the metadata documents: their text is mostly constant, but
//! whatever is interpolated (descriptions, defaults, versions) must not be
//! able to break the markup that cluster tools validate.

/// Escapes `text` for use in XML character data and in double-quoted
/// attribute values alike (the only kind of attribute the documents use,
/// so apostrophes stay readable).
pub(crate) fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for character in text.chars() {
        match character {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            other => escaped.push(other),
        }
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::escape;

    #[test]
    fn escapes_markup_and_quotes() {
        assert_eq!(escape(r#"a<b>&"c"'d'"#), "a&lt;b&gt;&amp;&quot;c&quot;'d'");
        assert_eq!(escape("plain text"), "plain text");
    }
}
