use std::fs;
use std::path::{Path, PathBuf};

use super::*;

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("vroot-lint-{name}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    dir
}

fn write(root: &Path, path: &str, content: &str) {
    let full = root.join(path.trim_start_matches('/'));
    fs::create_dir_all(full.parent().unwrap()).unwrap();
    fs::write(full, content).unwrap();
}

fn facts() -> HostFacts {
    HostFacts {
        names: vec!["node7".into()],
        addresses: vec!["192.0.2.7".into()],
    }
}

fn clean_root(name: &str) -> PathBuf {
    let root = scratch(name);
    write(&root, "/etc/machine-id", "");
    write(&root, "/etc/hostname", "node7\n");
    write(&root, "/etc/ssh/sshd_config", "Port 22\n");
    write(&root, "/etc/hosts", "127.0.0.1 localhost\n");
    write(&root, "/etc/node10.conf", "peer node10 at 192.0.2.77\n");
    root
}

#[test]
fn a_clean_root_has_no_findings() {
    let root = clean_root("clean");
    assert_eq!(lint(&root, &facts(), &defaults()), vec![]);
    fs::remove_dir_all(root).unwrap();
}

#[test]
fn planted_identity_files_are_found_with_fixes() {
    let root = clean_root("planted");
    write(
        &root,
        "/etc/machine-id",
        "0123456789abcdef0123456789abcdef\n",
    );
    write(&root, "/etc/ssh/ssh_host_ed25519_key", "secret");
    write(&root, "/var/lib/dhcp/dhclient.eth0.leases", "lease { }");
    write(&root, "/var/lib/systemd/random-seed", "\x01\x02");
    let found: Vec<String> = lint(&root, &facts(), &defaults())
        .into_iter()
        .map(|f| f.path)
        .collect();
    for path in [
        "/etc/machine-id",
        "/etc/ssh/ssh_host_ed25519_key",
        "/var/lib/dhcp/dhclient.eth0.leases",
        "/var/lib/systemd/random-seed",
    ] {
        assert!(
            found.contains(&path.to_string()),
            "{path} not found in {found:?}"
        );
    }
    assert!(lint(&root, &facts(), &defaults())
        .iter()
        .all(|f| !f.fix.is_empty() && !f.problem.is_empty()));
    fs::remove_dir_all(root).unwrap();
}

#[test]
fn the_hosts_name_and_address_are_found_as_whole_tokens() {
    let root = clean_root("names");
    write(&root, "/etc/hosts", "127.0.1.1 node7.example node7\n");
    write(&root, "/etc/myapp/listen.conf", "listen 192.0.2.7:80\n");
    let found = lint(&root, &facts(), &defaults());
    let paths: Vec<&str> = found.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(
        paths,
        vec!["/etc/hosts", "/etc/myapp/listen.conf"],
        "{found:?}"
    );
    // /etc/hostname names the host too, but vroot provides it per host.
    fs::remove_dir_all(root).unwrap();
}

#[test]
fn symlinks_in_the_root_are_not_followed() {
    let root = clean_root("links");
    let outside = scratch("links-outside");
    write(&outside, "/ssh_host_rsa_key", "host secret");
    write(&outside, "/machine-id", "filled\n");
    fs::remove_dir_all(root.join("etc/ssh")).unwrap();
    std::os::unix::fs::symlink(&outside, root.join("etc/ssh")).unwrap();
    fs::remove_file(root.join("etc/machine-id")).unwrap();
    std::os::unix::fs::symlink(outside.join("machine-id"), root.join("etc/machine-id")).unwrap();
    assert_eq!(lint(&root, &facts(), &defaults()), vec![]);
    fs::remove_dir_all(root).unwrap();
    fs::remove_dir_all(outside).unwrap();
}

#[test]
fn tokens_respect_boundaries() {
    assert!(contains_token("host node7 here", "node7", true));
    assert!(!contains_token("host node70 here", "node7", true));
    assert!(!contains_token("mynode7", "node7", true));
    assert!(contains_token("addr=192.0.2.7\n", "192.0.2.7", false));
    assert!(!contains_token("192.0.2.70", "192.0.2.7", false));
}

fn defaults() -> Vec<crate::config::Entry> {
    crate::config::FileOverlay::default()
        .validate(Path::new("/etc/vroot"))
        .unwrap()
        .entries
}
