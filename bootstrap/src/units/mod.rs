//! systemd units for the bootstrap host: `vroot-storage.service` mounts the
//! shared storage, and the template `vroot@.service` runs one container per
//! instance, ordered after the storage. `vroot install-units` writes them.

mod container_unit;
mod exec_line;
mod install;
mod storage_unit;

use std::path::{Path, PathBuf};

use crate::storage::StorageConfig;

pub use container_unit::{CONTAINER_UNIT, EXIT_FENCED};
pub use storage_unit::STORAGE_UNIT;

#[derive(Debug, thiserror::Error)]
pub enum UnitsError {
    #[error(
        "--binary {path}: must be an absolute path to the vroot program, e.g. /usr/sbin/vroot"
    )]
    RelativeBinary { path: PathBuf },
    #[error("cannot create {path}: {source}; pass --dir with a writable directory")]
    CreateDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// The unit files as (file name, content), storage unit first.
pub fn render(binary: &Path, storage: &StorageConfig) -> Vec<(String, String)> {
    vec![
        (
            STORAGE_UNIT.to_string(),
            storage_unit::render(binary, storage),
        ),
        (CONTAINER_UNIT.to_string(), container_unit::render(binary)),
    ]
}

/// The units as the Debian package installs them (for any storage config).
pub fn render_packaged(binary: &Path) -> Vec<(String, String)> {
    vec![
        (
            STORAGE_UNIT.to_string(),
            storage_unit::render_packaged(binary),
        ),
        (CONTAINER_UNIT.to_string(), container_unit::render(binary)),
    ]
}

/// Writes the units into `dir` (normally /etc/systemd/system); returns the
/// paths written. The caller runs `systemctl daemon-reload`.
pub fn install(
    dir: &Path,
    binary: &Path,
    storage: &StorageConfig,
) -> Result<Vec<PathBuf>, UnitsError> {
    write_units(dir, binary, render(binary, storage))
}

/// Writes the package's units into `dir` (a staging tree).
pub fn install_packaged(dir: &Path, binary: &Path) -> Result<Vec<PathBuf>, UnitsError> {
    write_units(dir, binary, render_packaged(binary))
}

fn write_units(
    dir: &Path,
    binary: &Path,
    units: Vec<(String, String)>,
) -> Result<Vec<PathBuf>, UnitsError> {
    if !binary.is_absolute() {
        return Err(UnitsError::RelativeBinary {
            path: binary.to_path_buf(),
        });
    }
    std::fs::create_dir_all(dir).map_err(|source| UnitsError::CreateDir {
        path: dir.to_path_buf(),
        source,
    })?;
    units
        .iter()
        .map(|(name, content)| install::write_atomically(dir, name, content))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_packaged_units_fit_any_storage_config() {
        let units = render_packaged(Path::new("/usr/sbin/vroot"));
        let names: Vec<&str> = units.iter().map(|(name, _)| name.as_str()).collect();
        assert_eq!(names, [STORAGE_UNIT, CONTAINER_UNIT]);
        let storage = &units[0].1;
        assert!(storage.contains("ExecStart=/usr/sbin/vroot storage mount\n"));
        assert!(storage.contains("ExecStop=/usr/sbin/vroot storage umount\n"));
        assert!(storage.contains("Description=vroot shared storage (/etc/vroot/storage.toml)\n"));
        // The default deadlines: 60 s of attempts, 5 s probes, plus slack.
        assert!(storage.contains("TimeoutStartSec=105\n"), "{storage}");
        assert!(units[1]
            .1
            .contains("ExecStart=/usr/sbin/vroot start --foreground %i\n"));
    }
}
