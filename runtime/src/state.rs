//! The container's state file, `/run/vroot/NAME/state.json`: written
//! atomically by the container's owner, read by anyone without locking.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::process::ProcessIdentity;

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is corrupt: {source}")]
    Corrupt {
        path: PathBuf,
        source: serde_json::Error,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    Starting,
    Running,
    Stopping,
    /// The watchdog fenced the container; the supervisor waits for the
    /// storage to recover to start it again.
    Fenced,
}

/// What the owner records about a running container.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContainerState {
    pub name: String,
    pub phase: Phase,
    pub root: PathBuf,
    pub supervisor: ProcessIdentity,
    pub init: Option<ProcessIdentity>,
    pub started_at: String,
    pub boot_count: u32,
    pub cgroup: String,
    /// The storage watchdog's latest verdict.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage: Option<crate::supervisor::watchdog::StorageHealth>,
}

/// Replaces `path` with `contents` so that readers see the old or the new
/// file, never a mix: write a sibling, rename over. For files under `/run`
/// (a tmpfs, gone at reboot anyway) that is all; see [`write_durable`] for
/// files that must survive a crash of the host.
pub fn write_atomic(path: &Path, contents: &[u8]) -> Result<(), StateError> {
    write_replacing(path, contents, false)
}

/// As [`write_atomic`], and synced to disk before the rename.
pub fn write_durable(path: &Path, contents: &[u8]) -> Result<(), StateError> {
    write_replacing(path, contents, true)
}

fn write_replacing(path: &Path, contents: &[u8], durable: bool) -> Result<(), StateError> {
    let error = |source| StateError::Write {
        path: path.to_path_buf(),
        source,
    };
    let temporary = path.with_extension(format!("tmp.{}", std::process::id()));
    let mut file = std::fs::File::create(&temporary).map_err(error)?;
    file.write_all(contents).map_err(error)?;
    if durable {
        file.sync_data().map_err(error)?;
    }
    drop(file);
    std::fs::rename(&temporary, path).map_err(|source| {
        let _ = std::fs::remove_file(&temporary);
        error(source)
    })
}

impl ContainerState {
    pub fn save(&self, path: &Path) -> Result<(), StateError> {
        let json = serde_json::to_vec_pretty(self).expect("state serialises");
        write_atomic(path, &json)
    }

    /// `Ok(None)` when there is no state file.
    pub fn load(path: &Path) -> Result<Option<Self>, StateError> {
        let text = match std::fs::read(path) {
            Ok(text) => text,
            Err(source) if source.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => {
                return Err(StateError::Read {
                    path: path.to_path_buf(),
                    source,
                })
            }
        };
        serde_json::from_slice(&text)
            .map(Some)
            .map_err(|source| StateError::Corrupt {
                path: path.to_path_buf(),
                source,
            })
    }
}

/// The current time as RFC 3339 UTC, e.g. `2026-11-22T15:04:05Z`.
pub fn now_rfc3339() -> String {
    let seconds = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    format_rfc3339(seconds)
}

pub fn format_rfc3339(unix_seconds: u64) -> String {
    let days = (unix_seconds / 86_400) as i64;
    let second_of_day = unix_seconds % 86_400;
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        second_of_day / 3600,
        second_of_day / 60 % 60,
        second_of_day % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_known_instants() {
        assert_eq!(format_rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(format_rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(format_rfc3339(1_795_359_845), "2026-11-22T15:04:05Z");
    }

    #[test]
    fn state_round_trips_atomically() {
        let dir = std::env::temp_dir().join(format!("vroot-state-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("state.json");
        assert!(ContainerState::load(&path).unwrap().is_none());
        let state = ContainerState {
            name: "web".into(),
            phase: Phase::Running,
            root: "/vz/private/web".into(),
            supervisor: ProcessIdentity {
                pid: 10,
                start_time: 20,
            },
            init: Some(ProcessIdentity {
                pid: 11,
                start_time: 21,
            }),
            started_at: now_rfc3339(),
            boot_count: 1,
            cgroup: "/vroot/web".into(),
            storage: None,
        };
        state.save(&path).unwrap();
        assert_eq!(ContainerState::load(&path).unwrap(), Some(state));
        let leftovers: Vec<_> = std::fs::read_dir(&dir).unwrap().collect();
        assert_eq!(leftovers.len(), 1, "no temporary file may remain");
        std::fs::write(&path, b"{not json").unwrap();
        assert!(matches!(
            ContainerState::load(&path),
            Err(StateError::Corrupt { .. })
        ));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
