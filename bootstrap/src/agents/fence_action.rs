//! The fence agent's actions, named as fence-agents names them.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FenceAction {
    On,
    Off,
    Reboot,
    Status,
    List,
    ListStatus,
    Monitor,
    Metadata,
    Manpage,
    ValidateAll,
}

impl FenceAction {
    /// Every action, in the order the metadata and the help list them.
    pub(crate) const ALL: [FenceAction; 10] = [
        FenceAction::On,
        FenceAction::Off,
        FenceAction::Reboot,
        FenceAction::Status,
        FenceAction::List,
        FenceAction::ListStatus,
        FenceAction::Monitor,
        FenceAction::Metadata,
        FenceAction::Manpage,
        FenceAction::ValidateAll,
    ];

    /// What the cluster asks for when it names no action.
    pub(crate) const DEFAULT: FenceAction = FenceAction::Reboot;

    pub(crate) fn name(self) -> &'static str {
        match self {
            FenceAction::On => "on",
            FenceAction::Off => "off",
            FenceAction::Reboot => "reboot",
            FenceAction::Status => "status",
            FenceAction::List => "list",
            FenceAction::ListStatus => "list-status",
            FenceAction::Monitor => "monitor",
            FenceAction::Metadata => "metadata",
            FenceAction::Manpage => "manpage",
            FenceAction::ValidateAll => "validate-all",
        }
    }

    /// Whether the action fences or unfences (as opposed to asking).
    pub(crate) fn changes_power(self) -> bool {
        matches!(
            self,
            FenceAction::On | FenceAction::Off | FenceAction::Reboot
        )
    }

    /// Parses an action name the way fence-agents does: case-insensitively,
    /// and taking the OCF spelling `meta-data` for `metadata` (Pacemaker's
    /// tools ask for either).
    pub(crate) fn parse(text: &str) -> Option<FenceAction> {
        let lowered = text.trim().to_ascii_lowercase();
        if lowered == "meta-data" {
            return Some(FenceAction::Metadata);
        }
        FenceAction::ALL
            .into_iter()
            .find(|action| action.name() == lowered)
    }
}

impl fmt::Display for FenceAction {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::FenceAction;

    #[test]
    fn parses_every_name_back() {
        for action in FenceAction::ALL {
            assert_eq!(FenceAction::parse(action.name()), Some(action));
        }
    }

    #[test]
    fn parses_case_insensitively_and_the_ocf_spelling() {
        assert_eq!(FenceAction::parse("OFF"), Some(FenceAction::Off));
        assert_eq!(FenceAction::parse("meta-data"), Some(FenceAction::Metadata));
        assert_eq!(FenceAction::parse("explode"), None);
    }
}
