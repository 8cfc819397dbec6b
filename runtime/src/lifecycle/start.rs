//! `vroot start`: validate, render the spec, claim the container's state
//! directory, and run its supervisor (forked, or in the foreground).

use std::io::Read;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::Path;
use std::time::{Duration, Instant};

use super::inspect::{check_name, find};
use super::{teardown, LifecycleError};
use crate::cgroups::ContainerCgroup;
use crate::config::ContainerConfig;
use crate::host_layer;
use crate::lock::{self, HeldLock};
use crate::paths::HostPaths;
use crate::progress::{Progress, WAIT_REPORT_INTERVAL};
use crate::spec;
use crate::state::Phase;
use crate::supervisor::{self, Reporter, SETUP_TIMEOUT};
use vroot_overlays::layout::LayerPaths;
use vroot_overlays::plan::Plan;

pub enum Started {
    /// The supervisor runs in the background; the init runs.
    Background { init_pid: i32 },
    /// `--foreground`: the container has stopped; this is the exit code.
    Foreground { exit_code: i32 },
}

/// What `start` has checked and decided before it makes anything.
pub struct Checked {
    pub config: ContainerConfig,
    pub spec: oci_spec::runtime::Spec,
    pub layer: LayerPaths,
    pub plan: Plan,
}

/// Everything `start` checks before it makes anything: the config, the
/// root, the per-host layer's place and plan, the spec. `restart` runs it
/// before stopping, so that a broken config does not leave the container down.
pub fn check(paths: &HostPaths, name: &str) -> Result<Checked, LifecycleError> {
    check_name(name)?;
    let config = ContainerConfig::load(&paths.config_dir, name)?;
    super::fence::refuse_if_fenced(paths, name)?;
    preflight(&config)?;
    let (layer, plan) = host_layer::plan(&config, paths)?;
    host_layer::check_templates(&config)?;
    let spec = spec::render(&config, &host_name(), &layer, &plan).map_err(|source| {
        LifecycleError::Spec {
            name: name.to_string(),
            source,
        }
    })?;
    Ok(Checked {
        config,
        spec,
        layer,
        plan,
    })
}

pub fn start(
    paths: &HostPaths,
    name: &str,
    foreground: bool,
    progress: &mut dyn Progress,
) -> Result<Started, LifecycleError> {
    let mut clock = Instant::now();
    let mut lap = |what: &str, progress: &mut dyn Progress| {
        progress.step(what, clock.elapsed());
        clock = Instant::now();
    };
    let checked = check(paths, name)?;
    lap("config, root and cgroup hierarchy checked", progress);
    let owner_lock = claim_state_dir(paths, name)?;
    let files = crate::paths::StateFiles::new(&paths.container_state_dir(name));
    let abandon = |error: LifecycleError| {
        let _ = teardown::remove_state_dir(&paths.state_dir, &files);
        error
    };
    let layer_lock = fill_layer(&checked).map_err(abandon)?;
    lap("per-host layer filled", progress);
    let spec_json = spec::to_json(&checked.spec).map_err(|source| {
        abandon(LifecycleError::Spec {
            name: name.to_string(),
            source,
        })
    })?;
    if let Err(source) = crate::state::write_atomic(&files.spec_json(), spec_json.as_bytes()) {
        return Err(abandon(LifecycleError::State {
            name: name.to_string(),
            source,
        }));
    }
    lap("spec written", progress);
    if foreground {
        let exit_code = supervisor::run(
            checked.spec,
            paths.clone(),
            owner_lock,
            layer_lock,
            Reporter::Stderr,
        );
        return Ok(Started::Foreground { exit_code });
    }
    start_in_background(paths, name, checked.spec, owner_lock, layer_lock, progress)
}

/// Takes the per-host layer for this run and fills it. A layer this start
/// created is removed again if filling it fails: nothing half-made is left.
fn fill_layer(checked: &Checked) -> Result<HeldLock, LifecycleError> {
    let name = &checked.config.name;
    let layer_dir = &checked.layer.dir;
    let created = !layer_dir.exists();
    let io = |what: String| {
        move |source| LifecycleError::Io {
            name: name.to_string(),
            what,
            source,
        }
    };
    std::fs::create_dir_all(layer_dir).map_err(io(format!("create {}", layer_dir.display())))?;
    let discard = |error: LifecycleError| {
        if created {
            let _ = std::fs::remove_dir_all(layer_dir);
        }
        error
    };
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(layer_dir, std::fs::Permissions::from_mode(0o700))
        .map_err(io(format!("restrict {}", layer_dir.display())))
        .map_err(discard)?;
    let lock = match lock::try_lock(&checked.layer.lock(), true) {
        Ok(Some(held)) => held,
        Ok(None) => {
            return Err(discard(LifecycleError::Busy {
                name: name.to_string(),
                what: format!(
                    "another container runs on its per-host layer {}",
                    layer_dir.display()
                ),
            }))
        }
        Err(source) => {
            return Err(discard(LifecycleError::Lock {
                name: name.to_string(),
                source,
            }))
        }
    };
    host_layer::prepare(&checked.config, &checked.layer, &checked.plan, &host_name())
        .map_err(LifecycleError::from)
        .map_err(discard)?;
    // The container's root is BASE on the host: it must own what it reads
    // and writes of its layer (vroot wrote it as the host's root), and the
    // overlay work directories its kernel mounts use.
    if let Some(range) = checked.config.security.userns {
        crate::id_shift::shift_tree(layer_dir, range, crate::id_shift::Direction::Into)
            .map_err(|source| LifecycleError::IdShift {
                name: name.to_string(),
                source,
            })
            .map_err(discard)?;
    }
    Ok(lock)
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
    if let Some(range) = config.security.userns {
        let shifted = crate::id_shift::is_shifted(&config.root, range).map_err(|source| {
            LifecycleError::Io {
                name: name.clone(),
                what: format!("read the owner of {}", config.root.display()),
                source,
            }
        })?;
        if !shifted {
            return Err(LifecycleError::RootNotShifted {
                name,
                root: config.root.clone(),
                range: crate::id_shift::describe(range),
            });
        }
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
        teardown::release_network(name, &found.files, None);
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
    layer_lock: HeldLock,
    progress: &mut dyn Progress,
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
                layer_lock,
                Reporter::Pipe(report_write),
            );
            std::process::exit(exit_code);
        }
        child => {
            drop(report_write);
            // The supervisor holds the same locks through the inherited fds.
            drop(owner_lock);
            drop(layer_lock);
            let report = read_report(name, report_read, progress);
            if report.is_err() {
                // A failed start has cleaned up before reporting; waiting
                // for the supervisor's exit as well means that when the
                // command returns, no process of the container is left.
                crate::container::reap_within(child, SUPERVISOR_EXIT_WAIT);
            }
            report
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

/// How long a supervisor that reported a failed start takes to exit.
const SUPERVISOR_EXIT_WAIT: Duration = Duration::from_secs(5);

fn read_report(
    name: &str,
    report: OwnedFd,
    progress: &mut dyn Progress,
) -> Result<Started, LifecycleError> {
    let mut file = std::fs::File::from(report);
    let deadline = SETUP_TIMEOUT + Duration::from_secs(30);
    let began = Instant::now();
    let mut fds = [libc::pollfd {
        fd: file.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    }];
    // Polled in slices, so that a slow start says what it waits for.
    loop {
        let left = deadline.saturating_sub(began.elapsed());
        if left.is_zero() {
            return Err(LifecycleError::Supervisor(format!(
                "container {name}: the supervisor did not report within {deadline:?}"
            )));
        }
        let slice = left.min(WAIT_REPORT_INTERVAL);
        // SAFETY: one valid pollfd for the call's duration.
        let ready = unsafe { libc::poll(fds.as_mut_ptr(), 1, slice.as_millis() as i32) };
        if ready > 0 {
            break;
        }
        if ready < 0 && nix::Error::last() != nix::Error::EINTR {
            return Err(LifecycleError::Supervisor(format!(
                "container {name}: cannot wait for the supervisor: {}",
                nix::Error::last()
            )));
        }
        progress.waiting("the container's init to run", began.elapsed(), deadline);
    }
    let mut text = String::new();
    let _ = file.read_to_string(&mut text);
    let mut last = "";
    for line in text.lines() {
        match crate::progress::decode_step(line) {
            Some((what, took)) => progress.step(&what, took),
            None => last = line.trim(),
        }
    }
    if let Some(pid) = last.strip_prefix("OK ") {
        return Ok(Started::Background {
            init_pid: pid.parse().unwrap_or(0),
        });
    }
    let message = last
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
