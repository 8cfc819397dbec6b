//! Removing what a container leaves on the host: its processes, its cgroup
//! and its state directory. The mounts live only in the container's own mount
//! namespace and vanish with its last process. Nothing here touches the
//! shared root.

use std::path::Path;
use std::time::Duration;

use crate::cgroups::{CgroupError, ContainerCgroup};
use crate::lock;
use crate::network::{self, netns::Netns, NetworkRecord, ReleaseReport};
use crate::paths::StateFiles;

#[derive(Debug, thiserror::Error)]
pub enum TeardownError {
    #[error(transparent)]
    Cgroup(#[from] CgroupError),
    #[error("cannot remove the state directory {path}: {source}")]
    State {
        path: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Lock(#[from] lock::LockError),
}

/// How long to wait for killed tasks to leave the cgroup.
pub const KILL_GRACE: Duration = Duration::from_secs(10);

/// Kills everything left in the cgroup and removes it.
pub fn remove_cgroup(cgroup: &ContainerCgroup) -> Result<(), TeardownError> {
    if !cgroup.exists() {
        return Ok(());
    }
    cgroup.kill_all()?;
    cgroup.wait_empty(KILL_GRACE)?;
    cgroup.remove(Duration::from_secs(5))?;
    Ok(())
}

/// Takes back the links of a container whose supervisor died: from its
/// namespace while `held` keeps that alive (so that lent devices are still
/// there to give back), then from the host by their tags. Problems are
/// reported on stderr: a link that cannot be taken back must not keep the
/// container from being stopped.
pub fn release_network(name: &str, files: &StateFiles, held: Option<&Netns>) -> ReleaseReport {
    let record = NetworkRecord::load(&files.network_json());
    let mut report = held
        .map(|netns| {
            let deadline = std::time::Instant::now() + network::attach::RELEASE_BUDGET;
            network::evacuate(name, netns, record.as_ref(), deadline)
        })
        .unwrap_or_default();
    report.merge(network::sweep(name, record.as_ref()));
    for failure in &report.failed {
        eprintln!("vroot: container {name}: network: {failure}");
    }
    report
}

/// Removes the state directory under the state-root lock, so that a
/// concurrent `start` sees either the whole directory or none of it.
pub fn remove_state_dir(state_root: &Path, files: &StateFiles) -> Result<(), TeardownError> {
    let _root_lock = lock::lock_with_timeout(state_root, false, Duration::from_secs(5))?;
    remove_state_dir_locked(files)
}

/// As [`remove_state_dir`], for a caller that already holds the state-root lock.
pub fn remove_state_dir_locked(files: &StateFiles) -> Result<(), TeardownError> {
    let error = |source| TeardownError::State {
        path: files.dir.display().to_string(),
        source,
    };
    match std::fs::read_dir(&files.dir) {
        Ok(entries) => {
            for entry in entries.flatten() {
                std::fs::remove_file(entry.path()).map_err(error)?;
            }
        }
        Err(source) if source.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(source) => return Err(error(source)),
    }
    match std::fs::remove_dir(&files.dir) {
        Err(source) if source.kind() != std::io::ErrorKind::NotFound => Err(error(source)),
        _ => Ok(()),
    }
}
