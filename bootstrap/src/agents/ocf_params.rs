//! What Pacemaker hands an OCF resource agent in its environment: the
//! resource's parameters as `OCF_RESKEY_<name>` and the operation's meta
//! attributes as `OCF_RESKEY_CRM_meta_<name>` (times in milliseconds).

use std::collections::BTreeMap;
use std::time::Duration;

use vroot_runtime::config::validate_name;

const NAME_VARIABLE: &str = "OCF_RESKEY_name";
const TIMEOUT_VARIABLE: &str = "OCF_RESKEY_CRM_meta_timeout";

/// Operation timeouts when Pacemaker passes none; the metadata advertises
/// the same values.
pub(crate) const DEFAULT_START_TIMEOUT: Duration = Duration::from_secs(90);
pub(crate) const DEFAULT_STOP_TIMEOUT: Duration = Duration::from_secs(120);

/// Part of the operation's timeout kept back from the container operation,
/// so the agent can still answer (and give a reason) before Pacemaker kills
/// it: a tenth, at most five seconds.
const MAX_RESERVE: Duration = Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
pub enum OcfParamError {
    #[error("the required parameter 'name' is not set ({NAME_VARIABLE})")]
    MissingName,
    #[error("invalid container name '{name}': {reason}")]
    InvalidName { name: String, reason: String },
}

/// The container the resource runs, checked against vroot's naming rules.
pub(crate) fn container_name(env: &BTreeMap<String, String>) -> Result<&str, OcfParamError> {
    let name = env
        .get(NAME_VARIABLE)
        .map(String::as_str)
        .filter(|name| !name.is_empty())
        .ok_or(OcfParamError::MissingName)?;
    validate_name(name).map_err(|reason| OcfParamError::InvalidName {
        name: name.to_string(),
        reason,
    })?;
    Ok(name)
}

/// How long the container operation may take: the operation's timeout
/// (or `default`) less a reserve for the agent's own answer.
pub(crate) fn operation_budget(env: &BTreeMap<String, String>, default: Duration) -> Duration {
    let timeout = env
        .get(TIMEOUT_VARIABLE)
        .and_then(|millis| millis.trim().parse::<u64>().ok())
        .filter(|&millis| millis > 0)
        .map_or(default, Duration::from_millis);
    timeout.saturating_sub((timeout / 10).min(MAX_RESERVE))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(key, value)| (key.to_string(), value.to_string()))
            .collect()
    }

    #[test]
    fn name_must_be_set_and_valid() {
        assert!(matches!(
            container_name(&env(&[])),
            Err(OcfParamError::MissingName)
        ));
        assert!(matches!(
            container_name(&env(&[("OCF_RESKEY_name", "")])),
            Err(OcfParamError::MissingName)
        ));
        assert!(matches!(
            container_name(&env(&[("OCF_RESKEY_name", "../etc")])),
            Err(OcfParamError::InvalidName { .. })
        ));
        assert_eq!(
            container_name(&env(&[("OCF_RESKEY_name", "web")])).unwrap(),
            "web"
        );
    }

    #[test]
    fn budget_keeps_a_reserve_from_the_timeout() {
        let default = Duration::from_secs(90);
        assert_eq!(
            operation_budget(&env(&[]), default),
            Duration::from_secs(85)
        );
        let twenty = env(&[("OCF_RESKEY_CRM_meta_timeout", "20000")]);
        assert_eq!(operation_budget(&twenty, default), Duration::from_secs(18));
        let garbage = env(&[("OCF_RESKEY_CRM_meta_timeout", "soon")]);
        assert_eq!(operation_budget(&garbage, default), Duration::from_secs(85));
    }
}
