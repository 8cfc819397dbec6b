//! One container interface as configured, and its resolution into what the
//! runtime creates: the host-side name of a veth (derived from the container
//! name, within the kernel's 15 characters) and MAC addresses that stay the
//! same across restarts on this host, so DHCP leases and neighbours' ARP
//! caches survive a reboot of the container.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::types::{IpCidr, IpvlanMode, MacAddress, MacvlanMode};

/// The kernel's limit on interface names (IFNAMSIZ - 1).
pub const MAX_LINK_NAME: usize = 15;

/// What kind of link the container gets, and where it comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "mode", rename_all = "lowercase")]
pub enum LinkSpec {
    /// A veth pair; the host side optionally enslaved to a bridge.
    Veth {
        bridge: Option<String>,
        host_name: Option<String>,
        host_mac: Option<MacAddress>,
    },
    Macvlan {
        parent: String,
        macvlan_mode: MacvlanMode,
    },
    Ipvlan {
        parent: String,
        ipvlan_mode: IpvlanMode,
    },
    /// A host device moved into the container and back.
    Phys { device: String },
}

impl LinkSpec {
    pub fn mode(&self) -> &'static str {
        match self {
            LinkSpec::Veth { .. } => "veth",
            LinkSpec::Macvlan { .. } => "macvlan",
            LinkSpec::Ipvlan { .. } => "ipvlan",
            LinkSpec::Phys { .. } => "phys",
        }
    }
}

/// Who configures the addresses and the gateway.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IpConfig {
    /// vroot, before the init runs.
    #[default]
    Vroot,
    /// The container's own init (networkd, ifupdown, …), typically from a
    /// per-host `gen` file filled with the network variables.
    Init,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Interface {
    /// The name inside the container.
    pub name: String,
    #[serde(flatten)]
    pub link: LinkSpec,
    pub mac: Option<MacAddress>,
    pub mtu: Option<u32>,
    #[serde(default)]
    pub addresses: Vec<IpCidr>,
    pub gateway: Option<IpAddr>,
    #[serde(default)]
    pub ip_config: IpConfig,
}

impl Interface {
    /// Fills in what the config left to vroot: the veth's host-side name and
    /// both MACs of a veth or macvlan. `position` is the interface's place in
    /// the config.
    pub fn resolved(mut self, container: &str, machine_id: &str, position: usize) -> Self {
        let inside_mac = stable_mac(machine_id, &self.name, "container");
        match &mut self.link {
            LinkSpec::Veth {
                host_name,
                host_mac,
                ..
            } => {
                host_name.get_or_insert_with(|| host_side_name(container, position));
                host_mac.get_or_insert_with(|| stable_mac(machine_id, &self.name, "host"));
                self.mac.get_or_insert(inside_mac);
            }
            LinkSpec::Macvlan { .. } => {
                self.mac.get_or_insert(inside_mac);
            }
            // An ipvlan shares its parent's address; a moved device keeps its own.
            LinkSpec::Ipvlan { .. } | LinkSpec::Phys { .. } => {}
        }
        self
    }

    pub fn configured_by_vroot(&self) -> bool {
        self.ip_config == IpConfig::Vroot
    }
}

/// `vr-NAME-N` when it fits in 15 characters; otherwise as much of the name
/// as fits, then four hex digits of a digest of the whole name, so that long
/// names sharing a prefix still differ.
pub fn host_side_name(container: &str, position: usize) -> String {
    let plain = format!("vr-{container}-{position}");
    if plain.len() <= MAX_LINK_NAME {
        return plain;
    }
    let digest = Sha256::digest(format!("vroot host link\0{container}").as_bytes());
    let suffix = format!("{:02x}{:02x}-{position}", digest[0], digest[1]);
    let room = MAX_LINK_NAME.saturating_sub(3 + suffix.len());
    let prefix: String = container.chars().take(room).collect();
    format!("vr-{prefix}{suffix}")
}

/// A locally administered MAC from the container's machine id (itself
/// stable per host and container), the interface and the side of the pair.
pub fn stable_mac(machine_id: &str, interface: &str, side: &str) -> MacAddress {
    let digest = Sha256::digest(format!("vroot mac\0{machine_id}\0{interface}\0{side}").as_bytes());
    let mut bytes = [0u8; 6];
    bytes.copy_from_slice(&digest[..6]);
    MacAddress::local_from(bytes)
}

/// Checks a link name the way the kernel does (`dev_valid_name`), plus the
/// 15-character limit said plainly.
pub fn validate_link_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("is empty".into());
    }
    if name.len() > MAX_LINK_NAME {
        return Err(format!(
            "`{name}` is longer than the kernel's {MAX_LINK_NAME} characters"
        ));
    }
    if name == "." || name == ".." {
        return Err(format!("`{name}` is not a link name"));
    }
    if let Some(bad) = name
        .chars()
        .find(|c| *c == '/' || *c == ':' || c.is_whitespace() || !c.is_ascii_graphic())
    {
        return Err(format!(
            "`{name}` contains {bad:?}, which link names cannot"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_names_fit_the_kernel_limit_and_stay_distinct() {
        assert_eq!(host_side_name("web1", 0), "vr-web1-0");
        let long_a = host_side_name("database-primary", 1);
        let long_b = host_side_name("database-replica", 1);
        assert!(long_a.len() <= MAX_LINK_NAME, "{long_a}");
        assert!(long_a.starts_with("vr-data"));
        assert_ne!(long_a, long_b);
        assert_ne!(host_side_name("database-primary", 0), long_a);
        assert_eq!(host_side_name("database-primary", 1), long_a);
        for name in ["a", "node-07", &"x".repeat(64)] {
            for position in [0, 9, 10, 99] {
                let host = host_side_name(name, position);
                assert!(validate_link_name(&host).is_ok(), "{host}");
            }
        }
    }

    #[test]
    fn macs_are_stable_per_container_interface_and_side() {
        let id = "0123456789abcdef0123456789abcdef";
        let mac = stable_mac(id, "eth0", "container");
        assert_eq!(mac, stable_mac(id, "eth0", "container"));
        assert_ne!(mac, stable_mac(id, "eth0", "host"));
        assert_ne!(mac, stable_mac(id, "eth1", "container"));
        assert_ne!(
            mac,
            stable_mac("fedcba9876543210fedcba9876543210", "eth0", "container")
        );
        assert_eq!(mac.0[0] & 0x03, 0x02, "unicast and locally administered");
    }

    #[test]
    fn resolution_fills_only_what_was_left_open() {
        let veth = Interface {
            name: "eth0".into(),
            link: LinkSpec::Veth {
                bridge: Some("br0".into()),
                host_name: None,
                host_mac: None,
            },
            mac: Some("02:00:00:00:00:01".parse().unwrap()),
            mtu: None,
            addresses: vec![],
            gateway: None,
            ip_config: IpConfig::Vroot,
        };
        let resolved = veth.resolved("web1", "00", 0);
        assert_eq!(resolved.mac.unwrap().to_string(), "02:00:00:00:00:01");
        let LinkSpec::Veth {
            host_name,
            host_mac,
            ..
        } = &resolved.link
        else {
            panic!("still a veth");
        };
        assert_eq!(host_name.as_deref(), Some("vr-web1-0"));
        assert!(host_mac.is_some());
        let phys = Interface {
            link: LinkSpec::Phys {
                device: "eth1".into(),
            },
            mac: None,
            ..resolved
        };
        assert_eq!(phys.resolved("web1", "00", 1).mac, None);
    }

    #[test]
    fn link_names_are_checked_like_the_kernel_does() {
        assert!(validate_link_name("eth0").is_ok());
        assert!(validate_link_name("eth0.100").is_ok());
        assert!(validate_link_name("").is_err());
        assert!(validate_link_name("a-very-long-name0")
            .unwrap_err()
            .contains("15"));
        assert!(validate_link_name("eth/0").is_err());
        assert!(validate_link_name("eth:0").is_err());
        assert!(validate_link_name("eth 0").is_err());
        assert!(validate_link_name("..").is_err());
    }
}
