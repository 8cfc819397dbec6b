//! `vroot stop --all`: stop every container on this host, for a shutdown
//! without systemd (`vroot stop --all && vroot storage umount`).
//!
//! The containers stop concurrently, so that a host shutdown takes about one
//! `stop_timeout`, not one per container. Each is stopped by a child
//! `vroot stop NAME` rather than by a thread calling the library: a stop may
//! fork helpers, and this process must never fork while multi-threaded.

use std::io::Write;
use std::path::Path;
use std::process::{Child, Command, ExitCode, Stdio};

use anyhow::{Context, Result};
use vroot_runtime::lifecycle::inspect;
use vroot_runtime::paths::HostPaths;

pub fn stop_all(paths: &HostPaths, timeout: Option<u64>, kill: bool) -> Result<ExitCode> {
    let (names, mut failed) = containers_to_stop(paths);
    if names.is_empty() && !failed {
        println!("no container is running");
        return Ok(ExitCode::SUCCESS);
    }
    let program = std::env::current_exe().context("cannot find the vroot binary to run")?;
    // All are started before any is waited for: that is the concurrency.
    let children: Vec<(String, std::io::Result<Child>)> = names
        .into_iter()
        .map(|name| {
            let child = stop_command(&program, &name, timeout, kill).spawn();
            (name, child)
        })
        .collect();
    // Reported in name order, each once its own stop has finished.
    for (name, child) in children {
        if !report(&program, &name, child) {
            failed = true;
        }
    }
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// The containers that have a state directory, sorted by name, and whether
/// some container's state could not be read (it may be running: that is a
/// failure, so that the storage is not unmounted under it).
///
/// The state directory is what decides: every container with something to
/// stop has one — running, starting, stopping, fenced by the watchdog (its
/// supervisor waits to start it again), or left behind by a crash (status
/// says stopped, but its cgroup, network and state still need cleaning up).
/// A container that was never started, was stopped cleanly, or is kept down
/// by a fence marker alone has none and is not mentioned.
fn containers_to_stop(paths: &HostPaths) -> (Vec<String>, bool) {
    let mut names = Vec::new();
    let mut failed = false;
    for listed in inspect::list(paths) {
        match listed {
            Ok(status) => {
                if paths.container_state_dir(&status.name).is_dir() {
                    names.push(status.name);
                }
            }
            // Its state directory and config vanished after the listing: it
            // was just stopped by someone else.
            Err(error) if error.is_unknown_container() => {}
            Err(error) => {
                eprintln!("vroot: {error}");
                failed = true;
            }
        }
    }
    (names, failed)
}

/// `vroot stop NAME` with this process's options. The environment is
/// inherited: the `VROOT_*` variables carry the host's paths.
fn stop_command(program: &Path, name: &str, timeout: Option<u64>, kill: bool) -> Command {
    let mut command = Command::new(program);
    command.arg("stop").arg(name);
    if let Some(timeout) = timeout {
        command.arg("--timeout").arg(timeout.to_string());
    }
    if kill {
        command.arg("--kill");
    }
    // Piped, so that concurrent stops' lines do not interleave mid-line.
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

/// Waits for one child stop and passes its lines on; true if it succeeded.
fn report(program: &Path, name: &str, child: std::io::Result<Child>) -> bool {
    let output = match child.and_then(Child::wait_with_output) {
        Ok(output) => output,
        Err(error) => {
            eprintln!(
                "vroot: {name}: cannot run `{} stop {name}`: {error}",
                program.display()
            );
            return false;
        }
    };
    // The child's own lines already name the container (`web: stopped`,
    // `vroot: container web: …`).
    let _ = std::io::stdout().write_all(&output.stdout);
    let _ = std::io::stderr().write_all(&output.stderr);
    if output.status.success() {
        return true;
    }
    // A child that said nothing (killed by a signal, say) still gets a line.
    if output.stderr.is_empty() {
        eprintln!("vroot: {name}: stop failed ({})", output.status);
    }
    false
}
