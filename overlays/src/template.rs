//! `gen` templates: text with `{{ variable }}` placeholders, filled from the
//! container's and the host's facts and `[overlay.vars]`.
//!
//! Deliberately small: substitution only, no logic. A placeholder naming a
//! variable that is not defined is an error, never an empty string, so a
//! typo cannot silently render a broken network config on every node.

use std::collections::BTreeMap;

/// The variables a template can use.
pub type Variables = BTreeMap<String, String>;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    #[error(
        "line {line}: unknown variable `{name}` (defined: {defined}); add it to [overlay.vars]"
    )]
    Unknown {
        line: usize,
        name: String,
        defined: String,
    },
    #[error("line {line}: `{{{{` is not closed by `}}}}`")]
    Unclosed { line: usize },
    #[error("line {line}: `{{{{ {text} }}}}` is not a variable name")]
    NotAName { line: usize, text: String },
    #[error("is not UTF-8 text")]
    NotText,
}

/// Renders `text`. `{{{{` and `}}}}` are not special; write `{{ "{{" }}` to
/// get a literal `{{`.
pub fn render(text: &str, variables: &Variables) -> Result<String, TemplateError> {
    let mut output = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find("{{") {
        output.push_str(&rest[..open]);
        let line = text[..text.len() - rest.len() + open].matches('\n').count() + 1;
        let after = &rest[open + 2..];
        let close = after.find("}}").ok_or(TemplateError::Unclosed { line })?;
        let inside = after[..close].trim();
        if let Some(literal) = inside
            .strip_prefix('"')
            .and_then(|quoted| quoted.strip_suffix('"'))
        {
            output.push_str(literal);
        } else if inside
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_')
            && !inside.is_empty()
        {
            let value = variables
                .get(inside)
                .ok_or_else(|| TemplateError::Unknown {
                    line,
                    name: inside.to_string(),
                    defined: variables.keys().cloned().collect::<Vec<_>>().join(", "),
                })?;
            output.push_str(value);
        } else {
            return Err(TemplateError::NotAName {
                line,
                text: inside.to_string(),
            });
        }
        rest = &after[close + 2..];
    }
    output.push_str(rest);
    Ok(output)
}

/// Renders template bytes, which must be UTF-8 text.
pub fn render_bytes(bytes: &[u8], variables: &Variables) -> Result<Vec<u8>, TemplateError> {
    let text = std::str::from_utf8(bytes).map_err(|_| TemplateError::NotText)?;
    render(text, variables).map(String::into_bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars() -> Variables {
        [("hostname", "node1"), ("address", "192.0.2.11/24")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn fills_placeholders_with_or_without_spaces() {
        let out = render("Name={{hostname}}\nAddress={{ address }}\n", &vars()).unwrap();
        assert_eq!(out, "Name=node1\nAddress=192.0.2.11/24\n");
    }

    #[test]
    fn text_without_placeholders_is_unchanged() {
        let text = "a { b } } {\n";
        assert_eq!(render(text, &vars()).unwrap(), text);
    }

    #[test]
    fn an_unknown_variable_names_itself_and_its_line() {
        let error = render("a\nb {{ adress }}\n", &vars()).unwrap_err();
        assert_eq!(
            error,
            TemplateError::Unknown {
                line: 2,
                name: "adress".into(),
                defined: "address, hostname".into()
            }
        );
        assert!(error.to_string().contains("[overlay.vars]"));
    }

    #[test]
    fn an_unclosed_placeholder_is_an_error() {
        assert_eq!(
            render("x\n\ny {{ hostname\n", &vars()),
            Err(TemplateError::Unclosed { line: 3 })
        );
        assert!(matches!(
            render("{{ host name }}", &vars()),
            Err(TemplateError::NotAName { line: 1, .. })
        ));
    }

    #[test]
    fn a_quoted_literal_escapes_braces() {
        assert_eq!(render(r#"{{ "{{" }} x }}"#, &vars()).unwrap(), "{{ x }}");
    }

    #[test]
    fn binary_templates_are_refused() {
        assert_eq!(
            render_bytes(&[0xff, 0xfe], &vars()),
            Err(TemplateError::NotText)
        );
    }
}
