//! The `[network]` section: one interface written directly in it, more in
//! `[[network.interface]]` tables. Every key is checked for its mode, names
//! inside the container must differ, and each address family gets at most
//! one gateway, which must lie in one of its interface's networks.

use std::collections::HashSet;
use std::net::IpAddr;

use serde::Deserialize;

use crate::network::interface::{validate_link_name, IpConfig, LinkSpec};
use crate::network::types::{IpCidr, IpvlanMode, MacAddress, MacvlanMode};
use crate::network::Interface;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
enum FileMode {
    None,
    Veth,
    Macvlan,
    Ipvlan,
    Phys,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileInterface {
    mode: Option<FileMode>,
    name: Option<String>,
    bridge: Option<String>,
    host_name: Option<String>,
    parent: Option<String>,
    macvlan_mode: Option<MacvlanMode>,
    ipvlan_mode: Option<IpvlanMode>,
    device: Option<String>,
    address: Option<OneOrMany>,
    gateway: Option<String>,
    mac: Option<String>,
    mtu: Option<i64>,
    ip_config: Option<IpConfig>,
}

/// The smallest MTU the kernel takes for IPv4.
const MIN_MTU: i64 = 68;
const MAX_MTU: i64 = 65535;

/// Parses and checks `[network]`; the error is the reason, for the
/// `network` key.
pub fn parse(section: Option<toml::Table>) -> Result<Vec<Interface>, String> {
    let Some(mut section) = section else {
        return Ok(Vec::new());
    };
    let listed = match section.remove("interface") {
        None => Vec::new(),
        Some(toml::Value::Array(items)) => items,
        Some(_) => {
            return Err(
                "`interface` must be a list of tables: write each as [[network.interface]]".into(),
            )
        }
    };
    let top: FileInterface = toml::Value::Table(section)
        .try_into()
        .map_err(|error: toml::de::Error| one_line(&error))?;
    let mut files = Vec::new();
    match top.mode {
        None | Some(FileMode::None) => {
            if let Some(key) = first_key(&top) {
                return Err(format!(
                    "`{key}` is set but `mode` is not: set network.mode to veth, macvlan, ipvlan or phys"
                ));
            }
        }
        Some(_) => files.push(top),
    }
    for (position, item) in listed.into_iter().enumerate() {
        let file: FileInterface = item.try_into().map_err(|error: toml::de::Error| {
            format!("interface {}: {}", position + 1, one_line(&error))
        })?;
        files.push(file);
    }

    // Unnamed interfaces get the first ethN that no interface is named.
    let explicit: HashSet<String> = files.iter().filter_map(|f| f.name.clone()).collect();
    let mut free_names = (0..)
        .map(|n| format!("eth{n}"))
        .filter(|n| !explicit.contains(n));
    let mut interfaces: Vec<Interface> = Vec::new();
    for (position, mut file) in files.into_iter().enumerate() {
        if file.name.is_none() {
            file.name = free_names.next();
        }
        let interface = interface(position, file)?;
        if let Some(earlier) = interfaces.iter().position(|i| i.name == interface.name) {
            return Err(format!(
                "interface {} is named `{}` like interface {} (names inside the container must differ)",
                position + 1,
                interface.name,
                earlier + 1
            ));
        }
        interfaces.push(interface);
    }
    check_across(&interfaces)?;
    Ok(interfaces)
}

fn one_line(error: &toml::de::Error) -> String {
    super::one_line_diagnostic("", error, "value").1
}

/// A key of an interface other than `mode`, if any is set.
fn first_key(file: &FileInterface) -> Option<&'static str> {
    [
        ("name", file.name.is_some()),
        ("bridge", file.bridge.is_some()),
        ("host_name", file.host_name.is_some()),
        ("parent", file.parent.is_some()),
        ("macvlan_mode", file.macvlan_mode.is_some()),
        ("ipvlan_mode", file.ipvlan_mode.is_some()),
        ("device", file.device.is_some()),
        ("address", file.address.is_some()),
        ("gateway", file.gateway.is_some()),
        ("mac", file.mac.is_some()),
        ("mtu", file.mtu.is_some()),
        ("ip_config", file.ip_config.is_some()),
    ]
    .into_iter()
    .find(|(_, set)| *set)
    .map(|(key, _)| key)
}

fn interface(position: usize, file: FileInterface) -> Result<Interface, String> {
    let name = file.name.clone().unwrap_or_default();
    let at = |reason: String| format!("interface {} (`{name}`): {reason}", position + 1);
    validate_link_name(&name).map_err(|reason| at(format!("`name` {reason}")))?;
    if name.starts_with("vroot-") {
        return Err(at(
            "names starting with `vroot-` are vroot's own, for links being set up; choose another `name`".into(),
        ));
    }
    if name == "lo" {
        return Err(at(
            "`lo` is the container's loopback; choose another `name`".into(),
        ));
    }
    let mode = file.mode.unwrap_or(FileMode::None);
    let not_for = |key: &str, set: bool| {
        if set {
            Err(at(format!(
                "`{key}` does not apply to mode {}",
                mode_name(mode)
            )))
        } else {
            Ok(())
        }
    };
    let required = |key: &str, value: &Option<String>| -> Result<String, String> {
        let value = value
            .clone()
            .ok_or_else(|| at(format!("mode {} needs `{key}`", mode_name(mode))))?;
        validate_link_name(&value).map_err(|reason| at(format!("`{key}` {reason}")))?;
        Ok(value)
    };
    let link = match mode {
        FileMode::None => {
            return Err(at(
                "mode none adds no interface: remove the entry or set mode to veth, macvlan, ipvlan or phys".into(),
            ))
        }
        FileMode::Veth => {
            not_for("parent", file.parent.is_some())?;
            not_for("device", file.device.is_some())?;
            not_for("macvlan_mode", file.macvlan_mode.is_some())?;
            not_for("ipvlan_mode", file.ipvlan_mode.is_some())?;
            if let Some(bridge) = &file.bridge {
                validate_link_name(bridge).map_err(|reason| at(format!("`bridge` {reason}")))?;
            }
            if let Some(host_name) = &file.host_name {
                validate_link_name(host_name)
                    .map_err(|reason| at(format!("`host_name` {reason}")))?;
            }
            LinkSpec::Veth {
                bridge: file.bridge.clone(),
                host_name: file.host_name.clone(),
                host_mac: None,
            }
        }
        FileMode::Macvlan => {
            not_for("bridge", file.bridge.is_some())?;
            not_for("host_name", file.host_name.is_some())?;
            not_for("device", file.device.is_some())?;
            not_for("ipvlan_mode", file.ipvlan_mode.is_some())?;
            LinkSpec::Macvlan {
                parent: required("parent", &file.parent)?,
                macvlan_mode: file.macvlan_mode.unwrap_or_default(),
            }
        }
        FileMode::Ipvlan => {
            not_for("bridge", file.bridge.is_some())?;
            not_for("host_name", file.host_name.is_some())?;
            not_for("device", file.device.is_some())?;
            not_for("macvlan_mode", file.macvlan_mode.is_some())?;
            not_for("mac", file.mac.is_some())?;
            LinkSpec::Ipvlan {
                parent: required("parent", &file.parent)?,
                ipvlan_mode: file.ipvlan_mode.unwrap_or_default(),
            }
        }
        FileMode::Phys => {
            not_for("bridge", file.bridge.is_some())?;
            not_for("host_name", file.host_name.is_some())?;
            not_for("parent", file.parent.is_some())?;
            not_for("macvlan_mode", file.macvlan_mode.is_some())?;
            not_for("ipvlan_mode", file.ipvlan_mode.is_some())?;
            not_for("mac", file.mac.is_some())?;
            LinkSpec::Phys {
                device: required("device", &file.device)?,
            }
        }
    };
    let mac = file
        .mac
        .as_deref()
        .map(str::parse::<MacAddress>)
        .transpose()
        .map_err(|reason| at(format!("`mac`: {reason}")))?;
    let mtu = match file.mtu {
        None => None,
        Some(mtu) if (MIN_MTU..=MAX_MTU).contains(&mtu) => Some(mtu as u32),
        Some(mtu) => {
            return Err(at(format!(
                "`mtu` must be {MIN_MTU} to {MAX_MTU}, not {mtu}"
            )))
        }
    };
    let address_texts = match file.address {
        None => Vec::new(),
        Some(OneOrMany::One(text)) => vec![text],
        Some(OneOrMany::Many(texts)) => texts,
    };
    let addresses = address_texts
        .iter()
        .map(|text| text.parse::<IpCidr>())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|reason| at(format!("`address`: {reason}")))?;
    let gateway = file
        .gateway
        .as_deref()
        .map(|text| {
            text.parse::<IpAddr>()
                .map_err(|_| at(format!("`gateway`: `{text}` is not an IP address")))
        })
        .transpose()?;
    if let Some(gateway) = gateway {
        // An IPv6 router is usually named by its link-local address, which
        // is on every IPv6 link.
        let link_local = matches!(gateway, IpAddr::V6(v6) if v6.segments()[0] & 0xffc0 == 0xfe80);
        if !link_local && !addresses.iter().any(|cidr| cidr.contains(&gateway)) {
            return Err(at(format!(
                "`gateway` {gateway} is in none of the interface's networks ({})",
                if addresses.is_empty() {
                    "it has no `address`".to_string()
                } else {
                    addresses
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join(", ")
                }
            )));
        }
    }
    Ok(Interface {
        name,
        link,
        mac,
        mtu,
        addresses,
        gateway,
        ip_config: file.ip_config.unwrap_or_default(),
    })
}

fn mode_name(mode: FileMode) -> &'static str {
    match mode {
        FileMode::None => "none",
        FileMode::Veth => "veth",
        FileMode::Macvlan => "macvlan",
        FileMode::Ipvlan => "ipvlan",
        FileMode::Phys => "phys",
    }
}

/// What must hold between interfaces: one device per container, distinct
/// host names and MACs, one default route per address family.
fn check_across(interfaces: &[Interface]) -> Result<(), String> {
    // Template variables are named after the interface with non-alphanumerics
    // made `_`: two names must not meet there.
    let mut variable_names = std::collections::HashMap::new();
    for interface in interfaces {
        let key = crate::network::variables::variable_part(&interface.name);
        if let Some(other) = variable_names.insert(key.clone(), interface.name.clone()) {
            return Err(format!(
                "interfaces `{other}` and `{}` would share the template variables net_{key}_*; rename one",
                interface.name
            ));
        }
    }
    // A lent device leaves the host: nothing else may stand on it.
    let lent: HashSet<&str> = interfaces
        .iter()
        .filter_map(|interface| match &interface.link {
            LinkSpec::Phys { device } => Some(device.as_str()),
            _ => None,
        })
        .collect();
    for interface in interfaces {
        let uses = match &interface.link {
            LinkSpec::Veth {
                bridge: Some(bridge),
                ..
            } => Some(bridge.as_str()),
            LinkSpec::Macvlan { parent, .. } | LinkSpec::Ipvlan { parent, .. } => {
                Some(parent.as_str())
            }
            _ => None,
        };
        if let Some(used) = uses.filter(|used| lent.contains(used)) {
            return Err(format!(
                "interface `{}` stands on `{used}`, which another interface lends to the container",
                interface.name
            ));
        }
    }
    let mut devices = HashSet::new();
    let mut host_names = HashSet::new();
    let mut macs = HashSet::new();
    let mut gateway_families = HashSet::new();
    for interface in interfaces {
        match &interface.link {
            LinkSpec::Phys { device } if !devices.insert(device.clone()) => {
                return Err(format!("device `{device}` is given to two interfaces"))
            }
            LinkSpec::Veth {
                host_name: Some(host_name),
                ..
            } if !host_names.insert(host_name.clone()) => {
                return Err(format!("`host_name` `{host_name}` is used twice"))
            }
            _ => {}
        }
        if let Some(mac) = interface.mac {
            if !macs.insert(mac) {
                return Err(format!("MAC address {mac} is used twice"));
            }
        }
        if let Some(gateway) = interface.gateway {
            if !gateway_families.insert(gateway.is_ipv4()) {
                return Err(format!(
                    "two interfaces set an IPv{} `gateway`; a container has one default route per family",
                    if gateway.is_ipv4() { 4 } else { 6 }
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_text(text: &str) -> Result<Vec<Interface>, String> {
        #[derive(Deserialize)]
        struct Wrapper {
            network: Option<toml::Table>,
        }
        let wrapper: Wrapper = toml::from_str(text).unwrap();
        parse(wrapper.network)
    }

    #[test]
    fn no_section_or_mode_none_means_no_interface() {
        assert!(parse_text("").unwrap().is_empty());
        assert!(parse_text("[network]\nmode = \"none\"\n")
            .unwrap()
            .is_empty());
    }

    #[test]
    fn the_short_form_and_listed_interfaces_combine_in_order() {
        let interfaces = parse_text(
            r#"
            [network]
            mode = "veth"
            bridge = "br0"
            address = "192.0.2.11/24"
            gateway = "192.0.2.1"

            [[network.interface]]
            mode = "macvlan"
            parent = "eth0"
            address = ["198.51.100.5/24", "fd00::5/64"]

            [[network.interface]]
            mode = "phys"
            device = "enp3s0"
            name = "storage0"
            mtu = 9000
            ip_config = "init"
            "#,
        )
        .unwrap();
        let names: Vec<&str> = interfaces.iter().map(|i| i.name.as_str()).collect();
        assert_eq!(names, ["eth0", "eth1", "storage0"]);
        assert_eq!(interfaces[0].gateway, Some("192.0.2.1".parse().unwrap()));
        assert_eq!(interfaces[1].addresses.len(), 2);
        assert_eq!(
            interfaces[1].link,
            LinkSpec::Macvlan {
                parent: "eth0".into(),
                macvlan_mode: MacvlanMode::Bridge
            }
        );
        assert_eq!(interfaces[2].mtu, Some(9000));
        assert_eq!(interfaces[2].ip_config, IpConfig::Init);
    }

    #[test]
    fn unnamed_interfaces_take_the_first_free_eth_name() {
        let interfaces = parse_text(
            "[[network.interface]]\nmode = \"veth\"\nname = \"eth1\"\n[[network.interface]]\nmode = \"veth\"\n[[network.interface]]\nmode = \"veth\"\n",
        )
        .unwrap();
        let names: Vec<&str> = interfaces.iter().map(|i| i.name.as_str()).collect();
        assert_eq!(names, ["eth1", "eth0", "eth2"]);
    }

    #[test]
    fn each_mode_refuses_keys_of_another() {
        let error = parse_text("[network]\nmode = \"phys\"\ndevice = \"eth1\"\nbridge = \"br0\"\n")
            .unwrap_err();
        assert!(
            error.contains("`bridge` does not apply to mode phys"),
            "{error}"
        );
        let error = parse_text("[network]\nmode = \"macvlan\"\n").unwrap_err();
        assert!(error.contains("needs `parent`"), "{error}");
        let error = parse_text(
            "[network]\nmode = \"ipvlan\"\nparent = \"eth0\"\nmac = \"02:00:00:00:00:01\"\n",
        )
        .unwrap_err();
        assert!(error.contains("`mac`"), "{error}");
        let error = parse_text("[network]\nbridge = \"br0\"\n").unwrap_err();
        assert!(error.contains("`mode` is not"), "{error}");
        let error = parse_text("[network]\nmode = \"veth\"\ncolour = \"blue\"\n").unwrap_err();
        assert!(error.contains("unknown key `colour`"), "{error}");
    }

    #[test]
    fn duplicate_names_devices_and_gateways_are_refused() {
        let error = parse_text(
            "[[network.interface]]\nmode = \"veth\"\nname = \"eth0\"\n[[network.interface]]\nmode = \"veth\"\nname = \"eth0\"\n",
        )
        .unwrap_err();
        assert!(error.contains("named `eth0` like interface 1"), "{error}");
        let error = parse_text(
            "[[network.interface]]\nmode = \"phys\"\ndevice = \"d0\"\n[[network.interface]]\nmode = \"phys\"\ndevice = \"d0\"\n",
        )
        .unwrap_err();
        assert!(error.contains("`d0` is given to two"), "{error}");
        let error = parse_text(
            "[[network.interface]]\nmode = \"veth\"\naddress = \"192.0.2.2/24\"\ngateway = \"192.0.2.1\"\n[[network.interface]]\nmode = \"veth\"\naddress = \"198.51.100.2/24\"\ngateway = \"198.51.100.1\"\n",
        )
        .unwrap_err();
        assert!(error.contains("one default route per family"), "{error}");
    }

    #[test]
    fn an_ipv6_gateway_may_be_link_local() {
        let interfaces = parse_text(
            "[network]\nmode = \"veth\"\naddress = \"fd00::5/64\"\ngateway = \"fe80::1\"\n",
        )
        .unwrap();
        assert_eq!(interfaces[0].gateway, Some("fe80::1".parse().unwrap()));
    }

    #[test]
    fn interfaces_may_not_clash_in_templates_or_stand_on_a_lent_device() {
        let error = parse_text(
            "[[network.interface]]\nmode = \"veth\"\nname = \"eth-0\"\n[[network.interface]]\nmode = \"veth\"\nname = \"eth_0\"\n",
        )
        .unwrap_err();
        assert!(error.contains("net_eth_0_*"), "{error}");
        let error = parse_text(
            "[[network.interface]]\nmode = \"phys\"\ndevice = \"eth1\"\n[[network.interface]]\nmode = \"macvlan\"\nparent = \"eth1\"\n",
        )
        .unwrap_err();
        assert!(error.contains("stands on `eth1`"), "{error}");
    }

    #[test]
    fn values_are_checked() {
        for (text, expected) in [
            ("mode = \"veth\"\naddress = \"192.0.2.2\"", "prefix"),
            (
                "mode = \"veth\"\naddress = \"192.0.2.2/24\"\ngateway = \"198.51.100.1\"",
                "none of the interface's networks",
            ),
            ("mode = \"veth\"\ngateway = \"192.0.2.1\"", "no `address`"),
            ("mode = \"veth\"\ngateway = \"fd00::1\"", "no `address`"),
            ("mode = \"veth\"\nmtu = 20", "`mtu` must be"),
            ("mode = \"veth\"\nname = \"lo\"", "loopback"),
            ("mode = \"veth\"\nname = \"vroot-new0\"", "vroot's own"),
            ("mode = \"veth\"\nname = \"a-name-too-long-0\"", "15"),
            ("mode = \"veth\"\nhost_name = \"bad/name\"", "host_name"),
            ("mode = \"veth\"\nmac = \"01:00:5e:00:00:01\"", "multicast"),
            (
                "mode = \"veth\"\nip_config = \"dhcp\"",
                "unknown value `dhcp`",
            ),
        ] {
            let error = parse_text(&format!("[network]\n{text}\n")).unwrap_err();
            assert!(error.contains(expected), "{text}: {error}");
        }
    }
}
