//! What kind of filesystem a mount is, which mount holds a path, and where
//! the shared storage can be seen on this host. Everything here works on the
//! parsed `/proc/self/mountinfo` and never touches a mounted filesystem.

use std::path::{Path, PathBuf};

use vroot_runtime::mountinfo::MountEntry;

use crate::storage::{StorageConfig, StorageType};

/// What a filesystem type says about where its data lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FsKind {
    /// On this host's own disks or in its memory.
    Local,
    /// Served over the network or shared between hosts (a cluster
    /// filesystem on a shared block device).
    Remote,
    /// FUSE without a known remote subtype: it may be anything, and
    /// `vroot start` refuses a per-host layer on it (it cannot tell).
    Fuse,
}

/// mountinfo type names of network and cluster filesystems.
const REMOTE_TYPES: &[&str] = &[
    "nfs",
    "nfs4",
    "cifs",
    "smb3",
    "smbfs",
    "smb2",
    "ceph",
    "glusterfs",
    "gfs2",
    "ocfs2",
    "9p",
    "virtiofs",
    "afs",
    "lustre",
    "beegfs",
    "gpfs",
    "orangefs",
    "pvfs2",
    "coda",
    "ncpfs",
];

/// FUSE subtypes (`fuse.NAME`) that are network filesystems.
const REMOTE_FUSE_SUBTYPES: &[&str] = &[
    "glusterfs",
    "sshfs",
    "ceph",
    "ceph-fuse",
    "s3fs",
    "rclone",
    "gcsfuse",
    "juicefs",
    "moosefs",
    "mfs",
    "lizardfs",
    "seaweedfs",
    "davfs",
    "curlftpfs",
];

/// Classifies a mountinfo filesystem type name.
pub(crate) fn classify(fs_type: &str) -> FsKind {
    if REMOTE_TYPES.contains(&fs_type) {
        return FsKind::Remote;
    }
    match fs_type.strip_prefix("fuse.") {
        Some(subtype) if REMOTE_FUSE_SUBTYPES.contains(&subtype) => FsKind::Remote,
        Some(_) => FsKind::Fuse,
        None if fs_type == "fuse" || fs_type == "fuseblk" => FsKind::Fuse,
        None => FsKind::Local,
    }
}

/// The mount that holds `path`: the one with the longest mount point above
/// it, the topmost (latest) of those.
pub(crate) fn mount_holding<'a>(table: &'a [MountEntry], path: &Path) -> Option<&'a MountEntry> {
    table
        .iter()
        .filter(|entry| path.starts_with(&entry.mount_point))
        .max_by_key(|entry| entry.mount_point.components().count())
}

/// The mount on top at exactly `path`.
pub(crate) fn top_mount_at<'a>(table: &'a [MountEntry], path: &Path) -> Option<&'a MountEntry> {
    table.iter().rev().find(|entry| entry.mount_point == path)
}

/// Where the shared storage is, as far as the host's paths are concerned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SharedArea {
    /// Paths at or below these are on the shared storage, whatever is
    /// mounted there now: the target (and, for `local` with a source, the
    /// source directory).
    pub prefixes: Vec<PathBuf>,
    /// The device (`major:minor`) of the storage mounted at the target, for
    /// every type but `local`: a path on a mount with this device is on the
    /// shared filesystem too (another bind mount of it). `local` storage is
    /// a directory of this host, so only its paths count.
    pub device: Option<String>,
}

impl SharedArea {
    pub(crate) fn new(storage: &StorageConfig, table: &[MountEntry]) -> Self {
        let mut prefixes = vec![storage.target.clone()];
        if let (StorageType::Local, Some(source)) = (storage.storage_type, &storage.source) {
            prefixes.push(PathBuf::from(source));
        }
        let device = match storage.storage_type {
            StorageType::Local => None,
            _ => top_mount_at(table, &storage.target).map(|entry| entry.device.clone()),
        };
        SharedArea { prefixes, device }
    }

    /// Every place where looking at a path may reach the shared storage.
    pub(crate) fn mount_points<'a>(&'a self, table: &'a [MountEntry]) -> Vec<PathBuf> {
        let mut points = self.prefixes.clone();
        if let Some(device) = &self.device {
            for entry in table.iter().filter(|entry| &entry.device == device) {
                if !points.contains(&entry.mount_point) {
                    points.push(entry.mount_point.clone());
                }
            }
        }
        points
    }
}

/// Mount points below which nothing may be looked at (stat, readlink)
/// because the filesystem there may hang: every network, cluster and FUSE
/// mount, every automount point (looking mounts what may be remote), plus
/// `extra` (the shared storage's places).
pub(crate) fn untouchable(table: &[MountEntry], extra: &[PathBuf]) -> Vec<PathBuf> {
    let mut points: Vec<PathBuf> = table
        .iter()
        .filter(|entry| classify(&entry.fs_type) != FsKind::Local || entry.fs_type == "autofs")
        .map(|entry| entry.mount_point.clone())
        .collect();
    points.extend(extra.iter().cloned());
    points.sort();
    points.dedup();
    points
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;
    use vroot_runtime::mountinfo::parse;

    const TABLE: &str = "\
22 1 8:1 / / rw - ext4 /dev/sda1 rw
23 22 0:40 / /run rw - tmpfs tmpfs rw
24 22 0:41 / /vz/private rw - nfs4 192.0.2.1:/export rw
25 22 0:41 /hosts /var/lib/vroot/hosts rw - nfs4 192.0.2.1:/export rw
26 22 0:50 / /var/lib/lxcfs rw - fuse.lxcfs lxcfs rw
27 22 8:2 / /var/lib/vroot rw - xfs /dev/sda2 rw
28 22 0:60 / /net rw - autofs systemd-1 rw
";

    fn storage(storage_type: StorageType, source: Option<&str>) -> StorageConfig {
        StorageConfig {
            origin: "/etc/vroot/storage.toml".into(),
            storage_type,
            source: source.map(str::to_string),
            target: "/vz/private".into(),
            options: Vec::new(),
            mount_timeout: Duration::from_secs(60),
            retry_interval: Duration::from_secs(2),
            probe_timeout: Duration::from_secs(5),
            helper: None,
        }
    }

    #[test]
    fn classifies_filesystem_types() {
        for remote in [
            "nfs",
            "nfs4",
            "cifs",
            "smb3",
            "glusterfs",
            "fuse.glusterfs",
            "ceph",
            "gfs2",
            "ocfs2",
            "9p",
            "virtiofs",
            "fuse.sshfs",
        ] {
            assert_eq!(classify(remote), FsKind::Remote, "{remote}");
        }
        for fuse in ["fuse", "fuseblk", "fuse.vroot-testfs", "fuse.lxcfs"] {
            assert_eq!(classify(fuse), FsKind::Fuse, "{fuse}");
        }
        for local in ["ext4", "xfs", "btrfs", "tmpfs", "overlay", "zfs", "fusectl"] {
            assert_eq!(classify(local), FsKind::Local, "{local}");
        }
    }

    #[test]
    fn finds_the_mount_holding_a_path() {
        let table = parse(TABLE);
        let holder = |path: &str| mount_holding(&table, Path::new(path)).unwrap().mount_id;
        assert_eq!(holder("/etc/vroot"), 22);
        assert_eq!(holder("/var/lib/vroot/fenced"), 27);
        assert_eq!(holder("/var/lib/vroot/hosts/web"), 25);
        assert_eq!(holder("/vz/private"), 24);
        // A prefix of a name is not a parent.
        assert_eq!(holder("/vz/private2"), 22);
    }

    #[test]
    fn the_shared_area_of_network_storage_includes_its_device() {
        let table = parse(TABLE);
        let area = SharedArea::new(
            &storage(StorageType::Nfs, Some("192.0.2.1:/export")),
            &table,
        );
        assert_eq!(area.prefixes, vec![PathBuf::from("/vz/private")]);
        assert_eq!(area.device.as_deref(), Some("0:41"));
        assert_eq!(
            area.mount_points(&table),
            vec![
                PathBuf::from("/vz/private"),
                PathBuf::from("/var/lib/vroot/hosts"),
            ]
        );
    }

    #[test]
    fn local_storage_counts_by_its_paths_only() {
        let table = parse(TABLE);
        let area = SharedArea::new(&storage(StorageType::Local, Some("/data/vz")), &table);
        assert_eq!(
            area.prefixes,
            vec![PathBuf::from("/vz/private"), PathBuf::from("/data/vz")]
        );
        assert_eq!(area.device, None);
        let plain = SharedArea::new(&storage(StorageType::Local, None), &table);
        assert_eq!(plain.prefixes, vec![PathBuf::from("/vz/private")]);
    }

    #[test]
    fn nothing_on_remote_or_fuse_mounts_is_touched() {
        let table = parse(TABLE);
        assert_eq!(
            untouchable(&table, &[PathBuf::from("/srv/vz")]),
            vec![
                PathBuf::from("/net"),
                PathBuf::from("/srv/vz"),
                PathBuf::from("/var/lib/lxcfs"),
                PathBuf::from("/var/lib/vroot/hosts"),
                PathBuf::from("/vz/private"),
            ]
        );
    }
}
