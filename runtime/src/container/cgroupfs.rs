//! What the container sees at `/sys/fs/cgroup`. The init has already entered
//! its own cgroup namespace, so every hierarchy mounted here shows the
//! container's cgroup as its root.
//!
//! - Pure cgroup v2 host: one writable cgroup2 mount; systemd inside manages
//!   its delegated subtree.
//! - Hybrid host: a tmpfs like the host's, the v1 controllers read-only (the
//!   host owns the limits), the `name=systemd` and unified hierarchies
//!   writable, then the tmpfs itself read-only.

use std::path::Path;

use nix::mount::{mount, MsFlags};

use std::os::fd::OwnedFd;

use super::resolve::{fd_path, open_in_root};
use super::InitError;
use crate::cgroups::CgroupLayout;

fn error(what: &str, target: &Path, source: nix::Error) -> InitError {
    InitError::Mount {
        what: what.to_string(),
        target: target.to_path_buf(),
        source,
    }
}

/// `destination` is resolved inside `root` again after the tmpfs is mounted:
/// an fd opened before it still points at the directory underneath.
pub fn mount_view(
    layout: &CgroupLayout,
    root: &OwnedFd,
    destination: &Path,
    target: &Path,
    base: MsFlags,
) -> Result<(), InitError> {
    let base =
        base & (MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC | MsFlags::MS_RELATIME);
    match layout {
        CgroupLayout::Unified { .. } => {
            mount(Some("cgroup2"), target, Some("cgroup2"), base, None::<&str>)
                .map_err(|source| error("cgroup2", target, source))
        }
        CgroupLayout::Hybrid { v1, unified } => {
            let tmpfs_flags = MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
            mount(
                Some("tmpfs"),
                target,
                Some("tmpfs"),
                tmpfs_flags,
                Some("mode=755"),
            )
            .map_err(|source| error("tmpfs", target, source))?;
            let tmpfs_fd =
                open_in_root(root, destination, libc::O_DIRECTORY).map_err(|source| {
                    InitError::Path {
                        path: destination.to_path_buf(),
                        source,
                    }
                })?;
            let tmpfs_path = fd_path(&tmpfs_fd);
            let target = tmpfs_path.as_path();
            for hierarchy in v1 {
                let dir_name = hierarchy.dir_name();
                let dir = target.join(&dir_name);
                make_dir(&dir)?;
                let named_only = hierarchy.controllers.iter().all(|c| c.starts_with("name="));
                let data = if named_only {
                    format!("none,{}", hierarchy.controllers.join(","))
                } else {
                    hierarchy.controllers.join(",")
                };
                let flags = if named_only {
                    base
                } else {
                    base | MsFlags::MS_RDONLY
                };
                mount(
                    Some("cgroup"),
                    &dir,
                    Some("cgroup"),
                    flags,
                    Some(data.as_str()),
                )
                .map_err(|source| error("cgroup", &dir, source))?;
                if hierarchy.controllers.len() > 1 {
                    for controller in &hierarchy.controllers {
                        let _ = std::os::unix::fs::symlink(&dir_name, target.join(controller));
                    }
                }
            }
            if unified.is_some() {
                let dir = target.join("unified");
                make_dir(&dir)?;
                mount(Some("cgroup2"), &dir, Some("cgroup2"), base, None::<&str>)
                    .map_err(|source| error("cgroup2", &dir, source))?;
            }
            mount(
                None::<&str>,
                target,
                None::<&str>,
                MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY | tmpfs_flags,
                Some("mode=755"),
            )
            .map_err(|source| error("read-only tmpfs", target, source))
        }
    }
}

fn make_dir(dir: &Path) -> Result<(), InitError> {
    match std::fs::create_dir(dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(source) => Err(InitError::Io {
            what: format!("create {}", dir.display()),
            source,
        }),
    }
}
