//! The Debian bookworm root with systemd as PID 1.

use std::time::{Duration, Instant};

use crate::harness::*;

/// Polls until systemd answers `running` or `degraded`; returns the answer.
pub fn wait_booted(host: &Host, name: &str) -> String {
    let mut last = String::new();
    let deadline = Instant::now() + Duration::from_secs(90);
    while Instant::now() < deadline {
        let output = host.exec(name, &["systemctl", "is-system-running", "--wait"]);
        last = text(&output.stdout).trim().to_string();
        if last == "running" || last == "degraded" {
            return last;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!(
        "systemd in {name} did not finish booting: last answer {last:?}\n{}",
        std::fs::read_to_string(host.dir.join(format!("log/{name}.console"))).unwrap_or_default()
    );
}

/// Prints and returns the failed units.
pub fn failed_units(host: &Host, name: &str) -> Vec<String> {
    let listing = host.exec_ok(name, &["systemctl", "--failed", "--no-legend", "--plain"]);
    let failed: Vec<String> = listing
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(str::to_string)
        .collect();
    println!("failed units in {name}: {failed:?}");
    for unit in &failed {
        let unit_name = unit.split_whitespace().next().unwrap_or_default();
        println!(
            "{}",
            host.exec_ok(name, &["journalctl", "-b", "-u", unit_name, "--no-pager"])
        );
    }
    failed
}

#[test]
fn systemd_boots_clean_and_powers_off_within_15_seconds() {
    let host = Host::new("sd-boot");
    let root = debian_root();
    let shared_machine_id = std::fs::read(root.join("etc/machine-id")).unwrap();
    host.config(
        "sd-boot",
        &root,
        "hostname = \"sd-node\"\nstop_timeout = 30",
    );
    host.ok(&["start", "sd-boot"]);
    let state = wait_booted(&host, "sd-boot");
    let failed = failed_units(&host, "sd-boot");
    assert!(failed.is_empty(), "units failed: {failed:?}");
    assert_eq!(state, "running");
    assert_eq!(host.exec_ok("sd-boot", &["hostname"]), "sd-node");
    let machine_id = host.exec_ok("sd-boot", &["cat", "/etc/machine-id"]);
    assert_eq!(machine_id.len(), 32, "{machine_id}");
    assert_eq!(
        host.exec_ok("sd-boot", &["systemd-detect-virt", "--container"]),
        "container-other"
    );

    let started = Instant::now();
    let stopped = host.ok(&["stop", "sd-boot"]);
    let took = started.elapsed();
    assert!(
        stopped.contains("sd-boot: stopped") && !stopped.contains("killed"),
        "the stop escalated: {stopped}"
    );
    assert!(took < Duration::from_secs(15), "poweroff took {took:?}");
    assert!(host
        .log("sd-boot")
        .contains("asked the systemd init to power off with SIGRTMIN+4"));
    host.assert_nothing_left("sd-boot", &root);
    assert_eq!(
        std::fs::read(root.join("etc/machine-id")).unwrap(),
        shared_machine_id,
        "the shared /etc/machine-id was written"
    );
}

#[test]
fn systemd_reboot_inside_keeps_the_supervisor_and_poweroff_inside_stops() {
    let host = Host::new("sd-reboot");
    let root = debian_root();
    host.config("sd-reboot", &root, "");
    host.ok(&["start", "sd-reboot"]);
    wait_booted(&host, "sd-reboot");
    let supervisor = host.supervisor_pid("sd-reboot");
    let first_boot = host.exec_ok("sd-reboot", &["cat", "/proc/sys/kernel/random/boot_id"]);
    let machine_id = host.exec_ok("sd-reboot", &["cat", "/etc/machine-id"]);

    let _ = host.exec("sd-reboot", &["systemctl", "reboot"]);
    wait_until(Duration::from_secs(60), "the reboot", || {
        host.status("sd-reboot").1["boot_count"] == 2
    });
    wait_booted(&host, "sd-reboot");
    assert_ne!(
        host.exec_ok("sd-reboot", &["cat", "/proc/sys/kernel/random/boot_id"]),
        first_boot
    );
    assert_eq!(
        host.exec_ok("sd-reboot", &["cat", "/etc/machine-id"]),
        machine_id,
        "the machine id must be stable"
    );
    assert_eq!(host.supervisor_pid("sd-reboot"), supervisor);
    assert!(failed_units(&host, "sd-reboot").is_empty());

    let supervisor = host.supervisor_pid("sd-reboot");
    let _ = host.exec("sd-reboot", &["systemctl", "poweroff"]);
    wait_until(Duration::from_secs(60), "the poweroff", || {
        host.status("sd-reboot").0 == 3
    });
    assert!(host.log("sd-reboot").contains("poweroff requested inside"));
    wait_process_gone(supervisor);
    host.assert_nothing_left("sd-reboot", &root);
}

#[test]
fn systemd_restart_boots_again() {
    let host = Host::new("sd-restart");
    let root = debian_root();
    host.config("sd-restart", &root, "");
    host.ok(&["start", "sd-restart"]);
    wait_booted(&host, "sd-restart");
    host.ok(&["restart", "sd-restart"]);
    assert_eq!(wait_booted(&host, "sd-restart"), "running");
    host.ok(&["stop", "sd-restart"]);
    host.assert_nothing_left("sd-restart", &root);
}

/// Two hosts booting systemd from one shared root: each its own stable
/// machine-id (the same after a restart), its own journal in its own layer,
/// and the shared /etc/machine-id left empty.
#[test]
fn two_systemd_hosts_on_one_root_have_distinct_stable_machine_ids() {
    let host = Host::new("sd-two");
    let root = debian_root();
    let shared_machine_id = root.join("etc/machine-id");
    assert_eq!(
        std::fs::metadata(&shared_machine_id).unwrap().len(),
        0,
        "the demo root ships an empty machine-id"
    );
    let names = ["sd-east", "sd-west"];
    for name in names {
        host.config(name, &root, &format!("hostname = \"{name}\""));
        host.ok(&["start", name]);
    }
    let mut ids = Vec::new();
    for name in names {
        assert_eq!(wait_booted(&host, name), "running");
        let failed = failed_units(&host, name);
        assert!(failed.is_empty(), "units failed in {name}: {failed:?}");
        let id = host.exec_ok(name, &["cat", "/etc/machine-id"]);
        assert_eq!(id.len(), 32, "{id}");
        // journald keeps this host's journal in its own layer.
        let journal = host
            .dir
            .join("lib/hosts")
            .join(name)
            .join("root/var/log/journal")
            .join(&id);
        wait_until(Duration::from_secs(10), "the journal directory", || {
            journal.is_dir()
        });
        ids.push(id);
    }
    assert_ne!(ids[0], ids[1], "two hosts share a machine-id");
    assert!(!root.join("var/log/journal").join(&ids[0]).exists());

    host.ok(&["restart", names[0]]);
    assert_eq!(wait_booted(&host, names[0]), "running");
    assert_eq!(host.exec_ok(names[0], &["cat", "/etc/machine-id"]), ids[0]);
    for name in names {
        host.ok(&["stop", name]);
    }
    for name in names {
        host.assert_nothing_left(name, &root);
    }
    assert_eq!(
        std::fs::metadata(&shared_machine_id).unwrap().len(),
        0,
        "the shared /etc/machine-id was written"
    );
}
