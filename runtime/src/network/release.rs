//! Taking a container's links away, in its namespace: the links vroot made
//! there and any the container stacked on a lent device are deleted (a
//! veth takes its host side with it), and lent devices go back to the host
//! (`give_back.rs`). Links the container made for itself are left to the
//! kernel, which deletes them with the namespace: they reach nothing
//! outside, and deleting them one by one would let a container that made
//! thousands hold up a fence.
//!
//! Used by the supervisor when an init ends, first by a fence, and by a
//! `stop` or `start` that cleans up after a dead supervisor. Netlink only:
//! nothing here can wait on the container's storage. Every step checks a
//! deadline.

use std::collections::HashSet;
use std::time::Instant;

use serde::Serialize;

use super::give_back::{give_back, HostSide};
use super::links::Link;
use super::netlink::RouteSocket;
use super::netns::Netns;
use super::record::NetworkRecord;

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

/// Empties the container's namespace of what vroot put there or lent it.
/// Runs in the host's namespace, which is where lent devices go back to.
pub fn evacuate(
    container: &str,
    netns: &Netns,
    record: Option<&NetworkRecord>,
    deadline: Instant,
) -> ReleaseReport {
    let mut report = ReleaseReport::default();
    let (home, host, mut inside) =
        match (Netns::current(), RouteSocket::open(), netns.route_socket()) {
            (Ok(home), Ok(host), Ok(inside)) => (home, host, inside),
            (home, host, inside) => {
                report.failed.push(first_errors(&[
                    home.err().map(|e| e.to_string()),
                    host.err().map(|e| e.to_string()),
                    inside.err().map(|e| e.to_string()),
                ]));
                return report;
            }
        };
    if home.inode().is_some() && home.inode() == netns.inode() {
        report
            .failed
            .push("the container shares the host's network namespace: nothing to release".into());
        return report;
    }
    // The listing is only needed for links stacked on lent devices: when it
    // fails, the recorded links are still dealt with by index.
    let links = inside.links().unwrap_or_else(|error| {
        report
            .failed
            .push(format!("cannot list the container's links: {error}"));
        Vec::new()
    });
    let mut host = HostSide {
        container,
        home: &home,
        socket: host,
    };
    match record {
        Some(record) => release_recorded(
            &mut host,
            &mut inside,
            &links,
            record,
            deadline,
            &mut report,
        ),
        // Nothing can be told apart without the record: cut every link, so
        // the container is isolated, and give nothing back (the kernel
        // returns real hardware to the initial namespace when it ends).
        None => {
            let all: Vec<(u32, String)> = links
                .iter()
                .filter(|link| !link.loopback)
                .map(|link| (link.index, link.name.clone()))
                .collect();
            delete_all(&mut inside, &all, deadline, &mut report);
        }
    }
    report
}

/// The errors among `results`, as one line.
pub fn first_errors(errors: &[Option<String>]) -> String {
    errors
        .iter()
        .flatten()
        .cloned()
        .collect::<Vec<_>>()
        .join("; ")
}

fn release_recorded(
    host: &mut HostSide,
    inside: &mut RouteSocket,
    links: &[Link],
    record: &NetworkRecord,
    deadline: Instant,
    report: &mut ReleaseReport,
) {
    let lent: Vec<_> = record
        .links
        .iter()
        .filter_map(|link| link.device.as_ref().map(|device| (link, device)))
        .collect();
    let lent_indexes: HashSet<u32> = lent.iter().map(|(_, d)| d.inside_index).collect();
    // First what is stacked on a lent device (a macvlan or VLAN the
    // container made on it would otherwise keep a foot in its namespace),
    // then vroot's own links.
    let stacked = links
        .iter()
        .filter(|link| {
            link.parent
                .is_some_and(|parent| lent_indexes.contains(&parent))
        })
        .map(|link| (link.index, link.name.clone()));
    let own = record
        .links
        .iter()
        .filter_map(|link| link.inside_index.map(|index| (index, link.name.clone())));
    let doomed: Vec<(u32, String)> = stacked.chain(own).collect();
    delete_all(inside, &doomed, deadline, report);

    for (link, device) in lent {
        if Instant::now() >= deadline {
            report.failed.push(format!(
                "out of time before giving {} back",
                device.original_name
            ));
            continue;
        }
        match inside.link_at(device.inside_index) {
            Ok(Some(found)) if device.is(&found) => {
                give_back(host, inside, &found, device, report)
            }
            Ok(Some(found)) => report.failed.push(format!(
                "link {} (index {}) inside is not the lent {} any more (another kind or permanent MAC): not given back",
                found.name, found.index, device.original_name
            )),
            Ok(None) if host.has_link_named(&device.original_name) => {}
            Ok(None) => report.failed.push(format!(
                "device {} (lent as {}) is no longer in the container's namespace: moved from inside into another one? The kernel gives real hardware back to the initial namespace when that one ends",
                device.original_name, link.name
            )),
            Err(error) => report.failed.push(format!(
                "cannot find {} inside: {error}",
                device.original_name
            )),
        }
    }
}

fn delete_all(
    inside: &mut RouteSocket,
    doomed: &[(u32, String)],
    deadline: Instant,
    report: &mut ReleaseReport,
) {
    for (index, name) in doomed {
        if Instant::now() >= deadline {
            report
                .failed
                .push(format!("out of time before deleting {name}"));
            continue;
        }
        match inside.delete(*index) {
            Ok(()) => report.removed.push(name.clone()),
            // Gone already: with the link it was stacked on, or as the other
            // end of a veth deleted just before.
            Err(error) if error.errno() == Some(libc::ENODEV) => {}
            Err(error) => report.failed.push(format!("cannot delete {name}: {error}")),
        }
    }
}
