//! The check `vroot start` makes before it uses a container root: a root on
//! the shared storage needs that storage mounted, the right one, and
//! answering. The root itself is never touched (it may be on storage that
//! hangs); only the mount point is probed, from a child.

use std::path::{Component, Path, PathBuf};

use super::config::StorageConfig;
use super::error::StorageError;
use super::status::{status, Health};

/// `Ok` for roots outside the target and for `local` without a source;
/// otherwise the storage must be usable (healthy, or slow but answering).
pub fn check_root_ready(config: &StorageConfig, root: &Path) -> Result<(), StorageError> {
    if config.is_plain_directory() || !lexically_normal(root).starts_with(&config.target) {
        return Ok(());
    }
    let found = status(config);
    if found.health.is_usable() {
        return Ok(());
    }
    let problem = match found.health {
        Health::NotMounted => "which is not mounted: run `vroot storage mount`".to_string(),
        Health::WrongType => format!("but {}", found.message),
        _ => format!("which is hung: {}", found.message),
    };
    Err(StorageError::RootNotReady {
        root: root.to_path_buf(),
        storage_type: config.storage_type.as_str(),
        target: config.target.clone(),
        problem,
    })
}

/// Drops `.` and resolves `..` by the text alone: the path is not looked at
/// on disk, where it may hang (the storage check and `vroot doctor` use it).
pub fn lexically_normal(path: &Path) -> PathBuf {
    let mut normal = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                normal.pop();
            }
            other => normal.push(other),
        }
    }
    normal
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_by_text() {
        assert_eq!(
            lexically_normal(Path::new("/vz/private/../web")),
            PathBuf::from("/vz/web")
        );
        assert_eq!(
            lexically_normal(Path::new("/vz/./private//web/")),
            PathBuf::from("/vz/private/web")
        );
    }
}
