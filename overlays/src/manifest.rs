//! The built-in list of per-host paths (ANCHORS.md §4), with the mode each
//! is provided in.

use std::fmt;

use serde::{Deserialize, Serialize};

/// How a per-host path is provided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Rendered from a template at every start.
    Gen,
    /// Generated once per host, never copied from the shared root.
    Secret,
    /// Copied from the shared root on first use, then kept per host.
    Seed,
    /// The directory tree copied without its files.
    Skel,
    /// Kept per host, starts empty.
    Empty,
    /// A tmpfs at every boot.
    Tmp,
    /// Must match the shared root: never overlaid.
    Shared,
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Mode::Gen => "gen",
            Mode::Secret => "secret",
            Mode::Seed => "seed",
            Mode::Skel => "skel",
            Mode::Empty => "empty",
            Mode::Tmp => "tmp",
            Mode::Shared => "shared",
        })
    }
}

/// One path of the manifest. A trailing `*` matches any file name in its
/// directory (`/etc/ssh/ssh_host_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry {
    pub path: &'static str,
    pub mode: Mode,
    pub why: &'static str,
}

const fn entry(path: &'static str, mode: Mode, why: &'static str) -> Entry {
    Entry { path, mode, why }
}

/// The defaults, after ANCHORS.md §4 (Open-Sharedroot, xCAT statelite,
/// Warewulf, Red Hat readonly-root and their users' recurring failures).
pub const DEFAULTS: &[Entry] = &[
    entry(
        "/etc/machine-id",
        Mode::Gen,
        "the machine identity (DHCP DUID, journal directories)",
    ),
    entry("/etc/hostname", Mode::Gen, "the host name"),
    entry(
        "/etc/machine-info",
        Mode::Gen,
        "the host's pretty name and location",
    ),
    entry("/etc/network/interfaces", Mode::Gen, "per-host addresses"),
    entry("/etc/network/interfaces.d", Mode::Gen, "per-host addresses"),
    entry("/etc/systemd/network", Mode::Gen, "per-host addresses"),
    entry(
        "/etc/NetworkManager/system-connections",
        Mode::Gen,
        "per-host addresses",
    ),
    entry("/etc/netplan", Mode::Gen, "per-host addresses"),
    entry("/etc/sysconfig/network", Mode::Gen, "per-host addresses"),
    entry(
        "/etc/sysconfig/network-scripts/ifcfg-*",
        Mode::Gen,
        "per-host addresses",
    ),
    entry("/etc/sysconfig/networking", Mode::Gen, "per-host addresses"),
    entry(
        "/etc/ssh/ssh_host_*",
        Mode::Secret,
        "the host's ssh identity",
    ),
    entry(
        "/var/lib/systemd/random-seed",
        Mode::Secret,
        "the entropy carried across boots",
    ),
    entry(
        "/var/lib/systemd/credential.secret",
        Mode::Secret,
        "the key of systemd's encrypted credentials",
    ),
    entry(
        "/etc/iscsi/initiatorname.iscsi",
        Mode::Gen,
        "the host's iSCSI identity",
    ),
    entry("/etc/nvme/hostnqn", Mode::Gen, "the host's NVMe identity"),
    entry("/etc/nvme/hostid", Mode::Gen, "the host's NVMe identity"),
    entry(
        "/etc/krb5.keytab",
        Mode::Secret,
        "the host's Kerberos credentials",
    ),
    entry(
        "/etc/csync2/csync2_ssl_*",
        Mode::Secret,
        "the host's csync2 credentials",
    ),
    entry("/var/lib/dhcp", Mode::Empty, "DHCP leases"),
    entry("/var/lib/dhclient", Mode::Empty, "DHCP leases"),
    entry(
        "/var/lib/NetworkManager",
        Mode::Empty,
        "DHCP leases and connection state",
    ),
    entry("/etc/adjtime", Mode::Seed, "depends on the host's clock"),
    entry("/etc/blkid", Mode::Seed, "depends on the host's devices"),
    entry(
        "/etc/lvm/cache",
        Mode::Seed,
        "depends on the host's devices",
    ),
    entry(
        "/etc/lvm/archive",
        Mode::Seed,
        "depends on the host's devices",
    ),
    entry(
        "/etc/lvm/backup",
        Mode::Seed,
        "depends on the host's devices",
    ),
    entry(
        "/etc/multipath/bindings",
        Mode::Seed,
        "depends on the host's devices",
    ),
    entry(
        "/etc/multipath/wwids",
        Mode::Seed,
        "depends on the host's devices",
    ),
    entry("/var/log", Mode::Skel, "per-host logs"),
    entry("/var/spool", Mode::Skel, "per-host queues"),
    entry("/var/cache", Mode::Skel, "per-host caches"),
    entry(
        "/var/tmp",
        Mode::Empty,
        "per-host temporary files that survive reboots",
    ),
    entry("/tmp", Mode::Tmp, "temporary files"),
    entry(
        "/var/lib/nfs",
        Mode::Seed,
        "the NFS status daemon's identity",
    ),
    entry(
        "/var/lib/systemd/timers",
        Mode::Seed,
        "per-host timer state",
    ),
    entry(
        "/var/lib/systemd/coredump",
        Mode::Empty,
        "per-host core dumps",
    ),
    entry("/var/lib/logrotate", Mode::Seed, "per-host rotation state"),
    entry("/var/lib/chrony", Mode::Seed, "per-host clock state"),
    entry("/var/lib/corosync", Mode::Seed, "per-host cluster state"),
    entry("/var/lib/pacemaker", Mode::Seed, "per-host cluster state"),
    entry(
        "/var/lib/dpkg",
        Mode::Shared,
        "must match the shared packages",
    ),
    entry(
        "/var/lib/apt",
        Mode::Shared,
        "must match the shared packages",
    ),
    entry(
        "/var/lib/rpm",
        Mode::Shared,
        "must match the shared packages",
    ),
    entry(
        "/etc/passwd",
        Mode::Shared,
        "accounts are the same on every node",
    ),
    entry(
        "/etc/shadow",
        Mode::Shared,
        "accounts are the same on every node",
    ),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_absolute_and_unique() {
        let mut seen = std::collections::BTreeSet::new();
        for entry in DEFAULTS {
            assert!(entry.path.starts_with('/'), "{}", entry.path);
            assert!(seen.insert(entry.path), "{} listed twice", entry.path);
        }
    }
}
