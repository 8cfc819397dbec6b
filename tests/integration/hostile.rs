//! Hostile roots and hostile root inside: what the container controls must
//! never steer vroot's own host-side actions.

use std::path::Path;

use crate::harness::*;

#[test]
fn a_planted_initctl_symlink_cannot_make_stop_write_a_host_file() {
    let host = Host::new("hostile-initctl");
    let root = sysvinit_root();
    let victim = host.dir.join("victim");
    std::fs::write(&victim, b"host data\n").unwrap();
    host.config("evil-initctl", &root, "stop_timeout = 2");
    host.ok(&["start", "evil-initctl"]);
    // Root inside replaces its FIFO with a symlink to a path that exists on the host.
    let plant = format!(
        "rm -f /run/initctl && ln -s {} /run/initctl",
        victim.display()
    );
    host.exec_ok("evil-initctl", &["sh", "-c", &plant]);
    host.ok(&["stop", "evil-initctl"]);
    // The request was attempted through the planted path, and refused.
    assert!(
        host.log("evil-initctl")
            .contains("for runlevel 0 through /run/initctl"),
        "{}",
        host.log("evil-initctl")
    );
    assert_eq!(
        std::fs::read(&victim).unwrap(),
        b"host data\n",
        "stop wrote through the container's symlink"
    );
    host.assert_nothing_left("evil-initctl", &root);
}

#[test]
fn exec_keeps_the_container_capabilities_whatever_proc_says() {
    let host = Host::new("hostile-caps");
    let root = busybox_root();
    host.config("evil-caps", &root, "");
    host.ok(&["start", "evil-caps"]);
    let init_bounding = host.exec_ok("evil-caps", &["grep", "CapBnd", "/proc/1/status"]);
    // Root inside lies about the highest capability number.
    host.exec_ok(
        "evil-caps",
        &[
            "sh",
            "-c",
            "echo 0 > /run/zero && mount --bind /run/zero /proc/sys/kernel/cap_last_cap",
        ],
    );
    assert_eq!(
        host.exec_ok("evil-caps", &["cat", "/proc/sys/kernel/cap_last_cap"]),
        "0"
    );
    assert_eq!(
        host.exec_ok("evil-caps", &["grep", "CapBnd", "/proc/self/status"]),
        init_bounding
    );
    host.ok(&["stop", "evil-caps"]);
}

#[test]
fn a_symlinked_mount_point_in_the_shared_root_stays_inside_it() {
    let host = Host::new("hostile-symlink");
    // A shared root whose /proc is an absolute symlink to a path that also
    // exists on the host, holding a marker there.
    // Not under /tmp: the busybox root's inittab mounts a tmpfs there.
    let host_dir =
        std::path::PathBuf::from(format!("/var/tmp/vroot-it-hostile-{}", std::process::id()));
    std::fs::create_dir_all(host_dir.join("sys")).unwrap();
    std::fs::write(host_dir.join("sys/host-marker"), b"host\n").unwrap();
    let root = host.private_copy(&busybox_root(), "evil-root");
    std::fs::remove_dir(root.join("proc")).unwrap();
    let inside = root.join(host_dir.strip_prefix("/").unwrap());
    std::fs::create_dir_all(&inside).unwrap();
    std::os::unix::fs::symlink(&host_dir, root.join("proc")).unwrap();

    host.config("evil-link", &root, "");
    host.ok(&["start", "evil-link"]);
    let listing = host.exec_ok("evil-link", &["ls", "/proc/sys"]);
    assert!(
        !listing.contains("host-marker"),
        "a host directory was bound into the container: {listing}"
    );
    assert!(
        listing.contains("kernel"),
        "/proc/sys is the container's procfs: {listing}"
    );
    host.ok(&["stop", "evil-link"]);
    host.assert_nothing_left("evil-link", &root);
    assert!(Path::new(&host_dir.join("sys/host-marker")).exists());
    std::fs::remove_dir_all(&host_dir).unwrap();
}
