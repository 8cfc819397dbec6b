//! `meta-data` of the OCF resource agent. Written for the DTD era
//! (`ra-api-1.dtd`), which is what Debian's `ocf-tester` validates against
//! with `xmllint --valid`; the tests do the same.

use std::time::Duration;

use super::ocf_params::{DEFAULT_START_TIMEOUT, DEFAULT_STOP_TIMEOUT};
use super::xml::escape;

/// The agent's type as cluster tools know it (`ocf:<provider>:vroot`).
pub const OCF_AGENT_NAME: &str = "vroot";

/// The OCF resource agent API version this metadata follows.
const OCF_API_VERSION: &str = "1.0";

const MONITOR_TIMEOUT: Duration = Duration::from_secs(20);
const MONITOR_INTERVAL: Duration = Duration::from_secs(10);
const QUICK_ACTION_TIMEOUT: Duration = Duration::from_secs(5);

const SHORT_DESCRIPTION: &str = "Runs a vroot system container";

const LONG_DESCRIPTION: &str =
    "Starts, stops and monitors one vroot system container: the cluster's \
shared root running with its own init on this host. Stop returns only once nothing of the \
container is left. A container that was fenced (by fence_vroot or vroot's storage watchdog) \
reports not running and refuses to start until it is unfenced.";

const NAME_SHORT: &str = "Container name";
const NAME_LONG: &str = "The name of the container to run: its configuration is \
/etc/vroot/NAME.toml on every host allowed to run it.";

pub fn ocf_metadata() -> String {
    let actions = [
        action("start", DEFAULT_START_TIMEOUT, None),
        action("stop", DEFAULT_STOP_TIMEOUT, None),
        action("monitor", MONITOR_TIMEOUT, Some(MONITOR_INTERVAL)),
        action("meta-data", QUICK_ACTION_TIMEOUT, None),
        action("validate-all", QUICK_ACTION_TIMEOUT, None),
    ]
    .concat();
    format!(
        r#"<?xml version="1.0"?>
<!DOCTYPE resource-agent SYSTEM "ra-api-1.dtd">
<resource-agent name="{name}" version="{version}">
<version>{api}</version>
<longdesc lang="en">{long}</longdesc>
<shortdesc lang="en">{short}</shortdesc>
<parameters>
<parameter name="name" unique="1" required="1">
<longdesc lang="en">{name_long}</longdesc>
<shortdesc lang="en">{name_short}</shortdesc>
<content type="string" />
</parameter>
</parameters>
<actions>
{actions}</actions>
</resource-agent>
"#,
        name = escape(OCF_AGENT_NAME),
        version = escape(env!("CARGO_PKG_VERSION")),
        api = OCF_API_VERSION,
        long = escape(LONG_DESCRIPTION),
        short = escape(SHORT_DESCRIPTION),
        name_long = escape(NAME_LONG),
        name_short = escape(NAME_SHORT),
    )
}

fn action(name: &str, timeout: Duration, interval: Option<Duration>) -> String {
    let interval = interval
        .map(|interval| format!(" interval=\"{}s\" depth=\"0\"", interval.as_secs()))
        .unwrap_or_default();
    format!(
        "<action name=\"{name}\" timeout=\"{}s\"{interval} />\n",
        timeout.as_secs()
    )
}

#[cfg(test)]
mod tests {
    use super::ocf_metadata;

    #[test]
    fn advertises_the_timeouts() {
        let xml = ocf_metadata();
        assert!(xml.contains("<!DOCTYPE resource-agent SYSTEM \"ra-api-1.dtd\">"));
        assert!(xml.contains("<action name=\"start\" timeout=\"90s\" />"));
        assert!(xml.contains("<action name=\"stop\" timeout=\"120s\" />"));
        assert!(xml
            .contains("<action name=\"monitor\" timeout=\"20s\" interval=\"10s\" depth=\"0\" />"));
        assert!(xml.contains("<parameter name=\"name\" unique=\"1\" required=\"1\">"));
    }
}
