//! The real [`ContainerControl`]: the containers of this host, through the
//! runtime's lifecycle operations. Every path here reads host-local state
//! only, except a start, which checks the storage first.

use std::time::Duration;

use vroot_runtime::config::{ConfigError, ContainerConfig};
use vroot_runtime::lifecycle::inspect::RunState;
use vroot_runtime::lifecycle::stop::StopOptions;
use vroot_runtime::lifecycle::{self, LifecycleError};
use vroot_runtime::paths::HostPaths;

use super::control::{ContainerControl, ControlFailure, FailureKind, Power};

/// Recorded in the fenced marker of a container the cluster fenced.
const CLUSTER_FENCE_REASON: &str = "fenced by the cluster (fence_vroot)";

pub struct LocalContainers {
    pub paths: HostPaths,
}

fn failure(error: LifecycleError) -> ControlFailure {
    let kind = if error.is_unknown_container() {
        FailureKind::UnknownContainer
    } else if matches!(error, LifecycleError::Config(_)) {
        FailureKind::NotConfigured
    } else {
        FailureKind::Failed
    };
    ControlFailure::new(kind, error.to_string())
}

fn power_of(state: RunState) -> Power {
    match state {
        RunState::Running | RunState::Starting | RunState::Stopping => Power::On,
        RunState::Stopped => Power::Off,
        RunState::Fenced => Power::Fenced,
    }
}

impl LocalContainers {
    fn start_checked(&self, name: &str) -> Result<(), ControlFailure> {
        crate::start::start(
            &self.paths,
            name,
            false,
            &mut vroot_runtime::progress::Quiet,
        )
        .map(|_| ())
        .map_err(|error| ControlFailure::new(error.failure_kind(), error.to_string()))
    }
}

impl ContainerControl for LocalContainers {
    fn list(&self) -> Result<Vec<(String, Power)>, ControlFailure> {
        lifecycle::inspect::list(&self.paths)
            .into_iter()
            .map(|status| status.map(|s| (s.name, power_of(s.state))).map_err(failure))
            .collect()
    }

    fn power(&self, name: &str) -> Result<Power, ControlFailure> {
        lifecycle::inspect::status(&self.paths, name)
            .map(|status| power_of(status.state))
            .map_err(failure)
    }

    fn trouble(&self, name: &str) -> Option<String> {
        use vroot_runtime::supervisor::watchdog::Health;
        let status = lifecycle::inspect::status(&self.paths, name).ok()?;
        let storage = status.storage?;
        match storage.health {
            Health::Hung | Health::Failed => Some(format!(
                "the storage under {} is {} (last answer {})",
                status
                    .root
                    .map(|root| root.display().to_string())
                    .unwrap_or_default(),
                storage.health,
                storage.last_answer.as_deref().unwrap_or("never")
            )),
            Health::Healthy | Health::Slow => None,
        }
    }

    fn fence_off(&self, name: &str, timeout: Duration) -> Result<(), ControlFailure> {
        let result = lifecycle::fence::fence(&self.paths, name, timeout, CLUSTER_FENCE_REASON)
            .map_err(failure)?;
        if result.verified {
            Ok(())
        } else {
            Err(ControlFailure::new(
                FailureKind::Failed,
                format!(
                    "container {name}: fence failed: {}",
                    result.report.failure()
                ),
            ))
        }
    }

    fn power_on(&self, name: &str, _timeout: Duration) -> Result<(), ControlFailure> {
        lifecycle::fence::unfence(&self.paths, name).map_err(failure)?;
        if self.power(name)? == Power::On {
            return Ok(());
        }
        self.start_checked(name)
    }

    fn stop(&self, name: &str, timeout: Duration) -> Result<(), ControlFailure> {
        let options = StopOptions {
            // Leave room for the kill that follows a timed-out poweroff.
            timeout: Some(
                timeout
                    .saturating_sub(lifecycle::teardown::KILL_GRACE)
                    .max(Duration::from_secs(1)),
            ),
            kill: false,
        };
        lifecycle::stop::stop(&self.paths, name, options)
            .map(|_| ())
            .map_err(failure)
    }

    fn start(&self, name: &str, _timeout: Duration) -> Result<(), ControlFailure> {
        self.start_checked(name)
    }

    fn validate(&self, name: &str) -> Result<(), ControlFailure> {
        match ContainerConfig::load(&self.paths.config_dir, name) {
            Ok(_) => Ok(()),
            Err(error @ ConfigError::NotFound { .. }) => Err(ControlFailure::new(
                FailureKind::UnknownContainer,
                error.to_string(),
            )),
            Err(error) => Err(ControlFailure::new(
                FailureKind::NotConfigured,
                error.to_string(),
            )),
        }
    }

    fn monitor(&self) -> Result<(), ControlFailure> {
        if !std::path::Path::new("/sys/fs/cgroup").is_dir() {
            return Err(ControlFailure::new(
                FailureKind::Failed,
                "no cgroup filesystem at /sys/fs/cgroup: vroot cannot fence on this host",
            ));
        }
        std::fs::create_dir_all(&self.paths.state_dir).map_err(|error| {
            ControlFailure::new(
                FailureKind::Failed,
                format!("cannot use {}: {error}", self.paths.state_dir.display()),
            )
        })?;
        std::fs::read_dir(&self.paths.state_dir)
            .map(|_| ())
            .map_err(|error| {
                ControlFailure::new(
                    FailureKind::Failed,
                    format!("cannot read {}: {error}", self.paths.state_dir.display()),
                )
            })
    }
}
