//! Giving a new container its links, between the clone of its init and the
//! go that lets the init run: host devices are moved in first, then veth,
//! macvlan and ipvlan links are created directly inside under their final
//! names, then vroot configures what the config asks it to. On any failure,
//! everything done so far is undone before the error is returned.

use std::collections::HashMap;
use std::time::{Duration, Instant};

/// How long giving a boot's links back may take: netlink requests answer at
/// once, so this bounds only a container that made a great many links.
pub const RELEASE_BUDGET: Duration = Duration::from_secs(10);

use super::interface::{Interface, LinkSpec};
use super::links::{Link, NewLink};
use super::netlink::{NetlinkError, RouteSocket};
use super::netns::Netns;
use super::record::{self, MovedDevice, NetworkRecord, RecordedLink};
use super::release::{self, ReleaseReport};
use super::sweep::sweep;
use super::NetworkError;

/// The links of one boot. Its namespace handle keeps the namespace alive
/// after the init ends, so that [`Attachment::detach`] still finds lent
/// devices there to give back.
#[derive(Debug)]
pub struct Attachment {
    container: String,
    netns: Netns,
    record: NetworkRecord,
}

impl Attachment {
    pub fn record(&self) -> &NetworkRecord {
        &self.record
    }

    pub fn netns(&self) -> &Netns {
        &self.netns
    }

    /// Gives lent devices back, deletes every other link, and lets the
    /// namespace go.
    pub fn detach(self) -> ReleaseReport {
        let deadline = Instant::now() + RELEASE_BUDGET;
        let mut report =
            release::evacuate(&self.container, &self.netns, Some(&self.record), deadline);
        report.merge(sweep(&self.container, Some(&self.record)));
        report
    }
}

/// Attaches `interfaces` to the container whose network namespace is
/// `netns`. Runs in the host's namespace.
pub fn attach(
    container: &str,
    interfaces: &[Interface],
    netns: Netns,
) -> Result<Attachment, NetworkError> {
    let mut attachment = Attachment {
        container: container.to_string(),
        netns,
        record: NetworkRecord::default(),
    };
    if interfaces.is_empty() {
        return Ok(attachment);
    }
    match attach_all(&mut attachment, interfaces) {
        Ok(()) => Ok(attachment),
        Err(error) => {
            attachment.detach();
            Err(error)
        }
    }
}

fn host_error(action: &str) -> impl FnOnce(NetlinkError) -> NetworkError + '_ {
    move |source| NetworkError::Host {
        action: action.to_string(),
        source,
    }
}

fn attach_all(attachment: &mut Attachment, interfaces: &[Interface]) -> Result<(), NetworkError> {
    let container = attachment.container.clone();
    let mut host = RouteSocket::open().map_err(host_error("open a netlink socket"))?;
    sweep(&container, None);
    let host_links = host.links().map_err(host_error("list the host's links"))?;
    for interface in interfaces {
        check_host_side(&mut host, &host_links, &container, interface)?;
    }
    let mut inside = attachment.netns.route_socket()?;

    // Devices first: they arrive under their host names, which must not
    // meet the names of links created inside.
    let by_name: HashMap<&str, &Link> = host_links.iter().map(|l| (l.name.as_str(), l)).collect();
    for interface in interfaces {
        if let LinkSpec::Phys { device } = &interface.link {
            let link = by_name[device.as_str()];
            lend_device(&mut host, &mut inside, attachment, interface, link)?;
        }
    }
    name_lent_devices(&mut inside, attachment)?;

    for (position, interface) in interfaces.iter().enumerate() {
        let step = |action: &str| {
            let interface_name = interface.name.clone();
            let action = action.to_string();
            move |source| NetworkError::Netlink {
                interface: interface_name,
                action,
                source,
            }
        };
        // Made under a temporary name, renamed once all exist: Linux 6.1
        // refuses (EEXIST) an ipvlan made straight into another namespace
        // under its parent's own name, e.g. `eth0` on the host's `eth0`.
        let temporary = temporary_name(position);
        let inside_link = NewLink {
            name: &temporary,
            mac: interface.mac,
            mtu: interface.mtu,
            netns: Some(attachment.netns.fd()),
        };
        match &interface.link {
            LinkSpec::Phys { .. } => {}
            LinkSpec::Veth {
                bridge,
                host_name,
                host_mac,
            } => {
                let host_name = host_name.clone().unwrap_or_default();
                let host_side = NewLink {
                    name: &host_name,
                    mac: *host_mac,
                    mtu: interface.mtu,
                    netns: None,
                };
                host.create_veth(&host_side, &inside_link)
                    .map_err(step("create the veth pair"))?;
                record_made(attachment, interface, Some(host_name.clone()));
                let created = host
                    .link_named(&host_name)
                    .map_err(step("find the host side"))?
                    .ok_or_else(|| NetworkError::Interface {
                        interface: interface.name.clone(),
                        problem: format!("the host side `{host_name}` vanished after its creation"),
                    })?;
                let bridge_index = bridge.as_ref().map(|bridge| by_name[bridge.as_str()].index);
                let action = match bridge {
                    Some(bridge) => format!("attach {host_name} to bridge {bridge} and set it up"),
                    None => format!("set {host_name} up"),
                };
                host.finish_host_side(
                    created.index,
                    &record::host_link_tag(&container, &interface.name),
                    bridge_index,
                )
                .map_err(step(&action))?;
            }
            LinkSpec::Macvlan {
                parent,
                macvlan_mode,
            } => {
                host.create_macvlan(&inside_link, by_name[parent.as_str()].index, *macvlan_mode)
                    .map_err(creation_failure(
                        interface,
                        "macvlan",
                        "CONFIG_MACVLAN",
                        parent,
                    ))?;
                record_made(attachment, interface, None);
            }
            LinkSpec::Ipvlan {
                parent,
                ipvlan_mode,
            } => {
                host.create_ipvlan(&inside_link, by_name[parent.as_str()].index, *ipvlan_mode)
                    .map_err(creation_failure(
                        interface,
                        "ipvlan",
                        "CONFIG_IPVLAN",
                        parent,
                    ))?;
                record_made(attachment, interface, None);
            }
        }
    }
    for (position, interface) in interfaces.iter().enumerate() {
        if matches!(interface.link, LinkSpec::Phys { .. }) {
            continue;
        }
        let temporary = temporary_name(position);
        let made = inside
            .link_named(&temporary)
            .map_err(|source| NetworkError::Host {
                action: "list the container's links".into(),
                source,
            })?
            .ok_or_else(|| NetworkError::Interface {
                interface: interface.name.clone(),
                problem: format!("`{temporary}` vanished from the container after its creation"),
            })?;
        inside
            .rename(made.index, &interface.name)
            .map_err(|source| NetworkError::Netlink {
                interface: interface.name.clone(),
                action: format!("rename {temporary} to {}", interface.name),
                source,
            })?;
        if let Some(recorded) = attachment
            .record
            .links
            .iter_mut()
            .find(|link| link.name == interface.name)
        {
            recorded.inside_index = Some(made.index);
        }
    }
    configure_inside(&mut inside, interfaces)
}

/// Records a link vroot made for `interface`; its index inside is added once
/// it has its final name.
fn record_made(attachment: &mut Attachment, interface: &Interface, host_name: Option<String>) {
    attachment.record.links.push(RecordedLink {
        name: interface.name.clone(),
        mode: interface.link.mode().into(),
        host_name,
        device: None,
        inside_index: None,
    });
}

/// The name a link has inside until all exist. Configs cannot use the
/// `vroot-` prefix, so it meets no interface's final name.
fn temporary_name(position: usize) -> String {
    format!("vroot-new{position}")
}

/// The error of a failed macvlan or ipvlan creation. The kernel answers
/// "not supported" for a link kind it was built without: that says which
/// option is missing.
fn creation_failure<'a>(
    interface: &'a Interface,
    kind: &'a str,
    option: &'a str,
    parent: &'a str,
) -> impl FnOnce(NetlinkError) -> NetworkError + 'a {
    move |source| {
        match source.errno() {
        Some(libc::EOPNOTSUPP) => NetworkError::Interface {
            interface: interface.name.clone(),
            problem: format!(
                "this kernel has no {kind} support ({option} is off and no module is loaded); choose another mode"
            ),
        },
        _ => NetworkError::Netlink {
            interface: interface.name.clone(),
            action: format!("create the {kind} link on {parent}"),
            source,
        },
    }
    }
}

/// Refuses, before anything is made, what would fail half-way: a missing
/// or wrong bridge or parent, a device that is missing or busy on the host,
/// a host-side name taken by someone else's link.
fn check_host_side(
    host: &mut RouteSocket,
    host_links: &[Link],
    container: &str,
    interface: &Interface,
) -> Result<(), NetworkError> {
    let problem = |problem: String| NetworkError::Interface {
        interface: interface.name.clone(),
        problem,
    };
    let named = |name: &str| host_links.iter().find(|link| link.name == name);
    match &interface.link {
        LinkSpec::Veth {
            bridge, host_name, ..
        } => {
            if let Some(bridge) = bridge {
                match named(bridge) {
                    None => {
                        return Err(problem(format!(
                            "no bridge `{bridge}` on the host (create it first, e.g. `ip link add {bridge} type bridge`)"
                        )))
                    }
                    Some(link) if !link.is_bridge() => {
                        return Err(problem(format!(
                            "`{bridge}` is {}, not a Linux bridge (name a bridge in `bridge`)",
                            describe_kind(link)
                        )))
                    }
                    Some(_) => {}
                }
            }
            let host_name = host_name.as_deref().unwrap_or_default();
            if let Some(existing) = named(host_name) {
                let ours = existing
                    .alias
                    .as_deref()
                    .is_some_and(|alias| record::is_host_link_of(alias, container));
                if !ours {
                    return Err(problem(format!(
                        "the host already has a link named `{host_name}` (set another `host_name`)"
                    )));
                }
            }
        }
        LinkSpec::Macvlan { parent, .. } | LinkSpec::Ipvlan { parent, .. } => {
            if named(parent).is_none() {
                return Err(problem(format!(
                    "no parent link `{parent}` on the host (name an existing interface in `parent`)"
                )));
            }
        }
        LinkSpec::Phys { device } => {
            let Some(link) = named(device) else {
                return Err(problem(format!(
                    "no device `{device}` on the host (misspelt, or in use by another container?)"
                )));
            };
            let busy = |why: String| problem(format!("device `{device}` is in use: {why}"));
            if link.loopback || link.is_bridge() {
                return Err(busy(format!(
                    "it is {}, which cannot move into a container",
                    describe_kind(link)
                )));
            }
            if let Some(controller) = link.controller {
                let owner = host_links
                    .iter()
                    .find(|candidate| candidate.index == controller)
                    .map(|owner| owner.name.clone())
                    .unwrap_or_else(|| format!("link {controller}"));
                return Err(busy(format!(
                    "it is a port of `{owner}` (release it first)"
                )));
            }
            // A veth names its peer as its link; that is no upper device.
            if let Some(upper) = host_links.iter().find(|candidate| {
                candidate.parent == Some(link.index) && candidate.kind.as_deref() != Some("veth")
            }) {
                return Err(busy(format!(
                    "`{}` is stacked on it (delete that first)",
                    upper.name
                )));
            }
            let addresses = host
                .addresses_of(link.index)
                .map_err(|source| NetworkError::Host {
                    action: format!("list the addresses of {device}"),
                    source,
                })?;
            let global: Vec<String> = addresses
                .iter()
                .filter(|cidr| !is_link_local(cidr))
                .map(ToString::to_string)
                .collect();
            if !global.is_empty() {
                return Err(busy(format!(
                    "the host uses it with {} (remove the addresses first)",
                    global.join(", ")
                )));
            }
        }
    }
    Ok(())
}

fn describe_kind(link: &Link) -> String {
    if link.loopback {
        "the loopback device".into()
    } else {
        match link.kind.as_deref() {
            Some(kind) => format!("a {kind} link"),
            None => "a physical device".into(),
        }
    }
}

fn is_link_local(cidr: &super::types::IpCidr) -> bool {
    match cidr.address {
        std::net::IpAddr::V6(address) => address.segments()[0] & 0xffc0 == 0xfe80,
        std::net::IpAddr::V4(address) => address.is_link_local(),
    }
}

/// Tags a host device with the container's name, moves it in, and records
/// where it came from.
fn lend_device(
    host: &mut RouteSocket,
    inside: &mut RouteSocket,
    attachment: &mut Attachment,
    interface: &Interface,
    link: &Link,
) -> Result<(), NetworkError> {
    let step = |action: String| {
        let interface_name = interface.name.clone();
        move |source| NetworkError::Netlink {
            interface: interface_name,
            action,
            source,
        }
    };
    let tag = record::device_tag(&attachment.container, &link.name);
    host.set_alias(link.index, &tag)
        .map_err(step(format!("tag device {}", link.name)))?;
    if let Err(error) = host.move_to(link.index, attachment.netns.fd()) {
        let _ = host.set_alias(link.index, link.alias.as_deref().unwrap_or_default());
        return Err(step(format!(
            "move device {} into the container",
            link.name
        ))(error));
    }
    let moved = inside
        .links()
        .map_err(step("list the container's links".into()))?
        .into_iter()
        .find(|candidate| candidate.alias.as_deref() == Some(tag.as_str()))
        .ok_or_else(|| NetworkError::Interface {
            interface: interface.name.clone(),
            problem: format!("device {} did not arrive in the container", link.name),
        })?;
    attachment.record.links.push(RecordedLink {
        name: interface.name.clone(),
        mode: "phys".into(),
        host_name: None,
        inside_index: None,
        device: Some(MovedDevice {
            original_name: link.name.clone(),
            original_alias: link.alias.clone(),
            inside_index: moved.index,
            original_mac: link.mac,
            original_mtu: link.mtu,
            kind: link.kind.clone(),
            permanent_mac: link.permanent_mac,
        }),
    });
    Ok(())
}

/// Renames lent devices to their names inside, through temporary names when
/// two of them would swap names.
fn name_lent_devices(
    inside: &mut RouteSocket,
    attachment: &Attachment,
) -> Result<(), NetworkError> {
    let lent: Vec<(&RecordedLink, &MovedDevice)> = attachment
        .record
        .links
        .iter()
        .filter_map(|link| link.device.as_ref().map(|device| (link, device)))
        .collect();
    let rename = |inside: &mut RouteSocket, link: &RecordedLink, index: u32, name: &str| {
        inside
            .rename(index, name)
            .map_err(|source| NetworkError::Netlink {
                interface: link.name.clone(),
                action: format!("rename the device to {name}"),
                source,
            })
    };
    if lent.len() > 1 {
        for (link, device) in &lent {
            rename(
                inside,
                link,
                device.inside_index,
                &format!("vroot-lend{}", device.inside_index),
            )?;
        }
    }
    for (link, device) in &lent {
        if lent.len() > 1 || device.original_name != link.name {
            rename(inside, link, device.inside_index, &link.name)?;
        }
    }
    Ok(())
}

/// Inside the container: MTU of lent devices, then, for interfaces vroot
/// configures, link up, addresses and default routes.
fn configure_inside(
    inside: &mut RouteSocket,
    interfaces: &[Interface],
) -> Result<(), NetworkError> {
    let links = inside.links().map_err(|source| NetworkError::Host {
        action: "list the container's links".into(),
        source,
    })?;
    for interface in interfaces {
        let step = |action: String| {
            let interface_name = interface.name.clone();
            move |source| NetworkError::Netlink {
                interface: interface_name,
                action,
                source,
            }
        };
        let index = links
            .iter()
            .find(|link| link.name == interface.name)
            .map(|link| link.index)
            .ok_or_else(|| NetworkError::Interface {
                interface: interface.name.clone(),
                problem: "is missing inside the container after its creation".into(),
            })?;
        if let (LinkSpec::Phys { .. }, Some(mtu)) = (&interface.link, interface.mtu) {
            inside
                .set_mtu(index, mtu)
                .map_err(step(format!("set the MTU to {mtu}")))?;
        }
        if !interface.configured_by_vroot() {
            continue;
        }
        inside
            .set_up(index, true)
            .map_err(step("set it up".into()))?;
        for cidr in &interface.addresses {
            inside
                .add_address(index, cidr)
                .map_err(step(format!("add the address {cidr}")))?;
        }
        if let Some(gateway) = interface.gateway {
            inside
                .add_default_route(index, gateway)
                .map_err(step(format!("add the default route via {gateway}")))?;
        }
    }
    Ok(())
}
