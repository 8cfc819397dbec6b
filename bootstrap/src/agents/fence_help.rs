//! `fence_vroot -h`: the usage text, built from the same option table as the
//! parser so it lists exactly what is accepted.

use super::fence_action::FenceAction;
use super::fence_metadata::FENCE_AGENT_NAME;
use super::fence_options::{Setting, OPTIONS};

/// Column where descriptions start, as in fence-agents' own help.
const DESCRIPTION_COLUMN: usize = 34;

pub(crate) fn fence_usage() -> String {
    let mut text = format!("Usage:\n\t{FENCE_AGENT_NAME} [options]\nOptions:\n");
    for option in OPTIONS.iter().filter(|option| option.is_documented()) {
        let description = if option.setting == Setting::Action {
            format!("Action: {}", action_list())
        } else {
            option.description.to_string()
        };
        text.push_str(&format!(
            "   {:<width$}{description}\n",
            option.command_line_forms(),
            width = DESCRIPTION_COLUMN - 3
        ));
    }
    text.push_str(
        "\nWith no arguments the options are read as key=value lines on standard input\n\
         (action=, plug= or port=, nodename=, power_timeout=, delay=, verbose=...).\n",
    );
    text
}

/// `on, off, reboot (default), ...`
fn action_list() -> String {
    FenceAction::ALL
        .iter()
        .map(|&action| {
            if action == FenceAction::DEFAULT {
                format!("{action} (default)")
            } else {
                action.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::fence_usage;

    #[test]
    fn lists_options_and_the_default_action() {
        let text = fence_usage();
        assert!(text.contains("-n, --plug=[id]"));
        assert!(text.contains("reboot (default)"));
        assert!(!text.contains("--option"));
    }
}
