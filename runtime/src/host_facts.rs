//! What identifies this host, for `vroot lint`: its names and its addresses.

use vroot_overlays::lint::HostFacts;

use crate::config::ContainerConfig;

/// The host's hostname, the container's configured hostname, and every
/// non-loopback address of the host's interfaces.
pub fn gather(config: &ContainerConfig) -> HostFacts {
    let mut names = Vec::new();
    if let Some(name) = nix::unistd::gethostname()
        .ok()
        .and_then(|n| n.into_string().ok())
    {
        names.push(name);
    }
    if !names.contains(&config.hostname) {
        names.push(config.hostname.clone());
    }
    let mut addresses = Vec::new();
    if let Ok(interfaces) = nix::ifaddrs::getifaddrs() {
        for interface in interfaces {
            let Some(address) = interface.address else {
                continue;
            };
            let text = if let Some(v4) = address.as_sockaddr_in() {
                v4.ip().to_string()
            } else if let Some(v6) = address.as_sockaddr_in6() {
                v6.ip().to_string()
            } else {
                continue;
            };
            let loopback = text.starts_with("127.") || text == "::1";
            let link_local = text.starts_with("fe80:");
            if !loopback && !link_local && !addresses.contains(&text) {
                addresses.push(text);
            }
        }
    }
    HostFacts { names, addresses }
}
