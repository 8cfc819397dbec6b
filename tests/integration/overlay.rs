//! The per-host layer on real mounts: two containers standing for two hosts
//! on one shared root, per-host edits that survive `sed -i`, the overlayfs
//! mode leaving the shared tree byte-identical, and bad overlay configs.

use std::fs;
use std::path::{Path, PathBuf};

use crate::harness::{busybox_root, snapshot, text, Host};

/// A private copy of the busybox root with the shapes a real root has: an
/// application config directory mixing a per-host file with shared ones,
/// /etc/ssh with another host's key left in it, and a directory for a
/// declared secret.
fn shared_root(host: &Host) -> PathBuf {
    let root = host.private_copy(&busybox_root(), "shared");
    fs::create_dir_all(root.join("etc/myapp")).unwrap();
    fs::write(root.join("etc/myapp/common.conf"), "shared=yes\n").unwrap();
    fs::write(root.join("etc/myapp/node.conf"), "role=default\n").unwrap();
    fs::create_dir_all(root.join("etc/ssh")).unwrap();
    fs::write(root.join("etc/ssh/sshd_config"), "PermitRootLogin no\n").unwrap();
    fs::write(
        root.join("etc/ssh/ssh_host_rsa_key"),
        "ANOTHER HOST'S KEY\n",
    )
    .unwrap();
    fs::create_dir_all(root.join("etc/cluster")).unwrap();
    fs::create_dir_all(root.join("var/tmp")).unwrap();
    root
}

/// The shared root is byte-for-byte what it was: same paths, modes,
/// owners and contents.
fn assert_same_tree(before: &Tree, after: &Tree) {
    assert_eq!(
        before.keys().collect::<Vec<_>>(),
        after.keys().collect::<Vec<_>>(),
        "paths appeared in or vanished from the shared root"
    );
    for (path, was) in before {
        assert_eq!(
            was,
            &after[path],
            "{} changed in the shared root",
            path.display()
        );
    }
}

type Tree = std::collections::BTreeMap<PathBuf, crate::harness::Snapshot>;

const TWO_HOSTS_OVERLAY: &str = r#"
[overlay.vars]
role = "web"
[[overlay.path]]
path = "/etc/myapp/node.conf"
mode = "seed"
[[overlay.path]]
path = "/etc/cluster/node.key"
mode = "secret"
"#;

fn layer_copy(host: &Host, name: &str, path: &str) -> PathBuf {
    host.dir
        .join("lib/hosts")
        .join(name)
        .join("root")
        .join(path.trim_start_matches('/'))
}

#[test]
fn two_hosts_share_the_root_and_keep_their_own_files() {
    let host = Host::new("overlay-two");
    let root = shared_root(&host);
    let before = snapshot(&root);
    for (name, hostname) in [("node-a", "alpha"), ("node-b", "beta")] {
        host.config(
            name,
            &root,
            &format!("hostname = \"{hostname}\"\n{TWO_HOSTS_OVERLAY}"),
        );
        host.ok(&["start", name]);
    }

    // A write to a shared path is seen by the other container and the host.
    host.exec_ok("node-a", &["sh", "-c", "echo from-a > /root/shared.txt"]);
    assert_eq!(
        host.exec_ok("node-b", &["cat", "/root/shared.txt"]),
        "from-a"
    );
    assert_eq!(
        fs::read_to_string(root.join("root/shared.txt")).unwrap(),
        "from-a\n"
    );

    // Everything per-host differs.
    let each = |command: &[&str]| {
        (
            host.exec_ok("node-a", command),
            host.exec_ok("node-b", command),
        )
    };
    assert_eq!(each(&["hostname"]), ("alpha".into(), "beta".into()));
    assert_eq!(
        each(&["cat", "/etc/hostname"]),
        ("alpha".into(), "beta".into())
    );
    let (id_a, id_b) = each(&["cat", "/etc/machine-id"]);
    assert_eq!(id_a.len(), 32);
    assert_ne!(id_a, id_b, "the machine-ids are the same");
    host.exec_ok("node-a", &["sh", "-c", "echo a-log > /var/log/a.log"]);
    host.exec_ok("node-a", &["sh", "-c", "echo a-tmp > /tmp/a.tmp"]);
    host.exec_ok("node-a", &["sh", "-c", "echo a-vartmp > /var/tmp/a.tmp"]);
    for path in ["/var/log/a.log", "/tmp/a.tmp", "/var/tmp/a.tmp"] {
        assert!(
            !host.exec("node-b", &["test", "-e", path]).status.success(),
            "{path} of node-a shows in node-b"
        );
    }
    let (key_a, key_b) = each(&["cat", "/etc/cluster/node.key"]);
    assert_eq!(key_a.len(), 64, "a 256-bit key in hex: {key_a}");
    assert_ne!(key_a, key_b, "the secret is the same on both hosts");
    let (ssh_a, ssh_b) = each(&["cat", "/etc/ssh/ssh_host_ed25519_key.pub"]);
    assert!(ssh_a.starts_with("ssh-ed25519 ") && ssh_a.ends_with("root@alpha"));
    assert_ne!(ssh_a, ssh_b);
    // The key another host left in the shared /etc/ssh is hidden; the
    // shared config next to it is not.
    assert!(!host
        .exec("node-a", &["test", "-e", "/etc/ssh/ssh_host_rsa_key"])
        .status
        .success());
    assert_eq!(
        host.exec_ok("node-a", &["cat", "/etc/ssh/sshd_config"]),
        "PermitRootLogin no"
    );
    // The per-host copies are in each host's own layer.
    assert_eq!(
        fs::read_to_string(layer_copy(&host, "node-a", "/var/log/a.log")).unwrap(),
        "a-log\n"
    );

    host.ok(&["stop", "node-a"]);
    host.ok(&["stop", "node-b"]);
    for name in ["node-a", "node-b"] {
        host.assert_nothing_left(name, &root);
    }
    let mut after = snapshot(&root);
    after.remove(Path::new("root/shared.txt"));
    assert_same_tree(&before, &after);

    // The machine-id is stable: the same after a restart.
    host.ok(&["start", "node-a"]);
    assert_eq!(host.exec_ok("node-a", &["cat", "/etc/machine-id"]), id_a);
    assert_eq!(
        host.exec_ok("node-a", &["cat", "/etc/cluster/node.key"]),
        key_a
    );
    host.ok(&["stop", "node-a"]);
}

#[test]
fn sed_in_place_on_a_per_host_file_works_and_stays_per_host() {
    let host = Host::new("overlay-sed");
    let root = shared_root(&host);
    for name in ["sed-a", "sed-b"] {
        host.config(name, &root, TWO_HOSTS_OVERLAY);
        host.ok(&["start", name]);
    }
    // sed -i writes a new file next to it and renames it over the old one.
    host.exec_ok(
        "sed-a",
        &[
            "sed",
            "-i",
            "s/role=default/role=primary/",
            "/etc/myapp/node.conf",
        ],
    );
    assert_eq!(
        host.exec_ok("sed-a", &["cat", "/etc/myapp/node.conf"]),
        "role=primary"
    );
    assert_eq!(
        host.exec_ok("sed-b", &["cat", "/etc/myapp/node.conf"]),
        "role=default"
    );
    assert_eq!(
        fs::read_to_string(root.join("etc/myapp/node.conf")).unwrap(),
        "role=default\n",
        "the shared file changed"
    );
    let leftovers: Vec<_> = fs::read_dir(root.join("etc/myapp"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert_eq!(
        leftovers.len(),
        2,
        "sed left files in the shared root: {leftovers:?}"
    );
    // The shared file next to it is still the shared one.
    fs::write(root.join("etc/myapp/common.conf"), "shared=changed\n").unwrap();
    assert_eq!(
        host.exec_ok("sed-a", &["cat", "/etc/myapp/common.conf"]),
        "shared=changed"
    );

    // The edit survives a restart.
    host.ok(&["restart", "sed-a"]);
    assert_eq!(
        host.exec_ok("sed-a", &["cat", "/etc/myapp/node.conf"]),
        "role=primary"
    );
    // status and diff tell the two layers apart.
    let status = host.ok(&["overlay", "status", "sed-a", "--json"]);
    let status: serde_json::Value = serde_json::from_str(&status).unwrap();
    let node_conf = status["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["path"] == "/etc/myapp/node.conf")
        .unwrap();
    assert_eq!(node_conf["state"], "ok");
    assert_eq!(node_conf["placement"]["how"], "parent-overlay");
    let diff = host.vroot(&["overlay", "diff", "sed-a", "sed-b"]);
    assert_eq!(diff.status.code(), Some(1));
    assert!(
        text(&diff.stdout).contains("/etc/myapp/node.conf: different content"),
        "{}",
        text(&diff.stdout)
    );
    // A changed shared original is flagged for a seed.
    fs::write(root.join("etc/myapp/node.conf"), "role=new-default\n").unwrap();
    let status = host.ok(&["overlay", "status", "sed-a"]);
    assert!(status.contains("SHARED ORIGINAL CHANGED"), "{status}");
    host.ok(&["stop", "sed-a"]);
    host.ok(&["stop", "sed-b"]);
    for name in ["sed-a", "sed-b"] {
        host.assert_nothing_left(name, &root);
    }
}

#[test]
fn gen_templates_render_per_host_and_show_in_render() {
    let host = Host::new("overlay-gen");
    let root = shared_root(&host);
    let template = host.dir.join("etc/node.conf.tmpl");
    fs::write(
        &template,
        "name={{ name }}\nhost={{ hostname }}\nid={{ machine_id }}\nrole={{ role }}\n",
    )
    .unwrap();
    host.config(
        "gen-a",
        &root,
        "hostname = \"gamma\"\n[overlay.vars]\nrole = \"db\"\n[[overlay.path]]\npath = \"/etc/myapp/node.conf\"\nmode = \"gen\"\ntemplate = \"node.conf.tmpl\"\n",
    );
    let rendered = host.ok(&["overlay", "render", "gen-a", "/etc/myapp/node.conf"]);
    assert!(
        rendered.starts_with("name=gen-a\nhost=gamma\nid="),
        "{rendered}"
    );
    assert!(rendered.ends_with("role=db\n"), "{rendered}");
    host.ok(&["start", "gen-a"]);
    assert_eq!(
        host.exec_ok("gen-a", &["cat", "/etc/myapp/node.conf"]),
        rendered.trim()
    );
    // Rendered again at every start.
    host.ok(&["stop", "gen-a"]);
    fs::write(&template, "role={{ role }} v2\n").unwrap();
    host.ok(&["start", "gen-a"]);
    assert_eq!(
        host.exec_ok("gen-a", &["cat", "/etc/myapp/node.conf"]),
        "role=db v2"
    );
    host.ok(&["stop", "gen-a"]);
    host.assert_nothing_left("gen-a", &root);
    assert_eq!(
        fs::read_to_string(root.join("etc/myapp/node.conf")).unwrap(),
        "role=default\n"
    );
}

#[test]
fn overlayfs_mode_keeps_the_shared_tree_byte_identical() {
    let host = Host::new("overlay-ofs");
    let root = shared_root(&host);
    let before = snapshot(&root);
    host.config(
        "ofs",
        &root,
        "hostname = \"delta\"\n[overlay]\nmode = \"overlayfs\"\n",
    );
    host.ok(&["start", "ofs"]);
    let scribble = "echo changed >> /etc/passwd; rm /etc/group; echo new > /etc/new.conf; \
                    sed -i s/shared=yes/shared=mine/ /etc/myapp/common.conf; \
                    mkdir -p /var/lib/app/data && echo d > /var/lib/app/data/x; \
                    echo log > /var/log/ofs.log; rm -rf /etc/ssh; mv /etc/myapp /etc/yourapp; \
                    chmod 600 /etc/inittab";
    host.exec_ok("ofs", &["sh", "-c", scribble]);
    assert_eq!(
        host.exec_ok("ofs", &["cat", "/etc/yourapp/common.conf"]),
        "shared=mine"
    );
    host.ok(&["stop", "ofs"]);
    host.assert_nothing_left("ofs", &root);
    let after = snapshot(&root);
    assert_same_tree(&before, &after);
    // The writes are this host's and persist.
    host.ok(&["start", "ofs"]);
    assert_eq!(host.exec_ok("ofs", &["cat", "/etc/new.conf"]), "new");
    assert!(!host
        .exec("ofs", &["test", "-e", "/etc/group"])
        .status
        .success());
    assert_eq!(host.exec_ok("ofs", &["cat", "/etc/hostname"]), "delta");
    let status = host.ok(&["overlay", "status", "ofs"]);
    assert!(
        status.contains("SHARED PATH WRITTEN on this host (the others do not see it): /etc/passwd"),
        "{status}"
    );
    host.ok(&["stop", "ofs"]);
}

/// Runs `start` on a config that must be refused; returns stderr after
/// checking that nothing was made.
fn refused(host: &Host, name: &str, root: &Path, layer: &Path) -> String {
    let output = host.vroot(&["start", name]);
    let stderr = text(&output.stderr);
    assert!(!output.status.success(), "{name} started: {stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "not one line: {stderr}");
    host.assert_nothing_left(name, root);
    assert!(!layer.exists(), "the layer {} was left", layer.display());
    stderr
}

#[test]
fn bad_overlay_configs_are_refused_and_leave_nothing() {
    let host = Host::new("overlay-bad");
    let root = shared_root(&host);
    let layer = |name: &str| host.dir.join("lib/hosts").join(name);

    host.config(
        "bad-mode",
        &root,
        "[[overlay.path]]\npath = \"/etc/myapp/node.conf\"\nmode = \"perhost\"\n",
    );
    let error = refused(&host, "bad-mode", &root, &layer("bad-mode"));
    assert!(
        error.contains("line 4")
            && error.contains("unknown value `perhost`")
            && error.contains("`seed`"),
        "{error}"
    );

    host.config(
        "bad-template",
        &root,
        "[[overlay.path]]\npath = \"/etc/myapp/node.conf\"\nmode = \"gen\"\ntemplate = \"/nonexistent/node.tmpl\"\n",
    );
    let error = refused(&host, "bad-template", &root, &layer("bad-template"));
    assert!(
        error.contains("overlay.path[0].template")
            && error.contains("/nonexistent/node.tmpl does not exist"),
        "{error}"
    );

    host.config(
        "bad-shared",
        &root,
        "[[overlay.path]]\npath = \"/etc/passwd\"\nmode = \"seed\"\n",
    );
    let error = refused(&host, "bad-shared", &root, &layer("bad-shared"));
    assert!(
        error.contains("overlay.path[0].path") && error.contains("shared `/etc/passwd`"),
        "{error}"
    );

    let inside = root.join("var/lib/layers/bad-inside");
    host.config(
        "bad-inside",
        &root,
        &format!("[overlay]\ndir = \"{}\"\n", inside.display()),
    );
    let error = refused(&host, "bad-inside", &root, &inside);
    assert!(error.contains("inside the shared root"), "{error}");
    assert!(!root.join("var/lib/layers").exists());

    host.config(
        "bad-missing-dir",
        &root,
        "[[overlay.path]]\npath = \"/opt/app/state\"\nmode = \"empty\"\n",
    );
    let error = refused(&host, "bad-missing-dir", &root, &layer("bad-missing-dir"));
    assert!(
        error.contains("the shared root has no directory /opt/app") && error.contains("mkdir -p"),
        "{error}"
    );
}

/// A layer on the shared filesystem itself: here a FUSE mount (as
/// GlusterFS, virtiofs and sshfs are) holding both the root and the layer.
#[test]
fn a_layer_on_the_shared_filesystem_is_refused() {
    let host = Host::new("overlay-fuse");
    fs::create_dir_all(host.dir.join("backing")).unwrap();
    host.private_copy(&busybox_root(), "backing/root");
    let shared_fs = host.dir.join("shared-fs");
    fs::create_dir_all(&shared_fs).unwrap();
    let mounted = std::process::Command::new("bindfs")
        .arg(host.dir.join("backing"))
        .arg(&shared_fs)
        .status()
        .expect("bindfs is installed by scripts/install-deps.sh");
    assert!(mounted.success());
    struct Unmount(PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = std::process::Command::new("umount")
                .arg("-l")
                .arg(&self.0)
                .status();
        }
    }
    let _unmount = Unmount(shared_fs.clone());
    let root = shared_fs.join("root");
    let layer = shared_fs.join("layers/fuse-node");
    host.config(
        "fuse-node",
        &root,
        &format!("[overlay]\ndir = \"{}\"\n", layer.display()),
    );
    let output = host.vroot(&["start", "fuse-node"]);
    let error = text(&output.stderr);
    assert!(!output.status.success(), "{error}");
    assert!(
        error.contains("is on a fuse") && error.contains("not host-local"),
        "{error}"
    );
    assert!(!shared_fs.join("layers").exists(), "the layer was made");
    assert!(!host.state_dir().join("fuse-node").exists());
}
