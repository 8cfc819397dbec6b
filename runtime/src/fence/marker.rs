//! The host-local "fenced" marker, `/var/lib/vroot/fenced/NAME.json`. While
//! it exists no automatic start brings the container back (a reboot inside
//! it, the unit's restart, the host's next boot): only `vroot unfence NAME`
//! or an explicit `vroot start --unfence NAME`. It lives under the lib
//! directory, not `/run`, so a fenced node stays down across a host reboot
//! until someone decides otherwise.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::paths::HostPaths;
use crate::state::{now_rfc3339, write_durable, StateError};

#[derive(Debug, thiserror::Error)]
pub enum MarkerError {
    #[error("cannot create {path}: {source}")]
    CreateDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Write(#[from] StateError),
    #[error("cannot remove {path}: {source}")]
    Remove {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Who fenced the container.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FencedBy {
    /// `vroot fence`, or a cluster manager through the fence agent.
    Operator,
    /// The supervisor's storage watchdog (`[fence] on_hang = "fence"`).
    Watchdog,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FenceMarker {
    pub name: String,
    pub since: String,
    pub by: FencedBy,
    pub reason: String,
    /// What the fence did (`FenceReport::summary`), added once it is over:
    /// for the post-mortem, e.g. whether stuck tasks needed the storage
    /// released.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<String>,
}

pub fn marker_path(paths: &HostPaths, name: &str) -> PathBuf {
    paths.lib_dir.join("fenced").join(format!("{name}.json"))
}

impl FenceMarker {
    pub fn new(name: &str, by: FencedBy, reason: &str) -> Self {
        FenceMarker {
            name: name.to_string(),
            since: now_rfc3339(),
            by,
            reason: reason.to_string(),
            outcome: None,
        }
    }

    /// Writes the marker durably: a host crash right after fencing must not
    /// bring the container back at the next boot.
    pub fn save(&self, paths: &HostPaths) -> Result<(), MarkerError> {
        let path = marker_path(paths, &self.name);
        let dir = path.parent().unwrap_or(Path::new("/"));
        std::fs::create_dir_all(dir).map_err(|source| MarkerError::CreateDir {
            path: dir.to_path_buf(),
            source,
        })?;
        let json = serde_json::to_vec_pretty(self).expect("the marker serialises");
        write_durable(&path, &json)?;
        Ok(())
    }

    /// The marker, if the container is fenced. An unreadable marker still
    /// means "fenced": failing closed keeps a fenced node down.
    pub fn load(paths: &HostPaths, name: &str) -> Option<Self> {
        let path = marker_path(paths, name);
        match std::fs::read(&path) {
            Ok(bytes) => Some(
                serde_json::from_slice(&bytes).unwrap_or_else(|_| FenceMarker {
                    name: name.to_string(),
                    since: String::new(),
                    by: FencedBy::Operator,
                    reason: format!("unreadable marker {}", path.display()),
                    outcome: None,
                }),
            ),
            Err(_) => None,
        }
    }

    /// Removes the marker; `Ok(false)` when there was none.
    pub fn clear(paths: &HostPaths, name: &str) -> Result<bool, MarkerError> {
        let path = marker_path(paths, name);
        match std::fs::remove_file(&path) {
            Ok(()) => Ok(true),
            Err(source) if source.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(source) => Err(MarkerError::Remove { path, source }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_paths(tag: &str) -> HostPaths {
        let base = std::env::temp_dir().join(format!("vroot-marker-{tag}-{}", std::process::id()));
        HostPaths {
            config_dir: base.join("etc"),
            state_dir: base.join("run"),
            log_dir: base.join("log"),
            lib_dir: base.join("lib"),
        }
    }

    #[test]
    fn a_marker_round_trips_and_clears_once() {
        let paths = temp_paths("round");
        assert!(FenceMarker::load(&paths, "web").is_none());
        let marker = FenceMarker::new("web", FencedBy::Watchdog, "storage hung for 10s");
        marker.save(&paths).unwrap();
        assert_eq!(FenceMarker::load(&paths, "web"), Some(marker));
        assert!(FenceMarker::clear(&paths, "web").unwrap());
        assert!(!FenceMarker::clear(&paths, "web").unwrap());
        std::fs::remove_dir_all(paths.lib_dir.parent().unwrap()).unwrap();
    }

    #[test]
    fn an_unreadable_marker_still_fences() {
        let paths = temp_paths("corrupt");
        let path = marker_path(&paths, "web");
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, b"{garbage").unwrap();
        let marker = FenceMarker::load(&paths, "web").expect("still fenced");
        assert_eq!(marker.by, FencedBy::Operator);
        assert!(marker.reason.contains("unreadable"));
        std::fs::remove_dir_all(paths.lib_dir.parent().unwrap()).unwrap();
    }
}
