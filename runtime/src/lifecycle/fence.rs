//! `vroot fence` and `vroot unfence`. The fence works with or without the
//! supervisor (it may be dead or wedged): it marks the container fenced,
//! then kills and isolates it through its cgroup and procfs, within a time
//! bound, and cleans up what a dead supervisor left. Nothing here touches
//! the shared root.

use std::time::{Duration, Instant};

use serde::Serialize;

use super::inspect::{check_name, find, require_config};
use super::{teardown, LifecycleError};
use crate::cgroups::ContainerCgroup;
use crate::fence::marker::{FenceMarker, FencedBy};
use crate::fence::{self, FenceReport, FenceTarget};
use crate::lock;
use crate::network::NetworkRecord;
use crate::paths::HostPaths;
use crate::process::pidfd_wait_exit;

/// `vroot fence`'s bound when none is given.
pub const DEFAULT_FENCE_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, Serialize)]
pub struct FenceResult {
    pub name: String,
    /// Nothing ran: the container was already off (now marked fenced).
    pub already_off: bool,
    pub verified: bool,
    #[serde(flatten)]
    pub report: FenceReport,
}

/// Fences `name` within `timeout`. `Ok` carries the report whether or not
/// the fence could be verified; the caller turns `verified == false` into
/// a failure.
pub fn fence(
    paths: &HostPaths,
    name: &str,
    timeout: Duration,
    reason: &str,
) -> Result<FenceResult, LifecycleError> {
    let started = Instant::now();
    check_name(name)?;
    let found = find(paths, name)?;
    if found.is_none() {
        require_config(paths, name)?;
    }
    let mut marker = FenceMarker::new(name, FencedBy::Operator, reason);
    marker.save(paths).map_err(|source| LifecycleError::Fence {
        name: name.to_string(),
        reason: source.to_string(),
    })?;

    let cgroup_path = found
        .as_ref()
        .and_then(|found| found.cgroup_path())
        .unwrap_or_else(|| crate::spec::cgroup_path_for(name));
    let cgroup =
        ContainerCgroup::on_host(&cgroup_path).map_err(|source| LifecycleError::Cgroup {
            name: name.to_string(),
            source,
        })?;
    let state = found.as_ref().and_then(|found| found.state.clone());
    let supervisor = state
        .as_ref()
        .filter(|_| found.as_ref().is_some_and(|found| found.owner_alive))
        .and_then(|state| state.supervisor.open_pidfd().ok());
    let already_off = !cgroup.is_populated();

    let target = FenceTarget {
        name,
        // Only an init that is still the one recorded (same start time).
        init: state
            .as_ref()
            .and_then(|state| state.init)
            .filter(|init| init.is_alive())
            .map(|init| init.pid),
        network: found
            .as_ref()
            .and_then(|found| NetworkRecord::load(&found.files.network_json())),
        cgroup: &cgroup,
        root: state.as_ref().map(|state| state.root.as_path()),
        scratch: paths.state_dir.join(format!(".fence-{name}")),
    };
    let report = fence::fence(&target, timeout);
    let verified = report.verified();
    if !already_off {
        // Best effort: the marker that matters was written before the fence.
        marker.outcome = Some(report.summary());
        let _ = marker.save(paths);
    }

    let left = timeout.saturating_sub(started.elapsed());
    match (&supervisor, &found) {
        // The supervisor sees its init end and the marker, and cleans up.
        (Some(pidfd), _) => {
            pidfd_wait_exit(pidfd, left);
        }
        (None, Some(found)) if verified => {
            if let Ok(Some(_owner)) = lock::try_lock(&found.files.owner_lock(), true) {
                let _ = cgroup.remove(left.min(Duration::from_secs(1)));
                let _ = teardown::remove_state_dir(&paths.state_dir, &found.files);
            }
        }
        (None, None) if verified && cgroup.exists() => {
            let _ = cgroup.remove(left.min(Duration::from_secs(1)));
        }
        _ => {}
    }
    Ok(FenceResult {
        name: name.to_string(),
        already_off,
        verified,
        report,
    })
}

/// Clears the fenced marker; `Ok(false)` when the container was not fenced.
pub fn unfence(paths: &HostPaths, name: &str) -> Result<bool, LifecycleError> {
    check_name(name)?;
    FenceMarker::clear(paths, name).map_err(|source| LifecycleError::Fence {
        name: name.to_string(),
        reason: source.to_string(),
    })
}

/// Refuses to start a fenced container.
pub fn refuse_if_fenced(paths: &HostPaths, name: &str) -> Result<(), LifecycleError> {
    match FenceMarker::load(paths, name) {
        None => Ok(()),
        Some(marker) => Err(LifecycleError::Fenced {
            name: name.to_string(),
            since: marker.since,
            reason: marker.reason,
        }),
    }
}
