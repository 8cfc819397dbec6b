//! The shared storage against real mounts (run as root). Every test works in
//! a directory of its own under /tmp and unmounts everything it made.
//!
//! Storage that hangs is made with a FUSE mount whose server never answers:
//! the test opens /dev/fuse, mounts it and never reads the kernel's INIT
//! request, so every statfs on the mount waits until the fd is closed.

use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use vroot_bootstrap::storage::{
    self, check_root_ready, Health, MountOutcome, StorageConfig, StorageError, StorageType,
};
use vroot_runtime::mountinfo;

/// A directory under /tmp for one test; on drop, everything mounted inside
/// it is detached before the directory is removed (never removed while
/// something is still mounted: that would delete the mounted files).
struct Scratch {
    dir: PathBuf,
}

impl Scratch {
    fn new(name: &str) -> Self {
        let dir = PathBuf::from(format!("/tmp/vroot-storage-{}-{name}", std::process::id()));
        let scratch = Scratch { dir };
        scratch.cleanup();
        std::fs::create_dir_all(&scratch.dir).unwrap();
        scratch
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    fn mounts_inside(&self) -> Vec<PathBuf> {
        mountinfo::read_own()
            .unwrap()
            .into_iter()
            .map(|entry| entry.mount_point)
            .filter(|point| point.starts_with(&self.dir))
            .collect()
    }

    fn cleanup(&self) {
        for _ in 0..10 {
            let mounts = self.mounts_inside();
            if mounts.is_empty() {
                let _ = std::fs::remove_dir_all(&self.dir);
                return;
            }
            for point in mounts.iter().rev() {
                let _ = nix::mount::umount2(point, nix::mount::MntFlags::MNT_DETACH);
            }
        }
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        self.cleanup();
    }
}

fn config(text: &str) -> StorageConfig {
    StorageConfig::from_toml_str(text, Path::new("/etc/vroot/storage.toml"))
        .unwrap_or_else(|error| panic!("{error}"))
}

fn is_mount_point(path: &Path) -> bool {
    mountinfo::read_own()
        .unwrap()
        .iter()
        .any(|entry| entry.mount_point == path)
}

fn mount_tmpfs(target: &Path) {
    nix::mount::mount(
        Some("tmpfs"),
        target,
        Some("tmpfs"),
        nix::mount::MsFlags::empty(),
        None::<&str>,
    )
    .unwrap();
}

fn write_helper(path: &Path, script: &str) {
    std::fs::write(path, format!("#!/bin/sh\n{script}\n")).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// A FUSE mount whose server never answers; statfs on it blocks until the
/// returned fd is closed. `subtype` makes mountinfo say `fuse.SUBTYPE`.
fn mount_unanswered_fuse(target: &Path, subtype: &str) -> OwnedFd {
    let fuse = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/fuse")
        .unwrap();
    let fd: OwnedFd = fuse.into();
    let options = format!(
        "fd={},rootmode=40000,user_id=0,group_id=0,subtype={subtype}",
        fd.as_raw_fd()
    );
    nix::mount::mount(
        Some("gluster1:/vz"),
        target,
        Some("fuse"),
        nix::mount::MsFlags::empty(),
        Some(options.as_str()),
    )
    .unwrap();
    fd
}

#[test]
fn local_directory_is_healthy_and_needs_no_mount() {
    let scratch = Scratch::new("local-dir");
    let target = scratch.path("private");
    std::fs::create_dir(&target).unwrap();
    let local = config(&format!(
        "[storage]\ntype = \"local\"\ntarget = \"{}\"\n",
        target.display()
    ));

    let status = storage::status(&local);
    assert_eq!(status.health, Health::Healthy, "{status:?}");
    assert!(status.mounted);
    assert!(status.probe_ms.is_some());
    let report = storage::mount(&local).unwrap();
    assert_eq!(report.outcome, MountOutcome::PlainDirectory);
    storage::umount(&local, false, false).unwrap();
    check_root_ready(&local, &target.join("web")).unwrap();

    std::fs::remove_dir(&target).unwrap();
    let status = storage::status(&local);
    assert_eq!(status.health, Health::NotMounted, "{status:?}");
    let error = storage::mount(&local).unwrap_err().to_string();
    assert!(error.contains("create it"), "{error}");
}

#[test]
fn local_source_is_bind_mounted_idempotently_and_unmounted() {
    let scratch = Scratch::new("local-bind");
    let source = scratch.path("disk");
    let target = scratch.path("vz/private");
    std::fs::create_dir(&source).unwrap();
    std::fs::write(source.join("marker"), "here").unwrap();
    let local = config(&format!(
        "[storage]\ntype = \"local\"\nsource = \"{}\"\ntarget = \"{}\"\n",
        source.display(),
        target.display()
    ));
    assert_eq!(storage::status(&local).health, Health::NotMounted);

    let report = storage::mount(&local).unwrap();
    assert_eq!(report.outcome, MountOutcome::Mounted, "{report}");
    assert_eq!(report.attempts, 1);
    assert!(is_mount_point(&target));
    assert_eq!(
        std::fs::read_to_string(target.join("marker")).unwrap(),
        "here"
    );
    let status = storage::status(&local);
    assert_eq!(status.health, Health::Healthy, "{status:?}");
    assert!(status.mounted);

    let again = storage::mount(&local).unwrap();
    assert_eq!(again.outcome, MountOutcome::AlreadyMounted, "{again}");
    assert!(again.message.contains("already mounted"), "{again}");
    let stacked = mountinfo::read_own()
        .unwrap()
        .iter()
        .filter(|entry| entry.mount_point == target)
        .count();
    assert_eq!(stacked, 1, "mounting twice must not stack mounts");

    storage::umount(&local, false, false).unwrap();
    assert!(!is_mount_point(&target));
    assert_eq!(storage::status(&local).health, Health::NotMounted);
    storage::umount(&local, false, false).unwrap();
    assert!(source.join("marker").exists());
}

#[test]
fn umount_of_a_busy_mount_says_to_stop_the_containers() {
    let scratch = Scratch::new("busy");
    let source = scratch.path("disk");
    let target = scratch.path("private");
    std::fs::create_dir(&source).unwrap();
    let local = config(&format!(
        "[storage]\ntype = \"local\"\nsource = \"{}\"\ntarget = \"{}\"\n",
        source.display(),
        target.display()
    ));
    storage::mount(&local).unwrap();
    // A submount keeps the mount busy, as a running container would.
    let inner = target.join("inner");
    std::fs::create_dir(&inner).unwrap();
    mount_tmpfs(&inner);
    let error = storage::umount(&local, false, false).unwrap_err();
    assert!(matches!(error, StorageError::Busy { .. }), "{error}");
    assert!(error
        .to_string()
        .contains("stop the containers first, or --lazy"));
    storage::umount(&local, false, true).unwrap();
    assert!(!is_mount_point(&target));
}

#[test]
fn ninep_with_a_missing_tag_fails_within_its_deadline() {
    let scratch = Scratch::new("9p");
    let target = scratch.path("private");
    let ninep = config(&format!(
        "[storage]\ntype = \"9p\"\nsource = \"no-such-tag\"\ntarget = \"{}\"\nmount_timeout = 2\n",
        target.display()
    ));
    let started = Instant::now();
    let error = storage::mount(&ninep).unwrap_err().to_string();
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "took {:?}",
        started.elapsed()
    );
    assert!(error.contains("storage 9p no-such-tag"), "{error}");
    assert!(error.contains(&target.display().to_string()), "{error}");
    assert!(error.contains("not mounted after"), "{error}");
    assert!(!is_mount_point(&target));
}

#[test]
fn nfs_without_a_kernel_client_fails_clearly_within_mount_timeout() {
    let scratch = Scratch::new("nfs");
    let target = scratch.path("private");
    let nfs = config(&format!(
        "[storage]\ntype = \"nfs\"\nsource = \"192.0.2.1:/x\"\ntarget = \"{}\"\nmount_timeout = 3\nretry_interval = 1\n",
        target.display()
    ));
    let started = Instant::now();
    let error = storage::mount(&nfs).unwrap_err().to_string();
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "took {:?}",
        started.elapsed()
    );
    assert!(
        error.starts_with(&format!(
            "storage nfs 192.0.2.1:/x at {}: not mounted after",
            target.display()
        )),
        "{error}"
    );
    if !std::fs::read_to_string("/proc/filesystems")
        .unwrap()
        .contains("\tnfs\n")
    {
        assert!(error.contains("mount: No such device"), "{error}");
        assert!(error.contains("modprobe nfs"), "{error}");
    }
    let status = storage::status(&nfs);
    assert_eq!(status.health, Health::NotMounted);
    assert!(!status.mounted);
}

#[test]
fn something_else_mounted_at_the_target_is_named() {
    let scratch = Scratch::new("occupied");
    let target = scratch.path("private");
    std::fs::create_dir(&target).unwrap();
    mount_tmpfs(&target);
    let ninep = config(&format!(
        "[storage]\ntype = \"9p\"\nsource = \"vz\"\ntarget = \"{}\"\n",
        target.display()
    ));
    let error = storage::mount(&ninep).unwrap_err();
    assert!(matches!(error, StorageError::Occupied { .. }), "{error}");
    let message = error.to_string();
    assert!(
        message.contains("tmpfs from tmpfs is mounted there instead"),
        "{message}"
    );
    assert!(
        message.contains(&format!("umount {}", target.display())),
        "{message}"
    );

    let status = storage::status(&ninep);
    assert_eq!(status.health, Health::WrongType);
    assert_eq!(status.mounted_type.as_deref(), Some("tmpfs"));
    let error = storage::umount(&ninep, false, false)
        .unwrap_err()
        .to_string();
    assert!(error.contains("not this storage"), "{error}");
    assert!(
        is_mount_point(&target),
        "umount must leave a foreign mount alone"
    );
}

#[test]
fn root_readiness_depends_on_where_the_root_is() {
    let scratch = Scratch::new("ready");
    let target = scratch.path("private");
    let nfs = config(&format!(
        "[storage]\ntype = \"nfs\"\nsource = \"192.0.2.1:/x\"\ntarget = \"{}\"\n",
        target.display()
    ));
    check_root_ready(&nfs, &scratch.path("elsewhere/web")).unwrap();
    check_root_ready(&nfs, &scratch.path("private-other/web")).unwrap();
    let root = target.join("web");
    let error = check_root_ready(&nfs, &root).unwrap_err().to_string();
    assert_eq!(
        error,
        format!(
            "container root {} is on nfs storage at {}, which is not mounted: run `vroot storage mount`",
            root.display(),
            target.display()
        )
    );
}

#[test]
fn a_helper_that_mounts_the_wrong_filesystem_is_undone() {
    let scratch = Scratch::new("helper-wrong");
    let target = scratch.path("private");
    let helper = scratch.path("mount.fake");
    write_helper(&helper, "exec mount -t tmpfs tmpfs \"$2\"");
    let ninep = config(&format!(
        "[storage]\ntype = \"9p\"\nsource = \"vz\"\ntarget = \"{}\"\nhelper = \"{}\"\n",
        target.display(),
        helper.display()
    ));
    let error = storage::mount(&ninep).unwrap_err();
    assert!(
        matches!(error, StorageError::WrongFilesystem { .. }),
        "{error}"
    );
    let message = error.to_string();
    assert!(
        message.contains("expected 9p in /proc/self/mountinfo, found tmpfs"),
        "{message}"
    );
    assert!(message.contains("unmounted it again"), "{message}");
    assert!(!is_mount_point(&target));
}

#[test]
fn a_failing_helper_is_quoted_and_a_hanging_one_is_killed() {
    let scratch = Scratch::new("helper-fail");
    let target = scratch.path("private");
    let failing = scratch.path("mount.failing");
    write_helper(
        &failing,
        "echo 'mount.failing: access denied by server' >&2\nexit 32",
    );
    let with_helper = |helper: &Path, timeout: u64| {
        config(&format!(
            "[storage]\ntype = \"nfs\"\nsource = \"nfs.example:/vz\"\ntarget = \"{}\"\nhelper = \"{}\"\nmount_timeout = {timeout}\nretry_interval = 1\n",
            target.display(),
            helper.display()
        ))
    };
    let error = storage::mount(&with_helper(&failing, 1))
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("not mounted after 1 attempt in")
            && error.contains(": mount.failing: access denied by server;"),
        "{error}"
    );

    let hanging = scratch.path("mount.hanging");
    write_helper(&hanging, "sleep 60");
    let started = Instant::now();
    let error = storage::mount(&with_helper(&hanging, 2))
        .unwrap_err()
        .to_string();
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "took {:?}",
        started.elapsed()
    );
    assert!(error.contains("mount: no answer within 2"), "{error}");
    assert!(
        error.contains("check that the server is reachable"),
        "{error}"
    );

    let missing = scratch.path("mount.missing");
    let error = storage::mount(&with_helper(&missing, 1))
        .unwrap_err()
        .to_string();
    assert!(error.contains("mount.missing does not exist"), "{error}");
}

#[test]
fn hung_storage_is_reported_within_the_probe_timeout() {
    let scratch = Scratch::new("hung");
    let target = scratch.path("private");
    std::fs::create_dir(&target).unwrap();
    let server = mount_unanswered_fuse(&target, "glusterfs");
    let gluster = config(&format!(
        "[storage]\ntype = \"glusterfs\"\nsource = \"gluster1:/vz\"\ntarget = \"{}\"\nprobe_timeout = 1\nmount_timeout = 2\n",
        target.display()
    ));

    let started = Instant::now();
    let status = storage::status(&gluster);
    let took = started.elapsed();
    assert!(took < Duration::from_millis(1300), "status took {took:?}");
    assert_eq!(status.health, Health::Hung, "{status:?}");
    assert!(status.mounted);
    assert_eq!(status.mounted_type.as_deref(), Some("fuse.glusterfs"));
    assert!(
        status.message.contains("statfs did not answer within 1s"),
        "{status:?}"
    );
    let json = serde_json::to_value(&status).unwrap();
    assert_eq!(json["health"], "hung");
    assert_eq!(json["type"], "glusterfs");

    let root = target.join("web");
    let error = check_root_ready(&gluster, &root).unwrap_err().to_string();
    assert!(
        error.starts_with(&format!(
            "container root {} is on glusterfs storage at {}, which is hung: statfs did not answer within 1s",
            root.display(),
            target.display()
        )),
        "{error}"
    );
    let started = Instant::now();
    let error = storage::mount(&gluster).unwrap_err().to_string();
    assert!(started.elapsed() < Duration::from_millis(1300));
    assert!(
        error.contains("mounted, but statfs did not answer"),
        "{error}"
    );

    // The server goes away: requests now fail at once, and umount works.
    drop(server);
    storage::umount(&gluster, false, false).unwrap();
    assert!(!is_mount_point(&target));
}

#[test]
fn status_serialises_for_json() {
    let nfs = config("[storage]\ntype = \"nfs\"\nsource = \"192.0.2.1:/x\"\ntarget = \"/tmp/vroot-storage-never-mounted\"\n");
    let json = serde_json::to_value(storage::status(&nfs)).unwrap();
    assert_eq!(json["type"], "nfs");
    assert_eq!(json["health"], "not_mounted");
    assert_eq!(json["mounted"], false);
    assert_eq!(json["probe_ms"], serde_json::Value::Null);
    assert_eq!(nfs.storage_type, StorageType::Nfs);
}

mod config_parsing {
    use super::*;

    fn error(text: &str) -> String {
        StorageConfig::from_toml_str(text, Path::new("/etc/vroot/storage.toml"))
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn a_missing_file_means_a_local_directory_at_vz_private() {
        let loaded = StorageConfig::load(Path::new("/nonexistent/vroot/storage.toml")).unwrap();
        assert_eq!(loaded.storage_type, StorageType::Local);
        assert_eq!(loaded.source, None);
        assert_eq!(loaded.target, PathBuf::from("/vz/private"));
        assert!(loaded.is_plain_directory());
    }

    #[test]
    fn defaults() {
        let nfs = config("[storage]\ntype = \"nfs\"\nsource = \"192.0.2.1:/export/vz\"\n");
        assert_eq!(nfs.target, PathBuf::from("/vz/private"));
        assert_eq!(nfs.mount_timeout, Duration::from_secs(60));
        assert_eq!(nfs.retry_interval, Duration::from_secs(2));
        assert_eq!(nfs.probe_timeout, Duration::from_secs(5));
        assert!(nfs.options.is_empty());
        assert_eq!(nfs.helper, None);
        assert_eq!(
            nfs.describe(),
            "storage nfs 192.0.2.1:/export/vz at /vz/private"
        );
    }

    #[test]
    fn unknown_keys_and_types_are_named() {
        assert_eq!(
            error("[storage]\ntype = \"nfs\"\nsource = \"192.0.2.1:/x\"\ntimeout = 5\n"),
            "/etc/vroot/storage.toml line 4: unknown key `timeout`, expected one of `type`, `source`, `target`, `options`, `mount_timeout`, `retry_interval`, `probe_timeout`, `helper`"
        );
        let bad_type = error("[storage]\ntype = \"zfs\"\n");
        assert!(
            bad_type.starts_with(
                "/etc/vroot/storage.toml line 2: unknown type `zfs`, expected one of `nfs`"
            ),
            "{bad_type}"
        );
        assert!(error("[other]\n").contains("unknown key `other`"));
        assert!(error("").contains("`storage` table is missing"));
    }

    #[test]
    fn targets_must_be_absolute_normal_and_not_root() {
        assert!(
            error("[storage]\ntype = \"local\"\ntarget = \"vz/private\"\n")
                .starts_with("/etc/vroot/storage.toml: `target` must be an absolute path")
        );
        assert!(
            error("[storage]\ntype = \"local\"\ntarget = \"/vz/../private\"\n")
                .contains("`target` `/vz/../private` must be a normalised path")
        );
        assert!(
            error("[storage]\ntype = \"local\"\ntarget = \"/vz/private/\"\n")
                .contains("must be a normalised path")
        );
        assert!(error("[storage]\ntype = \"local\"\ntarget = \"/\"\n")
            .contains("`target` must not be `/`"));
    }

    #[test]
    fn sources_are_required_and_checked() {
        assert_eq!(
            error("[storage]\ntype = \"nfs\"\n"),
            "/etc/vroot/storage.toml: `source` is required for type = \"nfs\""
        );
        assert!(error("[storage]\ntype = \"nfs\"\nsource = \"/export\"\n")
            .contains("must be HOST:/PATH"));
        assert!(error("[storage]\ntype = \"local\"\nsource = \"srv\"\n")
            .contains("must be an absolute path"));
        assert!(error("[storage]\ntype = \"local\"\nsource = \"/vz\"\n")
            .contains("must not contain each other"));
    }

    #[test]
    fn an_nfs_host_name_needs_a_helper() {
        assert_eq!(
            error("[storage]\ntype = \"nfs\"\nsource = \"nfs.example:/export\"\n"),
            "/etc/vroot/storage.toml: `source` host `nfs.example` is a name, which the kernel cannot resolve (vroot does no DNS lookups): write the server's IP address, or set helper = \"/sbin/mount.nfs\""
        );
        let with_helper = config(
            "[storage]\ntype = \"nfs\"\nsource = \"nfs.example:/export\"\nhelper = \"/sbin/mount.nfs\"\n",
        );
        assert_eq!(with_helper.helper, Some(PathBuf::from("/sbin/mount.nfs")));
        assert!(
            error("[storage]\ntype = \"cifs\"\nsource = \"//files.example/vz\"\n")
                .contains("helper = \"/sbin/mount.cifs\"")
        );
        assert!(error(
            "[storage]\ntype = \"nfs\"\nsource = \"192.0.2.1:/x\"\nhelper = \"mount.nfs\"\n"
        )
        .contains("`helper` must be an absolute path"));
    }

    #[test]
    fn options_and_timeouts_are_checked() {
        assert!(error(
            "[storage]\ntype = \"nfs\"\nsource = \"192.0.2.1:/x\"\noptions = [\"vers=4.2,soft\"]\n"
        )
        .contains("`options` must list one option per string"));
        assert!(error("[storage]\ntype = \"local\"\noptions = [\"ro\"]\n")
            .contains("not used by type = \"local\""));
        assert_eq!(
            error("[storage]\ntype = \"nfs\"\nsource = \"192.0.2.1:/x\"\nmount_timeout = 0\n"),
            "/etc/vroot/storage.toml: `mount_timeout` must be 1 to 3600 seconds, not 0"
        );
        assert!(error(
            "[storage]\ntype = \"nfs\"\nsource = \"192.0.2.1:/x\"\nprobe_timeout = -1\n"
        )
        .contains("line 4"));
    }
}
