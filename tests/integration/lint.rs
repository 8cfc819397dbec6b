//! `vroot lint` on a copy of a shared root: quiet when clean, and finds a
//! filled machine-id, an ssh host key and a DHCP lease when they are planted.

use crate::harness::*;

#[test]
fn lint_is_quiet_on_a_clean_root_and_finds_planted_problems() {
    let host = Host::new("lint");
    let root = host.private_copy(&busybox_root(), "root-copy");
    host.config("linted", &root, "hostname = \"lint-node\"");

    let clean = host.vroot(&["lint", "linted"]);
    assert_eq!(clean.status.code(), Some(0), "{}", text(&clean.stdout));
    assert!(text(&clean.stdout).contains("holds no host-unique content"));

    std::fs::write(
        root.join("etc/machine-id"),
        "0123456789abcdef0123456789abcdef\n",
    )
    .unwrap();
    std::fs::create_dir_all(root.join("etc/ssh")).unwrap();
    std::fs::write(
        root.join("etc/ssh/ssh_host_ed25519_key"),
        "-----BEGIN OPENSSH PRIVATE KEY-----\n",
    )
    .unwrap();
    std::fs::create_dir_all(root.join("var/lib/dhcp")).unwrap();
    std::fs::write(root.join("var/lib/dhcp/dhclient.eth0.leases"), "lease {}\n").unwrap();
    std::fs::write(root.join("etc/motd"), "Welcome to lint-node\n").unwrap();

    let dirty = host.vroot(&["lint", "linted", "--json"]);
    assert_eq!(dirty.status.code(), Some(1));
    let findings: serde_json::Value = serde_json::from_slice(&dirty.stdout).unwrap();
    let paths: Vec<&str> = findings
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    for planted in [
        "/etc/machine-id",
        "/etc/ssh/ssh_host_ed25519_key",
        "/var/lib/dhcp/dhclient.eth0.leases",
        "/etc/motd",
    ] {
        assert!(paths.contains(&planted), "{planted} not found: {paths:?}");
    }
    assert!(findings
        .as_array()
        .unwrap()
        .iter()
        .all(|f| !f["fix"].as_str().unwrap().is_empty()));
    assert_eq!(paths.len(), 4, "only the planted problems: {paths:?}");
}
