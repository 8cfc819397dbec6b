//! Step one of isolation: cut the container's network links, so that a node
//! being fenced stops talking to its peers even while some of its tasks
//! cannot be killed yet. Every link in the container's network namespace
//! except loopback is set down from a child that joined the namespace.

use std::os::fd::{AsRawFd, OwnedFd};
use std::time::Duration;

use crate::deadline_child::{run_with_deadline, ChildOutcome};

/// The container's links as its namespace reports them (`/proc/PID/net/dev`
/// is procfs: reading it never touches the container's storage).
pub fn links_of(pid: i32) -> Vec<String> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/net/dev")).unwrap_or_default();
    parse_net_dev(&text)
        .into_iter()
        .filter(|name| name != "lo")
        .collect()
}

fn parse_net_dev(text: &str) -> Vec<String> {
    text.lines()
        .skip(2)
        .filter_map(|line| line.split_once(':'))
        .map(|(name, _)| name.trim().to_string())
        .filter(|name| !name.is_empty())
        .collect()
}

/// Sets every named link in the namespace behind `netns` down. Returns the
/// links it could not cut.
pub fn cut_links(netns: &OwnedFd, links: &[String], deadline: Duration) -> Vec<String> {
    if links.is_empty() {
        return Vec::new();
    }
    let outcome = run_with_deadline(deadline, || {
        // SAFETY: setns with an nsfs fd we own; only this child changes namespace.
        if unsafe { libc::setns(netns.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
            return 100;
        }
        links.iter().filter(|name| set_down(name).is_err()).count() as i32
    });
    match outcome {
        ChildOutcome::Exited(0) => Vec::new(),
        _ => links.to_vec(),
    }
}

fn set_down(name: &str) -> nix::Result<()> {
    use nix::sys::socket::{socket, AddressFamily, SockFlag, SockType};
    let socket = socket(
        AddressFamily::Inet,
        SockType::Datagram,
        SockFlag::SOCK_CLOEXEC,
        None,
    )?;
    // SAFETY: ifreq is plain data; an all-zero value is valid.
    let mut request: libc::ifreq = unsafe { std::mem::zeroed() };
    let bytes = name.as_bytes();
    if bytes.len() >= request.ifr_name.len() {
        return Err(nix::Error::EINVAL);
    }
    for (slot, byte) in request.ifr_name.iter_mut().zip(bytes) {
        *slot = *byte as libc::c_char;
    }
    // SAFETY: SIOCGIFFLAGS reads into the ifreq we pass, for the socket's namespace.
    if unsafe { libc::ioctl(socket.as_raw_fd(), libc::SIOCGIFFLAGS, &mut request) } != 0 {
        return Err(nix::Error::last());
    }
    // SAFETY: the union member ifru_flags is what SIOCGIFFLAGS filled in.
    unsafe {
        request.ifr_ifru.ifru_flags &= !(libc::IFF_UP as libc::c_short);
    }
    // SAFETY: SIOCSIFFLAGS reads the ifreq we pass.
    if unsafe { libc::ioctl(socket.as_raw_fd(), libc::SIOCSIFFLAGS, &request) } != 0 {
        return Err(nix::Error::last());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn net_dev_names_are_read_past_the_two_header_lines() {
        let text = "Inter-|   Receive |  Transmit\n face |bytes packets\n    lo: 0 0 0\n  eth0: 1 2 3\nveth-web0:4 5\n";
        assert_eq!(parse_net_dev(text), vec!["lo", "eth0", "veth-web0"]);
    }
}
