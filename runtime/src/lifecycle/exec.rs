//! `vroot exec` and `vroot enter`: run a program inside a running container,
//! in all its namespaces and its cgroup, with its capabilities and a clean
//! environment.

use std::ffi::CString;
use std::os::fd::{AsRawFd, OwnedFd};

use super::inspect::{check_name, find, require_config};
use super::terminal::{copy_window_size, relay, RawMode};
use super::LifecycleError;
use crate::capabilities;
use crate::cgroups::ContainerCgroup;
use crate::process::ProcessIdentity;
use crate::spec::{self, RuntimeSettings};

/// Exit code when vroot itself fails before the command runs (as podman).
pub const EXIT_RUNTIME_ERROR: i32 = 125;
const EXIT_CANNOT_EXECUTE: i32 = 126;
const EXIT_NOT_FOUND: i32 = 127;

struct Target {
    init: ProcessIdentity,
    pidfd: OwnedFd,
    settings: RuntimeSettings,
    cgroup: ContainerCgroup,
    /// The container's system-call filter, compiled before any fork: what
    /// runs through `exec` is filtered like the init's own children.
    seccomp: Option<Vec<libc::sock_filter>>,
}

fn target(paths: &crate::paths::HostPaths, name: &str) -> Result<Target, LifecycleError> {
    check_name(name)?;
    let not_running = || LifecycleError::NotRunning {
        name: name.to_string(),
    };
    let Some(found) = find(paths, name)? else {
        require_config(paths, name)?;
        return Err(not_running());
    };
    let state = found
        .state
        .filter(|_| found.init_alive)
        .ok_or_else(not_running)?;
    let init = state.init.ok_or_else(not_running)?;
    let pidfd = init.open_pidfd().map_err(|_| not_running())?;
    let spec_text =
        std::fs::read_to_string(found.files.spec_json()).map_err(|source| LifecycleError::Io {
            name: name.to_string(),
            what: "read the container's spec".into(),
            source,
        })?;
    let settings = spec::from_json(&spec_text)
        .and_then(|spec| RuntimeSettings::from_spec(&spec))
        .map_err(|source| LifecycleError::Spec {
            name: name.to_string(),
            source,
        })?;
    let cgroup =
        ContainerCgroup::on_host(&state.cgroup).map_err(|source| LifecycleError::Cgroup {
            name: name.to_string(),
            source,
        })?;
    let seccomp = settings
        .seccomp
        .as_deref()
        .map(crate::seccomp::compile)
        .transpose()
        .map_err(|error| LifecycleError::Supervisor(format!("container {name}: {error}")))?;
    Ok(Target {
        init,
        pidfd,
        settings,
        cgroup,
        seccomp,
    })
}

fn setns(pidfd: &OwnedFd, flags: libc::c_int) -> nix::Result<()> {
    // SAFETY: setns with a valid pidfd and namespace flags.
    if unsafe { libc::setns(pidfd.as_raw_fd(), flags) } == 0 {
        Ok(())
    } else {
        Err(nix::Error::last())
    }
}

const JOINED_NAMESPACES: libc::c_int = libc::CLONE_NEWNS
    | libc::CLONE_NEWIPC
    | libc::CLONE_NEWUTS
    | libc::CLONE_NEWNET
    | libc::CLONE_NEWCGROUP;

/// Why a forked child could not join the container.
#[derive(Debug, thiserror::Error)]
enum JoinError {
    #[error(transparent)]
    Cgroup(#[from] crate::cgroups::CgroupError),
    #[error("cannot join the namespaces of pid {pid}: {source}")]
    Namespaces { pid: i32, source: nix::Error },
    #[error("cannot chdir to /: {0}")]
    Chdir(nix::Error),
    #[error("cannot take root's ids in the container's user namespace: {0}")]
    RootIds(nix::Error),
    #[error(transparent)]
    Capabilities(#[from] crate::capabilities::CapabilityError),
    #[error(transparent)]
    Seccomp(#[from] crate::seccomp::SeccompError),
}

/// In a forked child: join the container completely. Everything but the PID
/// namespace, which the parent already set for its children.
fn join(target: &Target) -> Result<(), JoinError> {
    target
        .cgroup
        .attach_beside(std::process::id() as i32, target.init.pid)?;
    // With a user namespace, one setns through the pidfd joins it with the
    // others (the kernel orders them); then take its root's ids, as the
    // init did.
    let userns = target.settings.userns.is_some();
    let flags = JOINED_NAMESPACES | if userns { libc::CLONE_NEWUSER } else { 0 };
    setns(&target.pidfd, flags).map_err(|source| JoinError::Namespaces {
        pid: target.init.pid,
        source,
    })?;
    if userns {
        crate::container::take_root_ids().map_err(JoinError::RootIds)?;
    }
    nix::unistd::chdir("/").map_err(JoinError::Chdir)?;
    capabilities::restrict_to(&target.settings.capabilities)?;
    if let Some(program) = &target.seccomp {
        crate::seccomp::install(program)?;
    }
    // SAFETY: reset dispositions in this single-threaded child before exec.
    unsafe {
        for signal in [
            libc::SIGINT,
            libc::SIGQUIT,
            libc::SIGPIPE,
            libc::SIGTSTP,
            libc::SIGTTIN,
            libc::SIGTTOU,
        ] {
            libc::signal(signal, libc::SIG_DFL);
        }
    }
    Ok(())
}

/// Looks `program` up in the container's PATH (it is already our root) and execs it.
fn exec_in_container(command: &[String], env: &[String]) -> i32 {
    let to_c = |text: &str| CString::new(text).unwrap_or_default();
    let args: Vec<CString> = command.iter().map(|a| to_c(a)).collect();
    let envp: Vec<CString> = env.iter().map(|e| to_c(e)).collect();
    let program = &command[0];
    let candidates: Vec<String> = if program.contains('/') {
        vec![program.clone()]
    } else {
        let path = env
            .iter()
            .find_map(|e| e.strip_prefix("PATH="))
            .unwrap_or("/usr/sbin:/usr/bin:/sbin:/bin");
        path.split(':')
            .map(|dir| format!("{dir}/{program}"))
            .collect()
    };
    let mut last_error = nix::Error::ENOENT;
    for candidate in candidates {
        let error = nix::unistd::execve(&to_c(&candidate), &args, &envp).unwrap_err();
        if error != nix::Error::ENOENT {
            last_error = error;
        }
    }
    eprintln!(
        "vroot: cannot execute {program} in the container: {}",
        last_error.desc()
    );
    if last_error == nix::Error::ENOENT {
        EXIT_NOT_FOUND
    } else {
        EXIT_CANNOT_EXECUTE
    }
}

/// Waits for `pid` and returns its exit code, or 128 + signal. Raw wait
/// status: a command killed by a real-time signal is 128 + that signal too.
fn wait_status(pid: libc::pid_t) -> i32 {
    let mut status: libc::c_int = 0;
    loop {
        // SAFETY: waitpid on our own child with a valid status pointer.
        if unsafe { libc::waitpid(pid, &mut status, 0) } == pid {
            break;
        }
        if nix::Error::last() != nix::Error::EINTR {
            return EXIT_RUNTIME_ERROR;
        }
    }
    if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else if libc::WIFSIGNALED(status) {
        128 + libc::WTERMSIG(status)
    } else {
        EXIT_RUNTIME_ERROR
    }
}

/// Forks a child inside the container that runs `body`; returns its exit code.
fn run_inside(target: &Target, body: impl FnOnce() -> i32) -> Result<i32, LifecycleError> {
    let name = target.settings.name.clone();
    // Until it execs, the child is vroot's host binary with host fds, yet
    // visible inside the container from the moment it is forked. Non-dumpable
    // (inherited through fork; execve resets it), it cannot be ptraced nor its
    // /proc/PID/exe opened by unprivileged processes there. Container root
    // keeps CAP_SYS_PTRACE and is not stopped by this: that needs the
    // hardening issue's measures (a sealed copy of the binary, or a user
    // namespace).
    // SAFETY: PR_SET_DUMPABLE takes an integer and no pointers.
    if unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0) } != 0 {
        return Err(LifecycleError::Sys {
            name,
            what: "make vroot non-dumpable",
            source: nix::Error::last(),
        });
    }
    setns(&target.pidfd, libc::CLONE_NEWPID).map_err(|source| LifecycleError::Sys {
        name: name.clone(),
        what: "join the PID namespace",
        source,
    })?;
    // SAFETY: vroot is single-threaded; the child only joins the container and execs.
    match unsafe { libc::fork() } {
        -1 => Err(LifecycleError::Sys {
            name,
            what: "fork",
            source: nix::Error::last(),
        }),
        0 => {
            let code = match join(target) {
                Ok(()) => body(),
                Err(message) => {
                    eprintln!("vroot: container {name}: {message}");
                    EXIT_RUNTIME_ERROR
                }
            };
            // SAFETY: leave the child without running the parent's cleanup.
            unsafe { libc::_exit(code) }
        }
        child => {
            // Ctrl-C and Ctrl-\ belong to the command, as with system(3).
            // SAFETY: plain signal dispositions for this process.
            unsafe {
                libc::signal(libc::SIGINT, libc::SIG_IGN);
                libc::signal(libc::SIGQUIT, libc::SIG_IGN);
            }
            Ok(wait_status(child))
        }
    }
}

/// Runs `command` in the container with stdio passed through; returns its exit code.
pub fn exec(
    paths: &crate::paths::HostPaths,
    name: &str,
    command: &[String],
) -> Result<i32, LifecycleError> {
    let target = target(paths, name)?;
    let env = target.settings.env.clone();
    run_inside(&target, || exec_in_container(command, &env))
}

/// An interactive login shell on a pty of the container's own devpts.
pub fn enter(paths: &crate::paths::HostPaths, name: &str) -> Result<i32, LifecycleError> {
    let target = target(paths, name)?;
    let env = target.settings.env.clone();
    let _raw = RawMode::enter();
    run_inside(&target, || shell_on_pty(&env))
}

/// Inside the container: open a pty there, run the shell on it in a child,
/// relay the user's terminal to it.
fn shell_on_pty(env: &[String]) -> i32 {
    let pty = match nix::pty::openpty(None, None) {
        Ok(pty) => pty,
        Err(error) => {
            eprintln!("vroot: cannot open a pty in the container: {error}");
            return EXIT_RUNTIME_ERROR;
        }
    };
    copy_window_size(pty.master.as_raw_fd());
    // SAFETY: this process is single-threaded (a child of vroot).
    match unsafe { libc::fork() } {
        -1 => EXIT_RUNTIME_ERROR,
        0 => {
            drop(pty.master);
            let _ = nix::unistd::setsid();
            // SAFETY: make the pty slave our controlling terminal.
            unsafe { libc::ioctl(pty.slave.as_raw_fd(), libc::TIOCSCTTY, 0) };
            for fd in 0..=2 {
                let _ = nix::unistd::dup2(pty.slave.as_raw_fd(), fd);
            }
            drop(pty.slave);
            let shell = if std::path::Path::new("/bin/bash").exists() {
                "/bin/bash"
            } else {
                "/bin/sh"
            };
            let code = exec_in_container(&[shell.to_string(), "-l".to_string()], env);
            // SAFETY: leave the child at once.
            unsafe { libc::_exit(code) }
        }
        shell => {
            drop(pty.slave);
            relay(pty.master.as_raw_fd(), None);
            wait_status(shell)
        }
    }
}
