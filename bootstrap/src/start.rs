//! Starting a container on this host: the runtime's start, after checking
//! that the shared storage its root lives on is mounted and answers. The
//! command line, the systemd unit (through it) and the cluster agents all
//! start containers through here.

use vroot_runtime::config::ContainerConfig;
use vroot_runtime::lifecycle::{self, start::Started, LifecycleError};
use vroot_runtime::paths::HostPaths;

use crate::agents::FailureKind;
use crate::storage::{check_root_ready, StorageConfig, StorageError};

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Lifecycle(#[from] LifecycleError),
    #[error("container {name}: {source}")]
    Storage { name: String, source: StorageError },
}

impl StartError {
    pub fn failure_kind(&self) -> FailureKind {
        match self {
            StartError::Lifecycle(error) if error.is_unknown_container() => {
                FailureKind::UnknownContainer
            }
            StartError::Lifecycle(LifecycleError::Config(_)) => FailureKind::NotConfigured,
            _ => FailureKind::Failed,
        }
    }
}

/// The host's storage configuration: `storage.toml` beside the containers'.
pub fn storage_config(paths: &HostPaths) -> Result<StorageConfig, StorageError> {
    StorageConfig::load(&paths.config_dir.join("storage.toml"))
}

/// Refuses a container whose root is on the declared shared storage while
/// that storage is not mounted and healthy.
pub fn check_storage(paths: &HostPaths, name: &str) -> Result<(), StartError> {
    let config = ContainerConfig::load(&paths.config_dir, name).map_err(LifecycleError::from)?;
    let storage = |source| StartError::Storage {
        name: name.to_string(),
        source,
    };
    let storage_config = storage_config(paths).map_err(storage)?;
    check_root_ready(&storage_config, &config.root).map_err(storage)
}

pub fn start(
    paths: &HostPaths,
    name: &str,
    foreground: bool,
    progress: &mut dyn vroot_runtime::progress::Progress,
) -> Result<Started, StartError> {
    let began = std::time::Instant::now();
    lifecycle::fence::refuse_if_fenced(paths, name)?;
    check_storage(paths, name)?;
    progress.step("not fenced; shared storage answers", began.elapsed());
    Ok(lifecycle::start::start(paths, name, foreground, progress)?)
}
