//! Errors of the container operations, each one line naming the container.

use std::path::PathBuf;

use crate::config::ConfigError;

#[derive(Debug, thiserror::Error)]
pub enum LifecycleError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Layer(#[from] crate::host_layer::LayerError),
    #[error("unknown container `{name}`: no {config} and no running instance")]
    UnknownContainer { name: String, config: PathBuf },
    #[error("container {name} is already {what}")]
    AlreadyActive { name: String, what: &'static str },
    #[error("container {name} is busy: {what} (try again in a moment)")]
    Busy { name: String, what: String },
    #[error("container {name}: its init (pid {pid}) still runs but its supervisor is gone; run `vroot stop {name}` first")]
    OrphanedInit { name: String, pid: i32 },
    #[error("container {name} is not running")]
    NotRunning { name: String },
    #[error("container {name}: the root {root} is not owned by its user namespace's ids ({range}): run `vroot userns shift {name}` once, on one node, while no container runs on it; or set [security] userns = false")]
    RootNotShifted {
        name: String,
        root: PathBuf,
        range: String,
    },
    #[error("container {name}: [security] userns is off in {config}: there is no range to shift by (turn it on first; unshift before turning it off)")]
    NoUserNamespace { name: String, config: PathBuf },
    #[error("container {name}: shifting owners: {source}")]
    IdShift {
        name: String,
        source: crate::id_shift::ShiftError,
    },
    #[error("container {name}: root {root} does not exist or is not a directory (fix `root` in {config})")]
    RootMissing {
        name: String,
        root: PathBuf,
        config: PathBuf,
    },
    #[error("container {name}: init {init} is not an executable file in {root} (install it there or set `init` in {config})")]
    InitMissing {
        name: String,
        init: String,
        root: PathBuf,
        config: PathBuf,
    },
    #[error("container {name}: {source}")]
    Spec {
        name: String,
        source: crate::spec::SpecError,
    },
    #[error("container {name}: {source}")]
    Cgroup {
        name: String,
        source: crate::cgroups::CgroupError,
    },
    #[error("container {name}: {source}")]
    State {
        name: String,
        source: crate::state::StateError,
    },
    #[error("container {name}: {source}")]
    Lock {
        name: String,
        source: crate::lock::LockError,
    },
    #[error("container {name}: {source}")]
    Teardown {
        name: String,
        source: super::teardown::TeardownError,
    },
    #[error("container {name}: {source}")]
    Control {
        name: String,
        source: crate::supervisor::control::ControlError,
    },
    #[error("container {name}: cannot {what}: {source}")]
    Io {
        name: String,
        what: String,
        source: std::io::Error,
    },
    #[error("container {name}: cannot {what}: {source}")]
    Sys {
        name: String,
        what: &'static str,
        source: nix::Error,
    },
    #[error("{0}")]
    Supervisor(String),
    #[error("container {name}: stop failed: {reason}")]
    StopFailed { name: String, reason: String },
    #[error("container {name} is fenced (since {since}: {reason}); `vroot unfence {name}` clears it, or `vroot start --unfence {name}`")]
    Fenced {
        name: String,
        since: String,
        reason: String,
    },
    #[error("container {name}: fence failed: {reason}")]
    Fence { name: String, reason: String },
}

impl LifecycleError {
    /// Unknown containers, and names that cannot be one, are told apart
    /// (exit code 4).
    pub fn is_unknown_container(&self) -> bool {
        matches!(
            self,
            LifecycleError::UnknownContainer { .. }
                | LifecycleError::Config(
                    ConfigError::NotFound { .. } | ConfigError::BadName { .. }
                )
        )
    }
}
