//! `vroot userns shift|unshift NAME`: moves the owners of a container's
//! shared root and of its per-host layer into its user namespace's ids, or
//! back. The shared root is every node's: shift it once, from one node,
//! with its containers stopped everywhere.

use crate::config::ContainerConfig;
use crate::host_layer;
use crate::id_shift::{self, Direction, ShiftReport};
use crate::paths::HostPaths;

use super::inspect::{check_name, find};
use super::LifecycleError;

/// What was shifted: the root's report, and the layer's if it exists.
pub struct ShiftOutcome {
    pub root: ShiftReport,
    pub layer: Option<ShiftReport>,
}

pub fn shift(
    paths: &HostPaths,
    name: &str,
    direction: Direction,
) -> Result<ShiftOutcome, LifecycleError> {
    check_name(name)?;
    let config = ContainerConfig::load(&paths.config_dir, name)?;
    let range = config
        .security
        .userns
        .ok_or_else(|| LifecycleError::NoUserNamespace {
            name: name.to_string(),
            config: config.source.clone(),
        })?;
    if let Some(found) = find(paths, name)? {
        if found.init_alive || found.owner_alive {
            return Err(LifecycleError::Busy {
                name: name.to_string(),
                what: "it runs; stop it (and every container on its root, on every node) first"
                    .into(),
            });
        }
    }
    let failed = |source| LifecycleError::IdShift {
        name: name.to_string(),
        source,
    };
    let root = id_shift::shift_tree(&config.root, range, direction).map_err(failed)?;
    let layer_dir = host_layer::layer_paths(&config, paths).dir;
    let layer = if layer_dir.exists() {
        Some(id_shift::shift_tree(&layer_dir, range, direction).map_err(failed)?)
    } else {
        None
    };
    Ok(ShiftOutcome { root, layer })
}
