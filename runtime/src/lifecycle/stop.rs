//! `vroot stop`: ask the supervisor to power the container off; when the
//! supervisor is gone (killed), do its work from the state directory and the
//! cgroup. Idempotent: stopping a stopped container succeeds. Nothing here
//! touches the shared root.

use std::time::{Duration, Instant};

use super::inspect::{check_name, find, remove_container_cgroup, require_config, Found};
use super::{halt, teardown, LifecycleError};
use crate::lock;
use crate::network::netns::Netns;
use crate::paths::HostPaths;
use crate::process::pidfd_wait_exit;
use crate::supervisor::control::{self, ControlError, Request};

#[derive(Debug, Clone, Copy, Default)]
pub struct StopOptions {
    /// Overrides the container's `stop_timeout`.
    pub timeout: Option<Duration>,
    /// Kill at once instead of asking the init to power off.
    pub kill: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stopped {
    AlreadyStopped,
    Gracefully,
    Killed,
}

/// How long a supervisor takes to exit after its last reply.
const SUPERVISOR_EXIT_WAIT: Duration = Duration::from_secs(5);

/// How long to wait for a starting container's supervisor to listen.
const OWNER_WAIT: Duration = Duration::from_secs(40);

pub fn stop(
    paths: &HostPaths,
    name: &str,
    options: StopOptions,
) -> Result<Stopped, LifecycleError> {
    stop_reporting(paths, name, options, &mut crate::progress::Quiet)
}

/// [`stop`], saying what it waits for while the container powers off.
pub fn stop_reporting(
    paths: &HostPaths,
    name: &str,
    options: StopOptions,
    progress: &mut dyn crate::progress::Progress,
) -> Result<Stopped, LifecycleError> {
    check_name(name)?;
    let deadline = Instant::now() + OWNER_WAIT;
    loop {
        let Some(found) = find(paths, name)? else {
            require_config(paths, name)?;
            return Ok(Stopped::AlreadyStopped);
        };
        if !found.owner_alive {
            if let Some(result) = stop_without_supervisor(paths, name, &found, options)? {
                return Ok(result);
            }
            continue;
        }
        let settings = found.recorded_settings();
        let timeout = options
            .timeout
            .or(settings.as_ref().map(|s| s.stop_timeout))
            .unwrap_or(Duration::from_secs(60));
        let request = Request::Stop {
            timeout_secs: timeout.as_secs(),
            kill: options.kill,
        };
        // Opened before asking, so that the wait below is for this supervisor.
        let supervisor = found
            .state
            .as_ref()
            .and_then(|s| s.supervisor.open_pidfd().ok());
        let what = if options.kill {
            "the container to be killed"
        } else {
            "the container to power off"
        };
        match control::call_reporting(
            &found.files.control_socket(),
            &request,
            timeout + teardown::KILL_GRACE + Duration::from_secs(10),
            &mut |elapsed| progress.waiting(what, elapsed, timeout),
        ) {
            Ok((reply, _)) if reply.ok => {
                // "Stopped" means nothing is left, the supervisor included.
                if let Some(pidfd) = &supervisor {
                    pidfd_wait_exit(pidfd, SUPERVISOR_EXIT_WAIT);
                }
                return Ok(if reply.escalated {
                    Stopped::Killed
                } else {
                    Stopped::Gracefully
                });
            }
            Ok((reply, _)) => {
                return Err(LifecycleError::StopFailed {
                    name: name.to_string(),
                    reason: reply.error.unwrap_or_default(),
                });
            }
            // Nobody listens: the supervisor is starting (no socket yet), or a
            // `stop` is taking over from a dead one (it holds the owner lock),
            // or it has just died. Wait for it to listen or for the lock.
            Err(ControlError::Connect { .. }) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(ControlError::Connect { source, .. }) => {
                return Err(LifecycleError::Busy {
                    name: name.to_string(),
                    what: format!(
                        "its owner has not answered for {}s ({source})",
                        OWNER_WAIT.as_secs()
                    ),
                });
            }
            // It took the request but did not finish in time: it is alive and
            // still stopping the container. Never kill it for being slow.
            Err(_) => {
                return Err(LifecycleError::StopFailed {
                    name: name.to_string(),
                    reason: format!(
                        "the supervisor did not finish within {}s and goes on trying (see {}); `vroot stop --kill {name}` kills at once",
                        (timeout + teardown::KILL_GRACE + Duration::from_secs(10)).as_secs(),
                        crate::logging::where_logged(paths, name)
                    ),
                });
            }
        }
    }
}

/// The supervisor is dead: become the owner, power off, clean up.
/// `None` when someone else became the owner first.
fn stop_without_supervisor(
    paths: &HostPaths,
    name: &str,
    found: &Found,
    options: StopOptions,
) -> Result<Option<Stopped>, LifecycleError> {
    let lock_error = |source| LifecycleError::Lock {
        name: name.to_string(),
        source,
    };
    let Some(_owner) = lock::try_lock(&found.files.owner_lock(), true).map_err(lock_error)? else {
        return Ok(None);
    };
    let settings = found.recorded_settings();
    // Others now see an owner that is not the recorded supervisor: a stop.
    if let Some(state) = &found.state {
        let mut stopping = state.clone();
        stopping.phase = crate::state::Phase::Stopping;
        let _ = stopping.save(&found.files.state_json());
    }
    let mut result = Stopped::AlreadyStopped;
    // Held across the poweroff: the namespace, and the devices lent to it,
    // must outlive the init until they are given back.
    let held_netns = found
        .state
        .as_ref()
        .and_then(|s| s.init)
        .filter(|init| init.is_alive())
        .and_then(|init| Netns::of_process(init.pid).ok());
    if let Some(init) = found
        .state
        .as_ref()
        .and_then(|s| s.init)
        .filter(|init| init.is_alive())
    {
        let timeout = options
            .timeout
            .or(settings.as_ref().map(|s| s.stop_timeout))
            .unwrap_or(Duration::from_secs(60));
        result = Stopped::Killed;
        if !options.kill {
            if let Ok(pidfd) = init.open_pidfd() {
                let request =
                    halt::request(&init, &pidfd, settings.as_ref().and_then(|s| s.halt_signal));
                let asked = !matches!(request, halt::HaltRequest::Unsupported(_));
                if asked && pidfd_wait_exit(&pidfd, timeout) {
                    result = Stopped::Gracefully;
                }
                if let halt::HaltRequest::Initctl(_, helper) = request {
                    // SAFETY: the helper is our own child; kill and reap it.
                    unsafe { libc::kill(helper, libc::SIGKILL) };
                    crate::container::reap_within(helper, Duration::from_secs(1));
                }
            }
        }
    }
    // The links first, whatever the kill gives: tasks stuck on hung
    // storage must not keep the container on the network.
    teardown::release_network(name, &found.files, held_netns.as_ref());
    remove_container_cgroup(name, found)?;
    teardown::remove_state_dir(&paths.state_dir, &found.files).map_err(|source| {
        LifecycleError::Teardown {
            name: name.to_string(),
            source,
        }
    })?;
    Ok(Some(result))
}
