//! Taking a container's links away: every link in its namespace except
//! loopback is deleted (a veth takes its host side with it), and devices lent
//! by the host are moved back and renamed to their host names. Then the host
//! is swept for links tagged with the container's name that are still there
//! (a crash between two steps, or a namespace the kernel already tore down,
//! which gives physical devices back under a name of its own choosing).
//!
//! Used by the supervisor when an init ends, first by a fence, and by a
//! `stop` or `start` that cleans up after a dead supervisor. Netlink only:
//! nothing here can wait on the container's storage.

use serde::Serialize;

use super::links::Link;
use super::netlink::RouteSocket;
use super::netns::Netns;
use super::record::{self, NetworkRecord};

/// What a release did, by link name.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ReleaseReport {
    /// Links deleted (inside, or stray on the host).
    pub removed: Vec<String>,
    /// Devices given back to the host, by host name.
    pub returned: Vec<String>,
    /// What could not be done, one line each.
    pub failed: Vec<String>,
}

impl ReleaseReport {
    pub fn merge(&mut self, other: ReleaseReport) {
        self.removed.extend(other.removed);
        self.returned.extend(other.returned);
        self.failed.extend(other.failed);
    }

    pub fn is_empty(&self) -> bool {
        self.removed.is_empty() && self.returned.is_empty() && self.failed.is_empty()
    }

    /// One line for a log.
    pub fn summary(&self) -> String {
        let mut parts = Vec::new();
        if !self.removed.is_empty() {
            parts.push(format!("removed {}", self.removed.join(", ")));
        }
        if !self.returned.is_empty() {
            parts.push(format!("gave back {}", self.returned.join(", ")));
        }
        if !self.failed.is_empty() {
            parts.push(format!("failed: {}", self.failed.join("; ")));
        }
        if parts.is_empty() {
            "no links".into()
        } else {
            parts.join("; ")
        }
    }
}

/// Empties the container's namespace of links. Runs in the host's namespace,
/// which is where lent devices go back to.
pub fn evacuate(container: &str, netns: &Netns, record: Option<&NetworkRecord>) -> ReleaseReport {
    let mut report = ReleaseReport::default();
    let (home, mut host, mut inside) =
        match (Netns::current(), RouteSocket::open(), netns.route_socket()) {
            (Ok(home), Ok(host), Ok(inside)) => (home, host, inside),
            (home, host, inside) => {
                let reason = [
                    home.err().map(|e| e.to_string()),
                    host.err().map(|e| e.to_string()),
                    inside.err().map(|e| e.to_string()),
                ]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join("; ");
                report.failed.push(reason);
                return report;
            }
        };
    if home.inode().is_some() && home.inode() == netns.inode() {
        report
            .failed
            .push("the container shares the host's network namespace: nothing to release".into());
        return report;
    }
    let links = match inside.links() {
        Ok(links) => links,
        Err(error) => {
            report
                .failed
                .push(format!("cannot list the container's links: {error}"));
            return report;
        }
    };
    // Deleted first: links the container stacked on a lent device (a VLAN,
    // a bridge of its own) go before the device leaves.
    let (lent, others): (Vec<&Link>, Vec<&Link>) = links
        .iter()
        .filter(|link| !link.loopback)
        .partition(|link| lent_name(link, record).is_some());
    let mut undeletable = Vec::new();
    for link in others {
        match inside.delete(link.index) {
            Ok(()) => report.removed.push(link.name.clone()),
            // Gone with the link it was stacked on, or the other end of a
            // veth deleted just before.
            Err(error) if error.errno() == Some(libc::ENODEV) => {}
            // A device the kernel cannot delete is a real one: the host
            // gets it back rather than leaving it behind.
            Err(_) => undeletable.push((link, link.name.clone())),
        }
    }
    let lent = lent
        .into_iter()
        .filter_map(|link| lent_name(link, record).map(|original| (link, original)));
    for (link, original) in lent.chain(undeletable) {
        give_back(
            container,
            &mut inside,
            &mut host,
            &home,
            link,
            &original,
            record,
            &mut report,
        );
    }
    report_missing_devices(&mut host, &links, record, &mut report);
    report
}

/// A lent device neither in the container's namespace nor back on the host
/// was moved elsewhere from inside (into a namespace of the container's own
/// making): vroot cannot reach it. Say so rather than claim a clean release.
fn report_missing_devices(
    host: &mut RouteSocket,
    inside: &[Link],
    record: Option<&NetworkRecord>,
    report: &mut ReleaseReport,
) {
    let Some(record) = record else { return };
    let on_host = host.links().unwrap_or_default();
    for link in &record.links {
        let Some(device) = &link.device else { continue };
        let inside_now = inside.iter().any(|l| l.index == device.inside_index);
        let home_again = on_host.iter().any(|l| l.name == device.original_name);
        if !inside_now && !home_again {
            report.failed.push(format!(
                "device {} (lent as {}) is no longer in the container's namespace: moved from inside into another one? The kernel gives real hardware back to the initial namespace when that one ends",
                device.original_name, link.name
            ));
        }
    }
}

/// The host name of a lent device, from the record by its index inside,
/// which the container cannot change. Never from an alias: root inside can
/// set any alias on a link of its own making, and must not be able to push
/// links into the host's namespace that way. Without a record, a lent
/// device that is real hardware is still given back (it cannot be deleted);
/// a virtual one goes with the container's links.
fn lent_name(link: &Link, record: Option<&NetworkRecord>) -> Option<String> {
    record
        .and_then(|record| record.device_at(link.index))
        .map(|device| device.original_name.clone())
}

#[allow(clippy::too_many_arguments)]
fn give_back(
    container: &str,
    inside: &mut RouteSocket,
    host: &mut RouteSocket,
    home: &Netns,
    link: &Link,
    original: &str,
    record: Option<&NetworkRecord>,
    report: &mut ReleaseReport,
) {
    // The tag finds it on the host whatever name it arrives under.
    let tag = record::device_tag(container, original);
    if let Err(error) = inside.set_alias(link.index, &tag) {
        report.failed.push(format!(
            "cannot tag {} before giving it back: {error}",
            link.name
        ));
    }
    if let Err(error) = inside.move_to(link.index, home.fd()) {
        report
            .failed
            .push(format!("cannot give {original} back to the host: {error}"));
        return;
    }
    restore_on_host(container, host, original, record, report);
}

/// Renames a device that is back on the host to its host name and puts its
/// alias back.
fn restore_on_host(
    container: &str,
    host: &mut RouteSocket,
    original: &str,
    record: Option<&NetworkRecord>,
    report: &mut ReleaseReport,
) {
    let links = match host.links() {
        Ok(links) => links,
        Err(error) => {
            report
                .failed
                .push(format!("cannot list the host's links: {error}"));
            return;
        }
    };
    let tag = record::device_tag(container, original);
    let Some(returned) = links
        .iter()
        .find(|link| link.alias.as_deref() == Some(tag.as_str()))
    else {
        report
            .failed
            .push(format!("{original} is not on the host after its return"));
        return;
    };
    if returned.name != original {
        if links.iter().any(|link| link.name == original) {
            report.failed.push(format!(
                "{original} came back as {}: the host has another link named {original}",
                returned.name
            ));
            return;
        }
        let _ = host.set_up(returned.index, false);
        if let Err(error) = host.rename(returned.index, original) {
            report.failed.push(format!(
                "{original} came back as {} and cannot be renamed: {error}",
                returned.name
            ));
            return;
        }
    }
    let lent = record.and_then(|record| record.device_named(original));
    // The container may have changed its MAC or MTU: the host gets the
    // device back as it lent it.
    if let Some(mac) = lent.and_then(|device| device.original_mac) {
        if returned.mac != Some(mac) {
            if let Err(error) = host.set_mac(returned.index, mac) {
                report
                    .failed
                    .push(format!("cannot restore the MAC of {original}: {error}"));
            }
        }
    }
    if let Some(mtu) = lent.and_then(|device| device.original_mtu) {
        if returned.mtu != Some(mtu) {
            if let Err(error) = host.set_mtu(returned.index, mtu) {
                report
                    .failed
                    .push(format!("cannot restore the MTU of {original}: {error}"));
            }
        }
    }
    let alias = lent
        .and_then(|device| device.original_alias.clone())
        .unwrap_or_default();
    if let Err(error) = host.set_alias(returned.index, &alias) {
        report
            .failed
            .push(format!("cannot restore the alias of {original}: {error}"));
    }
    report.returned.push(original.to_string());
}

/// Cleans the host of what the container left there: host sides of its veths
/// and devices returned under another name.
pub fn sweep(container: &str, record: Option<&NetworkRecord>) -> ReleaseReport {
    let mut report = ReleaseReport::default();
    let mut host = match RouteSocket::open() {
        Ok(host) => host,
        Err(error) => {
            report.failed.push(error.to_string());
            return report;
        }
    };
    let links = match host.links() {
        Ok(links) => links,
        Err(error) => {
            report
                .failed
                .push(format!("cannot list the host's links: {error}"));
            return report;
        }
    };
    for link in &links {
        let Some(alias) = link.alias.as_deref() else {
            continue;
        };
        if record::is_host_link_of(alias, container) {
            match host.delete(link.index) {
                Ok(()) => report.removed.push(link.name.clone()),
                // Gone meanwhile with its namespace: nothing is left.
                Err(error) if error.errno() == Some(libc::ENODEV) => {}
                Err(error) => report
                    .failed
                    .push(format!("cannot delete {}: {error}", link.name)),
            }
        } else if let Some(original) = record::lent_device_name(alias, container) {
            restore_on_host(container, &mut host, original, record, &mut report);
        }
    }
    report
}
