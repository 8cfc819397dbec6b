//! Releasing tasks stuck on hung shared storage. Killed tasks that sleep
//! uninterruptibly in a filesystem request only return once the request
//! ends, so the fence ends the requests:
//! - FUSE (and virtiofs): abort the connection through fusectl;
//! - NFS, CIFS, Ceph, 9p: a forced unmount, whose `umount_begin` fails the
//!   pending requests. It is done on a private clone of the host's mount, so
//!   the host's own mount of the storage stays where it is;
//! - GFS2 and OCFS2 wait for the cluster's fencing: nothing local releases
//!   them, and the fence says so.
//!
//! The storage is found without touching it: from the mount tables of the
//! container's tasks and of the host, both read from procfs.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::deadline_child::{run_with_deadline, ChildOutcome};
use crate::mountinfo::{self, MountEntry};

const FUSECTL: &str = "/sys/fs/fuse/connections";

/// What can be done about one filesystem the container uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Release {
    /// A FUSE connection, by its fusectl number.
    AbortFuse { connection: u64 },
    /// A network filesystem whose pending requests a forced unmount fails.
    ForceUnmount,
    /// A cluster filesystem: only fencing the host releases it.
    ClusterFencing,
}

/// One shared filesystem under the container, by superblock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StorageMount {
    pub device: String,
    pub fs_type: String,
    pub source: String,
    /// Where the host has it mounted, if it does.
    pub host_mount_point: Option<PathBuf>,
    pub release: Release,
}

impl std::fmt::Display for StorageMount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.fs_type, self.source)?;
        if let Some(point) = &self.host_mount_point {
            write!(f, " at {}", point.display())?;
        }
        Ok(())
    }
}

/// The kernel's internal device number, as fusectl names connections.
fn kernel_dev(device: &str) -> Option<u64> {
    let (major, minor) = device.split_once(':')?;
    Some((major.parse::<u64>().ok()? << 20) | minor.parse::<u64>().ok()?)
}

fn release_for(entry: &MountEntry) -> Option<Release> {
    let fs_type = entry.fs_type.as_str();
    if fs_type == "fuse"
        || fs_type == "fuseblk"
        || fs_type.starts_with("fuse.")
        || fs_type == "virtiofs"
    {
        return kernel_dev(&entry.device).map(|connection| Release::AbortFuse { connection });
    }
    match fs_type {
        "nfs" | "nfs4" | "cifs" | "smb3" | "ceph" | "9p" => Some(Release::ForceUnmount),
        "gfs2" | "ocfs2" => Some(Release::ClusterFencing),
        _ => None,
    }
}

/// The shared filesystems a container uses: those mounted in its namespace
/// (`container_mounts`, from one of its tasks) and the host mount holding
/// its root (which an overlay root hides from the container's own table).
pub fn storage_under(
    container_mounts: &[MountEntry],
    host_mounts: &[MountEntry],
    root: Option<&Path>,
) -> Vec<StorageMount> {
    let mut candidates: Vec<&MountEntry> = container_mounts.iter().collect();
    if let Some(root) = root {
        let holder = host_mounts
            .iter()
            .filter(|entry| root.starts_with(&entry.mount_point))
            .max_by_key(|entry| entry.mount_point.as_os_str().len());
        candidates.extend(holder);
    }
    let mut found: Vec<StorageMount> = Vec::new();
    for entry in candidates {
        let Some(release) = release_for(entry) else {
            continue;
        };
        if found.iter().any(|known| known.device == entry.device) {
            continue;
        }
        let host_mount_point = host_mounts
            .iter()
            .find(|host| host.device == entry.device)
            .map(|host| host.mount_point.clone());
        found.push(StorageMount {
            device: entry.device.clone(),
            fs_type: entry.fs_type.clone(),
            source: entry.source.clone(),
            host_mount_point,
            release,
        });
    }
    found
}

/// The mount table of a task (procfs: safe while storage hangs).
pub fn mounts_of(pid: i32) -> Vec<MountEntry> {
    std::fs::read_to_string(format!("/proc/{pid}/mountinfo"))
        .map(|text| mountinfo::parse(&text))
        .unwrap_or_default()
}

#[derive(Debug, thiserror::Error)]
pub enum ReleaseError {
    #[error("cannot mount fusectl at {FUSECTL}: {0}")]
    Fusectl(nix::Error),
    #[error("cannot abort FUSE connection {connection}: {source}")]
    Abort {
        connection: u64,
        source: std::io::Error,
    },
    #[error("the forced unmount of {what} did not finish ({outcome:?})")]
    ForceUnmount { what: String, outcome: ChildOutcome },
    #[error("{what} is not mounted on the host, so it cannot be force-unmounted from here")]
    NoHostMount { what: String },
    #[error("{what} is a cluster filesystem: its tasks wait for the cluster to fence this host")]
    ClusterFencing { what: String },
}

/// Ends the pending requests of one storage. `scratch` is a host-local
/// directory for the clone a forced unmount needs.
pub fn release(
    storage: &StorageMount,
    scratch: &Path,
    deadline: Duration,
) -> Result<(), ReleaseError> {
    match storage.release {
        Release::AbortFuse { connection } => abort_fuse(connection),
        Release::ForceUnmount => {
            let Some(point) = &storage.host_mount_point else {
                return Err(ReleaseError::NoHostMount {
                    what: storage.to_string(),
                });
            };
            force_unmount_clone(point, scratch, deadline).map_err(|outcome| {
                ReleaseError::ForceUnmount {
                    what: storage.to_string(),
                    outcome,
                }
            })
        }
        Release::ClusterFencing => Err(ReleaseError::ClusterFencing {
            what: storage.to_string(),
        }),
    }
}

/// Mounts fusectl if the host has not.
pub fn ensure_fusectl() -> Result<(), ReleaseError> {
    let mounted = mountinfo::read_own()
        .map(|entries| entries.iter().any(|e| e.fs_type == "fusectl"))
        .unwrap_or(false);
    if mounted {
        return Ok(());
    }
    nix::mount::mount(
        Some("fusectl"),
        FUSECTL,
        Some("fusectl"),
        nix::mount::MsFlags::empty(),
        None::<&str>,
    )
    .or_else(|error| {
        if error == nix::Error::EBUSY {
            Ok(())
        } else {
            Err(error)
        }
    })
    .map_err(ReleaseError::Fusectl)
}

fn abort_fuse(connection: u64) -> Result<(), ReleaseError> {
    ensure_fusectl()?;
    let abort = Path::new(FUSECTL)
        .join(connection.to_string())
        .join("abort");
    match std::fs::write(&abort, b"1") {
        Ok(()) => Ok(()),
        // The connection is gone already: nothing is pending on it.
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(ReleaseError::Abort { connection, source }),
    }
}

/// Clones the host's mount of the storage (same superblock, a new mount of
/// our own), moves the clone into `scratch`, and force-unmounts it there:
/// the filesystem fails its pending requests, and the host's mount stays.
/// All of it runs in a child with a deadline: the lookups may block.
fn force_unmount_clone(
    point: &Path,
    scratch: &Path,
    deadline: Duration,
) -> Result<(), ChildOutcome> {
    let _ = std::fs::create_dir_all(scratch);
    let outcome = run_with_deadline(deadline, || {
        let Ok(point) = std::ffi::CString::new(point.as_os_str().as_encoded_bytes()) else {
            return 2;
        };
        let Ok(target) = std::ffi::CString::new(scratch.as_os_str().as_encoded_bytes()) else {
            return 2;
        };
        // SAFETY: open_tree with a valid C path; returns a new fd or -1.
        let clone = unsafe {
            libc::syscall(
                libc::SYS_open_tree,
                libc::AT_FDCWD,
                point.as_ptr(),
                libc::OPEN_TREE_CLONE
                    | libc::OPEN_TREE_CLOEXEC
                    | libc::AT_NO_AUTOMOUNT as libc::c_uint,
            )
        };
        if clone < 0 {
            return 3;
        }
        // SAFETY: move_mount of the detached clone (fd, empty path) onto a host-local directory.
        let moved = unsafe {
            libc::syscall(
                libc::SYS_move_mount,
                clone as libc::c_int,
                c"".as_ptr(),
                libc::AT_FDCWD,
                target.as_ptr(),
                libc::MOVE_MOUNT_F_EMPTY_PATH,
            )
        };
        if moved != 0 {
            return 4;
        }
        // SAFETY: umount2 on the clone we just placed; MNT_FORCE calls the
        // filesystem's umount_begin, which fails its pending requests.
        unsafe { libc::umount2(target.as_ptr(), libc::MNT_FORCE) };
        // SAFETY: as above; detach whatever is left of our clone.
        unsafe { libc::umount2(target.as_ptr(), libc::MNT_DETACH) };
        0
    });
    let _ = std::fs::remove_dir(scratch);
    if outcome.succeeded() {
        Ok(())
    } else {
        Err(outcome)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(device: &str, mount_point: &str, fs_type: &str, source: &str) -> MountEntry {
        mountinfo::parse_line(&format!(
            "1 0 {device} / {mount_point} rw - {fs_type} {source} rw"
        ))
        .unwrap()
    }

    #[test]
    fn fuse_connections_are_named_by_the_kernel_device_number() {
        assert_eq!(kernel_dev("0:52"), Some(52));
        assert_eq!(kernel_dev("8:1"), Some((8 << 20) | 1));
        assert_eq!(kernel_dev("garbage"), None);
    }

    #[test]
    fn the_storage_under_a_container_is_found_once_per_superblock() {
        let container = vec![
            entry("0:52", "/", "fuse.vroot-testfs", "vroot-testfs"),
            entry("0:60", "/proc", "proc", "proc"),
            entry("8:1", "/etc/hostname", "ext4", "/dev/vda1"),
            entry("0:52", "/srv", "fuse.vroot-testfs", "vroot-testfs"),
        ];
        let host = vec![
            entry("8:1", "/", "ext4", "/dev/vda1"),
            entry("0:52", "/vz/private", "fuse.vroot-testfs", "vroot-testfs"),
            entry("0:70", "/vz/private/nfs", "nfs4", "192.0.2.1:/export"),
        ];
        let found = storage_under(&container, &host, Some(Path::new("/vz/private/web")));
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].release, Release::AbortFuse { connection: 52 });
        assert_eq!(
            found[0].host_mount_point,
            Some(PathBuf::from("/vz/private"))
        );

        // An overlay root hides the lower storage from the container's own
        // table: the host mount holding the root is found instead.
        let overlay = vec![entry("0:90", "/", "overlay", "overlay")];
        let found = storage_under(&overlay, &host, Some(Path::new("/vz/private/nfs/web")));
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].release, Release::ForceUnmount);
        assert_eq!(found[0].fs_type, "nfs4");
    }

    #[test]
    fn cluster_filesystems_cannot_be_released_locally() {
        let host = vec![entry("253:3", "/vz/private", "gfs2", "/dev/mapper/vz")];
        let found = storage_under(&[], &host, Some(Path::new("/vz/private/web")));
        assert_eq!(found[0].release, Release::ClusterFencing);
        let error = release(
            &found[0],
            Path::new("/nonexistent"),
            Duration::from_millis(1),
        )
        .unwrap_err();
        assert!(
            error.to_string().contains("cluster to fence this host"),
            "{error}"
        );
    }
}
