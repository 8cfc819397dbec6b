//! Mounting and unmounting the FUSE filesystem with mount(2) directly.
//!
//! fuser's own mount code cannot set the subtype (it passes type `fuse`),
//! so the daemon mounts itself and hands fuser the `/dev/fuse` descriptor.

use std::fs::OpenOptions;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use nix::mount::{MntFlags, MsFlags};

/// The source and subtype shown in mountinfo: type `fuse.vroot-testfs`.
pub const NAME: &str = "vroot-testfs";

#[derive(Debug, thiserror::Error)]
pub enum MountError {
    #[error("cannot open /dev/fuse: {0}")]
    Device(#[source] std::io::Error),
    #[error("cannot stat the mountpoint {path}: {source}")]
    Mountpoint {
        path: PathBuf,
        source: nix::errno::Errno,
    },
    #[error("mount of {path} failed: {source}")]
    Mount {
        path: PathBuf,
        source: nix::errno::Errno,
    },
    #[error("unmount of {path} failed: {source}")]
    Unmount {
        path: PathBuf,
        source: nix::errno::Errno,
    },
}

/// Mounts a new FUSE connection at `mountpoint`, open to every user, with
/// permissions checked by the kernel, devices, set-user-ID and exec
/// allowed. Returns the connection's `/dev/fuse` descriptor; the kernel has
/// queued its INIT request on it.
pub fn mount(mountpoint: &Path) -> Result<OwnedFd, MountError> {
    let dev: OwnedFd = OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/fuse")
        .map_err(MountError::Device)?
        .into();
    let root = nix::sys::stat::stat(mountpoint).map_err(|source| MountError::Mountpoint {
        path: mountpoint.to_owned(),
        source,
    })?;
    let options = format!(
        "fd={},rootmode={:o},user_id=0,group_id=0,default_permissions,allow_other",
        dev.as_raw_fd(),
        root.st_mode & libc::S_IFMT,
    );
    nix::mount::mount(
        Some(NAME),
        mountpoint,
        Some(format!("fuse.{NAME}").as_str()),
        MsFlags::empty(),
        Some(options.as_str()),
    )
    .map_err(|source| MountError::Mount {
        path: mountpoint.to_owned(),
        source,
    })?;
    Ok(dev)
}

/// Lazily detaches whatever is mounted at `mountpoint`; nothing mounted
/// there is no error.
pub fn detach(mountpoint: &Path) -> Result<(), MountError> {
    match nix::mount::umount2(mountpoint, MntFlags::MNT_DETACH) {
        Ok(()) | Err(nix::errno::Errno::EINVAL) | Err(nix::errno::Errno::ENOENT) => Ok(()),
        Err(source) => Err(MountError::Unmount {
            path: mountpoint.to_owned(),
            source,
        }),
    }
}

/// Unmounts `mountpoint`, lazily if it is busy.
pub fn unmount(mountpoint: &Path) -> Result<(), MountError> {
    match nix::mount::umount2(mountpoint, MntFlags::empty()) {
        Ok(()) | Err(nix::errno::Errno::EINVAL) => Ok(()),
        Err(_) => detach(mountpoint),
    }
}
