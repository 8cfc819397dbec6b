//! Bad input: a one-line error that names the problem, a non-zero exit, and
//! nothing left behind.

use std::path::Path;

use crate::harness::*;

/// Runs a failing vroot command and checks the shape of its error.
fn assert_clean_failure(host: &Host, args: &[&str], expected: &str) -> i32 {
    let output = host.vroot(args);
    let stderr = text(&output.stderr);
    assert!(!output.status.success(), "vroot {args:?} should fail");
    assert_eq!(
        stderr.trim_end().lines().count(),
        1,
        "the error must be one line: {stderr:?}"
    );
    assert!(
        stderr.contains(expected),
        "vroot {args:?}: {stderr:?} does not mention {expected:?}"
    );
    output.status.code().unwrap()
}

fn assert_no_trace(host: &Host, name: &str) {
    assert!(
        !host.state_dir().join(name).exists(),
        "a state directory is left for {name}"
    );
    for dir in cgroup_dirs(name) {
        assert!(!dir.exists(), "cgroup {} is left", dir.display());
    }
}

#[test]
fn bad_configs_are_refused_and_leave_nothing() {
    let host = Host::new("bad-configs");
    let busybox = busybox_root();

    host.config("err-noroot", Path::new("/nonexistent/vroot-root"), "");
    assert_clean_failure(
        &host,
        &["start", "err-noroot"],
        "root /nonexistent/vroot-root does not exist",
    );
    assert_no_trace(&host, "err-noroot");

    let empty_root = host.dir.join("empty-root");
    std::fs::create_dir_all(&empty_root).unwrap();
    host.config("err-noinit", &empty_root, "");
    assert_clean_failure(
        &host,
        &["start", "err-noinit"],
        "init /sbin/init is not an executable file",
    );
    assert_no_trace(&host, "err-noinit");

    host.raw_config("err-toml", "root = \n");
    assert_clean_failure(&host, &["start", "err-toml"], "err-toml.toml line 1");
    assert_no_trace(&host, "err-toml");

    host.config("err-key", &busybox, "colour = \"blue\"");
    assert_clean_failure(&host, &["start", "err-key"], "unknown key `colour`");
    assert_no_trace(&host, "err-key");

    host.config("err-signal", &busybox, "halt_signal = \"SIGBOGUS\"");
    assert_clean_failure(&host, &["start", "err-signal"], "`halt_signal`");
    assert_no_trace(&host, "err-signal");

    // A root whose own mount point is missing: vroot never creates it there.
    let no_proc = host.dir.join("root-without-proc");
    std::fs::create_dir_all(no_proc.join("sbin")).unwrap();
    std::fs::copy(busybox.join("bin/busybox"), no_proc.join("sbin/init")).unwrap();
    host.config("err-noproc", &no_proc, "");
    assert_clean_failure(
        &host,
        &["start", "err-noproc"],
        "the shared root has no directory",
    );
    assert!(
        !no_proc.join("proc").exists(),
        "vroot wrote into the shared root"
    );
    assert_no_trace(&host, "err-noproc");
}

#[test]
fn bad_names_and_unknown_containers() {
    let host = Host::new("bad-names");
    for name in ["../etc", "a/b", ".hidden", "bad name", "ünï"] {
        assert_clean_failure(&host, &["start", name], "invalid container name");
    }
    assert_eq!(
        assert_clean_failure(&host, &["stop", "nosuch"], "unknown container `nosuch`"),
        4
    );
    assert_eq!(
        assert_clean_failure(&host, &["status", "nosuch"], "unknown container `nosuch`"),
        4
    );
    assert_clean_failure(
        &host,
        &["exec", "nosuch", "--", "true"],
        "unknown container `nosuch`",
    );
    assert_clean_failure(&host, &["spec", "nosuch"], "unknown container `nosuch`");
}

#[test]
fn running_and_stopped_containers_refuse_the_wrong_operation() {
    let host = Host::new("wrong-op");
    let root = busybox_root();
    host.config("err-twice", &root, "");
    // Stopped: status says so (3), stop is a no-op, exec is refused.
    assert_eq!(host.status("err-twice").0, 3);
    assert!(host.ok(&["stop", "err-twice"]).contains("already stopped"));
    let exec = host.exec("err-twice", &["true"]);
    assert_eq!(exec.status.code(), Some(125));
    assert!(text(&exec.stderr).contains("container err-twice is not running"));

    host.ok(&["start", "err-twice"]);
    let init = host.init_pid("err-twice");
    assert_clean_failure(
        &host,
        &["start", "err-twice"],
        "container err-twice is already running",
    );
    assert_eq!(
        host.init_pid("err-twice"),
        init,
        "a refused start must not disturb the running container"
    );
    host.ok(&["stop", "err-twice"]);
    assert!(host.ok(&["stop", "err-twice"]).contains("already stopped"));
    host.assert_nothing_left("err-twice", &root);
}

#[test]
fn two_concurrent_starts_have_exactly_one_winner() {
    let host = Host::new("concurrent");
    let root = busybox_root();
    host.config("race", &root, "");
    for round in 0..5 {
        let first = host
            .command(&["start", "race"])
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let second = host
            .command(&["start", "race"])
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let outputs = [
            first.wait_with_output().unwrap(),
            second.wait_with_output().unwrap(),
        ];
        let winners = outputs.iter().filter(|o| o.status.success()).count();
        assert_eq!(winners, 1, "round {round}: {} winners", winners);
        let loser = outputs.iter().find(|o| !o.status.success()).unwrap();
        let message = text(&loser.stderr);
        assert!(
            message.contains("already running") || message.contains("is busy"),
            "round {round}: {message}"
        );
        assert_eq!(host.status("race").0, 0);
        host.ok(&["stop", "race", "--kill"]);
        host.assert_nothing_left("race", &root);
    }
}

#[test]
fn a_restart_with_a_broken_config_keeps_the_container_running() {
    let host = Host::new("restart-broken");
    let root = busybox_root();
    host.config("keep", &root, "");
    host.ok(&["start", "keep"]);
    let init = host.init_pid("keep");
    host.config("keep", &root, "colour = \"blue\"");
    assert_clean_failure(&host, &["restart", "keep"], "unknown key `colour`");
    assert_eq!(
        host.init_pid("keep"),
        init,
        "the refused restart must not have stopped it"
    );
    host.config("keep", &root, "");
    host.ok(&["stop", "keep"]);
    host.assert_nothing_left("keep", &root);
}

#[test]
fn list_shows_a_container_whose_state_cannot_be_read() {
    let host = Host::new("list-broken");
    host.config("fine", &busybox_root(), "");
    let broken = host.state_dir().join("broken");
    std::fs::create_dir_all(&broken).unwrap();
    std::fs::write(broken.join("state.json"), b"{ not json").unwrap();
    let output = host.vroot(&["list"]);
    assert!(output.status.success());
    assert!(
        text(&output.stdout).contains("fine"),
        "{}",
        text(&output.stdout)
    );
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains("broken") && stderr.contains("is corrupt"),
        "{stderr}"
    );
}
