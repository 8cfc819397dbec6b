//! What `start --verbose` and a slow `stop` tell the user: the steps with
//! their times and what a wait is for, on stderr; the result on stdout.

use crate::harness::{busybox_root, text, Host};

#[test]
fn a_verbose_start_lists_its_steps_and_a_slow_stop_says_what_it_waits_for() {
    let host = Host::new("progress");
    // An init that ignores the poweroff signal it is told about: the stop
    // waits its whole timeout before the kill.
    host.config(
        "prog",
        &busybox_root(),
        "init = [\"/bin/sh\", \"-c\", \"trap '' TERM; while :; do sleep 1; done\"]\n\
         halt_signal = \"SIGTERM\"\nstop_timeout = 5\n",
    );
    let started = host.vroot(&["start", "--verbose", "prog"]);
    assert!(started.status.success(), "{}", text(&started.stderr));
    let stdout = text(&started.stdout);
    assert!(
        stdout.starts_with("prog: started (init pid ") && stdout.trim_end().ends_with(" ms"),
        "{stdout}"
    );
    let steps = text(&started.stderr);
    for step in [
        "prog: not fenced; shared storage answers (",
        "prog: per-host layer filled (",
        "prog: cgroup created (",
        "prog: init set up (namespaces, mounts, /dev) and running (",
    ] {
        assert!(steps.contains(step), "no `{step}` in:\n{steps}");
    }
    // Without --verbose: the one-line summary only.
    host.ok(&["stop", "--kill", "prog"]);
    let quiet = host.vroot(&["start", "prog"]);
    assert_eq!(text(&quiet.stderr), "");

    let stopped = host.vroot(&["stop", "prog"]);
    assert!(stopped.status.success());
    assert!(text(&stopped.stdout).contains("prog: stopped (killed"));
    let waits = text(&stopped.stderr);
    let lines: Vec<&str> = waits
        .lines()
        .filter(|line| line.starts_with("prog: waiting for the container to power off: "))
        .collect();
    assert!(
        !lines.is_empty() && lines.iter().all(|line| line.ends_with(" of 5.0 s")),
        "{waits}"
    );
}
