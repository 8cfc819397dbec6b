//! The `[fence]` table: what the supervisor's storage watchdog does when the
//! container's storage stops answering.

use std::time::Duration;

use serde::Deserialize;

/// What a hung storage triggers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OnHang {
    /// Report it (`vroot status`, the resource agent's monitor) and wait:
    /// the cluster manager decides.
    #[default]
    None,
    /// Fence the container at once, as `vroot fence` does.
    Fence,
}

impl OnHang {
    pub fn as_str(self) -> &'static str {
        match self {
            OnHang::None => "none",
            OnHang::Fence => "fence",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "none" => Some(OnHang::None),
            "fence" => Some(OnHang::Fence),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FencePolicy {
    pub on_hang: OnHang,
    /// A probe outstanding this long means the storage is hung.
    pub hang_timeout: Duration,
    /// After a watchdog fence, start again once probes succeed.
    pub restart_on_recovery: bool,
}

pub const DEFAULT_HANG_TIMEOUT: Duration = Duration::from_secs(10);
const MAX_HANG_TIMEOUT_SECS: u64 = 3600;

impl Default for FencePolicy {
    fn default() -> Self {
        FencePolicy {
            on_hang: OnHang::None,
            hang_timeout: DEFAULT_HANG_TIMEOUT,
            restart_on_recovery: false,
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileFence {
    #[serde(default)]
    on_hang: OnHang,
    hang_timeout: Option<u64>,
    #[serde(default)]
    restart_on_recovery: bool,
}

impl FileFence {
    /// `Err((field, reason))` for a value out of range.
    pub(super) fn validate(self) -> Result<FencePolicy, (&'static str, String)> {
        let hang_timeout = match self.hang_timeout {
            None => DEFAULT_HANG_TIMEOUT,
            Some(seconds) if (1..=MAX_HANG_TIMEOUT_SECS).contains(&seconds) => {
                Duration::from_secs(seconds)
            }
            Some(seconds) => {
                return Err((
                    "fence.hang_timeout",
                    format!("must be 1 to {MAX_HANG_TIMEOUT_SECS} seconds, not {seconds}"),
                ))
            }
        };
        if self.restart_on_recovery && self.on_hang == OnHang::None {
            return Err((
                "fence.restart_on_recovery",
                "needs on_hang = \"fence\": only a container the watchdog fenced is started again"
                    .into(),
            ));
        }
        Ok(FencePolicy {
            on_hang: self.on_hang,
            hang_timeout,
            restart_on_recovery: self.restart_on_recovery,
        })
    }
}
