//! `[security] userns = true`: the container's ids 0.. are the host's
//! 100000.., on a shared root shifted with `vroot userns shift`. The kernel
//! then refuses what a privileged container's root could still do: mount
//! its own kernel filesystems (fusectl, debugfs), or use host-owned files.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::escape::{container, inside, on_host, probe};
use crate::harness::{busybox_root, debian_root, text, Host};
use crate::systemd::{failed_units, wait_booted};

const USERNS: &str = "[security]\nuserns = true\n";
const BASE: u32 = 100_000;

/// A private copy of `root` with the probe, shifted for `name` (whose
/// config must already exist).
fn shifted_copy(host: &Host, root: &Path, name: &str, extra: &str) -> PathBuf {
    let copy = host.private_copy(root, &format!("{name}-root"));
    std::fs::copy(probe(), copy.join("probe")).unwrap();
    host.config(name, &copy, &format!("{extra}{USERNS}"));
    let shifted = host.ok(&["userns", "shift", name]);
    assert!(shifted.contains(&format!("{name}: root: ")), "{shifted}");
    copy
}

fn host_uid(pid: i32) -> u32 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|line| line.strip_prefix("Uid:"))
        .and_then(|ids| ids.split_whitespace().next())
        .unwrap()
        .parse()
        .unwrap()
}

fn mounts_inside(host: &Host, name: &str, fstype: &str) -> bool {
    host.exec(
        name,
        &[
            "sh",
            "-c",
            &format!("mkdir -p /tmp/m && mount -t {fstype} none /tmp/m && umount /tmp/m"),
        ],
    )
    .status
    .success()
}

#[test]
fn root_inside_is_an_unprivileged_host_user() {
    let host = Host::new("userns-ids");
    let root = shifted_copy(&host, &busybox_root(), "usr1", "");
    // A file the host's root keeps for itself in the shared root.
    std::fs::write(root.join("host-secret"), "secret").unwrap();
    std::os::unix::fs::chown(root.join("host-secret"), Some(0), Some(0)).unwrap();
    std::fs::set_permissions(
        root.join("host-secret"),
        std::os::unix::fs::PermissionsExt::from_mode(0o600),
    )
    .unwrap();
    host.ok(&["start", "usr1"]);

    assert_eq!(host_uid(host.init_pid("usr1")), BASE);
    let map = host.exec_ok("usr1", &["cat", "/proc/self/uid_map"]);
    assert_eq!(
        map.split_whitespace().collect::<Vec<_>>(),
        ["0", "100000", "65536"]
    );
    // Inside, it is root over its own files: they show as 0 and it writes.
    assert_eq!(
        host.exec_ok("usr1", &["stat", "-c", "%u:%g", "/etc"]),
        "0:0"
    );
    host.exec_ok("usr1", &["sh", "-c", "echo x > /written-inside"]);
    assert_eq!(
        std::fs::metadata(root.join("written-inside"))
            .unwrap()
            .uid(),
        BASE
    );
    // The host root's file is nobody's inside, and closed.
    assert_eq!(
        inside(&host, "usr1", &["open", "/host-secret"]),
        "errno=EACCES"
    );

    // Kernel filesystems that a privileged container's root could mount:
    // refused by the kernel in a user namespace. The host mounts them.
    for fstype in ["fusectl", "debugfs"] {
        assert!(
            !mounts_inside(&host, "usr1", fstype),
            "{fstype} mounted inside"
        );
        let dir = host.dir.join(format!("host-{fstype}"));
        std::fs::create_dir_all(&dir).unwrap();
        let dir_text = dir.display().to_string();
        crate::harness::run_ok("mount", &["-t", fstype, "none", &dir_text]);
        crate::harness::run_ok("umount", &[&dir_text]);
    }
    // What it may mount in its namespaces still works.
    assert!(mounts_inside(&host, "usr1", "proc"));
    assert!(mounts_inside(&host, "usr1", "tmpfs"));
    host.ok(&["stop", "usr1"]);
    host.assert_nothing_left("usr1", &root);
}

#[test]
fn without_userns_root_inside_is_the_host_s_root() {
    // The other way: the default container reads the host root's file and
    // mounts fusectl (the limit the user namespace lifts).
    let host = Host::new("userns-off");
    let root = container(&host, "usr0", "");
    std::fs::write(root.join("host-secret"), "secret").unwrap();
    std::fs::set_permissions(
        root.join("host-secret"),
        std::os::unix::fs::PermissionsExt::from_mode(0o600),
    )
    .unwrap();
    assert_eq!(host_uid(host.init_pid("usr0")), 0);
    assert_eq!(inside(&host, "usr0", &["open", "/host-secret"]), "ok");
    assert!(mounts_inside(&host, "usr0", "fusectl"));
    host.ok(&["stop", "usr0"]);
    assert_eq!(
        on_host(&["open", &root.join("host-secret").display().to_string()]),
        "ok"
    );
}

#[test]
fn an_unshifted_root_is_refused_and_unshift_restores_it() {
    let host = Host::new("userns-unshifted");
    let root = host.private_copy(&busybox_root(), "usr2-root");
    host.config("usr2", &root, USERNS);
    let output = host.vroot(&["start", "usr2"]);
    assert!(!output.status.success());
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains("is not owned by its user namespace's ids (100000..=165535)")
            && stderr.contains("vroot userns shift usr2"),
        "{stderr}"
    );
    host.assert_nothing_left("usr2", &root);

    host.ok(&["userns", "shift", "usr2"]);
    assert_eq!(std::fs::metadata(root.join("bin")).unwrap().uid(), BASE);
    host.ok(&["start", "usr2"]);
    // Not while it runs.
    assert!(!host.vroot(&["userns", "unshift", "usr2"]).status.success());
    host.ok(&["stop", "usr2"]);
    host.ok(&["userns", "unshift", "usr2"]);
    assert_eq!(std::fs::metadata(root.join("bin")).unwrap().uid(), 0);
}

#[test]
fn systemd_boots_clean_in_a_user_namespace() {
    let host = Host::new("userns-sd");
    let root = shifted_copy(&host, &debian_root(), "usrsd", "hostname = \"sd-userns\"\n");
    host.ok(&["start", "usrsd"]);
    let state = wait_booted(&host, "usrsd");
    let failed = failed_units(&host, "usrsd");
    assert!(failed.is_empty(), "units failed: {failed:?}");
    assert_eq!(state, "running");
    assert_eq!(host.exec_ok("usrsd", &["hostname"]), "sd-userns");
    assert_eq!(host_uid(host.init_pid("usrsd")), BASE);
    // Its journal and its per-host overlays are written as its own root.
    host.exec_ok(
        "usrsd",
        &["sh", "-c", "touch /var/lib/systemd/userns-was-here"],
    );
    let stopped = host.ok(&["stop", "usrsd"]);
    assert!(
        stopped.contains("usrsd: stopped") && !stopped.contains("killed"),
        "the stop escalated: {stopped}"
    );
    host.assert_nothing_left("usrsd", &root);
}

#[test]
fn a_user_namespace_container_has_its_network_and_is_fenced() {
    use crate::network::{container_pings, netns_pings, netns_with_bridge};
    let netns = netns_with_bridge("usernet", Some("192.0.2.1/24"));
    let host = Host::new("userns-net");
    host.in_netns(&netns.name);
    let before = netns.links();
    let root = shifted_copy(
        &host,
        &busybox_root(),
        "usrnet",
        "[network]\nmode = \"veth\"\nbridge = \"br0\"\naddress = \"192.0.2.31/24\"\n",
    );
    host.ok(&["start", "usrnet"]);
    // Its root configures the network namespace its user namespace owns.
    host.exec_ok("usrnet", &["ip", "link", "set", "eth0", "mtu", "1400"]);
    netns_pings(&netns, "192.0.2.31", std::time::Duration::from_secs(10));
    container_pings(&host, "usrnet", "192.0.2.1");

    let output = host.vroot(&["fence", "usrnet"]);
    assert!(output.status.success(), "fence: {}", text(&output.stderr));
    assert_eq!(netns.links(), before, "the fence left a link");
    crate::harness::wait_until(
        std::time::Duration::from_secs(10),
        "the fenced container's cgroup to empty",
        || crate::harness::processes_in_cgroup("usrnet").is_empty(),
    );
    host.ok(&["stop", "usrnet"]);
    host.ok(&["start", "--unfence", "usrnet"]);
    host.ok(&["stop", "usrnet"]);
    host.assert_nothing_left("usrnet", &root);
}

#[test]
fn overlayfs_mode_works_in_a_user_namespace() {
    let host = Host::new("userns-ovl");
    let root = shifted_copy(
        &host,
        &busybox_root(),
        "usrovl",
        "[overlay]\nmode = \"overlayfs\"\n",
    );
    host.ok(&["start", "usrovl"]);
    // The root is an overlay with user.* xattrs (trusted.* needs the host's
    // CAP_SYS_ADMIN); a write lands in the per-host layer, owned by BASE.
    let root_mount = host.exec_ok("usrovl", &["grep", " / / ", "/proc/self/mountinfo"]);
    assert!(
        root_mount.contains(" - overlay ") && root_mount.contains("userxattr"),
        "{root_mount}"
    );
    host.exec_ok("usrovl", &["sh", "-c", "echo mine > /etc/written-inside"]);
    assert!(
        !root.join("etc/written-inside").exists(),
        "the write reached the shared root"
    );
    let layer_copy = host.dir.join("lib/hosts/usrovl/root/etc/written-inside");
    assert_eq!(std::fs::metadata(&layer_copy).unwrap().uid(), BASE);
    host.ok(&["stop", "usrovl"]);
    host.assert_nothing_left("usrovl", &root);
}
