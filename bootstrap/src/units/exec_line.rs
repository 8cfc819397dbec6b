//! Writing values into unit files so that systemd reads back exactly what
//! was meant: `%` starts a specifier and `$` a variable in Exec lines, and a
//! path with spaces needs quotes.

use std::path::Path;

/// A program path or argument for `ExecStart=` and friends.
pub(crate) fn exec_word(word: &str) -> String {
    let escaped = word.replace('%', "%%").replace('$', "$$");
    let needs_quotes = escaped
        .chars()
        .any(|c| c.is_whitespace() || matches!(c, '"' | '\'' | '\\' | ';'));
    if needs_quotes {
        format!("\"{}\"", escaped.replace('\\', "\\\\").replace('"', "\\\""))
    } else {
        escaped
    }
}

pub(crate) fn exec_path(path: &Path) -> String {
    exec_word(&path.to_string_lossy())
}

/// Free text such as `Description=`: only specifiers need escaping, and a
/// line break would end the value.
pub(crate) fn text(value: &str) -> String {
    value.replace('%', "%%").replace(['\n', '\r'], " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_specifiers_variables_and_spaces() {
        assert_eq!(exec_word("/usr/sbin/vroot"), "/usr/sbin/vroot");
        assert_eq!(exec_word("/opt/v 1/vroot"), "\"/opt/v 1/vroot\"");
        assert_eq!(exec_word("/opt/100%/$x"), "/opt/100%%/$$x");
        assert_eq!(text("50% at /vz"), "50%% at /vz");
    }
}
