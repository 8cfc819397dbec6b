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
    // SysVinit re-creates its FIFO when it finds it gone: retry until the
    // symlink wins, then make sure it is there.
    let plant = format!(
        "for i in $(seq 50); do rm -f /run/initctl; ln -s {} /run/initctl 2>/dev/null && break; sleep 0.02; done; test -L /run/initctl",
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
    // Not under /tmp (the busybox root's inittab mounts a tmpfs there) nor
    // /var/tmp (a per-host directory, bound over the one the link reaches).
    let host_dir =
        std::path::PathBuf::from(format!("/srv/vroot-it-hostile-{}", std::process::id()));
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

/// openat2(RESOLVE_IN_ROOT) fails with EAGAIN when a `..` on the way races a
/// mount anywhere on the host; busybox's /sbin/init is `../bin/busybox`. A
/// busy host (containers starting) must not make resolution fail.
#[test]
fn resolution_through_dotdot_survives_concurrent_mounts() {
    use std::os::fd::{FromRawFd, OwnedFd};
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;

    let host = Host::new("resolve-race");
    let scratch = host.dir.join("churn");
    std::fs::create_dir_all(&scratch).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let churn = {
        let stop = stop.clone();
        let target = std::ffi::CString::new(scratch.to_str().unwrap()).unwrap();
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                // SAFETY: mount and umount a tmpfs on our own scratch directory.
                unsafe {
                    libc::mount(
                        c"tmpfs".as_ptr(),
                        target.as_ptr(),
                        c"tmpfs".as_ptr(),
                        0,
                        std::ptr::null(),
                    );
                    libc::umount2(target.as_ptr(), 0);
                }
            }
        })
    };
    let root = busybox_root();
    let root_path = std::ffi::CString::new(root.to_str().unwrap()).unwrap();
    // SAFETY: open a directory fd we own.
    let root_fd = unsafe {
        OwnedFd::from_raw_fd(libc::open(
            root_path.as_ptr(),
            libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC,
        ))
    };
    let mut failures = 0;
    for _ in 0..20_000 {
        if vroot_runtime::container::open_in_root(&root_fd, Path::new("/sbin/init"), 0).is_err() {
            failures += 1;
        }
    }
    stop.store(true, Ordering::Relaxed);
    churn.join().unwrap();
    assert_eq!(
        failures, 0,
        "{failures} of 20000 resolutions failed while mounts happened"
    );
}
