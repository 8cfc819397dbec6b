//! A Debian root with SysVinit 3.06 as PID 1: it powers off only through its
//! control FIFO (runlevel 0), and `reboot`/`halt` inside end it by the
//! kernel's SIGHUP/SIGINT rule.

use std::time::Duration;

use crate::harness::*;

fn wait_runlevel(host: &Host, name: &str, level: &str) {
    wait_until(Duration::from_secs(60), "the runlevel", || {
        host.exec(name, &["runlevel"])
            .stdout
            .ends_with(format!(" {level}\n").as_bytes())
    });
}

#[test]
fn sysvinit_stops_cleanly_through_initctl() {
    let host = Host::new("sysv-stop");
    let root = sysvinit_root();
    host.config(
        "sysv-stop",
        &root,
        "hostname = \"sysv-node\"\nstop_timeout = 30",
    );
    host.ok(&["start", "sysv-stop"]);
    wait_runlevel(&host, "sysv-stop", "2");
    assert_eq!(host.exec_ok("sysv-stop", &["hostname"]), "sysv-node");
    let stopped = host.ok(&["stop", "sysv-stop"]);
    assert!(
        stopped.contains("sysv-stop: stopped") && !stopped.contains("killed"),
        "{stopped}"
    );
    assert!(
        host.log("sysv-stop")
            .contains("asked the sysvinit init for runlevel 0 through /run/initctl"),
        "{}",
        host.log("sysv-stop")
    );
    host.assert_nothing_left("sysv-stop", &root);
}

#[test]
fn sysvinit_reboot_and_halt_inside() {
    let host = Host::new("sysv-reboot");
    let root = sysvinit_root();
    host.config("sysv-reboot", &root, "");
    host.ok(&["start", "sysv-reboot"]);
    wait_runlevel(&host, "sysv-reboot", "2");
    let supervisor = host.supervisor_pid("sysv-reboot");
    let _ = host.exec("sysv-reboot", &["reboot"]);
    wait_until(Duration::from_secs(60), "the reboot", || {
        host.status("sysv-reboot").1["boot_count"] == 2
    });
    wait_runlevel(&host, "sysv-reboot", "2");
    assert_eq!(host.supervisor_pid("sysv-reboot"), supervisor);
    let supervisor = host.supervisor_pid("sysv-reboot");
    let _ = host.exec("sysv-reboot", &["halt"]);
    wait_until(Duration::from_secs(60), "the halt", || {
        host.status("sysv-reboot").0 == 3
    });
    wait_process_gone(supervisor);
    host.assert_nothing_left("sysv-reboot", &root);
}
