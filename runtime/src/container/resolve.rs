//! Safe paths inside the container's root. The shared root is written by
//! other nodes too, so a symlink in it must never redirect a mount to a host
//! path: every mount target is opened with `openat2(RESOLVE_IN_ROOT)` and the
//! mount is made on the opened fd (`/proc/self/fd/N`).

use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use super::InitError;

/// Opens `path` (absolute, as seen inside the container) below `root`,
/// with `openat2(RESOLVE_IN_ROOT)` (retrying the EAGAIN a racing mount
/// causes); always `O_PATH`.
pub fn open_in_root(
    root: &OwnedFd,
    path: &Path,
    extra_flags: libc::c_int,
) -> Result<OwnedFd, nix::Error> {
    vroot_overlays::tree::open_beneath(root.as_fd(), path, libc::O_PATH | extra_flags)
}

/// The magic-link path through which the kernel reaches an opened fd.
pub fn fd_path(fd: &OwnedFd) -> PathBuf {
    PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd()))
}

fn device_of(fd: &OwnedFd) -> Result<u64, nix::Error> {
    nix::sys::stat::fstat(fd.as_raw_fd()).map(|stat| stat.st_dev)
}

/// Opens a mount target inside the root, creating it only where that writes
/// nothing into the shared root: on a filesystem vroot mounted itself (the
/// `/dev` and `/run` tmpfs, `/sys/fs/cgroup`). A target missing from the
/// shared root itself is an error that names the path to create.
pub fn mount_target(
    root: &OwnedFd,
    root_path: &Path,
    target: &Path,
    as_dir: bool,
) -> Result<OwnedFd, InitError> {
    match open_in_root(root, target, 0) {
        Ok(fd) => return Ok(fd),
        Err(nix::Error::ENOENT) => {}
        Err(source) => {
            return Err(InitError::Path {
                path: target.to_path_buf(),
                source,
            })
        }
    }
    let parent = target.parent().unwrap_or(Path::new("/"));
    let name = target.file_name().ok_or_else(|| InitError::Path {
        path: target.to_path_buf(),
        source: nix::Error::EINVAL,
    })?;
    let parent_fd =
        open_in_root(root, parent, libc::O_DIRECTORY).map_err(|source| InitError::Path {
            path: parent.to_path_buf(),
            source,
        })?;
    let root_device = device_of(root).map_err(|source| InitError::Path {
        path: root_path.to_path_buf(),
        source,
    })?;
    if device_of(&parent_fd).map_err(|source| InitError::Path {
        path: parent.to_path_buf(),
        source,
    })? == root_device
    {
        return Err(InitError::MissingInRoot {
            path: root_path.join(target.strip_prefix("/").unwrap_or(target)),
            kind: if as_dir { "directory" } else { "file" },
        });
    }
    // O_PATH fds cannot be used with mkdirat; reopen the parent as a directory.
    let dir = nix::fcntl::open(
        &fd_path(&parent_fd),
        nix::fcntl::OFlag::O_DIRECTORY | nix::fcntl::OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .map_err(|source| InitError::Path {
        path: parent.to_path_buf(),
        source,
    })?;
    // SAFETY: `open` returned a new fd that nothing else owns.
    let dir = unsafe { OwnedFd::from_raw_fd(dir) };
    let created = if as_dir {
        nix::sys::stat::mkdirat(
            Some(dir.as_raw_fd()),
            name,
            nix::sys::stat::Mode::from_bits_truncate(0o755),
        )
    } else {
        nix::fcntl::openat(
            Some(dir.as_raw_fd()),
            name,
            nix::fcntl::OFlag::O_CREAT | nix::fcntl::OFlag::O_WRONLY | nix::fcntl::OFlag::O_CLOEXEC,
            nix::sys::stat::Mode::from_bits_truncate(0o644),
        )
        // SAFETY: openat returned a new fd; closing it at once is all we need.
        .map(|fd| drop(unsafe { OwnedFd::from_raw_fd(fd) }))
    };
    match created {
        Ok(()) | Err(nix::Error::EEXIST) => {}
        Err(source) => {
            return Err(InitError::Path {
                path: target.to_path_buf(),
                source,
            })
        }
    }
    open_in_root(root, target, 0).map_err(|source| InitError::Path {
        path: target.to_path_buf(),
        source,
    })
}
