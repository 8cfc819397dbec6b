//! Container networking: the links a container gets (veth on a bridge,
//! macvlan, ipvlan, or a host device moved in), created over rtnetlink before
//! its init runs and removed, or given back, when it ends.

pub mod attach;
pub mod give_back;
pub mod interface;
pub mod links;
pub mod netlink;
pub mod netns;
pub mod record;
pub mod release;
pub mod sweep;
pub mod types;
pub mod variables;

pub use attach::{attach, Attachment};
pub use interface::{Interface, IpConfig, LinkSpec};
pub use record::NetworkRecord;
pub use release::{evacuate, ReleaseReport};
pub use sweep::sweep;

/// The MAC of a link in the caller's namespace, if it has one (best effort:
/// for template variables only).
pub fn host_link_mac(name: &str) -> Option<types::MacAddress> {
    netlink::RouteSocket::open()
        .ok()?
        .link_named(name)
        .ok()
        .flatten()?
        .mac
}

#[derive(Debug, thiserror::Error)]
pub enum NetworkError {
    #[error("network interface {interface}: {problem}")]
    Interface { interface: String, problem: String },
    #[error("network interface {interface}: cannot {action}: {source}")]
    Netlink {
        interface: String,
        action: String,
        source: netlink::NetlinkError,
    },
    #[error("network: cannot {action}: {source}")]
    Host {
        action: String,
        source: netlink::NetlinkError,
    },
    #[error("network: {0}")]
    Netns(#[from] netns::NetnsError),
}
