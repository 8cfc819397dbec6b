//! The supervisor killed with SIGKILL: status still tells the truth, stop
//! still cleans up, and a crashed run is recovered by the next start.

use std::time::Duration;

use crate::harness::*;

fn kill(pid: i32) {
    // SAFETY: kill(2) on a pid taken from vroot status.
    unsafe { libc::kill(pid, libc::SIGKILL) };
}

#[test]
fn stop_cleans_up_after_a_killed_supervisor() {
    let host = Host::new("sup-killed");
    let root = busybox_root();
    host.config("orphan", &root, "");
    host.ok(&["start", "orphan"]);
    let init = host.init_pid("orphan");
    kill(host.supervisor_pid("orphan"));
    wait_until(Duration::from_secs(5), "the supervisor's death", || {
        host.status("orphan").1["supervisor_alive"] == false
    });

    let (code, status) = host.status("orphan");
    assert_eq!(code, 0, "the container still runs: {status}");
    assert_eq!(status["state"], "running");
    assert_eq!(status["init_pid"], init);
    assert!(host.ok(&["status", "orphan"]).contains("supervisor DEAD"));
    assert_eq!(
        host.exec_ok("orphan", &["echo", "still here"]),
        "still here"
    );

    let refused = host.vroot(&["start", "orphan"]);
    assert!(!refused.status.success());
    assert!(text(&refused.stderr).contains("its supervisor is gone; run `vroot stop orphan` first"));

    let stopped = host.ok(&["stop", "orphan"]);
    assert!(stopped.contains("orphan: stopped"), "{stopped}");
    host.assert_nothing_left("orphan", &root);
}

#[test]
fn a_crashed_run_is_recovered_by_the_next_start() {
    let host = Host::new("sup-crash");
    let root = busybox_root();
    host.config("crashed", &root, "");
    host.ok(&["start", "crashed"]);
    // Supervisor and init both die: state and cgroup are left behind.
    let init = host.init_pid("crashed");
    kill(host.supervisor_pid("crashed"));
    kill(init);
    wait_until(Duration::from_secs(5), "the init's death", || {
        !std::path::Path::new(&format!("/proc/{init}/stat")).exists()
            || host.status("crashed").0 == 3
    });
    assert_eq!(
        host.status("crashed").0,
        3,
        "a dead container must report stopped"
    );
    assert!(
        host.state_dir().join("crashed").exists(),
        "the crash leaves its state behind"
    );

    host.ok(&["start", "crashed"]);
    assert_eq!(host.exec_ok("crashed", &["echo", "recovered"]), "recovered");
    host.ok(&["stop", "crashed"]);
    host.assert_nothing_left("crashed", &root);
}
