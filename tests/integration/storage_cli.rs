//! `vroot storage` and the storage check of `vroot start`, with a host
//! storage configuration of the test's own.

use std::time::{Duration, Instant};

use crate::harness::*;

fn storage_config(host: &Host, body: &str) {
    std::fs::write(host.dir.join("etc/storage.toml"), body).unwrap();
}

fn is_mount_point(path: &std::path::Path) -> bool {
    let text = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let wanted = path.display().to_string();
    text.lines()
        .any(|line| line.split(' ').nth(4) == Some(wanted.as_str()))
}

#[test]
fn local_storage_mounts_and_guards_the_containers_on_it() {
    let host = Host::new("storage-local");
    let export = host.dir.join("export");
    std::fs::create_dir_all(&export).unwrap();
    host.private_copy(&busybox_root(), "export/web");
    let target = host.dir.join("vz");
    storage_config(
        &host,
        &format!(
            "[storage]\ntype = \"local\"\nsource = \"{}\"\ntarget = \"{}\"\n",
            export.display(),
            target.display()
        ),
    );
    let root = target.join("web");
    host.config("web", &root, "");

    // Not mounted: the storage says so, and start refuses the container.
    let status = host.vroot(&["storage", "status"]);
    assert_eq!(status.status.code(), Some(1));
    let refused = host.vroot(&["start", "web"]);
    assert!(!refused.status.success());
    let message = text(&refused.stderr);
    assert!(message.contains("vroot storage mount"), "{message}");
    assert!(!host.state_dir().join("web").exists());

    let mounted = host.ok(&["storage", "mount"]);
    assert!(mounted.contains(&target.display().to_string()), "{mounted}");
    assert!(is_mount_point(&target));
    assert!(host.ok(&["storage", "mount"]).contains("already mounted"));
    let status = host.vroot(&["storage", "status", "--json"]);
    assert!(status.status.success());
    let json: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(json["health"], "healthy", "{json}");

    host.ok(&["start", "web"]);
    assert_eq!(host.exec_ok("web", &["echo", "on storage"]), "on storage");
    host.ok(&["stop", "web"]);
    host.ok(&["storage", "umount"]);
    assert!(!is_mount_point(&target));
    host.assert_nothing_left("web", &root);
}

#[test]
fn a_wrong_type_or_unreachable_source_fails_clearly_within_its_deadline() {
    let host = Host::new("storage-bad");
    let target = host.dir.join("vz");
    // A 9p tag that no transport offers: the kernel refuses every attempt.
    storage_config(
        &host,
        &format!(
            "[storage]\ntype = \"9p\"\nsource = \"no-such-tag\"\ntarget = \"{}\"\nmount_timeout = 2\nretry_interval = 1\n",
            target.display()
        ),
    );
    let started = Instant::now();
    let failed = host.vroot(&["storage", "mount"]);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert!(!failed.status.success());
    let message = text(&failed.stderr);
    assert!(
        message.contains("9p") && message.contains(&target.display().to_string()),
        "{message}"
    );
    assert_eq!(message.trim().lines().count(), 1, "one line: {message}");
    assert!(!is_mount_point(&target));

    // Something else mounted at the target is named, not mistaken for the storage.
    std::fs::create_dir_all(&target).unwrap();
    nix::mount::mount(
        Some("tmpfs"),
        &target,
        Some("tmpfs"),
        nix::mount::MsFlags::empty(),
        None::<&str>,
    )
    .unwrap();
    let failed = host.vroot(&["storage", "mount"]);
    let message = text(&failed.stderr);
    let _ = nix::mount::umount2(&target, nix::mount::MntFlags::MNT_DETACH);
    assert!(!failed.status.success());
    assert!(message.contains("tmpfs"), "{message}");

    // An NFS server that cannot be reached (this kernel has no NFS client).
    storage_config(
        &host,
        &format!(
            "[storage]\ntype = \"nfs\"\nsource = \"192.0.2.1:/export\"\ntarget = \"{}\"\nmount_timeout = 2\n",
            target.display()
        ),
    );
    let started = Instant::now();
    let failed = host.vroot(&["storage", "mount"]);
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(!failed.status.success());
    assert!(
        text(&failed.stderr).contains("nfs 192.0.2.1:/export"),
        "{}",
        text(&failed.stderr)
    );
    let bad = {
        storage_config(&host, "[storage]\ntype = \"zfs\"\n");
        host.vroot(&["storage", "status"])
    };
    assert!(!bad.status.success());
    assert!(
        text(&bad.stderr).contains("storage.toml"),
        "{}",
        text(&bad.stderr)
    );
}
