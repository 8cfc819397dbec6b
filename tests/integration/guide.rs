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

/// Every command line of the operations guide's `sh` blocks.
fn guide_commands() -> Vec<String> {
    let guide =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/operations.md"))
            .unwrap();
    let mut commands = Vec::new();
    let mut in_block = false;
    let mut continued = String::new();
    for line in guide.lines() {
        if line.starts_with("```") {
            in_block = line == "```sh";
            continue;
        }
        if !in_block {
            continue;
        }
        let code = line.split(" #").next().unwrap_or("").trim();
        if let Some(head) = code.strip_suffix('\\') {
            continued.push_str(head);
            continue;
        }
        let whole = format!("{continued}{code}");
        continued.clear();
        if !whole.is_empty() && !whole.starts_with('#') {
            commands.extend(whole.split(" && ").map(|part| part.trim().to_string()));
        }
    }
    commands
}

/// The text of the guide's section `## TITLE`, up to the next section.
fn guide_section(title: &str) -> String {
    let guide =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/operations.md"))
            .unwrap();
    let start = guide
        .find(&format!("\n## {title}\n"))
        .unwrap_or_else(|| panic!("no section `{title}` in docs/operations.md"));
    let body = &guide[start + 1..];
    let end = body[1..].find("\n## ").map_or(body.len(), |at| at + 1);
    body[..end].to_string()
}

/// What the tests, the demo and the example scripts run, as text.
fn exercising_sources() -> String {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut text = String::new();
    for dir in [
        "tests/integration",
        "bootstrap/tests",
        "tests/vm",
        "tests/vm/vmlib",
    ] {
        for entry in std::fs::read_dir(repo.join(dir)).unwrap().flatten() {
            if entry.path().is_file() {
                text.push_str(&std::fs::read_to_string(entry.path()).unwrap_or_default());
            }
        }
    }
    for file in [
        "tests/package/run.sh",
        "scripts/demo.sh",
        "examples/build-debian-root.sh",
    ] {
        text.push_str(&std::fs::read_to_string(repo.join(file)).unwrap());
    }
    text
}

/// Every command in docs/operations.md is run somewhere. For a `vroot`
/// line, that means each of its subcommand words and flags appears in the
/// tests or the demo (as the arguments they pass, `"stop"`, `"--kill"` …).
/// This guards against a new subcommand or flag in the guide that nothing
/// runs; it does not prove that the exact line runs, which the procedure
/// tests above do for their sections. Any other command must be run by the
/// test or script named for it. A command added to the guide without a test
/// fails here.
#[test]
fn every_command_of_the_guide_is_exercised() {
    let sources = exercising_sources();
    let mut unexercised = Vec::new();
    for command in guide_commands() {
        let words: Vec<&str> = command.split_whitespace().collect();
        let exercised = match words.first().copied() {
            Some("vroot") => words[1..]
                .iter()
                .take_while(|word| **word != "--")
                .filter(|word| {
                    word.starts_with("--")
                        || word.chars().all(|c| c.is_ascii_lowercase() || c == '-')
                })
                .filter(|word| !["web", "NAME"].contains(word))
                .all(|word| {
                    sources.contains(&format!("\"{word}\""))
                        || sources.contains(&format!("vroot {word}"))
                        || sources.contains(&format!(" {word} "))
                }),
            // Run as written, with `pcs -f` on an offline CIB.
            Some("pcs") => sources.contains("pcs -f \"$cib\""),
            // examples/build-debian-root.sh runs these on $dest.tmp.
            Some("debootstrap") | Some(":") | Some("ln") => {
                let templated = command.replace("/srv/export/web", "$dest.tmp");
                let head: String = templated
                    .split_whitespace()
                    .take(2)
                    .collect::<Vec<_>>()
                    .join(" ");
                sources.contains(&head)
            }
            // The VM suite runs the "Start at boot" block as written, on a
            // node whose OS runs systemd.
            Some("systemctl") => {
                sources.contains("guide_commands(\"Start at boot\")")
                    && guide_section("Start at boot").contains(&command)
            }
            Some("dpkg") | Some("scripts/package.sh") => sources.contains("dpkg -i \"$deb\""),
            _ => false,
        };
        if !exercised {
            unexercised.push(command);
        }
    }
    assert!(
        unexercised.is_empty(),
        "commands of docs/operations.md that no test or script runs:\n  {}",
        unexercised.join("\n  ")
    );
}
