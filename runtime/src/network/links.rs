//! The link operations vroot needs, as rtnetlink requests: list, create
//! veth/macvlan/ipvlan (directly in a target namespace), move, rename, set
//! up, enslave, tag with an alias, delete; and addresses and default routes.

use std::net::IpAddr;
use std::os::fd::{AsRawFd, BorrowedFd};

use netlink_packet_core::{NLM_F_CREATE, NLM_F_EXCL};
use netlink_packet_route::address::{AddressAttribute, AddressMessage};
use netlink_packet_route::link::{
    InfoData, InfoIpVlan, InfoKind, InfoMacVlan, InfoVeth, IpVlanMode, LinkAttribute, LinkFlags,
    LinkInfo, LinkLayerType, LinkMessage, MacVlanMode,
};
use netlink_packet_route::route::{
    RouteAddress, RouteAttribute, RouteHeader, RouteMessage, RouteProtocol, RouteScope, RouteType,
};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};

use super::netlink::{NetlinkError, RouteSocket};
use super::types::{IpCidr, IpvlanMode, MacAddress, MacvlanMode};

/// A link as the kernel reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    pub index: u32,
    pub name: String,
    pub alias: Option<String>,
    /// `bridge`, `veth`, `dummy`, …; none for a physical device.
    pub kind: Option<String>,
    /// The bridge or bond it is enslaved to.
    pub controller: Option<u32>,
    /// The link it is stacked on (a macvlan's or vlan's parent).
    pub parent: Option<u32>,
    pub mac: Option<MacAddress>,
    /// The burnt-in address of real hardware; what a container cannot fake.
    pub permanent_mac: Option<MacAddress>,
    pub mtu: Option<u32>,
    pub up: bool,
    pub loopback: bool,
}

impl Link {
    fn from_message(message: LinkMessage) -> Self {
        let mut link = Link {
            index: message.header.index,
            name: String::new(),
            alias: None,
            kind: None,
            controller: None,
            parent: None,
            mac: None,
            permanent_mac: None,
            mtu: None,
            up: message.header.flags.contains(LinkFlags::Up),
            loopback: message.header.link_layer_type == LinkLayerType::Loopback,
        };
        for attribute in message.attributes {
            match attribute {
                LinkAttribute::IfName(name) => link.name = name,
                LinkAttribute::IfAlias(alias) if !alias.is_empty() => link.alias = Some(alias),
                LinkAttribute::Controller(index) if index != 0 => link.controller = Some(index),
                LinkAttribute::Link(index) if index != 0 && index != link.index => {
                    link.parent = Some(index)
                }
                LinkAttribute::Mtu(mtu) => link.mtu = Some(mtu),
                LinkAttribute::PermAddress(bytes) => {
                    link.permanent_mac = <[u8; 6]>::try_from(bytes.as_slice())
                        .ok()
                        .map(MacAddress)
                        .filter(|mac| mac.0 != [0; 6])
                }
                LinkAttribute::Address(bytes) => {
                    link.mac = <[u8; 6]>::try_from(bytes.as_slice()).ok().map(MacAddress)
                }
                LinkAttribute::LinkInfo(infos) => {
                    for info in infos {
                        if let LinkInfo::Kind(kind) = info {
                            link.kind = Some(kind.to_string());
                        }
                    }
                }
                _ => {}
            }
        }
        link
    }

    pub fn is_bridge(&self) -> bool {
        self.kind.as_deref() == Some("bridge")
    }
}

/// Creation parameters shared by every kind of link.
pub struct NewLink<'a> {
    pub name: &'a str,
    pub mac: Option<MacAddress>,
    pub mtu: Option<u32>,
    /// Create it in this namespace instead of the socket's.
    pub netns: Option<BorrowedFd<'a>>,
}

impl NewLink<'_> {
    fn attributes(&self) -> Vec<LinkAttribute> {
        let mut attributes = vec![LinkAttribute::IfName(self.name.to_string())];
        if let Some(mac) = self.mac {
            attributes.push(LinkAttribute::Address(mac.0.to_vec()));
        }
        if let Some(mtu) = self.mtu {
            attributes.push(LinkAttribute::Mtu(mtu));
        }
        if let Some(netns) = self.netns {
            attributes.push(LinkAttribute::NetNsFd(netns.as_raw_fd()));
        }
        attributes
    }
}

fn link_request(index: u32, attributes: Vec<LinkAttribute>) -> LinkMessage {
    let mut message = LinkMessage::default();
    message.header.index = index;
    message.attributes = attributes;
    message
}

impl RouteSocket {
    pub fn links(&mut self) -> Result<Vec<Link>, NetlinkError> {
        Ok(self
            .dump(RouteNetlinkMessage::GetLink(LinkMessage::default()))?
            .into_iter()
            .filter_map(|message| match message {
                RouteNetlinkMessage::NewLink(link) => Some(Link::from_message(link)),
                _ => None,
            })
            .collect())
    }

    /// The addresses on link `index`.
    pub fn addresses_of(&mut self, index: u32) -> Result<Vec<IpCidr>, NetlinkError> {
        let mut found = Vec::new();
        for message in self.dump(RouteNetlinkMessage::GetAddress(AddressMessage::default()))? {
            let RouteNetlinkMessage::NewAddress(address) = message else {
                continue;
            };
            if address.header.index != index {
                continue;
            }
            let local = address
                .attributes
                .iter()
                .find_map(|attribute| match attribute {
                    AddressAttribute::Local(ip) => Some(*ip),
                    _ => None,
                });
            let any = address
                .attributes
                .iter()
                .find_map(|attribute| match attribute {
                    AddressAttribute::Address(ip) => Some(*ip),
                    _ => None,
                });
            if let Some(ip) = local.or(any) {
                found.push(IpCidr {
                    address: ip,
                    prefix: address.header.prefix_len,
                });
            }
        }
        Ok(found)
    }

    /// The link with index `index`, if there is one.
    pub fn link_at(&mut self, index: u32) -> Result<Option<Link>, NetlinkError> {
        match self.get(RouteNetlinkMessage::GetLink(link_request(
            index,
            Vec::new(),
        ))) {
            Ok(Some(RouteNetlinkMessage::NewLink(link))) => Ok(Some(Link::from_message(link))),
            Ok(_) => Ok(None),
            Err(error) if error.errno() == Some(libc::ENODEV) => Ok(None),
            Err(error) => Err(error),
        }
    }

    pub fn link_named(&mut self, name: &str) -> Result<Option<Link>, NetlinkError> {
        Ok(self.links()?.into_iter().find(|link| link.name == name))
    }

    /// A veth pair: `host` in the socket's namespace, `peer` (usually) in
    /// the container's.
    pub fn create_veth(&mut self, host: &NewLink, peer: &NewLink) -> Result<(), NetlinkError> {
        let mut attributes = host.attributes();
        attributes.push(LinkAttribute::LinkInfo(vec![
            LinkInfo::Kind(InfoKind::Veth),
            LinkInfo::Data(InfoData::Veth(InfoVeth::Peer(link_request(
                0,
                peer.attributes(),
            )))),
        ]));
        self.create(attributes)
    }

    pub fn create_macvlan(
        &mut self,
        link: &NewLink,
        parent: u32,
        mode: MacvlanMode,
    ) -> Result<(), NetlinkError> {
        let mode = match mode {
            MacvlanMode::Bridge => MacVlanMode::Bridge,
            MacvlanMode::Private => MacVlanMode::Private,
            MacvlanMode::Vepa => MacVlanMode::Vepa,
            MacvlanMode::Passthru => MacVlanMode::Passthrough,
        };
        let mut attributes = link.attributes();
        attributes.push(LinkAttribute::Link(parent));
        attributes.push(LinkAttribute::LinkInfo(vec![
            LinkInfo::Kind(InfoKind::MacVlan),
            LinkInfo::Data(InfoData::MacVlan(vec![InfoMacVlan::Mode(mode)])),
        ]));
        self.create(attributes)
    }

    pub fn create_ipvlan(
        &mut self,
        link: &NewLink,
        parent: u32,
        mode: IpvlanMode,
    ) -> Result<(), NetlinkError> {
        let mode = match mode {
            IpvlanMode::L2 => IpVlanMode::L2,
            IpvlanMode::L3 => IpVlanMode::L3,
            IpvlanMode::L3s => IpVlanMode::L3S,
        };
        let mut attributes = link.attributes();
        attributes.push(LinkAttribute::Link(parent));
        attributes.push(LinkAttribute::LinkInfo(vec![
            LinkInfo::Kind(InfoKind::IpVlan),
            LinkInfo::Data(InfoData::IpVlan(vec![InfoIpVlan::Mode(mode)])),
        ]));
        self.create(attributes)
    }

    fn create(&mut self, attributes: Vec<LinkAttribute>) -> Result<(), NetlinkError> {
        self.change(
            RouteNetlinkMessage::NewLink(link_request(0, attributes)),
            NLM_F_CREATE | NLM_F_EXCL,
        )
    }

    fn set(&mut self, index: u32, attributes: Vec<LinkAttribute>) -> Result<(), NetlinkError> {
        self.change(
            RouteNetlinkMessage::SetLink(link_request(index, attributes)),
            0,
        )
    }

    pub fn set_up(&mut self, index: u32, up: bool) -> Result<(), NetlinkError> {
        let mut message = link_request(index, Vec::new());
        message.header.change_mask = LinkFlags::Up;
        if up {
            message.header.flags = LinkFlags::Up;
        }
        self.change(RouteNetlinkMessage::SetLink(message), 0)
    }

    pub fn rename(&mut self, index: u32, name: &str) -> Result<(), NetlinkError> {
        self.set(index, vec![LinkAttribute::IfName(name.to_string())])
    }

    /// Sets the alias; an empty one clears it.
    pub fn set_alias(&mut self, index: u32, alias: &str) -> Result<(), NetlinkError> {
        self.set(index, vec![LinkAttribute::IfAlias(alias.to_string())])
    }

    pub fn set_mtu(&mut self, index: u32, mtu: u32) -> Result<(), NetlinkError> {
        self.set(index, vec![LinkAttribute::Mtu(mtu)])
    }

    pub fn set_mac(&mut self, index: u32, mac: MacAddress) -> Result<(), NetlinkError> {
        self.set(index, vec![LinkAttribute::Address(mac.0.to_vec())])
    }

    /// The host side of a veth in one request: its tag, its bridge, up.
    pub fn finish_host_side(
        &mut self,
        index: u32,
        alias: &str,
        controller: Option<u32>,
    ) -> Result<(), NetlinkError> {
        let mut message = link_request(index, vec![LinkAttribute::IfAlias(alias.to_string())]);
        if let Some(controller) = controller {
            message
                .attributes
                .push(LinkAttribute::Controller(controller));
        }
        message.header.flags = LinkFlags::Up;
        message.header.change_mask = LinkFlags::Up;
        self.change(RouteNetlinkMessage::SetLink(message), 0)
    }

    pub fn set_controller(&mut self, index: u32, controller: u32) -> Result<(), NetlinkError> {
        self.set(index, vec![LinkAttribute::Controller(controller)])
    }

    /// Moves a link into the namespace behind `netns`. The kernel sets it
    /// down on the way.
    pub fn move_to(&mut self, index: u32, netns: BorrowedFd) -> Result<(), NetlinkError> {
        self.set(index, vec![LinkAttribute::NetNsFd(netns.as_raw_fd())])
    }

    pub fn delete(&mut self, index: u32) -> Result<(), NetlinkError> {
        self.change(
            RouteNetlinkMessage::DelLink(link_request(index, Vec::new())),
            0,
        )
    }

    pub fn add_address(&mut self, index: u32, cidr: &IpCidr) -> Result<(), NetlinkError> {
        let mut message = AddressMessage::default();
        message.header.index = index;
        message.header.prefix_len = cidr.prefix;
        message.header.family = family(&cidr.address);
        message
            .attributes
            .push(AddressAttribute::Address(cidr.address));
        if cidr.address.is_ipv4() {
            message
                .attributes
                .push(AddressAttribute::Local(cidr.address));
            if let Some(broadcast) = cidr.broadcast() {
                message
                    .attributes
                    .push(AddressAttribute::Broadcast(broadcast));
            }
        }
        self.change(
            RouteNetlinkMessage::NewAddress(message),
            NLM_F_CREATE | NLM_F_EXCL,
        )
    }

    /// The default route of `gateway`'s family, through link `index`.
    pub fn add_default_route(&mut self, index: u32, gateway: IpAddr) -> Result<(), NetlinkError> {
        let mut message = RouteMessage::default();
        message.header.address_family = family(&gateway);
        message.header.table = RouteHeader::RT_TABLE_MAIN;
        message.header.protocol = RouteProtocol::Static;
        message.header.scope = RouteScope::Universe;
        message.header.kind = RouteType::Unicast;
        message
            .attributes
            .push(RouteAttribute::Gateway(match gateway {
                IpAddr::V4(address) => RouteAddress::Inet(address),
                IpAddr::V6(address) => RouteAddress::Inet6(address),
            }));
        message.attributes.push(RouteAttribute::Oif(index));
        self.change(
            RouteNetlinkMessage::NewRoute(message),
            NLM_F_CREATE | NLM_F_EXCL,
        )
    }
}

fn family(address: &IpAddr) -> AddressFamily {
    if address.is_ipv4() {
        AddressFamily::Inet
    } else {
        AddressFamily::Inet6
    }
}
