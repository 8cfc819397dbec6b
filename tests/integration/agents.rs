//! The cluster agents against real containers: `fence_vroot` in both of
//! its forms, and the OCF resource agent under Debian's `ocf-tester`. Both
//! run as links to the vroot binary, as `vroot install-agents` makes them.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use crate::harness::*;

struct Agents {
    fence: PathBuf,
    ocf: PathBuf,
}

fn install_agents(host: &Host) -> Agents {
    let root = host.dir.join("agents");
    let root_text = root.display().to_string();
    host.ok(&["install-agents", "--root", &root_text, "--binary", VROOT]);
    Agents {
        fence: root.join("usr/sbin/fence_vroot"),
        ocf: root.join("usr/lib/ocf/resource.d/vroot/container"),
    }
}

fn with_host_env(host: &Host, command: &mut Command) {
    for (var, sub) in [
        ("VROOT_CONFIG_DIR", "etc"),
        ("VROOT_STATE_DIR", "run"),
        ("VROOT_LOG_DIR", "log"),
        ("VROOT_LIB_DIR", "lib"),
    ] {
        command.env(var, host.dir.join(sub));
    }
}

fn fence_args(host: &Host, agents: &Agents, args: &[&str]) -> Output {
    let mut command = Command::new(&agents.fence);
    command.args(args).stdin(Stdio::null());
    with_host_env(host, &mut command);
    command.output().unwrap()
}

fn fence_stdin(host: &Host, agents: &Agents, input: &str) -> Output {
    let mut command = Command::new(&agents.fence);
    command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    with_host_env(host, &mut command);
    let mut child = command.spawn().unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn code(output: &Output) -> i32 {
    output.status.code().unwrap_or(-1)
}

#[test]
fn fence_vroot_speaks_the_fence_agent_protocol_on_a_real_container() {
    let host = Host::new("agent-fence");
    let root = busybox_root();
    host.config("node1", &root, "");
    host.config("node2", &root, "");
    let agents = install_agents(&host);

    let status = fence_args(&host, &agents, &["-o", "status", "-n", "node1"]);
    assert_eq!(code(&status), 2, "a stopped container is OFF");

    let on = fence_args(&host, &agents, &["--action=on", "--plug=node1"]);
    assert_eq!(code(&on), 0, "{}", text(&on.stderr));
    assert_eq!(host.status("node1").1["state"], "running");
    assert_eq!(
        code(&fence_args(
            &host,
            &agents,
            &["-o", "status", "-n", "node1"]
        )),
        0
    );

    let listed = fence_args(&host, &agents, &["-o", "list"]);
    assert_eq!(code(&listed), 0);
    assert_eq!(text(&listed.stdout), "node1,\nnode2,\n");
    let list_status = fence_args(&host, &agents, &["-o", "list-status"]);
    assert_eq!(text(&list_status.stdout), "node1,,ON\nnode2,,OFF\n");

    // The stdin form, with `port` for `plug`, `-` for `_` and unknown keys.
    let init = host.init_pid("node1");
    let off = fence_stdin(
        &host,
        &agents,
        "# from stonithd\naction=off\nport=node1\npower-timeout=10\nunknown_key=1\n",
    );
    assert_eq!(code(&off), 0, "{}", text(&off.stderr));
    assert!(text(&off.stdout).contains("Success: Powered OFF"));
    wait_process_gone(init);
    assert!(processes_in_cgroup("node1").is_empty());
    assert_eq!(host.status("node1").1["state"], "fenced");
    let status = fence_stdin(&host, &agents, "action=status\nplug=node1\n");
    assert_eq!(code(&status), 2, "a fenced container is OFF");
    let again = fence_stdin(&host, &agents, "action=off\nplug=node1\n");
    assert_eq!(code(&again), 0);
    assert!(text(&again.stdout).contains("Already OFF"));
    // Nothing but `on` brings a fenced container back.
    assert_eq!(host.vroot(&["start", "node1"]).status.code(), Some(6));

    let reboot = fence_args(&host, &agents, &["-o", "reboot", "-n", "node1"]);
    assert_eq!(code(&reboot), 0, "{}", text(&reboot.stderr));
    assert_eq!(host.status("node1").1["state"], "running");
    let rebooted = host.init_pid("node1");
    let reboot = fence_args(&host, &agents, &["-o", "reboot", "-n", "node1"]);
    assert_eq!(code(&reboot), 0, "{}", text(&reboot.stderr));
    assert_ne!(host.init_pid("node1"), rebooted, "reboot made a new init");

    assert_eq!(code(&fence_args(&host, &agents, &["-o", "monitor"])), 0);
    let unknown = fence_args(&host, &agents, &["-o", "off", "-n", "nosuch"]);
    assert_eq!(code(&unknown), 1);
    assert!(text(&unknown.stderr).contains("nosuch"));
    let bad = fence_args(&host, &agents, &["-o", "explode", "-n", "node1"]);
    assert_eq!(code(&bad), 1);
    let metadata = fence_args(&host, &agents, &["-o", "metadata"]);
    assert_eq!(code(&metadata), 0);
    assert!(text(&metadata.stdout).contains("<resource-agent name=\"fence_vroot\""));
    assert_eq!(
        code(&fence_stdin(
            &host,
            &agents,
            "action=validate-all\nplug=node1\n"
        )),
        0
    );

    assert_eq!(
        code(&fence_args(&host, &agents, &["-o", "off", "-n", "node1"])),
        0
    );
    host.ok(&["unfence", "node1"]);
    host.assert_nothing_left("node1", &root);
}

#[test]
fn the_ocf_agent_passes_ocf_tester_with_a_real_container() {
    let host = Host::new("agent-ocf");
    let root = busybox_root();
    host.config("res", &root, "");
    let agents = install_agents(&host);
    let mut command = Command::new("ocf-tester");
    command
        .args(["-n", "vroot-res", "-o", "name=res"])
        .arg(&agents.ocf)
        .stdin(Stdio::null());
    with_host_env(&host, &mut command);
    let output = command
        .output()
        .expect("run ocf-tester (package resource-agents)");
    let report = format!("{}{}", text(&output.stdout), text(&output.stderr));
    assert!(output.status.success(), "ocf-tester failed:\n{report}");
    assert!(report.contains("passed all tests"), "{report}");
    // ocf-tester ends with stop: nothing is left.
    host.assert_nothing_left("res", &root);

    // The agent's monitor follows the container, also when it stops by itself.
    let ocf = |action: &str| {
        let mut command = Command::new(&agents.ocf);
        command.arg(action).env("OCF_RESKEY_name", "res");
        with_host_env(&host, &mut command);
        code(&command.output().unwrap())
    };
    assert_eq!(ocf("monitor"), 7);
    assert_eq!(ocf("start"), 0);
    assert_eq!(ocf("monitor"), 0);
    host.ok(&["stop", "res"]);
    assert_eq!(ocf("monitor"), 7);
    assert_eq!(ocf("promote"), 3);
}
