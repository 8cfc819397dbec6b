//! `vroot stop --all`: every container with something to stop is stopped,
//! the others are left alone and unmentioned. That the stops run
//! concurrently is not tested here: a timed assertion would be flaky.

use std::time::Duration;

use crate::harness::*;

#[test]
fn stop_all_stops_every_running_container_and_nothing_else() {
    let host = Host::new("stop-all");
    let root = busybox_root();
    let running = ["sa-one", "sa-two", "sa-three"];
    for name in running {
        host.config(name, &root, "");
        host.ok(&["start", name]);
    }
    host.config("sa-idle", &root, "");

    let stopped = host.ok(&["stop", "--all"]);
    for name in running {
        assert!(
            stopped
                .lines()
                .any(|line| line == format!("{name}: stopped")),
            "{name} is not reported stopped: {stopped}"
        );
        host.assert_nothing_left(name, &root);
        assert_eq!(host.status(name).0, 3);
    }
    assert!(
        !stopped.contains("sa-idle"),
        "a container never started is mentioned: {stopped}"
    );
    assert_eq!(host.status("sa-idle").0, 3);

    assert_eq!(
        host.ok(&["stop", "--all"]).trim(),
        "no container is running"
    );
}

#[test]
fn stop_all_cleans_up_after_a_crash() {
    let host = Host::new("stop-all-crash");
    let root = busybox_root();
    host.config("sa-crashed", &root, "");
    host.ok(&["start", "sa-crashed"]);
    // Supervisor and init both die: status says stopped, but the state
    // directory and the cgroup are left behind.
    let init = host.init_pid("sa-crashed");
    let supervisor = host.supervisor_pid("sa-crashed");
    for pid in [supervisor, init] {
        // SAFETY: kill(2) on pids taken from vroot status.
        unsafe { libc::kill(pid, libc::SIGKILL) };
    }
    wait_until(Duration::from_secs(5), "the crash", || {
        host.status("sa-crashed").0 == 3
    });
    assert!(host.state_dir().join("sa-crashed").exists());

    let stopped = host.ok(&["stop", "--all"]);
    assert!(stopped.contains("sa-crashed: "), "{stopped}");
    host.assert_nothing_left("sa-crashed", &root);
}

#[test]
fn stop_needs_exactly_one_of_a_name_and_all() {
    let host = Host::new("stop-all-usage");
    host.config("sa-usage", &busybox_root(), "");
    for args in [&["stop"][..], &["stop", "--all", "sa-usage"]] {
        let output = host.vroot(args);
        assert_eq!(
            output.status.code(),
            Some(2),
            "vroot {args:?}: {}",
            text(&output.stderr)
        );
        assert!(
            text(&output.stderr).starts_with("error: "),
            "vroot {args:?}: {}",
            text(&output.stderr)
        );
    }
}
