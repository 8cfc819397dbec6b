//! Cleaning the host of what a container left there: host sides of its
//! veths, and lent devices that came back tagged but not restored (a crash
//! between two steps, or a namespace the kernel tore down itself, which
//! returns hardware under a name of its own choosing).

use super::give_back::{restore_on_host, HostSide};
use super::netlink::RouteSocket;
use super::netns::Netns;
use super::record::{self, NetworkRecord};
use super::release::{first_errors, ReleaseReport};

pub fn sweep(container: &str, record: Option<&NetworkRecord>) -> ReleaseReport {
    let mut report = ReleaseReport::default();
    let (home, socket) = match (Netns::current(), RouteSocket::open()) {
        (Ok(home), Ok(socket)) => (home, socket),
        (home, socket) => {
            report.failed.push(first_errors(&[
                home.err().map(|e| e.to_string()),
                socket.err().map(|e| e.to_string()),
            ]));
            return report;
        }
    };
    let mut host = HostSide {
        container,
        home: &home,
        socket,
    };
    let links = match host.socket.links() {
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
            match host.socket.delete(link.index) {
                Ok(()) => report.removed.push(link.name.clone()),
                // Gone meanwhile with its namespace: nothing is left.
                Err(error) if error.errno() == Some(libc::ENODEV) => {}
                Err(error) => report
                    .failed
                    .push(format!("cannot delete {}: {error}", link.name)),
            }
        } else if let Some(original) = record::lent_device_name(alias, container) {
            // Only a device the record says was lent is renamed: the alias
            // of a device in the container's hands is the container's to
            // write, and must not steer what the host renames.
            match record.and_then(|record| record.device_named(original)) {
                Some(device) => restore_on_host(&mut host, device, &mut report),
                None => report.failed.push(format!(
                    "{} is tagged as lent to {container} as {original}, which no record confirms: left as it is",
                    link.name
                )),
            }
        }
    }
    report
}
