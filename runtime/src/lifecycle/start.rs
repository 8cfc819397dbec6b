//! `vroot start`: validate, render the spec, claim the container's state
//! directory, and run its supervisor (forked, or in the foreground).

use std::io::Read;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::Path;
use std::time::Duration;

use super::inspect::{check_name, find};
use super::{teardown, LifecycleError};
use crate::cgroups::ContainerCgroup;
use crate::config::ContainerConfig;
use crate::lock::{self, HeldLock};
use crate::paths::HostPaths;
use crate::spec::{self, RuntimeSettings};
use crate::state::Phase;
use crate::supervisor::{self, Reporter, SETUP_TIMEOUT};

pub enum Started {
    /// The supervisor runs in the background; the init runs.
    Background { init_pid: i32 },
    /// `--foreground`: the container has stopped; this is the exit code.
    Foreground { exit_code: i32 },
}

/// Everything `start` checks before it makes anything: the config, the spec
/// and the root. `restart` runs it before stopping, so that a broken config
/// does not leave the container down.
pub fn check(
    paths: &HostPaths,
    name: &str,
) -> Result<(ContainerConfig, oci_spec::runtime::Spec), LifecycleError> {
    check_name(name)?;
    let config = ContainerConfig::load(&paths.config_dir, name)?;
    let spec =
        spec::render(&config, &host_name(), &paths.host_layer_dir(name)).map_err(|source| {
            LifecycleError::Spec {
                name: name.to_string(),
                source,
            }
        })?;
    preflight(&config)?;
    Ok((config, spec))
}

pub fn start(paths: &HostPaths, name: &str, foreground: bool) -> Result<Started, LifecycleError> {
    let (_config, spec) = check(paths, name)?;
    let host_layer = paths.host_layer_dir(name);
    write_identity(&host_layer, &spec).map_err(|source| LifecycleError::Io {
        name: name.to_string(),
        what: format!("write the identity files in {}", host_layer.display()),
        source,
    })?;
    let owner_lock = claim_state_dir(paths, name)?;
    let spec_json = spec::to_json(&spec).map_err(|source| LifecycleError::Spec {
        name: name.to_string(),
        source,
    })?;
    let files = crate::paths::StateFiles::new(&paths.container_state_dir(name));
    if let Err(source) = crate::state::write_atomic(&files.spec_json(), spec_json.as_bytes()) {
        let _ = teardown::remove_state_dir(&paths.state_dir, &files);
        return Err(LifecycleError::State {
            name: name.to_string(),
            source,
        });
    }
    if foreground {
        let exit_code = supervisor::run(spec, paths.clone(), owner_lock, Reporter::Stderr);
        return Ok(Started::Foreground { exit_code });
    }
    start_in_background(paths, name, spec, owner_lock)
}

/// Writes the per-host identity files the spec binds over the root's own.
fn write_identity(host_layer: &Path, spec: &oci_spec::runtime::Spec) -> std::io::Result<()> {
    let settings = RuntimeSettings::from_spec(spec)
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e.to_string()))?;
    std::fs::create_dir_all(host_layer)?;
    for (file, content) in [
        ("machine-id", &settings.machine_id),
        ("hostname", &settings.hostname),
    ] {
        let path = host_layer.join(file);
        let wanted = format!("{content}\n");
        if std::fs::read_to_string(&path).ok().as_deref() != Some(wanted.as_str()) {
            crate::state::write_durable(&path, wanted.as_bytes())
                .map_err(|e| std::io::Error::other(e.to_string()))?;
        }
    }
    Ok(())
}

/// Checks what can be checked before anything is made.
fn preflight(config: &ContainerConfig) -> Result<(), LifecycleError> {
    let name = config.name.clone();
    if !config.root.is_dir() {
        return Err(LifecycleError::RootMissing {
            name,
            root: config.root.clone(),
            config: config.source.clone(),
        });
    }
    let init_missing = || LifecycleError::InitMissing {
        name: config.name.clone(),
        init: config.init[0].clone(),
        root: config.root.clone(),
        config: config.source.clone(),
    };
    let root_fd = nix::fcntl::open(
        &config.root,
        nix::fcntl::OFlag::O_PATH | nix::fcntl::OFlag::O_DIRECTORY | nix::fcntl::OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .map_err(|source| LifecycleError::Sys {
        name: name.clone(),
        what: "open the root",
        source,
    })?;
    // SAFETY: open returned a new fd that nothing else owns.
    let root_fd = unsafe { OwnedFd::from_raw_fd(root_fd) };
    let init_fd = crate::container::open_in_root(&root_fd, Path::new(&config.init[0]), 0)
        .map_err(|_| init_missing())?;
    let stat = nix::sys::stat::fstat(init_fd.as_raw_fd()).map_err(|_| init_missing())?;
    let is_file = stat.st_mode & libc::S_IFMT == libc::S_IFREG;
    if !is_file || stat.st_mode & 0o111 == 0 {
        return Err(init_missing());
    }
    ContainerCgroup::on_host(&format!("/{}/{}", spec::CGROUP_PARENT, config.name))
        .map_err(|source| LifecycleError::Cgroup { name, source })?;
    Ok(())
}

/// Creates `/run/vroot/NAME/` and takes its owner lock, under the state-root
/// lock: of two concurrent starts exactly one gets here. A directory left by
/// a crash, with no owner and no live init, is cleaned up first.
fn claim_state_dir(paths: &HostPaths, name: &str) -> Result<HeldLock, LifecycleError> {
    let io = |what: String| {
        move |source| LifecycleError::Io {
            name: name.to_string(),
            what,
            source,
        }
    };
    std::fs::create_dir_all(&paths.state_dir)
        .map_err(io(format!("create {}", paths.state_dir.display())))?;
    let lock_error = |source| LifecycleError::Lock {
        name: name.to_string(),
        source,
    };
    let _root_lock = loop {
        let root_lock = lock::lock_with_timeout(&paths.state_dir, false, Duration::from_secs(5))
            .map_err(lock_error)?;
        let Some(found) = find(paths, name)? else {
            break root_lock;
        };
        if found.owner_alive {
            let what = match found.state.as_ref().map(|s| s.phase) {
                Some(Phase::Running) => {
                    return Err(LifecycleError::AlreadyActive {
                        name: name.to_string(),
                        what: "running",
                    })
                }
                Some(Phase::Stopping) => "it is stopping",
                _ => "it is starting",
            };
            return Err(LifecycleError::Busy {
                name: name.to_string(),
                what: what.to_string(),
            });
        }
        if found.init_alive {
            let pid = found.state.and_then(|s| s.init).map(|i| i.pid).unwrap_or(0);
            return Err(LifecycleError::OrphanedInit {
                name: name.to_string(),
                pid,
            });
        }
        // A run that crashed: become its owner, then clean its cgroup without
        // the state-root lock (killing can take seconds, and every other
        // container's start and stop needs that lock).
        let Some(stale_owner) =
            lock::try_lock(&found.files.owner_lock(), true).map_err(lock_error)?
        else {
            return Err(LifecycleError::Busy {
                name: name.to_string(),
                what: "another vroot is cleaning it up".into(),
            });
        };
        drop(root_lock);
        super::inspect::remove_container_cgroup(name, &found)?;
        teardown::remove_state_dir(&paths.state_dir, &found.files).map_err(|source| {
            LifecycleError::Teardown {
                name: name.to_string(),
                source,
            }
        })?;
        drop(stale_owner);
    };
    let files = crate::paths::StateFiles::new(&paths.container_state_dir(name));
    std::fs::create_dir(&files.dir).map_err(io(format!("create {}", files.dir.display())))?;
    use std::os::unix::fs::PermissionsExt;
    let _ = std::fs::set_permissions(&files.dir, std::fs::Permissions::from_mode(0o700));
    match lock::try_lock(&files.owner_lock(), true) {
        Ok(Some(held)) => Ok(held),
        Ok(None) => {
            let _ = teardown::remove_state_dir_locked(&files);
            Err(LifecycleError::Busy {
                name: name.to_string(),
                what: "another vroot holds it".into(),
            })
        }
        Err(source) => {
            let _ = teardown::remove_state_dir_locked(&files);
            Err(lock_error(source))
        }
    }
}

fn start_in_background(
    paths: &HostPaths,
    name: &str,
    spec: oci_spec::runtime::Spec,
    owner_lock: HeldLock,
) -> Result<Started, LifecycleError> {
    let sys = |what: &'static str| {
        move |source| LifecycleError::Sys {
            name: name.to_string(),
            what,
            source,
        }
    };
    // Until the supervisor runs, a failure here must not leave the claimed
    // state directory behind.
    let abandon = |error: LifecycleError| {
        let files = crate::paths::StateFiles::new(&paths.container_state_dir(name));
        let _ = teardown::remove_state_dir(&paths.state_dir, &files);
        error
    };
    let (report_read, report_write) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
        .map_err(|e| abandon(sys("create a pipe")(e)))?;
    std::fs::create_dir_all(&paths.log_dir).map_err(|source| {
        abandon(LifecycleError::Io {
            name: name.to_string(),
            what: format!("create {}", paths.log_dir.display()),
            source,
        })
    })?;
    let log_path = paths.supervisor_log(name);
    // SAFETY: `vroot` is single-threaded, so the child may go on running Rust
    // code; it becomes the supervisor and never returns here.
    match unsafe { libc::fork() } {
        -1 => Err(abandon(sys("fork the supervisor")(nix::Error::last()))),
        0 => {
            drop(report_read);
            become_daemon(&log_path);
            let exit_code = supervisor::run(
                spec,
                paths.clone(),
                owner_lock,
                Reporter::Pipe(report_write),
            );
            std::process::exit(exit_code);
        }
        _child => {
            drop(report_write);
            // The supervisor holds the same lock through the inherited fd.
            drop(owner_lock);
            read_report(name, report_read)
        }
    }
}

/// Detaches the supervisor from the caller's session and terminal; its own
/// messages go to the host-local log.
fn become_daemon(log_path: &Path) {
    let _ = nix::unistd::setsid();
    let _ = nix::unistd::chdir("/");
    let null = std::fs::OpenOptions::new().read(true).open("/dev/null");
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log_path);
    if let Ok(null) = null {
        let _ = nix::unistd::dup2(null.as_raw_fd(), 0);
    }
    if let Ok(log) = log {
        let _ = nix::unistd::dup2(log.as_raw_fd(), 1);
        let _ = nix::unistd::dup2(log.as_raw_fd(), 2);
    }
}

fn read_report(name: &str, report: OwnedFd) -> Result<Started, LifecycleError> {
    let mut file = std::fs::File::from(report);
    let mut line = String::new();
    let deadline = SETUP_TIMEOUT + Duration::from_secs(30);
    let mut fds = [libc::pollfd {
        fd: file.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    }];
    // SAFETY: one valid pollfd for the call's duration.
    let ready = unsafe { libc::poll(fds.as_mut_ptr(), 1, deadline.as_millis() as i32) };
    if ready <= 0 {
        return Err(LifecycleError::Supervisor(format!(
            "container {name}: the supervisor did not report within {deadline:?}"
        )));
    }
    let _ = file.read_to_string(&mut line);
    let line = line.trim();
    if let Some(pid) = line.strip_prefix("OK ") {
        return Ok(Started::Background {
            init_pid: pid.parse().unwrap_or(0),
        });
    }
    let message = line
        .strip_prefix("ERR ")
        .map(str::to_string)
        .unwrap_or_else(|| format!("container {name}: the supervisor died during the start"));
    Err(LifecycleError::Supervisor(message))
}

fn host_name() -> String {
    nix::unistd::gethostname()
        .ok()
        .and_then(|n| n.into_string().ok())
        .unwrap_or_else(|| "localhost".to_string())
}
