//! The values a network config names: MAC addresses, addresses with a
//! prefix length, and the macvlan and ipvlan modes. Each parses from and
//! prints as the text an administrator writes, and is stored that way in the
//! spec.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// An Ethernet address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MacAddress(pub [u8; 6]);

impl MacAddress {
    /// A unicast, locally administered address made from six bytes of a
    /// digest: such addresses never clash with a vendor's.
    pub fn local_from(bytes: [u8; 6]) -> Self {
        let mut bytes = bytes;
        bytes[0] = (bytes[0] & 0xfe) | 0x02;
        MacAddress(bytes)
    }

    pub fn is_multicast(&self) -> bool {
        self.0[0] & 0x01 != 0
    }
}

impl fmt::Display for MacAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [a, b, c, d, e, g] = self.0;
        write!(f, "{a:02x}:{b:02x}:{c:02x}:{d:02x}:{e:02x}:{g:02x}")
    }
}

impl FromStr for MacAddress {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let bad = || {
            format!("`{text}` is not a MAC address (write six hex pairs, e.g. 02:00:5e:10:00:01)")
        };
        let parts: Vec<&str> = text.split(':').collect();
        if parts.len() != 6 {
            return Err(bad());
        }
        let mut bytes = [0u8; 6];
        for (slot, part) in bytes.iter_mut().zip(&parts) {
            if part.len() != 2 {
                return Err(bad());
            }
            *slot = u8::from_str_radix(part, 16).map_err(|_| bad())?;
        }
        let mac = MacAddress(bytes);
        if mac.is_multicast() {
            return Err(format!(
                "`{text}` is a multicast address; an interface needs a unicast one"
            ));
        }
        if bytes == [0; 6] {
            return Err(format!("`{text}` is the all-zero address"));
        }
        Ok(mac)
    }
}

/// An address with its prefix length, `192.0.2.11/24` or `fd00::11/64`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpCidr {
    pub address: IpAddr,
    pub prefix: u8,
}

impl IpCidr {
    fn max_prefix(address: &IpAddr) -> u8 {
        if address.is_ipv4() {
            32
        } else {
            128
        }
    }

    /// Whether `other` lies in this address's network.
    pub fn contains(&self, other: &IpAddr) -> bool {
        match (self.address, other) {
            (IpAddr::V4(mine), IpAddr::V4(theirs)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(mine) & mask == u32::from(*theirs) & mask
            }
            (IpAddr::V6(mine), IpAddr::V6(theirs)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(mine) & mask == u128::from(*theirs) & mask
            }
            _ => false,
        }
    }

    /// The dotted netmask of an IPv4 address (`255.255.255.0`), for
    /// ifupdown-style templates; empty for IPv6.
    pub fn netmask(&self) -> String {
        match self.address {
            IpAddr::V4(_) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                std::net::Ipv4Addr::from(mask).to_string()
            }
            IpAddr::V6(_) => String::new(),
        }
    }

    /// The IPv4 broadcast address of the network.
    pub fn broadcast(&self) -> Option<std::net::Ipv4Addr> {
        match self.address {
            IpAddr::V4(address) if self.prefix < 31 => {
                let host_bits = u32::MAX >> self.prefix;
                Some(std::net::Ipv4Addr::from(u32::from(address) | host_bits))
            }
            _ => None,
        }
    }
}

impl fmt::Display for IpCidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.address, self.prefix)
    }
}

impl FromStr for IpCidr {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let (address_text, prefix_text) = text.split_once('/').ok_or_else(|| {
            format!("`{text}` has no prefix length (write it as 192.0.2.11/24 or fd00::11/64)")
        })?;
        let address: IpAddr = address_text
            .parse()
            .map_err(|_| format!("`{address_text}` is not an IP address"))?;
        let max = Self::max_prefix(&address);
        let prefix: u8 = prefix_text
            .parse()
            .ok()
            .filter(|prefix| *prefix <= max)
            .ok_or_else(|| format!("`/{prefix_text}` is not a prefix length of 0 to {max}"))?;
        if address.is_unspecified() || address.is_multicast() || address.is_loopback() {
            return Err(format!(
                "`{address}` cannot be an interface's address (unspecified, multicast or loopback)"
            ));
        }
        Ok(IpCidr { address, prefix })
    }
}

macro_rules! text_serde {
    ($type:ty) => {
        impl Serialize for $type {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_str(self)
            }
        }

        impl<'de> Deserialize<'de> for $type {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = String::deserialize(deserializer)?;
                text.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

text_serde!(MacAddress);
text_serde!(IpCidr);

/// How macvlan siblings on one parent reach each other.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MacvlanMode {
    /// Siblings talk directly; the usual choice.
    #[default]
    Bridge,
    Private,
    Vepa,
    Passthru,
}

/// The layer at which ipvlan slaves share their parent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IpvlanMode {
    #[default]
    L2,
    L3,
    L3s,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mac_addresses_round_trip_and_refuse_multicast_and_zero() {
        let mac: MacAddress = "02:00:5E:10:00:01".parse().unwrap();
        assert_eq!(mac.to_string(), "02:00:5e:10:00:01");
        assert!("01:00:5e:00:00:01"
            .parse::<MacAddress>()
            .unwrap_err()
            .contains("multicast"));
        assert!("00:00:00:00:00:00".parse::<MacAddress>().is_err());
        assert!("02:00:5e:10:00".parse::<MacAddress>().is_err());
        assert!("02:00:5e:10:00:0g".parse::<MacAddress>().is_err());
    }

    #[test]
    fn local_addresses_are_unicast_and_locally_administered() {
        let mac = MacAddress::local_from([0xff; 6]);
        assert_eq!(mac.0[0], 0xfe);
        assert!(!mac.is_multicast());
    }

    #[test]
    fn cidrs_parse_and_know_their_network() {
        let cidr: IpCidr = "192.0.2.11/24".parse().unwrap();
        assert!(cidr.contains(&"192.0.2.1".parse().unwrap()));
        assert!(!cidr.contains(&"198.51.100.1".parse().unwrap()));
        assert!(!cidr.contains(&"fd00::1".parse().unwrap()));
        assert_eq!(cidr.netmask(), "255.255.255.0");
        assert_eq!(cidr.broadcast(), Some("192.0.2.255".parse().unwrap()));
        let v6: IpCidr = "fd00::11/64".parse().unwrap();
        assert!(v6.contains(&"fd00::1".parse().unwrap()));
        assert_eq!(v6.netmask(), "");
        assert_eq!(v6.to_string(), "fd00::11/64");
        let whole: IpCidr = "192.0.2.1/0".parse().unwrap();
        assert!(whole.contains(&"198.51.100.7".parse().unwrap()));
    }

    #[test]
    fn bad_cidrs_say_what_is_wrong() {
        assert!("192.0.2.11"
            .parse::<IpCidr>()
            .unwrap_err()
            .contains("prefix"));
        assert!("192.0.2.11/33"
            .parse::<IpCidr>()
            .unwrap_err()
            .contains("0 to 32"));
        assert!("fd00::1/129"
            .parse::<IpCidr>()
            .unwrap_err()
            .contains("0 to 128"));
        assert!("eth0/24"
            .parse::<IpCidr>()
            .unwrap_err()
            .contains("not an IP"));
        assert!("127.0.0.1/8"
            .parse::<IpCidr>()
            .unwrap_err()
            .contains("loopback"));
    }
}
