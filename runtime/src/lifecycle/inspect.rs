//! What is true about a container right now, from host-local state only:
//! the state file, the owner lock, `/proc` and the config directory. Never
//! the shared root, so this answers while shared storage hangs.

use std::path::PathBuf;

use serde::Serialize;

use super::{teardown, LifecycleError};
use crate::cgroups::ContainerCgroup;
use crate::config::validate_name;
use crate::fence::marker::FenceMarker;
use crate::lock;
use crate::paths::{HostPaths, StateFiles};
use crate::spec::{self, RuntimeSettings};
use crate::state::{ContainerState, Phase};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RunState {
    Running,
    Stopped,
    Starting,
    Stopping,
    /// Not running, and kept down by the fenced marker.
    Fenced,
}

/// `vroot status --json`.
#[derive(Debug, Clone, Serialize)]
pub struct Status {
    pub name: String,
    pub state: RunState,
    pub init_pid: Option<i32>,
    pub started_at: Option<String>,
    pub root: Option<PathBuf>,
    pub supervisor_pid: Option<i32>,
    pub supervisor_alive: bool,
    pub boot_count: u32,
    pub cgroup: Option<String>,
    /// The storage watchdog's latest verdict, while the supervisor runs.
    pub storage: Option<crate::supervisor::watchdog::StorageHealth>,
    /// Why the container is fenced, if it is.
    pub fenced: Option<FenceMarker>,
    /// The links its current boot has (from the state directory).
    pub network: Vec<crate::network::record::RecordedLink>,
}

/// The container's state directory as found, with who owns it.
pub struct Found {
    pub files: StateFiles,
    pub state: Option<ContainerState>,
    pub owner_alive: bool,
    pub init_alive: bool,
}

pub fn check_name(name: &str) -> Result<(), LifecycleError> {
    validate_name(name).map_err(|reason| {
        LifecycleError::Config(crate::config::ConfigError::BadName {
            name: name.to_string(),
            reason,
        })
    })
}

impl Found {
    /// The spec the container was started with, as recorded in its state directory.
    pub fn recorded_settings(&self) -> Option<RuntimeSettings> {
        let text = std::fs::read_to_string(self.files.spec_json()).ok()?;
        RuntimeSettings::from_spec(&spec::from_json(&text).ok()?).ok()
    }

    /// The container's cgroup, from its state or, before the state was
    /// written, from its recorded spec.
    pub fn cgroup_path(&self) -> Option<String> {
        self.state
            .as_ref()
            .map(|state| state.cgroup.clone())
            .or_else(|| {
                self.recorded_settings()
                    .map(|settings| settings.cgroup_path)
            })
    }
}

/// Kills what is left in a container's cgroup and removes it, if it has one.
pub fn remove_container_cgroup(name: &str, found: &Found) -> Result<(), LifecycleError> {
    let Some(cgroup_path) = found.cgroup_path() else {
        return Ok(());
    };
    let cgroup =
        ContainerCgroup::on_host(&cgroup_path).map_err(|source| LifecycleError::Cgroup {
            name: name.to_string(),
            source,
        })?;
    teardown::remove_cgroup(&cgroup).map_err(|source| LifecycleError::Teardown {
        name: name.to_string(),
        source,
    })
}

/// For a container with no state directory: fine if it is configured (it is
/// simply stopped), an "unknown container" error otherwise.
pub fn require_config(paths: &HostPaths, name: &str) -> Result<(), LifecycleError> {
    let config = paths.config_file(name);
    if config.exists() {
        Ok(())
    } else {
        Err(LifecycleError::UnknownContainer {
            name: name.to_string(),
            config,
        })
    }
}

pub fn find(paths: &HostPaths, name: &str) -> Result<Option<Found>, LifecycleError> {
    let files = StateFiles::new(&paths.container_state_dir(name));
    if !files.dir.exists() {
        return Ok(None);
    }
    let state =
        ContainerState::load(&files.state_json()).map_err(|source| LifecycleError::State {
            name: name.to_string(),
            source,
        })?;
    let owner_alive = lock::is_held(&files.owner_lock());
    let init_alive = state
        .as_ref()
        .and_then(|s| s.init)
        .is_some_and(|init| init.is_alive());
    Ok(Some(Found {
        files,
        state,
        owner_alive,
        init_alive,
    }))
}

pub fn status(paths: &HostPaths, name: &str) -> Result<Status, LifecycleError> {
    check_name(name)?;
    let mut status = status_without_marker(paths, name)?;
    status.fenced = FenceMarker::load(paths, name);
    if status.fenced.is_some() && status.state == RunState::Stopped {
        status.state = RunState::Fenced;
    }
    Ok(status)
}

fn status_without_marker(paths: &HostPaths, name: &str) -> Result<Status, LifecycleError> {
    let Some(found) = find(paths, name)? else {
        require_config(paths, name)?;
        return Ok(stopped(name));
    };
    let Some(state) = found.state else {
        let mut status = stopped(name);
        if found.owner_alive {
            status.state = RunState::Starting;
        }
        return Ok(status);
    };
    // The owner lock held by someone other than the recorded supervisor is a
    // `stop` taking over from a dead one.
    let supervisor_alive = found.owner_alive && state.supervisor.is_alive();
    let taking_over = found.owner_alive && !supervisor_alive;
    let run_state = match (state.phase, supervisor_alive, found.init_alive) {
        _ if taking_over => RunState::Stopping,
        (Phase::Starting, true, _) => RunState::Starting,
        (Phase::Fenced, true, _) => RunState::Fenced,
        (Phase::Stopping, true, _) | (Phase::Stopping, false, true) => RunState::Stopping,
        (_, _, true) => RunState::Running,
        // A supervisor between two boots of a reboot.
        (Phase::Running, true, false) => RunState::Starting,
        _ => RunState::Stopped,
    };
    let live = run_state != RunState::Stopped;
    Ok(Status {
        name: name.to_string(),
        state: run_state,
        init_pid: state.init.filter(|_| found.init_alive).map(|init| init.pid),
        started_at: live.then(|| state.started_at.clone()),
        root: Some(state.root.clone()),
        supervisor_pid: supervisor_alive.then_some(state.supervisor.pid),
        supervisor_alive,
        boot_count: state.boot_count,
        cgroup: live.then(|| state.cgroup.clone()),
        storage: supervisor_alive.then(|| state.storage.clone()).flatten(),
        fenced: None,
        network: live
            .then(|| crate::network::NetworkRecord::load(&found.files.network_json()))
            .flatten()
            .map(|record| record.links)
            .unwrap_or_default(),
    })
}

fn stopped(name: &str) -> Status {
    Status {
        name: name.to_string(),
        state: RunState::Stopped,
        init_pid: None,
        started_at: None,
        root: None,
        supervisor_pid: None,
        supervisor_alive: false,
        boot_count: 0,
        cgroup: None,
        storage: None,
        fenced: None,
        network: Vec::new(),
    }
}

/// Every container with a config or a state directory, sorted by name; one
/// whose state cannot be read is listed as the error that says why.
pub fn list(paths: &HostPaths) -> Vec<Result<Status, LifecycleError>> {
    let mut names = std::collections::BTreeSet::new();
    let stems = |dir: &PathBuf, want_toml: bool| -> Vec<String> {
        std::fs::read_dir(dir)
            .map(|entries| {
                entries
                    .flatten()
                    .filter_map(|entry| {
                        let path = entry.path();
                        let is_toml = path.extension().is_some_and(|e| e == "toml");
                        if want_toml != is_toml || (!want_toml && !path.is_dir()) {
                            return None;
                        }
                        let stem = if want_toml {
                            path.file_stem()?
                        } else {
                            path.file_name()?
                        };
                        stem.to_str().map(str::to_string)
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    names.extend(stems(&paths.config_dir, true));
    names.extend(stems(&paths.state_dir, false));
    names
        .into_iter()
        .filter(|name| validate_name(name).is_ok())
        .map(|name| status(paths, &name))
        .collect()
}
