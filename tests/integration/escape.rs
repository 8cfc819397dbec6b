//! The escape battery: attempts that root inside a container makes on the
//! host, each run inside the container (through `vroot exec`, so under the
//! same filter as the init's children) and on the host, where it must reach
//! the kernel: a denial inside then proves the container's confinement, not
//! the machine's. The probe (`tests/escape/probe.c`) is built statically at
//! test time and placed in a private copy of the busybox root.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use crate::harness::{busybox_root, text, Host};

/// The probe, built once per test run.
pub(crate) fn probe() -> &'static Path {
    static PROBE: OnceLock<PathBuf> = OnceLock::new();
    PROBE.get_or_init(|| {
        let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/escape/probe.c");
        let output = PathBuf::from(format!("/tmp/vroot-it/escape-probe-{}", std::process::id()));
        std::fs::create_dir_all(output.parent().unwrap()).unwrap();
        let built = Command::new("cc")
            .args(["-static", "-O1", "-o"])
            .arg(&output)
            .arg(&source)
            .output()
            .expect("run cc (package gcc, libc6-dev)");
        assert!(built.status.success(), "cc: {}", text(&built.stderr));
        output
    })
}

/// What the probe says for `attempt` on the host.
pub(crate) fn on_host(attempt: &[&str]) -> String {
    let output = Command::new(probe()).args(attempt).output().unwrap();
    text(&output.stdout).trim().to_string()
}

/// A running busybox container with the probe at /probe; `extra` is added
/// to its config.
pub(crate) fn container(host: &Host, name: &str, extra: &str) -> PathBuf {
    let root = host.private_copy(&busybox_root(), &format!("{name}-root"));
    std::fs::copy(probe(), root.join("probe")).unwrap();
    host.config(name, &root, extra);
    host.ok(&["start", name]);
    root
}

pub(crate) fn inside(host: &Host, name: &str, attempt: &[&str]) -> String {
    let mut command = vec!["/probe"];
    command.extend_from_slice(attempt);
    host.exec_ok(name, &command)
}

/// Asserts the attempt is refused inside with `refused`, and reaches the
/// kernel on the host (any answer but EPERM).
fn refused_inside_not_on_host(host: &Host, name: &str, attempt: &[&str], refused: &str) {
    let answer = inside(host, name, attempt);
    assert_eq!(answer, refused, "{attempt:?} inside the container");
    let host_answer = on_host(attempt);
    assert_ne!(
        host_answer, "errno=EPERM",
        "{attempt:?} is refused on the host too, so the test proves nothing"
    );
}

#[test]
fn loading_a_kernel_module_is_refused() {
    let host = Host::new("esc-module");
    container(&host, "escmod", "");
    // finit_module of any file: the host's kernel answers (ENOSYS without
    // module support, ENOEXEC for a non-module), the container's filter
    // answers first.
    refused_inside_not_on_host(&host, "escmod", &["finit_module", "/probe"], "errno=EPERM");
    refused_inside_not_on_host(&host, "escmod", &["init_module"], "errno=EPERM");
    host.ok(&["stop", "escmod"]);
}

#[test]
fn setting_the_clock_is_refused() {
    let host = Host::new("esc-clock");
    container(&host, "escclk", "");
    // On the host it succeeds: the clock is set to the time it has.
    assert_eq!(on_host(&["clock_settime"]), "ok");
    assert_eq!(inside(&host, "escclk", &["clock_settime"]), "errno=EPERM");
    host.ok(&["stop", "escclk"]);
}

#[test]
fn open_by_handle_at_is_refused() {
    let host = Host::new("esc-handle");
    container(&host, "eschdl", "");
    assert_eq!(on_host(&["open_by_handle_at", "/"]), "ok");
    assert_eq!(
        inside(&host, "eschdl", &["open_by_handle_at", "/"]),
        "errno=EPERM"
    );
    host.ok(&["stop", "eschdl"]);
}

#[test]
fn kernel_wide_calls_are_refused() {
    let host = Host::new("esc-kernel");
    container(&host, "esckrn", "");
    for attempt in ["kexec_load", "swapon", "perf_event_open", "bpf", "keyctl"] {
        refused_inside_not_on_host(&host, "esckrn", &[attempt], "errno=EPERM");
    }
    host.ok(&["stop", "esckrn"]);
}

#[test]
fn the_host_hostname_stays_and_host_processes_are_out_of_sight() {
    let host = Host::new("esc-uts");
    container(&host, "escuts", "");
    let before = nix::unistd::gethostname().unwrap();
    assert_eq!(inside(&host, "escuts", &["sethostname", "escaped"]), "ok");
    assert_eq!(host.exec_ok("escuts", &["hostname"]), "escaped");
    assert_eq!(nix::unistd::gethostname().unwrap(), before);
    // This test's own process, seen from inside: no such process.
    let me = std::process::id().to_string();
    assert_eq!(on_host(&["kill", &me]), "ok");
    assert_eq!(inside(&host, "escuts", &["kill", &me]), "errno=ESRCH");
    host.ok(&["stop", "escuts"]);
}

#[test]
fn the_filter_covers_the_init_and_can_be_relaxed_or_turned_off() {
    let host = Host::new("esc-relax");
    container(&host, "escdef", "");
    // The init itself runs filtered (mode 2), so everything it starts does.
    assert!(host
        .exec_ok("escdef", &["grep", "Seccomp:", "/proc/1/status"])
        .ends_with('2'));
    assert_eq!(inside(&host, "escdef", &["swapon"]), "errno=EPERM");
    host.ok(&["stop", "escdef"]);

    // One call allowed again: it reaches the kernel (EFAULT for the null
    // path), while the rest of the list stays denied.
    container(
        &host,
        "escrel",
        "[security]\nsyscalls_allow = [\"swapon\"]\n",
    );
    assert_eq!(inside(&host, "escrel", &["swapon"]), "errno=EFAULT");
    assert_eq!(inside(&host, "escrel", &["kexec_load"]), "errno=EPERM");

    // One call denied on top of the defaults: reading the clock's state,
    // which the default filter leaves alone.
    assert_eq!(inside(&host, "escrel", &["adjtimex"]), "ok");
    host.ok(&["stop", "escrel"]);
    container(
        &host,
        "escadd",
        "[security]\nsyscalls_deny = [\"adjtimex\"]\n",
    );
    assert_eq!(inside(&host, "escadd", &["adjtimex"]), "errno=EPERM");
    host.ok(&["stop", "escadd"]);

    // No filter at all.
    container(&host, "escoff", "[security]\nseccomp = false\n");
    assert!(host
        .exec_ok("escoff", &["grep", "Seccomp:", "/proc/1/status"])
        .ends_with('0'));
    assert_eq!(inside(&host, "escoff", &["swapon"]), "errno=EFAULT");
    host.ok(&["stop", "escoff"]);
}

/// A block device that root on this host can open through a node made in
/// `dir`: its major and minor numbers. (Some machines refuse raw access to
/// their disks even to root; an idle loop device still opens.)
fn host_block_device(dir: &Path) -> (String, String) {
    let mut numbers: Vec<String> = std::fs::read_dir("/sys/block")
        .unwrap()
        .flatten()
        .filter_map(|entry| std::fs::read_to_string(entry.path().join("dev")).ok())
        .map(|text| text.trim().to_string())
        .collect();
    numbers.sort();
    for candidate in numbers {
        let (major, minor) = candidate.split_once(':').unwrap();
        let node = dir.join(format!("try-{major}-{minor}"));
        let node_text = node.display().to_string();
        if on_host(&["mknod", &node_text, major, minor]) == "ok"
            && matches!(on_host(&["read", &node_text]).as_str(), "ok" | "empty")
        {
            return (major.to_string(), minor.to_string());
        }
    }
    panic!("no block device of this host opens even for root: the test could prove nothing");
}

/// A host read that got through the open: a byte, or an empty device.
fn opened(answer: String) -> bool {
    answer == "ok" || answer == "empty"
}

#[test]
fn making_a_block_device_node_is_refused() {
    let host = Host::new("esc-mknod");
    container(&host, "escmkn", "");
    // On the host, root makes the node and opens it.
    let (major, minor) = host_block_device(&host.dir);
    assert_eq!(
        inside(&host, "escmkn", &["mknod", "/tmp/blk", &major, &minor]),
        "errno=EPERM"
    );
    host.ok(&["stop", "escmkn"]);
}

#[test]
fn reading_or_mounting_a_host_block_device_is_refused() {
    let host = Host::new("esc-blk");
    let (major, minor) = host_block_device(&host.dir);
    // A node planted in the shared root itself, as a careless or hostile
    // admin could leave one there.
    let root = host.private_copy(&busybox_root(), "escblk-root");
    std::fs::copy(probe(), root.join("probe")).unwrap();
    let planted = root.join("blk").display().to_string();
    assert_eq!(on_host(&["mknod", &planted, &major, &minor]), "ok");
    assert!(opened(on_host(&["read", &planted])));
    host.config("escblk", &root, "");
    host.ok(&["start", "escblk"]);
    assert_eq!(inside(&host, "escblk", &["read", "/blk"]), "errno=EPERM");
    // Mounting it needs the same open, and is refused the same way.
    let mounted = host.exec(
        "escblk",
        &["sh", "-c", "mkdir -p /tmp/m && mount -t ext4 /blk /tmp/m"],
    );
    assert!(!mounted.status.success());
    let said = text(&mounted.stderr).to_lowercase();
    assert!(
        said.contains("not permitted") || said.contains("permission denied"),
        "{said}"
    );
    host.ok(&["stop", "escblk"]);
}

#[test]
fn a_chroot_escape_ends_at_the_container_root() {
    let host = Host::new("esc-chroot");
    container(&host, "escchr", "");
    // A file only the host has: the climb out of a chroot reaches it on the
    // host, and only the container's own root inside.
    let marker = host.dir.join("host-only-marker");
    std::fs::write(&marker, b"host").unwrap();
    let marker_text = marker.display().to_string();
    assert_eq!(on_host(&["chroot_escape", &marker_text]), "escaped");
    assert_eq!(
        inside(&host, "escchr", &["chroot_escape", &marker_text]),
        "contained"
    );
    host.ok(&["stop", "escchr"]);
}

#[test]
fn a_host_namespace_cannot_be_entered_through_proc() {
    let host = Host::new("esc-setns");
    container(&host, "escns", "");
    // This test's own mount namespace: the host's.
    let path = format!("/proc/{}/ns/mnt", std::process::id());
    assert_eq!(on_host(&["setns", &path]), "ok");
    assert_eq!(inside(&host, "escns", &["setns", &path]), "errno=ENOENT");
    // Pid 1 inside is the container's own init, in a mount namespace of
    // its own.
    let host_mnt = std::fs::read_link("/proc/self/ns/mnt").unwrap();
    let inside_mnt = host.exec_ok("escns", &["readlink", "/proc/1/ns/mnt"]);
    assert_ne!(inside_mnt, host_mnt.display().to_string());
    host.ok(&["stop", "escns"]);
}

#[test]
fn the_host_cgroup_tree_is_out_of_reach() {
    let host = Host::new("esc-cgroup");
    container(&host, "esccg", "[limits]\npids = 100\n");
    let limit_files: Vec<PathBuf> = crate::harness::cgroup_dirs("esccg")
        .into_iter()
        .map(|dir| dir.join("pids.max"))
        .filter(|file| file.exists())
        .collect();
    assert!(!limit_files.is_empty(), "the container has a pids limit");
    // Root inside writes every pids.max it can find, also in a cgroup
    // hierarchy it mounts afresh.
    host.exec_ok(
        "esccg",
        &[
            "sh",
            "-c",
            "for f in $(find /sys/fs/cgroup -name pids.max); do echo max > $f; done; \
             mkdir -p /tmp/cg1 /tmp/cg2; \
             mount -t cgroup -o pids none /tmp/cg1 && for f in $(find /tmp/cg1 -name pids.max); do echo max > $f; done; \
             mount -t cgroup2 none /tmp/cg2 && for f in $(find /tmp/cg2 -name pids.max); do echo max > $f; done; \
             true",
        ],
    );
    for file in &limit_files {
        assert_eq!(
            std::fs::read_to_string(file).unwrap().trim(),
            "100",
            "{} was changed from inside",
            file.display()
        );
        // The same write on the host goes through.
        std::fs::write(file, "101").unwrap();
        assert_eq!(std::fs::read_to_string(file).unwrap().trim(), "101");
        std::fs::write(file, "100").unwrap();
    }
    host.ok(&["stop", "esccg"]);
}

/// A tmpfs of the test's own holding a copy of the busybox root: a
/// superblock nothing else uses, so remounting it read-only is harmless.
/// Unmounted (lazily, so also under a running container) when dropped.
struct ScratchFilesystem {
    mount_point: PathBuf,
}

impl ScratchFilesystem {
    fn new(host: &Host, name: &str) -> Self {
        let mount_point = host.state_dir().with_file_name(name);
        std::fs::create_dir_all(&mount_point).unwrap();
        crate::harness::run_ok(
            "mount",
            &[
                "-t",
                "tmpfs",
                "-o",
                "size=64m",
                "vroot-scratch",
                &mount_point.display().to_string(),
            ],
        );
        let copied = Command::new("cp")
            .arg("-a")
            .arg(format!("{}/.", busybox_root().display()))
            .arg(&mount_point)
            .status()
            .unwrap();
        assert!(copied.success());
        std::fs::copy(probe(), mount_point.join("probe")).unwrap();
        ScratchFilesystem { mount_point }
    }

    /// The superblock's options (read-only or not) as the host sees them.
    fn superblock_read_only(&self) -> bool {
        let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
        let wanted = self.mount_point.display().to_string();
        let line = mountinfo
            .lines()
            .find(|line| line.split(' ').nth(4) == Some(wanted.as_str()))
            .expect("the scratch filesystem is mounted");
        let super_options = line.split(" - ").nth(1).unwrap().split(' ').nth(2).unwrap();
        super_options.split(',').any(|option| option == "ro")
    }

    fn host_can_write(&self) -> bool {
        std::fs::write(self.mount_point.join("host-was-here"), "x").is_ok()
    }
}

impl Drop for ScratchFilesystem {
    fn drop(&mut self) {
        let _ = Command::new("umount")
            .arg("-l")
            .arg(&self.mount_point)
            .status();
    }
}

fn sh_inside(host: &Host, name: &str, script: &str) -> bool {
    host.exec(name, &["sh", "-c", script]).status.success()
}

#[test]
fn a_remount_read_only_inside_leaves_the_shared_filesystem_writable() {
    let host = Host::new("esc-remount");
    let shared = ScratchFilesystem::new(&host, "shared");
    host.config("escro1", &shared.mount_point, "");
    host.config("escro2", &shared.mount_point, "");
    host.ok(&["start", "escro1"]);
    host.ok(&["start", "escro2"]);

    // What systemd's or busybox's shutdown may do, and what an attacker
    // would: refused, through mount(2) and through the new mount API.
    assert!(!sh_inside(&host, "escro1", "mount -o remount,ro /"));
    assert_eq!(inside(&host, "escro1", &["fspick", "/"]), "errno=ENOSYS");
    assert!(!shared.superblock_read_only());
    assert!(
        shared.host_can_write(),
        "the host lost its shared filesystem"
    );
    assert!(
        sh_inside(&host, "escro2", "echo ok > /written-by-escro2"),
        "the other container lost its shared filesystem"
    );

    // The guest can still make its own view of the root read-only: a bind
    // remount changes its mount, not the filesystem.
    assert!(sh_inside(&host, "escro1", "mount -o remount,bind,ro /"));
    assert!(!sh_inside(&host, "escro1", "echo no > /after-ro"));
    assert!(shared.host_can_write());
    assert!(sh_inside(&host, "escro2", "echo ok > /still-written"));

    // The same remount on the host reaches the filesystem.
    crate::harness::run_ok(
        "mount",
        &[
            "-o",
            "remount,ro",
            &shared.mount_point.display().to_string(),
        ],
    );
    assert!(shared.superblock_read_only());
    crate::harness::run_ok(
        "mount",
        &[
            "-o",
            "remount,rw",
            &shared.mount_point.display().to_string(),
        ],
    );
    host.ok(&["stop", "escro1"]);
    host.ok(&["stop", "escro2"]);
}

#[test]
fn allowing_remount_lets_the_guest_change_the_filesystem_itself() {
    let host = Host::new("esc-remount-allowed");
    let shared = ScratchFilesystem::new(&host, "shared");
    host.config(
        "escrw",
        &shared.mount_point,
        "[security]\nsyscalls_allow = [\"remount\"]\n",
    );
    host.ok(&["start", "escrw"]);
    assert!(sh_inside(&host, "escrw", "mount -o remount,ro /"));
    assert!(shared.superblock_read_only());
    assert!(!shared.host_can_write());
    assert!(sh_inside(&host, "escrw", "mount -o remount,rw /"));
    assert!(shared.host_can_write());
    // fspick is allowed with it: the kernel answers (with a context fd).
    assert_eq!(inside(&host, "escrw", &["fspick", "/"]), "ok");
    host.ok(&["stop", "escrw"]);
}

/// Misc character devices of the host that root inside must not open:
/// (name, major, minor).
const HOST_CONTROL_DEVICES: &[(&str, &str, &str)] = &[
    ("watchdog", "10", "130"),
    ("mapper-control", "10", "236"),
    ("fuse", "10", "229"),
];

#[test]
fn host_control_devices_stay_closed() {
    let host = Host::new("esc-ctl");
    // Planted in the shared root, and made afresh inside: neither opens.
    let root = host.private_copy(&busybox_root(), "escctl-root");
    std::fs::copy(probe(), root.join("probe")).unwrap();
    for (name, major, minor) in HOST_CONTROL_DEVICES {
        let planted = root.join(name).display().to_string();
        assert_eq!(on_host(&["mknod_char", &planted, major, minor]), "ok");
    }
    host.config("escctl", &root, "");
    host.ok(&["start", "escctl"]);
    for (name, major, minor) in HOST_CONTROL_DEVICES {
        assert_eq!(
            inside(&host, "escctl", &["open", &format!("/{name}")]),
            "errno=EPERM",
            "{name} planted in the shared root"
        );
        let fresh = format!("/tmp/{name}");
        assert_eq!(
            inside(&host, "escctl", &["mknod_char", &fresh, major, minor]),
            "errno=EPERM",
            "{name} made inside"
        );
    }
    // On the host the same node reaches the driver: /dev/fuse opens, and
    // device-mapper's control answers (ENODEV where this kernel has no
    // device-mapper), never EPERM. The watchdog is not opened on the host:
    // that would arm it, and it would reboot the machine.
    let fuse = root.join("fuse").display().to_string();
    assert_eq!(on_host(&["open", &fuse]), "ok");
    let mapper = root.join("mapper-control").display().to_string();
    assert_ne!(on_host(&["open", &mapper]), "errno=EPERM");

    // The host's FUSE connections and configfs are not in the container's
    // /sys: it mounts a sysfs of its own, read-only, without them.
    let listing = host.exec_ok(
        "escctl",
        &[
            "sh",
            "-c",
            "ls -A /sys/fs/fuse/connections /sys/kernel/config 2>/dev/null; echo end",
        ],
    );
    assert_eq!(
        listing
            .lines()
            .filter(|l| !l.ends_with(':') && !l.is_empty())
            .collect::<Vec<_>>(),
        vec!["end"],
        "{listing}"
    );
    assert!(!host
        .exec("escctl", &["sh", "-c", "echo 1 > /sys/kernel/config/x"])
        .status
        .success());
    host.ok(&["stop", "escctl"]);
}
