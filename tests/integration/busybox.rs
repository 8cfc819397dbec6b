//! The busybox root: isolation, clean teardown, restart, reboot and
//! poweroff inside, limits, foreground exit codes, and 50 start/stop cycles.

use std::collections::BTreeSet;
use std::process::Command;
use std::time::Duration;

use crate::harness::*;

#[test]
fn container_is_isolated_and_stop_leaves_nothing() {
    let host = Host::new("isolated");
    let root = busybox_root();
    // A mount made on the host before the start must not appear inside.
    let marker = host.dir.join("host-marker");
    std::fs::create_dir_all(&marker).unwrap();
    let marker_source = format!("vroot-host-marker-{}", std::process::id());
    assert!(Command::new("mount")
        .args(["-t", "tmpfs", &marker_source])
        .arg(&marker)
        .status()
        .unwrap()
        .success());
    // A host process with a recognisable command line must not be visible.
    let mut host_process = Command::new("sleep").arg("4242.5").spawn().unwrap();

    host.config("bb-iso", &root, "hostname = \"iso-node\"");
    host.ok(&["start", "bb-iso"]);

    // Busybox init rewrites its argv; its executable and name tell.
    assert_eq!(
        host.exec_ok("bb-iso", &["readlink", "/proc/1/exe"]),
        "/bin/busybox"
    );
    assert_eq!(host.exec_ok("bb-iso", &["cat", "/proc/1/comm"]), "init");
    let commands = host.exec_ok(
        "bb-iso",
        &["sh", "-c", "cat /proc/[0-9]*/cmdline | tr '\\0' ' '; echo"],
    );
    assert!(
        !commands.contains("4242.5"),
        "a host process is visible inside: {commands}"
    );
    let visible: BTreeSet<String> = host
        .exec_ok(
            "bb-iso",
            &["sh", "-c", "for p in /proc/[0-9]*; do cat $p/comm; done"],
        )
        .lines()
        .map(str::to_string)
        .collect();
    let expected: BTreeSet<String> = ["init", "sleep", "sh", "cat"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert!(
        visible.is_subset(&expected),
        "unexpected processes inside: {visible:?}"
    );
    assert_eq!(host.exec_ok("bb-iso", &["hostname"]), "iso-node");
    let mountinfo = host.exec_ok("bb-iso", &["cat", "/proc/self/mountinfo"]);
    assert!(
        !mountinfo.contains(&marker_source) && !mountinfo.contains("host-marker"),
        "a host mount is visible:\n{mountinfo}"
    );
    assert_eq!(host.exec_ok("bb-iso", &["ls", "/sys/class/net"]), "lo");
    let sys_mount = mountinfo
        .lines()
        .find(|line| line.split(' ').nth(4) == Some("/sys"))
        .expect("/sys is mounted");
    assert!(
        sys_mount.split(' ').nth(5).unwrap().starts_with("ro"),
        "/sys must be read-only: {sys_mount}"
    );
    let init_pid = host.init_pid("bb-iso");

    let stopped = host.ok(&["stop", "bb-iso"]);
    assert!(
        stopped.contains("bb-iso: stopped") && !stopped.contains("killed"),
        "{stopped}"
    );
    assert!(
        !std::path::Path::new(&format!("/proc/{init_pid}")).exists(),
        "the init survived the stop"
    );
    host.assert_nothing_left("bb-iso", &root);
    assert_eq!(host.status("bb-iso").0, 3);

    host_process.kill().unwrap();
    host_process.wait().unwrap();
    assert!(Command::new("umount")
        .arg(&marker)
        .status()
        .unwrap()
        .success());
}

#[test]
fn reboot_inside_restarts_with_a_new_boot_id_and_poweroff_inside_stops() {
    let host = Host::new("reboot");
    let root = busybox_root();
    host.config("bb-reboot", &root, "");
    host.ok(&["start", "bb-reboot"]);
    let supervisor = host.supervisor_pid("bb-reboot");
    let first_boot = host.exec_ok("bb-reboot", &["cat", "/proc/sys/kernel/random/boot_id"]);
    let first_init = host.init_pid("bb-reboot");
    let supervisor_fds = fd_count(supervisor);

    for round in 1..=3 {
        let _ = host.exec("bb-reboot", &["reboot"]);
        wait_until(Duration::from_secs(20), "the reboot", || {
            let (_, status) = host.status("bb-reboot");
            status["boot_count"].as_u64() == Some(round + 1) && status["state"] == "running"
        });
    }
    assert_eq!(
        host.supervisor_pid("bb-reboot"),
        supervisor,
        "the supervisor must survive a reboot inside"
    );
    assert_ne!(host.init_pid("bb-reboot"), first_init);
    let new_boot = host.exec_ok("bb-reboot", &["cat", "/proc/sys/kernel/random/boot_id"]);
    assert_ne!(new_boot, first_boot, "a reboot must give a new boot id");
    assert_eq!(
        fd_count(supervisor),
        supervisor_fds,
        "the supervisor leaks fds across reboots"
    );

    let _ = host.exec("bb-reboot", &["poweroff"]);
    wait_until(Duration::from_secs(20), "the poweroff", || {
        host.status("bb-reboot").0 == 3
    });
    wait_process_gone(supervisor);
    host.assert_nothing_left("bb-reboot", &root);
}

#[test]
fn on_reboot_stop_stops_instead() {
    let host = Host::new("reboot-stop");
    let root = busybox_root();
    host.config("bb-rbstop", &root, "on_reboot = \"stop\"");
    host.ok(&["start", "bb-rbstop"]);
    let supervisor = host.supervisor_pid("bb-rbstop");
    let _ = host.exec("bb-rbstop", &["reboot"]);
    wait_until(Duration::from_secs(20), "the stop", || {
        host.status("bb-rbstop").0 == 3
    });
    wait_process_gone(supervisor);
    host.assert_nothing_left("bb-rbstop", &root);
}

#[test]
fn restart_gives_a_new_init_and_keeps_working() {
    let host = Host::new("restart");
    let root = busybox_root();
    host.config("bb-restart", &root, "");
    host.ok(&["start", "bb-restart"]);
    let before = host.init_pid("bb-restart");
    host.ok(&["restart", "bb-restart"]);
    let after = host.init_pid("bb-restart");
    assert_ne!(before, after);
    assert_eq!(host.exec_ok("bb-restart", &["echo", "alive"]), "alive");
    host.ok(&["stop", "bb-restart"]);
    host.assert_nothing_left("bb-restart", &root);
}

#[test]
fn limits_are_applied_to_the_container_cgroup() {
    let host = Host::new("limits");
    let root = busybox_root();
    host.config(
        "bb-limits",
        &root,
        "[limits]\nmemory = \"64M\"\ncpus = 0.5\npids = 100",
    );
    host.ok(&["start", "bb-limits"]);
    let read = |path: &str| {
        std::fs::read_to_string(path)
            .unwrap_or_default()
            .trim()
            .to_string()
    };
    if std::path::Path::new("/sys/fs/cgroup/memory").exists() {
        assert_eq!(
            read("/sys/fs/cgroup/memory/vroot/bb-limits/memory.limit_in_bytes"),
            (64u64 << 20).to_string()
        );
        assert_eq!(read("/sys/fs/cgroup/pids/vroot/bb-limits/pids.max"), "100");
        assert_eq!(
            read("/sys/fs/cgroup/cpu/vroot/bb-limits/cpu.cfs_quota_us"),
            "50000"
        );
        // Root inside cannot lift its limits: they sit above its cgroup
        // namespace. Its view is read-only, but it can mount a fresh,
        // writable instance of each hierarchy, rooted at its own cgroup.
        let lifted = host.exec_ok(
            "bb-limits",
            &["sh", "-c", "mkdir -p /run/p /run/m && mount -t cgroup -o pids cgroup /run/p && mount -t cgroup -o memory cgroup /run/m && echo max > /run/p/pids.max && echo -1 > /run/m/memory.limit_in_bytes && cat /run/p/pids.max"],
        );
        assert_eq!(lifted, "max", "the attempt inside must have gone through");
        assert_eq!(read("/sys/fs/cgroup/pids/vroot/bb-limits/pids.max"), "100");
        assert_eq!(
            read("/sys/fs/cgroup/cpu/vroot/bb-limits/cpu.cfs_quota_us"),
            "50000"
        );
        // Root inside cannot lift its limits: they sit above its cgroup
        // namespace, even once it remounts its cgroup view read-write.
        let _ = host.exec(
            "bb-limits",
            &["sh", "-c", "mount -o remount,rw /sys/fs/cgroup/pids; echo max > /sys/fs/cgroup/pids/pids.max; mount -o remount,rw /sys/fs/cgroup/memory; echo -1 > /sys/fs/cgroup/memory/memory.limit_in_bytes"],
        );
        assert_eq!(read("/sys/fs/cgroup/pids/vroot/bb-limits/pids.max"), "100");
        assert_eq!(
            read("/sys/fs/cgroup/memory/vroot/bb-limits/memory.limit_in_bytes"),
            (64u64 << 20).to_string()
        );
    } else {
        assert_eq!(
            read("/sys/fs/cgroup/vroot/bb-limits/memory.max"),
            (64u64 << 20).to_string()
        );
        assert_eq!(read("/sys/fs/cgroup/vroot/bb-limits/pids.max"), "100");
    }
    // And the pid limit holds: of 150 sleepers, the container runs at most
    // 100 processes (the shell stops when it can no longer fork).
    let _ = host.exec(
        "bb-limits",
        &[
            "sh",
            "-c",
            "for i in $(seq 150); do sleep 600 >/dev/null 2>&1 & done",
        ],
    );
    let running = processes_in_cgroup("bb-limits").len();
    assert!(
        (90..=100).contains(&running),
        "{running} processes run under pids = 100"
    );
    host.ok(&["stop", "bb-limits"]);
    host.assert_nothing_left("bb-limits", &root);
}

#[test]
fn foreground_exit_codes_follow_the_init() {
    let host = Host::new("foreground");
    let poweroff_root = busybox_poweroff_root();
    host.config(
        "bb-fg-off",
        &poweroff_root,
        "init = [\"/sbin/vroot-bench-init\"]",
    );
    let output = host.vroot(&["start", "--foreground", "bb-fg-off"]);
    assert_eq!(
        output.status.code(),
        Some(0),
        "poweroff must exit 0: {}",
        text(&output.stderr)
    );
    host.assert_nothing_left("bb-fg-off", &poweroff_root);

    let root = busybox_root();
    host.config(
        "bb-fg-exit",
        &root,
        "init = [\"/bin/sh\", \"-c\", \"exit 7\"]",
    );
    assert_eq!(
        host.vroot(&["start", "--foreground", "bb-fg-exit"])
            .status
            .code(),
        Some(7)
    );
    host.assert_nothing_left("bb-fg-exit", &root);

    // A crash: the init killed by a signal gives 128 + signal.
    host.config("bb-fg-crash", &root, "");
    let child = host
        .command(&["start", "--foreground", "bb-fg-crash"])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    wait_until(Duration::from_secs(10), "the init", || {
        host.status("bb-fg-crash").0 == 0
    });
    let init = host.init_pid("bb-fg-crash");
    // SAFETY: kill(2) on the container's init, found through vroot status.
    unsafe { libc::kill(init, libc::SIGKILL) };
    let output = child.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(128 + libc::SIGKILL));
    // In the foreground the supervisor reports on stderr (the journal, under systemd).
    assert!(
        text(&output.stderr).contains("init crashed: killed by SIGKILL"),
        "{}",
        text(&output.stderr)
    );
    host.assert_nothing_left("bb-fg-crash", &root);
}

#[test]
fn fifty_start_stop_cycles_leak_nothing() {
    let host = Host::new("cycles");
    let root = busybox_root();
    host.config("bb-cycles", &root, "");
    // Only mounts that concern this container count: other tests running
    // meanwhile mount and unmount their own (a first `ip netns add` even
    // leaves /run/netns mounted for good).
    let ours = || -> Vec<String> {
        let root_text = root.display().to_string();
        let host_text = host.dir.display().to_string();
        std::fs::read_to_string("/proc/self/mountinfo")
            .unwrap()
            .lines()
            .filter(|line| line.contains(&root_text) || line.contains(&host_text))
            .map(str::to_string)
            .collect()
    };
    let mounts_before = ours();
    let mut supervisor_fds = None;
    for cycle in 0..50 {
        host.ok(&["start", "bb-cycles"]);
        assert_eq!(
            host.exec_ok("bb-cycles", &["echo", "up"]),
            "up",
            "cycle {cycle}"
        );
        let fds = fd_count(host.supervisor_pid("bb-cycles"));
        assert_eq!(
            *supervisor_fds.get_or_insert(fds),
            fds,
            "cycle {cycle}: the supervisor holds a different number of fds"
        );
        // Alternate a clean poweroff with a kill: both paths must clean up.
        let stop_args: &[&str] = if cycle % 2 == 0 {
            &["stop", "bb-cycles", "--kill"]
        } else {
            &["stop", "bb-cycles"]
        };
        host.ok(stop_args);
        host.assert_nothing_left("bb-cycles", &root);
    }
    assert_eq!(mounts_before, ours(), "host mounts leaked");
    // The root is shared with other tests' containers, whose supervisors
    // hold it open meanwhile: only this host's processes, and any left in
    // this container's cgroup, count.
    let ours: BTreeSet<i32> =
        processes_with_env(&format!("VROOT_STATE_DIR={}", host.state_dir().display()))
            .into_iter()
            .chain(processes_in_cgroup("bb-cycles"))
            .collect();
    let holders: Vec<_> = processes_with_fd_under(&root)
        .into_iter()
        .filter(|(pid, _)| ours.contains(pid))
        .collect();
    assert!(
        holders.is_empty(),
        "host processes keep fds into the root: {holders:?}"
    );
}
