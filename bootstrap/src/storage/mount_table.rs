//! What `/proc/self/mountinfo` says is mounted at the target, and whether
//! that is the configured storage. Reading mountinfo never touches the
//! mounted filesystems, so this is safe while the storage hangs.

use std::path::{Path, PathBuf};

use vroot_runtime::mountinfo::{self, MountEntry};

use super::config::StorageConfig;
use super::error::StorageError;
use super::fs_type::StorageType;
use super::identity;

pub(crate) fn read() -> Result<Vec<MountEntry>, StorageError> {
    mountinfo::read_own().map_err(StorageError::MountInfo)
}

/// The mount on top at exactly `path` (later lines are mounted over earlier
/// ones), if `path` is a mount point.
pub(crate) fn top_mount_at<'a>(table: &'a [MountEntry], path: &Path) -> Option<&'a MountEntry> {
    table.iter().rev().find(|entry| entry.mount_point == path)
}

/// The mount that holds `path`: the one with the longest mount point above
/// it, the topmost (latest) of those.
pub(crate) fn mount_holding<'a>(table: &'a [MountEntry], path: &Path) -> Option<&'a MountEntry> {
    table
        .iter()
        .filter(|entry| path.starts_with(&entry.mount_point))
        .max_by_key(|entry| entry.mount_point.components().count())
}

/// Whether a mount found at the target is the configured storage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Judgement {
    Configured,
    /// Something else: "tmpfs from tmpfs".
    Other(String),
}

/// "tmpfs from tmpfs", "nfs4 from 192.0.2.1:/export".
pub(crate) fn describe_mount(entry: &MountEntry) -> String {
    format!("{} from {}", entry.fs_type, entry.source)
}

/// Judges the mount at the target by its mountinfo type; for `local` with a
/// source (a bind mount, any type) by whether it shows the source directory.
pub(crate) fn judge(config: &StorageConfig, table: &[MountEntry], entry: &MountEntry) -> Judgement {
    if let (Some(source), StorageType::Local) = (&config.source, config.storage_type) {
        return if is_bind_of(table, entry, Path::new(source)) {
            Judgement::Configured
        } else {
            Judgement::Other(format!(
                "{} (not a bind mount of {source}; write `source` without symlinks if it is one)",
                describe_mount(entry)
            ))
        };
    }
    if identity::mountinfo_type_matches(config.storage_type, &entry.fs_type) {
        Judgement::Configured
    } else {
        Judgement::Other(describe_mount(entry))
    }
}

/// A bind mount of `source` shows the device of the mount holding `source`,
/// and as its root the path of `source` inside that mount.
fn is_bind_of(table: &[MountEntry], entry: &MountEntry, source: &Path) -> bool {
    let Some(holder) =
        mount_holding(table, source).filter(|holder| holder.mount_id != entry.mount_id)
    else {
        return false;
    };
    let Ok(inside) = source.strip_prefix(&holder.mount_point) else {
        return false;
    };
    let expected_root: PathBuf = if inside.as_os_str().is_empty() {
        holder.root.clone()
    } else {
        holder.root.join(inside)
    };
    entry.device == holder.device && entry.root == expected_root
}

#[cfg(test)]
mod tests {
    use super::*;

    const TABLE: &str = "\
22 1 8:1 / / rw - ext4 /dev/sda1 rw
30 22 0:40 / /srv rw - tmpfs tmpfs rw
31 22 8:1 /data/vz /vz/private rw - ext4 /dev/sda1 rw
32 22 0:40 /vz /mnt/vz rw - tmpfs tmpfs rw
33 31 0:41 / /vz/private rw - nfs4 192.0.2.1:/export rw
";

    #[test]
    fn finds_the_top_mount_and_the_holder() {
        let table = mountinfo::parse(TABLE);
        assert_eq!(
            top_mount_at(&table, Path::new("/vz/private"))
                .unwrap()
                .mount_id,
            33
        );
        assert!(top_mount_at(&table, Path::new("/vz")).is_none());
        assert_eq!(
            mount_holding(&table, Path::new("/srv/vz"))
                .unwrap()
                .mount_id,
            30
        );
        assert_eq!(
            mount_holding(&table, Path::new("/data/vz"))
                .unwrap()
                .mount_id,
            22
        );
    }

    #[test]
    fn recognises_bind_mounts_of_a_source() {
        let table = mountinfo::parse(TABLE);
        let entry = |id| table.iter().find(|entry| entry.mount_id == id).unwrap();
        assert!(is_bind_of(&table, entry(31), Path::new("/data/vz")));
        assert!(!is_bind_of(&table, entry(31), Path::new("/data/other")));
        assert!(is_bind_of(&table, entry(32), Path::new("/srv/vz")));
        assert!(!is_bind_of(&table, entry(33), Path::new("/data/vz")));
    }
}
