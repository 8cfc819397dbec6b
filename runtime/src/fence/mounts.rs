//! The container's mounts live in its own mount namespace, which the kernel
//! frees with its last task. When killed tasks are stuck, the fence detaches
//! the namespace's whole tree itself, and it verifies from procfs that no
//! process is left in the namespace.

use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::MetadataExt;
use std::time::Duration;

use crate::deadline_child::run_with_deadline;

/// A mount namespace, by its nsfs inode (the `N` of `mnt:[N]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MountNamespace(pub u64);

impl MountNamespace {
    pub fn of(pid: i32) -> Option<Self> {
        std::fs::metadata(format!("/proc/{pid}/ns/mnt"))
            .ok()
            .map(|meta| MountNamespace(meta.ino()))
    }

    /// Every process whose mount namespace this is. Reads only procfs.
    pub fn members(&self) -> Vec<i32> {
        let wanted = format!("mnt:[{}]", self.0);
        let Ok(entries) = std::fs::read_dir("/proc") else {
            return Vec::new();
        };
        entries
            .flatten()
            .filter_map(|entry| entry.file_name().to_str()?.parse::<i32>().ok())
            .filter(|pid| {
                std::fs::read_link(format!("/proc/{pid}/ns/mnt"))
                    .is_ok_and(|link| link.as_os_str() == wanted.as_str())
            })
            .collect()
    }
}

/// Lazily detaches the namespace's whole mount tree, from a child that
/// joined it: `umount2("/", MNT_DETACH)` there takes every mount out of the
/// namespace at once, with no lookup below the root (a lookup could block on
/// the hung storage). Mounts that stuck tasks still use stay alive, out of
/// any namespace, until those tasks end.
pub fn detach_tree(mount_ns: &OwnedFd, deadline: Duration) -> bool {
    // Never our own namespace: that would detach the host's whole tree.
    let own = std::fs::metadata("/proc/self/ns/mnt").ok().map(|m| m.ino());
    let target = nix::sys::stat::fstat(mount_ns.as_raw_fd())
        .ok()
        .map(|stat| stat.st_ino);
    if target.is_none() || target == own {
        return false;
    }
    let outcome = run_with_deadline(deadline, || {
        // SAFETY: setns with an nsfs fd we own; only this child moves.
        if unsafe { libc::setns(mount_ns.as_raw_fd(), libc::CLONE_NEWNS) } != 0 {
            return 100;
        }
        // SAFETY: umount2 with a static C path, in the joined namespace.
        if unsafe { libc::umount2(c"/".as_ptr(), libc::MNT_DETACH) } != 0 {
            return 101;
        }
        0
    });
    outcome.succeeded()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_a_member_of_its_own_mount_namespace() {
        let me = std::process::id() as i32;
        let namespace = MountNamespace::of(me).expect("own mount namespace");
        assert!(namespace.members().contains(&me));
        assert!(MountNamespace(1).members().is_empty());
    }
}
