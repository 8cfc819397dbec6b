//! `fence_vroot -o metadata`: the XML that Pacemaker reads to learn the
//! agent's parameters and actions. It must validate against fence-agents'
//! RelaxNG schema (`metadata.rng`), which fixes the element order and which
//! attributes exist; the tests check it with xmllint.

use super::fence_action::FenceAction;
use super::fence_options::{Listing, OPTIONS};
use super::xml::escape;

/// The agent's name as cluster tools know it (`stonith:fence_vroot`).
pub const FENCE_AGENT_NAME: &str = "fence_vroot";

const SHORT_DESCRIPTION: &str = "Fence agent for vroot system containers";

const LONG_DESCRIPTION: &str = "fence_vroot fences the vroot system containers of the host it runs on. \
The plug is the container name (or, without one, the cluster node name). \
'off' kills every process of the container, isolates it and marks it fenced, and succeeds only once \
nothing of it is left; a fenced container is not started again until 'on' clears the fence and starts it. \
'reboot' is 'off' followed by 'on'. 'list' shows every container this host configures or runs.";

/// The metadata document, newline-terminated.
pub fn fence_metadata() -> String {
    let mut xml = String::new();
    xml.push_str("<?xml version=\"1.0\" ?>\n");
    xml.push_str(&format!(
        "<resource-agent name=\"{}\" shortdesc=\"{}\">\n",
        escape(FENCE_AGENT_NAME),
        escape(SHORT_DESCRIPTION)
    ));
    xml.push_str(&format!(
        "<longdesc>{}</longdesc>\n",
        escape(LONG_DESCRIPTION)
    ));
    // The schema requires the element; vroot has no vendor page to point to.
    xml.push_str("<vendor-url></vendor-url>\n");
    xml.push_str("<parameters>\n");
    for option in OPTIONS.iter().filter(|option| option.is_documented()) {
        let lineage = match option.listing {
            Listing::Obsoletes(old) => format!(" obsoletes=\"{}\"", escape(old)),
            Listing::Deprecated => " deprecated=\"1\"".to_string(),
            Listing::Listed | Listing::Hidden => String::new(),
        };
        xml.push_str(&format!(
            "\t<parameter name=\"{}\" unique=\"0\" required=\"{}\"{lineage}>\n",
            escape(option.name),
            u8::from(option.required)
        ));
        xml.push_str(&format!(
            "\t\t<getopt mixed=\"{}\" />\n",
            escape(&option.command_line_forms())
        ));
        let default = option
            .default
            .map(|value| format!(" default=\"{}\"", escape(value)))
            .unwrap_or_default();
        xml.push_str(&format!(
            "\t\t<content type=\"{}\"{default} />\n",
            option.value_type.schema_name()
        ));
        xml.push_str(&format!(
            "\t\t<shortdesc lang=\"en\">{}</shortdesc>\n",
            escape(option.description)
        ));
        xml.push_str("\t</parameter>\n");
    }
    xml.push_str("</parameters>\n");
    xml.push_str("<actions>\n");
    for action in FenceAction::ALL {
        // on_target="1": the agent acts on the host it runs on, so Pacemaker
        // must run off, on and reboot on the target node itself. Run on a
        // peer, it would fence that peer's container of the same name and
        // report the target fenced. A target that cannot run it (down, cut
        // off) fails this level, and the next one (power fencing) follows.
        let on_target = if action.changes_power() {
            " on_target=\"1\""
        } else {
            ""
        };
        if action == FenceAction::On {
            // automatic="0": Pacemaker must not unfence on its own at startup
            // (that is for fabric fencing); 'on' is an operator's decision.
            xml.push_str(&format!(
                "\t<action name=\"on\" automatic=\"0\"{on_target} />\n"
            ));
        } else {
            xml.push_str(&format!(
                "\t<action name=\"{}\"{on_target} />\n",
                action.name()
            ));
        }
    }
    xml.push_str("</actions>\n");
    xml.push_str("</resource-agent>\n");
    xml
}

#[cfg(test)]
mod tests {
    use super::fence_metadata;

    #[test]
    fn names_the_plug_and_its_old_name() {
        let xml = fence_metadata();
        assert!(xml
            .contains("<parameter name=\"plug\" unique=\"0\" required=\"0\" obsoletes=\"port\">"));
        assert!(
            xml.contains("<parameter name=\"port\" unique=\"0\" required=\"0\" deprecated=\"1\">")
        );
        assert!(xml.contains("<getopt mixed=\"--power-timeout=[seconds]\" />"));
        assert!(!xml.contains("name=\"option\""));
    }

    #[test]
    fn the_fencing_actions_run_on_the_target_only() {
        let xml = fence_metadata();
        assert!(xml.contains("<action name=\"off\" on_target=\"1\" />"));
        assert!(xml.contains("<action name=\"reboot\" on_target=\"1\" />"));
        assert!(xml.contains("<action name=\"on\" automatic=\"0\" on_target=\"1\" />"));
        assert!(xml.contains("<action name=\"status\" />"));
        assert!(xml.contains("<action name=\"monitor\" />"));
    }

    #[test]
    fn lists_every_action() {
        let xml = fence_metadata();
        for action in [
            "on",
            "off",
            "reboot",
            "status",
            "list",
            "list-status",
            "monitor",
        ] {
            assert!(
                xml.contains(&format!("<action name=\"{action}\"")),
                "{action}"
            );
        }
    }
}
