//! The fence agent's two input forms: `key=value` lines on stdin (how
//! Pacemaker and fenced call it) and getopt-style arguments (how a person
//! debugging calls it). Both end in the same [`FenceRequest`].

use std::io::BufRead;
use std::time::Duration;

use super::fence_action::FenceAction;
use super::fence_options::{
    find_by_key, find_by_long, find_by_short, FenceOption, Setting, DEFAULT_DELAY,
    DEFAULT_POWER_TIMEOUT, DEFAULT_SEPARATOR,
};

#[derive(Debug, thiserror::Error)]
pub enum FenceArgsError {
    #[error("Parse error: cannot read the options on standard input: {0}")]
    ReadStdin(#[source] std::io::Error),
    #[error("Parse error: unknown option '{0}'")]
    UnknownOption(String),
    #[error("Parse error: option '{0}' requires an argument")]
    MissingValue(String),
    #[error("Parse error: option '{0}' does not take an argument")]
    UnexpectedValue(String),
    // fence-agents only warns about stray words and goes on with the default
    // action, reboot: a mistyped `fence_vroot off web` would then reboot.
    #[error("Parse error: unexpected argument '{0}' (the action is given with -o, the container with -n)")]
    UnexpectedArgument(String),
    #[error("Failed: Unrecognised action '{0}'")]
    UnknownAction(String),
    #[error("Failed: The value you have entered for {0} is not a valid time in seconds")]
    InvalidSeconds(String),
    #[error("Failed: {0} must be more than 0 seconds: a fence that is never verified is no fence")]
    ZeroTimeout(String),
    #[error("Failed: The value you have entered for {0} must not be empty")]
    EmptySeparator(String),
}

/// What the fence agent was asked to do, with every default filled in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FenceRequest {
    pub action: FenceAction,
    pub plug: Option<String>,
    pub nodename: Option<String>,
    pub separator: String,
    pub power_timeout: Duration,
    pub delay: Duration,
    pub verbose: bool,
    pub help: bool,
    pub version: bool,
}

impl FenceRequest {
    /// The container to act on: the plug, or else the node name, as the
    /// fence-agents API prefers `port` when both are given.
    pub(crate) fn target(&self) -> Option<&str> {
        self.plug.as_deref().or(self.nodename.as_deref())
    }
}

/// A request plus the warnings parsing it produced (ignored keys and such),
/// which the agent prints on stderr.
#[derive(Debug)]
pub(crate) struct ParsedInput {
    pub request: FenceRequest,
    pub warnings: Vec<String>,
}

/// One option as given: which option, under which spelling (for messages),
/// and its value (`"1"`/`"0"` for flags). The last one given wins.
struct Given {
    option: &'static FenceOption,
    spelling: String,
    value: String,
}

/// Parses the `key=value` lines fence-agents' callers write on stdin.
pub(crate) fn parse_stdin(stdin: &mut dyn BufRead) -> Result<ParsedInput, FenceArgsError> {
    let mut text = String::new();
    stdin
        .read_to_string(&mut text)
        .map_err(FenceArgsError::ReadStdin)?;
    let mut given = Vec::new();
    let mut warnings = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (key, value) = line.split_once('=').unwrap_or((line, ""));
        let value = strip_quotes(value);
        let Some(option) = find_by_key(key) else {
            // Only the key: unknown lines may well carry passwords.
            warnings.push(format!("Parse error: Ignoring unknown option '{key}'"));
            continue;
        };
        let value = if option.value_type.takes_value() {
            value.to_string()
        } else if let Some(flag) = parse_flag(value) {
            flag.to_string()
        } else {
            warnings.push(format!(
                "Parse error: Ignoring option '{key}' because it does not have a valid value"
            ));
            continue;
        };
        given.push(Given {
            option,
            spelling: key.to_string(),
            value,
        });
    }
    Ok(ParsedInput {
        request: finish(&given)?,
        warnings,
    })
}

/// Parses getopt-style arguments: `-o off`, `-ooff`, `--action=off`,
/// `--action off`, bundled flags such as `-vo off`.
pub(crate) fn parse_command_line(args: &[String]) -> Result<ParsedInput, FenceArgsError> {
    let mut given = Vec::new();
    let mut remaining = args.iter();
    while let Some(arg) = remaining.next() {
        if arg == "--" {
            if let Some(stray) = remaining.next() {
                return Err(FenceArgsError::UnexpectedArgument(stray.clone()));
            }
            break;
        }
        if let Some(long) = arg.strip_prefix("--") {
            let (name, inline_value) = match long.split_once('=') {
                Some((name, value)) => (name, Some(value)),
                None => (long, None),
            };
            let spelling = format!("--{name}");
            let option = find_by_long(name)
                .ok_or_else(|| FenceArgsError::UnknownOption(spelling.clone()))?;
            let value = if option.value_type.takes_value() {
                match inline_value {
                    Some(value) => value.to_string(),
                    None => remaining
                        .next()
                        .cloned()
                        .ok_or_else(|| FenceArgsError::MissingValue(spelling.clone()))?,
                }
            } else if inline_value.is_some() {
                return Err(FenceArgsError::UnexpectedValue(spelling));
            } else {
                "1".to_string()
            };
            given.push(Given {
                option,
                spelling,
                value,
            });
        } else if let Some(shorts) = arg.strip_prefix('-').filter(|rest| !rest.is_empty()) {
            for (index, short) in shorts.char_indices() {
                let spelling = format!("-{short}");
                let option = find_by_short(short)
                    .ok_or_else(|| FenceArgsError::UnknownOption(spelling.clone()))?;
                if !option.value_type.takes_value() {
                    given.push(Given {
                        option,
                        spelling,
                        value: "1".to_string(),
                    });
                    continue;
                }
                // The rest of the word is the value (`-ooff`), or else the next word.
                let attached = &shorts[index + short.len_utf8()..];
                let value = if attached.is_empty() {
                    remaining
                        .next()
                        .cloned()
                        .ok_or_else(|| FenceArgsError::MissingValue(spelling.clone()))?
                } else {
                    attached.to_string()
                };
                given.push(Given {
                    option,
                    spelling,
                    value,
                });
                break;
            }
        } else {
            return Err(FenceArgsError::UnexpectedArgument(arg.clone()));
        }
    }
    Ok(ParsedInput {
        request: finish(&given)?,
        warnings: Vec::new(),
    })
}

/// Turns the options given into a request: the last value of each setting
/// wins, defaults fill the rest, values are checked.
fn finish(given: &[Given]) -> Result<FenceRequest, FenceArgsError> {
    let last = |setting: Setting| {
        given
            .iter()
            .rev()
            .find(|entry| entry.option.setting == setting)
    };
    let flag = |setting: Setting| last(setting).is_some_and(|entry| entry.value == "1");
    let text = |setting: Setting| {
        last(setting)
            .map(|entry| entry.value.clone())
            .filter(|value| !value.is_empty())
    };

    let help = flag(Setting::Help);
    let version = flag(Setting::Version);
    let action = match last(Setting::Action) {
        None => FenceAction::DEFAULT,
        Some(entry) => match FenceAction::parse(&entry.value) {
            Some(action) => action,
            // Help and version answer whatever the action says.
            None if help || version => FenceAction::DEFAULT,
            None => return Err(FenceArgsError::UnknownAction(entry.value.clone())),
        },
    };

    let power_timeout = seconds(last(Setting::PowerTimeout), DEFAULT_POWER_TIMEOUT)?;
    if power_timeout.is_zero() {
        let spelling = last(Setting::PowerTimeout).map_or("power_timeout", |entry| &entry.spelling);
        return Err(FenceArgsError::ZeroTimeout(spelling.to_string()));
    }
    let delay = seconds(last(Setting::Delay), DEFAULT_DELAY)?;

    let separator = match last(Setting::Separator) {
        None => DEFAULT_SEPARATOR.to_string(),
        Some(entry) if entry.value.is_empty() => {
            return Err(FenceArgsError::EmptySeparator(entry.spelling.clone()))
        }
        Some(entry) => entry.value.clone(),
    };

    Ok(FenceRequest {
        action,
        plug: text(Setting::Plug),
        nodename: text(Setting::Nodename),
        separator,
        power_timeout,
        delay,
        // A debug file asks for a log; ours goes to stderr.
        verbose: flag(Setting::Verbose) || text(Setting::Debug).is_some(),
        help,
        version,
    })
}

/// A number of seconds as fence-agents writes them: digits with an
/// optional fraction; no sign, exponent or `inf`.
fn seconds(entry: Option<&Given>, default: &str) -> Result<Duration, FenceArgsError> {
    let text = entry.map_or(default, |entry| entry.value.as_str()).trim();
    let well_formed = !text.is_empty()
        && text.chars().all(|c| c.is_ascii_digit() || c == '.')
        && text.chars().filter(|&c| c == '.').count() <= 1;
    let parsed = well_formed
        .then(|| text.parse::<f64>().ok())
        .flatten()
        .and_then(|value| Duration::try_from_secs_f64(value).ok());
    parsed.ok_or_else(|| {
        let spelling = entry.map_or("the default", |entry| entry.spelling.as_str());
        FenceArgsError::InvalidSeconds(spelling.to_string())
    })
}

/// The flag values fence-agents accepts on stdin.
fn parse_flag(value: &str) -> Option<&'static str> {
    match value.to_ascii_lowercase().as_str() {
        "1" | "yes" | "on" | "true" => Some("1"),
        "0" | "no" | "off" | "false" => Some("0"),
        _ => None,
    }
}

/// Callers sometimes quote values; the quotes are not part of them.
fn strip_quotes(value: &str) -> &str {
    value
        .strip_prefix('"')
        .and_then(|inner| inner.strip_suffix('"'))
        .unwrap_or(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stdin(text: &str) -> Result<ParsedInput, FenceArgsError> {
        parse_stdin(&mut text.as_bytes())
    }

    fn command_line(args: &[&str]) -> Result<ParsedInput, FenceArgsError> {
        let args: Vec<String> = args.iter().map(|arg| arg.to_string()).collect();
        parse_command_line(&args)
    }

    #[test]
    fn stdin_defaults_to_reboot_with_ten_seconds() {
        let request = stdin("").unwrap().request;
        assert_eq!(request.action, FenceAction::Reboot);
        assert_eq!(request.power_timeout, Duration::from_secs(10));
        assert_eq!(request.delay, Duration::ZERO);
        assert_eq!(request.separator, ",");
        assert_eq!(request.target(), None);
    }

    #[test]
    fn stdin_takes_the_last_value_and_strips_quotes() {
        let request = stdin("action=on\naction=\"off\"\nport=a\nplug=b\n")
            .unwrap()
            .request;
        assert_eq!(request.action, FenceAction::Off);
        assert_eq!(request.plug.as_deref(), Some("b"));
    }

    #[test]
    fn stdin_flags_accept_words_and_warn_on_nonsense() {
        let parsed = stdin("verbose=yes\n").unwrap();
        assert!(parsed.request.verbose);
        let parsed = stdin("verbose=perhaps\n").unwrap();
        assert!(!parsed.request.verbose);
        assert_eq!(parsed.warnings.len(), 1);
    }

    #[test]
    fn stdin_unknown_keys_warn_without_their_values() {
        let parsed = stdin("passwd=secret\naction=status\n").unwrap();
        assert_eq!(parsed.request.action, FenceAction::Status);
        assert_eq!(parsed.warnings.len(), 1);
        assert!(!parsed.warnings[0].contains("secret"));
    }

    #[test]
    fn stdin_plug_wins_over_nodename() {
        let request = stdin("nodename=node1\nport=web\n").unwrap().request;
        assert_eq!(request.target(), Some("web"));
        let request = stdin("nodename=node1\n").unwrap().request;
        assert_eq!(request.target(), Some("node1"));
    }

    #[test]
    fn command_line_forms() {
        for args in [
            &["-o", "off", "-n", "web"][..],
            &["-ooff", "-nweb"],
            &["--action=off", "--plug=web"],
            &["--action", "off", "--port", "web"],
            &["--action=OFF", "--plug", "web"],
        ] {
            let request = command_line(args).unwrap().request;
            assert_eq!(request.action, FenceAction::Off, "{args:?}");
            assert_eq!(request.target(), Some("web"), "{args:?}");
        }
    }

    #[test]
    fn command_line_bundles_flags_and_interchanges_dashes() {
        let request = command_line(&["-vo", "status", "--power_timeout=2.5", "-n", "x"])
            .unwrap()
            .request;
        assert!(request.verbose);
        assert_eq!(request.action, FenceAction::Status);
        assert_eq!(request.power_timeout, Duration::from_millis(2500));
    }

    #[test]
    fn command_line_rejects_what_it_does_not_know() {
        assert!(matches!(
            command_line(&["--ipaddr=1"]),
            Err(FenceArgsError::UnknownOption(_))
        ));
        assert!(matches!(
            command_line(&["-x"]),
            Err(FenceArgsError::UnknownOption(_))
        ));
        assert!(matches!(
            command_line(&["-o"]),
            Err(FenceArgsError::MissingValue(_))
        ));
        assert!(matches!(
            command_line(&["--verbose=1"]),
            Err(FenceArgsError::UnexpectedValue(_))
        ));
        assert!(matches!(
            command_line(&["off", "web"]),
            Err(FenceArgsError::UnexpectedArgument(_))
        ));
        assert!(matches!(
            command_line(&["-o", "explode"]),
            Err(FenceArgsError::UnknownAction(_))
        ));
    }

    #[test]
    fn timeouts_must_be_plain_positive_seconds() {
        for bad in ["-1", "1e3", "inf", "abc", "1.2.3", ""] {
            assert!(
                matches!(
                    command_line(&["--power-timeout", bad]),
                    Err(FenceArgsError::InvalidSeconds(_))
                ),
                "{bad:?}"
            );
        }
        assert!(matches!(
            command_line(&["--power-timeout=0"]),
            Err(FenceArgsError::ZeroTimeout(_))
        ));
        assert_eq!(
            command_line(&["--delay=0"]).unwrap().request.delay,
            Duration::ZERO
        );
    }

    #[test]
    fn help_ignores_a_bad_action() {
        let request = command_line(&["-h", "-o", "explode"]).unwrap().request;
        assert!(request.help);
    }
}
