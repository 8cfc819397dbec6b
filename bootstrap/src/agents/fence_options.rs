//! fence_vroot's options: one table that the parser, the help text and the
//! metadata all read, so that what the agent accepts and what it documents
//! cannot drift apart.

/// What an option sets in the parsed request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Setting {
    Action,
    Plug,
    Nodename,
    Separator,
    PowerTimeout,
    Delay,
    Verbose,
    Debug,
    Version,
    Help,
}

/// The option's value, with the type names of fence-agents' metadata schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ValueType {
    /// A flag: present on the command line, or `1`/`yes`/`on`/`true` on stdin.
    Boolean,
    String,
    /// A number of seconds, possibly with a fraction.
    Second,
}

impl ValueType {
    pub(crate) fn schema_name(self) -> &'static str {
        match self {
            ValueType::Boolean => "boolean",
            ValueType::String => "string",
            ValueType::Second => "second",
        }
    }

    pub(crate) fn takes_value(self) -> bool {
        self != ValueType::Boolean
    }
}

/// How the option appears in the metadata and the help.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Listing {
    Listed,
    /// Listed, and replaces the older name given (`plug` replaces `port`).
    Obsoletes(&'static str),
    /// Listed as deprecated: still accepted, another name replaces it.
    Deprecated,
    /// Accepted on stdin only, never documented (old spellings).
    Hidden,
}

pub(crate) struct FenceOption {
    pub setting: Setting,
    /// The stdin key and the metadata name.
    pub name: &'static str,
    pub short: Option<char>,
    /// The long command-line form, without `--`; `None` for stdin only.
    pub long: Option<&'static str>,
    pub value_type: ValueType,
    /// How the help and the metadata show the value, e.g. `[seconds]`.
    pub placeholder: &'static str,
    pub default: Option<&'static str>,
    pub required: bool,
    pub listing: Listing,
    pub description: &'static str,
}

impl FenceOption {
    /// The command-line forms as fence-agents' metadata shows them, e.g.
    /// `-o, --action=[action]` or `--delay=[seconds]`.
    pub(crate) fn command_line_forms(&self) -> String {
        let mut forms = Vec::new();
        if let Some(short) = self.short {
            forms.push(format!("-{short}"));
        }
        if let Some(long) = self.long {
            if self.value_type.takes_value() {
                forms.push(format!("--{long}={}", self.placeholder));
            } else {
                forms.push(format!("--{long}"));
            }
        }
        forms.join(", ")
    }

    pub(crate) fn is_documented(&self) -> bool {
        self.listing != Listing::Hidden
    }
}

/// The default `power_timeout`, in seconds, as text because the metadata
/// shows it; the parser reads the same text.
pub(crate) const DEFAULT_POWER_TIMEOUT: &str = "10";
pub(crate) const DEFAULT_DELAY: &str = "0";
pub(crate) const DEFAULT_SEPARATOR: &str = ",";

pub(crate) const OPTIONS: &[FenceOption] = &[
    FenceOption {
        setting: Setting::Action,
        name: "action",
        short: Some('o'),
        long: Some("action"),
        value_type: ValueType::String,
        placeholder: "[action]",
        default: Some("reboot"),
        required: true,
        listing: Listing::Listed,
        description: "Fencing action",
    },
    FenceOption {
        setting: Setting::Action,
        name: "option",
        short: None,
        long: None,
        value_type: ValueType::String,
        placeholder: "[action]",
        default: None,
        required: false,
        listing: Listing::Hidden,
        description: "Old name of action",
    },
    FenceOption {
        setting: Setting::Plug,
        name: "plug",
        short: Some('n'),
        long: Some("plug"),
        value_type: ValueType::String,
        placeholder: "[id]",
        default: None,
        // Pacemaker always passes `nodename`, which stands in for a missing plug.
        required: false,
        listing: Listing::Obsoletes("port"),
        description: "Name of the container to act on (defaults to nodename)",
    },
    FenceOption {
        setting: Setting::Plug,
        name: "port",
        short: None,
        long: Some("port"),
        value_type: ValueType::String,
        placeholder: "[id]",
        default: None,
        required: false,
        listing: Listing::Deprecated,
        description: "Name of the container to act on (defaults to nodename)",
    },
    FenceOption {
        setting: Setting::Nodename,
        name: "nodename",
        short: None,
        long: Some("nodename"),
        value_type: ValueType::String,
        placeholder: "[name]",
        default: None,
        required: false,
        listing: Listing::Listed,
        description: "Cluster node to fence; taken as the container name when no plug is given",
    },
    FenceOption {
        setting: Setting::Separator,
        name: "separator",
        short: Some('C'),
        long: Some("separator"),
        value_type: ValueType::String,
        placeholder: "[char]",
        default: Some(DEFAULT_SEPARATOR),
        required: false,
        listing: Listing::Listed,
        description: "Separator for CSV created by the list and list-status actions",
    },
    FenceOption {
        setting: Setting::PowerTimeout,
        name: "power_timeout",
        short: None,
        long: Some("power-timeout"),
        value_type: ValueType::Second,
        placeholder: "[seconds]",
        default: Some(DEFAULT_POWER_TIMEOUT),
        required: false,
        listing: Listing::Listed,
        description: "Wait X seconds for the container to be verified OFF or ON",
    },
    FenceOption {
        setting: Setting::Delay,
        name: "delay",
        short: None,
        long: Some("delay"),
        value_type: ValueType::Second,
        placeholder: "[seconds]",
        default: Some(DEFAULT_DELAY),
        required: false,
        listing: Listing::Listed,
        description: "Wait X seconds before fencing is started",
    },
    FenceOption {
        setting: Setting::Verbose,
        name: "verbose",
        short: Some('v'),
        long: Some("verbose"),
        value_type: ValueType::Boolean,
        placeholder: "",
        default: None,
        required: false,
        listing: Listing::Listed,
        description: "Verbose mode: log each step to standard error",
    },
    FenceOption {
        setting: Setting::Debug,
        name: "debug",
        short: Some('D'),
        long: Some("debug-file"),
        value_type: ValueType::String,
        placeholder: "[debugfile]",
        default: None,
        required: false,
        listing: Listing::Listed,
        description: "Accepted for compatibility: turns on verbose mode, whose log goes to standard error, not to the file",
    },
    FenceOption {
        setting: Setting::Version,
        name: "version",
        short: Some('V'),
        long: Some("version"),
        value_type: ValueType::Boolean,
        placeholder: "",
        default: None,
        required: false,
        listing: Listing::Listed,
        description: "Display version information and exit",
    },
    FenceOption {
        setting: Setting::Help,
        name: "help",
        short: Some('h'),
        long: Some("help"),
        value_type: ValueType::Boolean,
        placeholder: "",
        default: None,
        required: false,
        listing: Listing::Listed,
        description: "Display help and exit",
    },
];

/// fence-agents treats `-` and `_` in option names as the same character.
fn normalize(name: &str) -> String {
    name.replace('-', "_")
}

/// The option a stdin key names: its metadata name or its long form.
pub(crate) fn find_by_key(key: &str) -> Option<&'static FenceOption> {
    let key = normalize(key);
    OPTIONS
        .iter()
        .find(|option| option.name == key || option.long.is_some_and(|long| normalize(long) == key))
}

/// The option a `--long` command-line form names (without the dashes).
pub(crate) fn find_by_long(long: &str) -> Option<&'static FenceOption> {
    find_by_key(long).filter(|option| option.long.is_some())
}

pub(crate) fn find_by_short(short: char) -> Option<&'static FenceOption> {
    OPTIONS.iter().find(|option| option.short == Some(short))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_match_with_dashes_or_underscores() {
        for key in ["power_timeout", "power-timeout"] {
            assert_eq!(find_by_key(key).unwrap().setting, Setting::PowerTimeout);
        }
        assert_eq!(find_by_key("debug_file").unwrap().setting, Setting::Debug);
        assert_eq!(find_by_key("port").unwrap().setting, Setting::Plug);
        assert!(find_by_key("ipaddr").is_none());
    }

    #[test]
    fn stdin_only_names_have_no_long_form() {
        assert!(find_by_key("option").is_some());
        assert!(find_by_long("option").is_none());
    }

    #[test]
    fn short_and_long_forms_are_unique() {
        for (index, option) in OPTIONS.iter().enumerate() {
            for other in &OPTIONS[index + 1..] {
                assert!(option.short.is_none() || option.short != other.short);
                assert!(option.long.is_none() || option.long != other.long);
                assert_ne!(option.name, other.name);
            }
        }
    }

    #[test]
    fn shows_command_line_forms_like_fence_agents() {
        assert_eq!(
            find_by_key("action").unwrap().command_line_forms(),
            "-o, --action=[action]"
        );
        assert_eq!(
            find_by_key("verbose").unwrap().command_line_forms(),
            "-v, --verbose"
        );
        assert_eq!(
            find_by_key("delay").unwrap().command_line_forms(),
            "--delay=[seconds]"
        );
    }
}
