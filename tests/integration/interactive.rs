//! exec, enter and console: the user-facing ways into a running container.

use std::io::{Read, Write};
use std::process::Stdio;
use std::time::Duration;

use crate::harness::*;

#[test]
fn exec_passes_stdio_and_exit_codes_with_a_clean_environment() {
    let host = Host::new("exec");
    let root = busybox_root();
    host.config("ex", &root, "hostname = \"exec-node\"");
    host.ok(&["start", "ex"]);

    assert_eq!(
        host.exec("ex", &["sh", "-c", "exit 7"]).status.code(),
        Some(7)
    );
    assert_eq!(
        host.exec("ex", &["no-such-program"]).status.code(),
        Some(127)
    );

    let mut child = host
        .command(&["exec", "ex", "--", "sh", "-c", "tr a-z A-Z; echo err >&2"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"through stdin\n")
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert_eq!(text(&output.stdout), "THROUGH STDIN\n");
    assert_eq!(text(&output.stderr), "err\n");

    let env = host
        .command(&["exec", "ex", "--", "env"])
        .env("VROOT_TEST_LEAK", "secret")
        .output()
        .unwrap();
    let env = text(&env.stdout);
    assert!(env.contains("container=vroot"), "{env}");
    assert!(
        !env.contains("VROOT_TEST_LEAK"),
        "the host environment leaked: {env}"
    );

    // The same capability bounding set as the init.
    let init_caps = host.exec_ok("ex", &["grep", "CapBnd", "/proc/1/status"]);
    assert_eq!(
        host.exec_ok("ex", &["grep", "CapBnd", "/proc/self/status"]),
        init_caps
    );
    assert_ne!(
        init_caps,
        std::fs::read_to_string("/proc/self/status")
            .unwrap()
            .lines()
            .find(|l| l.starts_with("CapBnd"))
            .unwrap()
    );
    // In the container's cgroup namespace, at its root.
    assert!(host
        .exec_ok("ex", &["cat", "/proc/self/cgroup"])
        .lines()
        .all(|line| line.ends_with(":/")));
    host.ok(&["stop", "ex"]);
}

#[test]
fn enter_runs_a_shell_on_a_pty_inside() {
    let host = Host::new("enter");
    let root = busybox_root();
    host.config("en", &root, "hostname = \"enter-node\"");
    host.ok(&["start", "en"]);
    let mut child = host
        .command(&["enter", "en"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"echo IN=$(hostname) TTY=$(tty)\nexit 3\n")
        .unwrap();
    let output = child.wait_with_output().unwrap();
    let shown = text(&output.stdout);
    assert!(shown.contains("IN=enter-node TTY=/dev/pts/"), "{shown}");
    assert_eq!(output.status.code(), Some(3));
    host.ok(&["stop", "en"]);
}

#[test]
fn console_shows_console_output_and_detaches_on_ctrl_bracket() {
    let host = Host::new("console");
    let root = busybox_root();
    host.config("con", &root, "");
    host.ok(&["start", "con"]);
    let mut child = host
        .command(&["console", "con"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    // The client says it is connected once the supervisor has answered the
    // attach: from then on, console output reaches it.
    let mut stderr_reader = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut connected = String::new();
    std::io::BufRead::read_line(&mut stderr_reader, &mut connected).unwrap();
    assert!(connected.contains("Press Ctrl-] to detach"), "{connected}");
    host.exec_ok(
        "con",
        &["sh", "-c", "echo hello-from-the-console > /dev/console"],
    );
    // Output on stdout (read by a thread, so that a missing line fails the
    // test instead of hanging it), then the escape key.
    let mut stdout_reader = child.stdout.take().unwrap();
    let (chunks, received) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        let mut buffer = [0u8; 4096];
        while let Ok(read) = stdout_reader.read(&mut buffer) {
            if read == 0
                || chunks
                    .send(String::from_utf8_lossy(&buffer[..read]).into_owned())
                    .is_err()
            {
                break;
            }
        }
    });
    let mut stdout = String::new();
    while !stdout.contains("hello-from-the-console") {
        match received.recv_timeout(Duration::from_secs(10)) {
            Ok(chunk) => stdout.push_str(&chunk),
            Err(_) => break,
        }
    }
    stdin.write_all(&[0x1d]).unwrap();
    let status = child.wait().unwrap();
    reader.join().unwrap();
    let mut stderr = String::new();
    stderr_reader.read_to_string(&mut stderr).unwrap();
    assert!(status.success(), "{stderr}");
    assert!(stdout.contains("hello-from-the-console"), "{stdout:?}");
    assert!(stderr.contains("Detached from the console"), "{stderr}");
    // The console is also kept in the host-local log.
    let log = std::fs::read_to_string(host.dir.join("log/con.console")).unwrap();
    assert!(log.contains("hello-from-the-console"));
    assert_eq!(
        host.status("con").0,
        0,
        "detaching must leave the container running"
    );
    host.ok(&["stop", "con"]);
}
