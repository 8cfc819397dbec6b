//! A pure cgroup v2 host. This machine is hybrid, so most tests run vroot in
//! a private mount namespace whose `/sys/fs/cgroup` is a plain cgroup2 mount:
//! vroot then detects and sets up a unified layout, for real. This kernel
//! binds the controllers to v1, so the limits themselves are checked in a
//! VM whose kernel has cgroup v1 disabled (`tests/vm/cgroup-v2-limits.sh`).

use std::process::Command;

use crate::harness::*;

/// Runs `script` with `$VROOT` set, in a mount namespace with cgroup2 at /sys/fs/cgroup.
fn in_pure_v2(host: &Host, script: &str) -> String {
    let prelude = "set -eu; umount -l /sys/fs/cgroup; mount -t cgroup2 cgroup2 /sys/fs/cgroup;";
    let probe = host.command(&[]);
    let mut command = Command::new("unshare");
    command
        .args([
            "--mount",
            "--propagation",
            "private",
            "sh",
            "-c",
            &format!("{prelude}{script}"),
        ])
        .env("VROOT", VROOT);
    for (key, value) in probe.get_envs() {
        if let Some(value) = value {
            command.env(key, value);
        }
    }
    let output = command.output().unwrap();
    let stdout = text(&output.stdout);
    assert!(
        output.status.success(),
        "script failed: {stdout}{}",
        text(&output.stderr)
    );
    stdout
}

fn unified_dir(name: &str) -> std::path::PathBuf {
    std::path::PathBuf::from(format!("/sys/fs/cgroup/unified/vroot/{name}"))
}

#[test]
fn busybox_runs_with_a_delegated_cgroup2_tree() {
    let host = Host::new("v2-busybox");
    let root = busybox_root();
    host.config("v2bb", &root, "");
    let out = in_pure_v2(
        &host,
        r#"
        $VROOT start v2bb
        echo "VIEW $($VROOT exec v2bb -- sh -c 'grep " /sys/fs/cgroup " /proc/self/mountinfo')"
        echo "CGROUP $($VROOT exec v2bb -- cat /proc/self/cgroup)"
        $VROOT exec v2bb -- sh -c 'mkdir /sys/fs/cgroup/child && rmdir /sys/fs/cgroup/child && echo DELEGATED'
        test -d /sys/fs/cgroup/vroot/v2bb && echo HOST-CGROUP
        $VROOT stop v2bb
        test -d /sys/fs/cgroup/vroot/v2bb || echo REMOVED
        "#,
    );
    assert!(
        out.contains(" - cgroup2 "),
        "the container must see cgroup2: {out}"
    );
    assert!(
        out.replace("CGROUP ", "")
            .lines()
            .any(|line| line == "0::/"),
        "{out}"
    );
    assert!(
        out.contains("DELEGATED"),
        "the container's subtree must be writable: {out}"
    );
    assert!(
        out.contains("HOST-CGROUP") && out.contains("REMOVED"),
        "{out}"
    );
    assert!(!unified_dir("v2bb").exists());
    host.assert_nothing_left("v2bb", &root);
}

#[test]
fn systemd_boots_in_unified_mode() {
    let host = Host::new("v2-systemd");
    let root = debian_root();
    host.config("v2sd", &root, "");
    let out = in_pure_v2(
        &host,
        r#"
        $VROOT start v2sd
        for i in $(seq 600); do
            state=$($VROOT exec v2sd -- systemctl is-system-running --wait 2>/dev/null || true)
            case "$state" in running|degraded) break;; esac
            sleep 0.1
        done
        echo "STATE $state"
        echo "FAILED [$($VROOT exec v2sd -- systemctl --failed --no-legend --plain)]"
        $VROOT exec v2sd -- sh -c 'test -f /sys/fs/cgroup/init.scope/cgroup.procs && echo INIT-SCOPE'
        $VROOT stop v2sd
        "#,
    );
    assert!(out.contains("STATE running"), "{out}");
    assert!(out.contains("FAILED []"), "{out}");
    assert!(
        out.contains("INIT-SCOPE"),
        "systemd must manage its delegated tree: {out}"
    );
    assert!(!unified_dir("v2sd").exists());
    host.assert_nothing_left("v2sd", &root);
}

#[test]
fn a_limit_without_its_controller_is_refused_clearly() {
    let host = Host::new("v2-limits");
    let root = busybox_root();
    host.config("v2lim", &root, "[limits]\nmemory = \"64M\"");
    let out = in_pure_v2(
        &host,
        r#"if $VROOT start v2lim 2>&1; then echo STARTED; fi"#,
    );
    let controllers =
        std::fs::read_to_string("/sys/fs/cgroup/unified/cgroup.controllers").unwrap_or_default();
    if controllers.split_whitespace().any(|c| c == "memory") {
        assert!(out.contains("STARTED"), "{out}");
    } else {
        assert!(
            out.contains("`limits.memory` needs the memory controller"),
            "{out}"
        );
        assert!(!out.contains("STARTED"));
        host.assert_nothing_left("v2lim", &root);
    }
}

#[test]
fn limits_apply_on_a_pure_cgroup_v2_kernel_in_a_vm() {
    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vm/cgroup-v2-limits.sh");
    let output = Command::new("bash").arg(&script).output().unwrap();
    let stdout = text(&output.stdout);
    println!("{stdout}");
    assert!(output.status.success(), "{stdout}{}", text(&output.stderr));
    for check in [
        "memory.max",
        "pids.max",
        "cpu.max",
        "namespace-root",
        "root-inside-cannot-lift",
        "pids-limit-holds",
        "cgroup-removed",
    ] {
        assert!(
            stdout.contains(&format!("VM-CHECK ok {check}")),
            "{check} did not pass: {stdout}"
        );
    }
}
