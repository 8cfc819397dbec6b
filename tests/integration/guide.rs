//! The operations guide's procedures on real containers: each runs the
//! guide's commands as written (docs/operations.md), on two containers that
//! stand for two nodes running one Debian shared root.

use std::path::Path;
use std::process::Command;

use crate::harness::{debian_root, text, Host};
use crate::systemd::wait_booted;

/// Two "nodes", containers `names` with hostnames node1 and node2, on one
/// private copy of the Debian root.
fn two_nodes(host: &Host, names: [&str; 2]) -> std::path::PathBuf {
    let root = host.private_copy(&debian_root(), "shared-root");
    for (index, name) in names.iter().enumerate() {
        host.config(
            name,
            &root,
            &format!("hostname = \"node{}\"\nstop_timeout = 30\n", index + 1),
        );
        host.ok(&["start", name]);
    }
    for name in names {
        wait_booted(host, name);
    }
    root
}

/// A small package of the site's own, built with dpkg-deb: a program and a
/// conffile.
fn site_package(dir: &Path) -> std::path::PathBuf {
    let tree = dir.join("site-hello");
    std::fs::create_dir_all(tree.join("DEBIAN")).unwrap();
    std::fs::create_dir_all(tree.join("usr/local/bin")).unwrap();
    std::fs::create_dir_all(tree.join("etc")).unwrap();
    std::fs::write(
        tree.join("DEBIAN/control"),
        "Package: site-hello\nVersion: 1.0\nArchitecture: all\nMaintainer: site <root@localhost>\n\
         Description: says hello\n",
    )
    .unwrap();
    std::fs::write(tree.join("etc/site-hello.conf"), "greeting=hello\n").unwrap();
    std::fs::write(
        tree.join("usr/local/bin/site-hello"),
        "#!/bin/sh\n. /etc/site-hello.conf\necho \"$greeting from $(hostname)\"\n",
    )
    .unwrap();
    std::fs::set_permissions(
        tree.join("usr/local/bin/site-hello"),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let deb = dir.join("site-hello_1.0_all.deb");
    let built = Command::new("dpkg-deb")
        .args(["--root-owner-group", "--build"])
        .arg(&tree)
        .arg(&deb)
        .output()
        .unwrap();
    assert!(built.status.success(), "{}", text(&built.stderr));
    deb
}

#[test]
fn a_package_installed_from_one_node_is_on_every_node() {
    let host = Host::new("guide-pkg");
    let root = two_nodes(&host, ["gp1", "gp2"]);
    let deb = site_package(&host.dir);
    std::fs::copy(&deb, root.join("root/site-hello_1.0_all.deb")).unwrap();

    // The guide: `vroot exec web -- apt-get install -y PACKAGE` on one node.
    host.exec_ok(
        "gp1",
        &["apt-get", "install", "-y", "/root/site-hello_1.0_all.deb"],
    );
    // The other node has it at once, from the same dpkg database.
    assert!(host
        .exec_ok(
            "gp2",
            &["dpkg-query", "-W", "-f", "${Status}", "site-hello"]
        )
        .contains("install ok installed"));
    assert_eq!(
        host.exec_ok("gp2", &["site-hello"]),
        "hello from node2",
        "the package runs on the other node with its own identity"
    );
    // The guide: `vroot lint web` after the install.
    let lint = host.vroot(&["lint", "gp1"]);
    assert!(lint.status.success(), "{}", text(&lint.stdout));
    host.ok(&["stop", "gp1"]);
    host.ok(&["stop", "gp2"]);
}

#[test]
fn the_nodes_roll_through_a_restart_one_at_a_time() {
    let host = Host::new("guide-roll");
    two_nodes(&host, ["gr1", "gr2"]);
    for (node, other) in [("gr1", "gr2"), ("gr2", "gr1")] {
        let other_init = host.init_pid(other);
        let before = host.init_pid(node);
        // The guide's three commands, on this node.
        let restarted = host.ok(&["restart", node]);
        assert!(
            restarted.contains(&format!("{node}: restarted")),
            "{restarted}"
        );
        // Repeated until it answers, as the guide says: right after the
        // start, systemd's bus may not be up yet.
        assert_eq!(wait_booted(&host, node), "running");
        let status = host.ok(&["status", node]);
        assert!(status.contains(&format!("{node}: running")), "{status}");
        assert_ne!(host.init_pid(node), before, "{node} did not restart");
        // The other node kept serving throughout.
        assert_eq!(host.init_pid(other), other_init, "{other} was disturbed");
    }
    host.ok(&["stop", "gr1"]);
    host.ok(&["stop", "gr2"]);
}
