//! What a boot attached, kept in the container's state directory (host-local,
//! never the shared root), and the alias tags set on the links themselves.
//! With both, a `stop` or `fence` run after the supervisor died still knows
//! which links to delete and which devices to give back under which name.

use std::path::Path;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkRecord {
    pub links: Vec<RecordedLink>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordedLink {
    /// The name inside the container.
    pub name: String,
    pub mode: String,
    /// The host side of a veth.
    pub host_name: Option<String>,
    /// A host device moved in.
    pub device: Option<MovedDevice>,
    /// A link vroot made: its index inside, once it has its final name.
    #[serde(default)]
    pub inside_index: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MovedDevice {
    pub original_name: String,
    /// The alias it had on the host, put back when it returns.
    pub original_alias: Option<String>,
    /// Its index inside the container, which the container cannot change.
    pub inside_index: u32,
    /// What the container may change and the host gets back as lent.
    #[serde(default)]
    pub original_mac: Option<super::types::MacAddress>,
    #[serde(default)]
    pub original_mtu: Option<u32>,
    /// Its kind (`veth`, …; none for hardware) and burnt-in MAC: an index
    /// alone can be taken by a link the container makes (`ip link add …
    /// index N` after moving the device away), so the give-back checks
    /// these too.
    #[serde(default)]
    pub kind: Option<String>,
    #[serde(default)]
    pub permanent_mac: Option<super::types::MacAddress>,
}

impl MovedDevice {
    /// Whether `link` is this device: same kind, same burnt-in MAC if it
    /// had one.
    pub fn is(&self, link: &super::links::Link) -> bool {
        link.index == self.inside_index
            && link.kind == self.kind
            && (self.permanent_mac.is_none() || link.permanent_mac == self.permanent_mac)
    }
}

impl NetworkRecord {
    pub fn load(path: &Path) -> Option<Self> {
        let text = std::fs::read_to_string(path).ok()?;
        serde_json::from_str(&text).ok()
    }

    pub fn save(&self, path: &Path) -> std::io::Result<()> {
        let text = serde_json::to_string_pretty(self).map_err(std::io::Error::other)?;
        let temporary = path.with_extension("json.tmp");
        std::fs::write(&temporary, text)?;
        std::fs::rename(&temporary, path)
    }

    pub fn device_at(&self, inside_index: u32) -> Option<&MovedDevice> {
        self.links
            .iter()
            .filter_map(|link| link.device.as_ref())
            .find(|device| device.inside_index == inside_index)
    }

    pub fn device_named(&self, original_name: &str) -> Option<&MovedDevice> {
        self.links
            .iter()
            .filter_map(|link| link.device.as_ref())
            .find(|device| device.original_name == original_name)
    }
}

/// The alias of a link vroot created on the host for `container`.
pub fn host_link_tag(container: &str, inside: &str) -> String {
    format!("vroot:{container}:{inside}")
}

/// Whether `alias` marks a host link of `container`.
pub fn is_host_link_of(alias: &str, container: &str) -> bool {
    alias
        .strip_prefix("vroot:")
        .and_then(|rest| rest.strip_prefix(container))
        .is_some_and(|rest| rest.starts_with(':'))
}

/// The alias of a host device lent to `container`, naming its host name.
pub fn device_tag(container: &str, original_name: &str) -> String {
    format!("vroot-device:{container}:{original_name}")
}

/// The host name of a device lent to `container`, from its alias.
pub fn lent_device_name<'a>(alias: &'a str, container: &str) -> Option<&'a str> {
    alias
        .strip_prefix("vroot-device:")?
        .strip_prefix(container)?
        .strip_prefix(':')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_name_their_container_exactly() {
        let tag = host_link_tag("web", "eth0");
        assert!(is_host_link_of(&tag, "web"));
        assert!(!is_host_link_of(&tag, "we"));
        assert!(!is_host_link_of(&host_link_tag("web1", "eth0"), "web"));
        let device = device_tag("web", "eth1");
        assert_eq!(lent_device_name(&device, "web"), Some("eth1"));
        assert_eq!(lent_device_name(&device, "we"), None);
        assert_eq!(lent_device_name(&tag, "web"), None);
        assert!(!is_host_link_of(&device, "web"));
    }

    #[test]
    fn a_lent_device_is_known_by_index_kind_and_burnt_in_mac() {
        let nic: crate::network::types::MacAddress = "52:54:00:12:34:56".parse().unwrap();
        let device = MovedDevice {
            original_name: "enp3s0".into(),
            original_alias: None,
            inside_index: 7,
            original_mac: Some(nic),
            original_mtu: Some(1500),
            kind: None,
            permanent_mac: Some(nic),
        };
        let link = |index, kind: Option<&str>, permanent| crate::network::links::Link {
            index,
            name: "eth1".into(),
            alias: None,
            kind: kind.map(str::to_string),
            controller: None,
            parent: None,
            mac: Some(nic),
            permanent_mac: permanent,
            mtu: Some(1500),
            up: true,
            loopback: false,
        };
        assert!(device.is(&link(7, None, Some(nic))));
        // A link the container made at the same index, even with the MAC set.
        assert!(!device.is(&link(7, Some("veth"), None)));
        let other: crate::network::types::MacAddress = "52:54:00:65:43:21".parse().unwrap();
        assert!(!device.is(&link(7, None, Some(other))));
        assert!(!device.is(&link(8, None, Some(nic))));
    }

    #[test]
    fn records_round_trip_through_their_file() {
        let dir = std::env::temp_dir().join(format!("vroot-record-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("network.json");
        let record = NetworkRecord {
            links: vec![RecordedLink {
                name: "eth1".into(),
                mode: "phys".into(),
                host_name: None,
                inside_index: None,
                device: Some(MovedDevice {
                    original_name: "enp3s0".into(),
                    original_alias: None,
                    inside_index: 7,
                    original_mac: Some("52:54:00:12:34:56".parse().unwrap()),
                    original_mtu: Some(1500),
                    kind: None,
                    permanent_mac: Some("52:54:00:12:34:56".parse().unwrap()),
                }),
            }],
        };
        record.save(&path).unwrap();
        let loaded = NetworkRecord::load(&path).unwrap();
        assert_eq!(loaded, record);
        assert_eq!(loaded.device_at(7).unwrap().original_name, "enp3s0");
        assert!(loaded.device_named("enp3s0").is_some());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
