//! The `[security]` options that extend or relax a default, each shown both
//! ways: the default holds, and the option changes exactly what it names.
//! The attempts run through the escape battery's probe.

use crate::escape::{container, inside, on_host};
use crate::harness::{text, Host};

#[test]
fn capabilities_can_be_added_and_dropped() {
    let host = Host::new("sec-caps");
    // Default: no CAP_IPC_LOCK (locking memory past the limit), chroot
    // allowed.
    container(&host, "capdef", "");
    assert_eq!(inside(&host, "capdef", &["mlock"]), "errno=EPERM");
    assert_eq!(inside(&host, "capdef", &["chroot", "/"]), "ok");
    host.ok(&["stop", "capdef"]);
    assert_eq!(on_host(&["mlock"]), "ok");

    container(
        &host,
        "capmod",
        "[security]\ncapabilities_add = [\"CAP_IPC_LOCK\"]\ncapabilities_drop = [\"SYS_CHROOT\"]\n",
    );
    assert_eq!(inside(&host, "capmod", &["mlock"]), "ok");
    assert_eq!(inside(&host, "capmod", &["chroot", "/"]), "errno=EPERM");
    host.ok(&["stop", "capmod"]);
}

#[test]
fn host_devices_can_be_passed_through() {
    let host = Host::new("sec-dev");
    container(&host, "devdef", "");
    assert_eq!(
        inside(&host, "devdef", &["open", "/dev/fuse"]),
        "errno=ENOENT"
    );
    assert_eq!(
        inside(&host, "devdef", &["mknod_char", "/dev/fuse", "10", "229"]),
        "errno=EPERM"
    );
    host.ok(&["stop", "devdef"]);

    // A nested node too: /dev/net/tun gets its directory.
    container(
        &host,
        "devfuse",
        "[security]\ndevices = [\"/dev/fuse\", \"/dev/net/tun\"]\n",
    );
    assert_eq!(inside(&host, "devfuse", &["open", "/dev/fuse"]), "ok");
    assert_eq!(inside(&host, "devfuse", &["open", "/dev/net/tun"]), "ok");
    // Only what was listed: the watchdog stays closed.
    assert_eq!(
        inside(
            &host,
            "devfuse",
            &["mknod_char", "/tmp/watchdog", "10", "130"]
        ),
        "errno=EPERM"
    );
    host.ok(&["stop", "devfuse"]);
}

#[test]
fn a_missing_host_device_is_refused_before_anything_is_made() {
    let host = Host::new("sec-nodev");
    let root = host.private_copy(&crate::harness::busybox_root(), "nodev-root");
    host.config(
        "nodev",
        &root,
        "[security]\ndevices = [\"/dev/vroot-no-such-device\"]\n",
    );
    let output = host.vroot(&["start", "nodev"]);
    assert!(!output.status.success());
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains("security.devices: /dev/vroot-no-such-device")
            && stderr.contains("list only device nodes this host has"),
        "{stderr}"
    );
    host.assert_nothing_left("nodev", &root);
}

#[test]
fn masked_paths_can_be_unmasked_and_extended() {
    let host = Host::new("sec-mask");
    let kallsyms_lines = |name: &str| -> usize {
        host.exec_ok(name, &["sh", "-c", "wc -l < /proc/kallsyms"])
            .trim()
            .parse()
            .unwrap()
    };
    let vmstat_lines = |name: &str| -> usize {
        host.exec_ok(name, &["sh", "-c", "wc -l < /proc/vmstat"])
            .trim()
            .parse()
            .unwrap()
    };
    container(&host, "maskdef", "");
    assert_eq!(kallsyms_lines("maskdef"), 0);
    assert!(vmstat_lines("maskdef") > 0);
    host.ok(&["stop", "maskdef"]);

    container(
        &host,
        "maskmod",
        "[security]\nunmask = [\"/proc/kallsyms\"]\nmask = [\"/proc/vmstat\"]\n",
    );
    assert!(kallsyms_lines("maskmod") > 0);
    assert_eq!(vmstat_lines("maskmod"), 0);
    host.ok(&["stop", "maskmod"]);
}

#[test]
fn read_only_paths_can_be_made_writable_and_extended() {
    let host = Host::new("sec-ro");
    // /proc/sys/kernel/hostname belongs to the container's UTS namespace:
    // writing it is harmless to the host, so it shows the mount's effect.
    let write = |name: &str, file: &str, value: &str| {
        host.exec(name, &["sh", "-c", &format!("echo {value} > {file}")])
            .status
            .success()
    };
    let host_hostname = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    container(&host, "rodef", "");
    assert!(!write("rodef", "/proc/sys/kernel/hostname", "changed"));
    // /proc/sys/net is the container's own: writable by default.
    assert!(write("rodef", "/proc/sys/net/ipv4/ip_forward", "1"));
    host.ok(&["stop", "rodef"]);

    container(
        &host,
        "romod",
        "[security]\nwritable = [\"/proc/sys\"]\nreadonly = [\"/proc/sys/net\"]\n",
    );
    assert!(write(
        "romod",
        "/proc/sys/kernel/hostname",
        "changed-inside"
    ));
    assert_eq!(
        host.exec_ok("romod", &["hostname"]).trim(),
        "changed-inside"
    );
    assert!(!write("romod", "/proc/sys/net/ipv4/ip_forward", "1"));
    host.ok(&["stop", "romod"]);
    assert_eq!(
        std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap(),
        host_hostname
    );
}
