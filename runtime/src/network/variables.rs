//! The network variables of per-host `gen` templates, so that a container's
//! own init (systemd-networkd, ifupdown, …) can be configured per host from
//! one shared template: `net_S_*` for each interface, S being its name with
//! every other character than letters and digits made `_`, and the first
//! interface's values without the `S_`.

use super::interface::{Interface, LinkSpec};
use super::types::MacAddress;

/// Every variable, in a stable order. `host_mac` names the MAC of a host
/// link (an ipvlan's parent, a lent device), which the container sees.
pub fn variables(
    interfaces: &[Interface],
    host_mac: impl Fn(&str) -> Option<MacAddress>,
) -> Vec<(String, String)> {
    let mut found = vec![(
        "net_interfaces".to_string(),
        interfaces
            .iter()
            .map(|interface| interface.name.as_str())
            .collect::<Vec<_>>()
            .join(" "),
    )];
    for (position, interface) in interfaces.iter().enumerate() {
        let mac = interface.mac.or_else(|| match &interface.link {
            LinkSpec::Ipvlan { parent, .. } => host_mac(parent),
            LinkSpec::Phys { device } => host_mac(device),
            _ => None,
        });
        let first = interface.addresses.first();
        let values = [
            ("name", interface.name.clone()),
            ("mode", interface.link.mode().to_string()),
            ("mac", mac.map(|mac| mac.to_string()).unwrap_or_default()),
            (
                "address",
                first.map(ToString::to_string).unwrap_or_default(),
            ),
            (
                "addresses",
                interface
                    .addresses
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(" "),
            ),
            (
                "ip",
                first.map(|c| c.address.to_string()).unwrap_or_default(),
            ),
            (
                "prefix",
                first.map(|c| c.prefix.to_string()).unwrap_or_default(),
            ),
            ("netmask", first.map(|c| c.netmask()).unwrap_or_default()),
            (
                "gateway",
                interface.gateway.map(|g| g.to_string()).unwrap_or_default(),
            ),
        ];
        let key = variable_part(&interface.name);
        for (suffix, value) in &values {
            found.push((format!("net_{key}_{suffix}"), value.clone()));
        }
        if position == 0 {
            for (suffix, value) in values {
                if suffix != "mode" && suffix != "addresses" && suffix != "netmask" {
                    found.push((format!("net_{suffix}"), value));
                }
            }
        }
    }
    found
}

/// The part of a variable's name that stands for interface `name`.
pub fn variable_part(name: &str) -> String {
    name.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::network::interface::IpConfig;
    use std::collections::HashMap;

    fn interface(
        name: &str,
        link: LinkSpec,
        addresses: &[&str],
        gateway: Option<&str>,
    ) -> Interface {
        Interface {
            name: name.into(),
            link,
            mac: None,
            mtu: None,
            addresses: addresses.iter().map(|a| a.parse().unwrap()).collect(),
            gateway: gateway.map(|g| g.parse().unwrap()),
            ip_config: IpConfig::Init,
        }
    }

    #[test]
    fn each_interface_and_the_first_one_get_their_variables() {
        let veth = interface(
            "eth0",
            LinkSpec::Veth {
                bridge: None,
                host_name: None,
                host_mac: None,
            },
            &["192.0.2.30/24", "fd00::30/64"],
            Some("192.0.2.1"),
        )
        .resolved("web", "0123", 0);
        let phys = interface(
            "storage.0",
            LinkSpec::Phys {
                device: "enp3s0".into(),
            },
            &[],
            None,
        );
        let lent: MacAddress = "52:54:00:12:34:56".parse().unwrap();
        let vars: HashMap<String, String> = variables(&[veth.clone(), phys], |name| {
            (name == "enp3s0").then_some(lent)
        })
        .into_iter()
        .collect();
        assert_eq!(vars["net_interfaces"], "eth0 storage.0");
        assert_eq!(vars["net_eth0_address"], "192.0.2.30/24");
        assert_eq!(vars["net_eth0_addresses"], "192.0.2.30/24 fd00::30/64");
        assert_eq!(vars["net_eth0_ip"], "192.0.2.30");
        assert_eq!(vars["net_eth0_prefix"], "24");
        assert_eq!(vars["net_eth0_netmask"], "255.255.255.0");
        assert_eq!(vars["net_eth0_gateway"], "192.0.2.1");
        assert_eq!(vars["net_eth0_mode"], "veth");
        assert_eq!(vars["net_eth0_mac"], veth.mac.unwrap().to_string());
        assert_eq!(vars["net_address"], "192.0.2.30/24");
        assert_eq!(vars["net_name"], "eth0");
        assert_eq!(vars["net_storage_0_mac"], "52:54:00:12:34:56");
        assert_eq!(vars["net_storage_0_address"], "");
        assert_eq!(vars["net_storage_0_gateway"], "");
    }

    #[test]
    fn no_interface_still_defines_the_list() {
        let vars = variables(&[], |_| None);
        assert_eq!(vars, vec![("net_interfaces".to_string(), String::new())]);
    }
}
