//! `vroot lint`: host-unique content in a shared root. Each finding says
//! what is wrong and how to fix it. Everything here only reads, and never
//! through a symlink of the root.

use std::path::Path;

use serde::Serialize;

use crate::config::Entry;
use crate::walk::{files_below, lstat, read_prefix};

/// What identifies this host: its names and addresses.
#[derive(Debug, Clone, Default)]
pub struct HostFacts {
    pub names: Vec<String>,
    pub addresses: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// The path inside the shared root.
    pub path: String,
    pub problem: String,
    pub fix: String,
}

/// Files that carry one host's identity: any copy in the shared root is shared
/// by every node that boots it.
const IDENTITY_FILES: &[(&str, &str, &str)] = &[
    (
        "/etc/machine-id",
        "the machine-id is filled in: every node would boot with the same identity",
        "empty it (`: > ROOT/etc/machine-id`); vroot gives each container its own",
    ),
    (
        "/var/lib/dbus/machine-id",
        "a D-Bus machine-id is filled in: every node would share it",
        "make it a symlink to /etc/machine-id, or remove it",
    ),
    (
        "/var/lib/systemd/random-seed",
        "a random seed is stored: every node would start from the same entropy",
        "remove it; it is a per-host secret",
    ),
    (
        "/var/lib/systemd/credential.secret",
        "systemd's credential key is stored: every node could read the others' credentials",
        "remove it; it is a per-host secret",
    ),
    (
        "/etc/krb5.keytab",
        "a Kerberos keytab is stored: every node would hold the same credentials",
        "remove it; give each host its own keytab (a secret entry)",
    ),
    (
        "/etc/iscsi/initiatorname.iscsi",
        "an iSCSI initiator name is set: nodes would collide on the storage fabric",
        "empty it; it is generated per host",
    ),
    (
        "/etc/nvme/hostnqn",
        "an NVMe host NQN is set: nodes would collide on the storage fabric",
        "empty it; it is generated per host",
    ),
    (
        "/etc/nvme/hostid",
        "an NVMe host id is set: nodes would collide on the storage fabric",
        "empty it; it is generated per host",
    ),
];

/// Directories whose files are one host's secrets or leases.
const IDENTITY_GLOBS: &[(&str, &str, &str, &str)] = &[
    (
        "/etc/ssh",
        "ssh_host_",
        "an ssh host key: every node would present the same identity",
        "remove the host keys from the shared root; each host needs its own (a secret entry)",
    ),
    (
        "/etc/csync2",
        "csync2_ssl_",
        "a csync2 key: every node would share it",
        "remove it; it is a per-host secret",
    ),
    (
        "/var/lib/dhcp",
        "",
        "a DHCP lease: nodes would claim one another's address",
        "remove it; leases are per host (an empty entry)",
    ),
    (
        "/var/lib/dhclient",
        "",
        "a DHCP lease: nodes would claim one another's address",
        "remove it; leases are per host (an empty entry)",
    ),
    (
        "/var/lib/NetworkManager",
        "",
        "NetworkManager state or a lease: nodes would share it",
        "remove it; it is per host (an empty entry)",
    ),
];

/// Where to look for this host's name and addresses, and how much to read.
const SCANNED_DIRS: &[&str] = &["/etc"];
const MAX_SCANNED_FILES: usize = 5000;
const MAX_SCANNED_BYTES: u64 = 64 * 1024;

/// Lints the shared `root` for host `facts`. `per_host` are the
/// container's per-host entries: a file one of them covers is provided per
/// host, so naming this host there is expected.
pub fn lint(root: &Path, facts: &HostFacts, per_host: &[Entry]) -> Vec<Finding> {
    let mut findings = Vec::new();
    let mut report = |path: &str, problem: &str, fix: &str| {
        findings.push(Finding {
            path: path.to_string(),
            problem: problem.to_string(),
            fix: fix.to_string(),
        });
    };
    for (path, problem, fix) in IDENTITY_FILES {
        if lstat(root, path).is_some_and(|m| m.is_file() && m.len() > 0) {
            report(path, problem, fix);
        }
    }
    for (dir, prefix, problem, fix) in IDENTITY_GLOBS {
        for path in files_below(root, dir, MAX_SCANNED_FILES) {
            let name = path.rsplit('/').next().unwrap_or_default();
            let direct_child = path[dir.len() + 1..].find('/').is_none();
            if name.starts_with(prefix) && (direct_child || prefix.is_empty()) {
                report(&path, problem, fix);
            }
        }
    }
    let needles: Vec<(&str, bool)> = facts
        .names
        .iter()
        .filter(|name| name.len() >= 3 && *name != "localhost")
        .map(|name| (name.as_str(), true))
        .chain(
            facts
                .addresses
                .iter()
                .map(|address| (address.as_str(), false)),
        )
        .collect();
    if needles.is_empty() {
        return findings;
    }
    for dir in SCANNED_DIRS {
        for path in files_below(root, dir, MAX_SCANNED_FILES) {
            // A path vroot already provides per host may name the host.
            if per_host.iter().any(|entry| entry.covers(&path))
                || findings.iter().any(|f| f.path == path)
            {
                continue;
            }
            let Some(bytes) = read_prefix(root, &path, MAX_SCANNED_BYTES) else {
                continue;
            };
            if bytes.contains(&0) {
                continue;
            }
            let text = String::from_utf8_lossy(&bytes);
            if let Some((needle, is_name)) = needles
                .iter()
                .find(|(needle, is_name)| contains_token(&text, needle, *is_name))
            {
                let what = if *is_name {
                    "this host's name"
                } else {
                    "this host's address"
                };
                findings.push(Finding {
                    path: path.clone(),
                    problem: format!("contains {what} `{needle}`: every node would read it"),
                    fix: "make the file per host (a gen entry with a template), or take the host's name and address out of it".to_string(),
                });
            }
        }
    }
    findings
}

/// Whether `needle` occurs in `text` as a whole token: a name not inside a
/// longer name (`node1` is not in `node10`), an address not inside a longer one.
fn contains_token(text: &str, needle: &str, is_name: bool) -> bool {
    let ipv6 = needle.contains(':');
    let continues = |c: char| {
        if is_name {
            c.is_ascii_alphanumeric() || c == '-' || c == '_'
        } else if ipv6 {
            c.is_ascii_hexdigit() || c == ':'
        } else {
            c.is_ascii_digit() || c == '.'
        }
    };
    let mut start = 0;
    while let Some(found) = text[start..].find(needle) {
        let at = start + found;
        let before = text[..at].chars().next_back();
        let after = text[at + needle.len()..].chars().next();
        if !before.is_some_and(continues) && !after.is_some_and(continues) {
            return true;
        }
        start = at + needle.len();
    }
    false
}

#[cfg(test)]
mod tests;
