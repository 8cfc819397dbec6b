//! Giving a lent device back: moved from the container's namespace to the
//! host's, found there by the tag it carries on the way, and restored to how
//! the host lent it (name, MAC, MTU, alias), whatever the container did to
//! it meanwhile.

use super::links::Link;
use super::netlink::RouteSocket;
use super::netns::Netns;
use super::record::{self, MovedDevice};
use super::release::ReleaseReport;

/// The host's end of a release.
pub struct HostSide<'a> {
    pub container: &'a str,
    /// The namespace lent devices go back to.
    pub home: &'a Netns,
    pub socket: RouteSocket,
}

impl HostSide<'_> {
    pub fn has_link_named(&mut self, name: &str) -> bool {
        matches!(self.socket.link_named(name), Ok(Some(_)))
    }
}

/// Moves `link`, checked to be `device`, back to the host and restores it.
pub fn give_back(
    host: &mut HostSide,
    inside: &mut RouteSocket,
    link: &Link,
    device: &MovedDevice,
    report: &mut ReleaseReport,
) {
    let original = &device.original_name;
    let tag = record::device_tag(host.container, original);
    if let Err(error) = inside.set_alias(link.index, &tag) {
        report.failed.push(format!(
            "cannot tag {} before giving it back: {error}",
            link.name
        ));
    }
    if let Err(error) = inside.move_to(link.index, host.home.fd()) {
        report
            .failed
            .push(format!("cannot give {original} back to the host: {error}"));
        return;
    }
    restore_on_host(host, device, report);
}

/// Renames a device that is back on the host to its host name, and puts its
/// MAC, MTU and alias back.
pub fn restore_on_host(host: &mut HostSide, device: &MovedDevice, report: &mut ReleaseReport) {
    let original = &device.original_name;
    let links = match host.socket.links() {
        Ok(links) => links,
        Err(error) => {
            report
                .failed
                .push(format!("cannot list the host's links: {error}"));
            return;
        }
    };
    let tag = record::device_tag(host.container, original);
    let Some(returned) = links
        .iter()
        .find(|link| link.alias.as_deref() == Some(tag.as_str()))
    else {
        report
            .failed
            .push(format!("{original} is not on the host after its return"));
        return;
    };
    let socket = &mut host.socket;
    if returned.name != *original {
        if links.iter().any(|link| link.name == *original) {
            report.failed.push(format!(
                "{original} came back as {}: the host has another link named {original}",
                returned.name
            ));
            return;
        }
        let _ = socket.set_up(returned.index, false);
        if let Err(error) = socket.rename(returned.index, original) {
            report.failed.push(format!(
                "{original} came back as {} and cannot be renamed: {error}",
                returned.name
            ));
            return;
        }
    }
    if let Some(mac) = device.original_mac.filter(|mac| returned.mac != Some(*mac)) {
        if let Err(error) = socket.set_mac(returned.index, mac) {
            report
                .failed
                .push(format!("cannot restore the MAC of {original}: {error}"));
        }
    }
    if let Some(mtu) = device.original_mtu.filter(|mtu| returned.mtu != Some(*mtu)) {
        if let Err(error) = socket.set_mtu(returned.index, mtu) {
            report
                .failed
                .push(format!("cannot restore the MTU of {original}: {error}"));
        }
    }
    let alias = device.original_alias.clone().unwrap_or_default();
    if let Err(error) = socket.set_alias(returned.index, &alias) {
        report
            .failed
            .push(format!("cannot restore the alias of {original}: {error}"));
    }
    report.returned.push(original.clone());
}
