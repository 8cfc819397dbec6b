//! `vroot storage umount`: unmounts the configured storage from a child with
//! a deadline (unmounting flushes to the server, which may hang).

use std::time::Duration;

use nix::errno::Errno;

use super::child::{self, ChildCall, ChildStatus};
use super::config::StorageConfig;
use super::error::StorageError;
use super::mount_table::{self, judge, top_mount_at, Judgement};
use super::probe::{path_cstring, seconds};

/// How one umount2 call ended.
enum UmountEnd {
    Done,
    /// EINVAL: the target is no longer a mount point (someone was quicker).
    NotMounted,
    Failed(Errno),
    Killed(i32),
    Overran {
        pid: i32,
        left_behind: bool,
    },
}

/// Unmounts the storage. Nothing mounted (or `local` without a source) is
/// fine. `force` asks the filesystem to abort pending requests (MNT_FORCE,
/// for an unreachable NFS server); `lazy` detaches it at once and lets the
/// kernel finish when the last user is gone (MNT_DETACH).
pub fn umount(config: &StorageConfig, force: bool, lazy: bool) -> Result<(), StorageError> {
    if config.is_plain_directory() {
        return Ok(());
    }
    let table = mount_table::read()?;
    let Some(entry) = top_mount_at(&table, &config.target) else {
        return Ok(());
    };
    if let Judgement::Other(found) = judge(config, &table, entry) {
        return Err(StorageError::UmountFailed {
            storage: config.describe(),
            problem: format!(
                "{found} is mounted there, not this storage: leave it, or unmount it yourself (umount {})",
                config.target.display()
            ),
        });
    }
    let mut flags = libc::UMOUNT_NOFOLLOW;
    if force {
        flags |= libc::MNT_FORCE;
    }
    if lazy {
        flags |= libc::MNT_DETACH;
    }
    let deadline = config.mount_timeout;
    let problem = match run_umount(config, flags, deadline)? {
        UmountEnd::Done | UmountEnd::NotMounted => return Ok(()),
        UmountEnd::Failed(Errno::EBUSY) => {
            return Err(StorageError::Busy {
                storage: config.describe(),
            })
        }
        UmountEnd::Failed(errno) => errno.desc().to_string(),
        UmountEnd::Killed(signal) => format!("umount was killed by signal {signal}"),
        UmountEnd::Overran { pid, left_behind } => {
            let stuck = if left_behind {
                format!(" (process {pid} is stuck in the kernel and was left behind)")
            } else {
                String::new()
            };
            format!(
                "no answer within {}{stuck}: the server may be unreachable; try --force, or --lazy to detach it now",
                seconds(deadline)
            )
        }
    };
    Err(StorageError::UmountFailed {
        storage: config.describe(),
        problem,
    })
}

/// Takes away a mount that turned out to be the wrong filesystem; says
/// what happened, for the end of the caller's error.
pub(crate) fn undo_wrong_mount(config: &StorageConfig) -> &'static str {
    let deadline = config.probe_timeout;
    let detached = |flags| {
        matches!(
            run_umount(config, flags, deadline),
            Ok(UmountEnd::Done | UmountEnd::NotMounted)
        )
    };
    if detached(libc::UMOUNT_NOFOLLOW) {
        "unmounted it again"
    } else if detached(libc::UMOUNT_NOFOLLOW | libc::MNT_DETACH) {
        "detached it again (lazy unmount)"
    } else {
        "could not unmount it: unmount it by hand"
    }
}

fn run_umount(
    config: &StorageConfig,
    flags: libc::c_int,
    deadline: Duration,
) -> Result<UmountEnd, StorageError> {
    let call = ChildCall::Umount {
        target: path_cstring(&config.target)?,
        flags,
    };
    let end = child::run(&call, deadline)?;
    Ok(match end.status {
        ChildStatus::Exited(0) => UmountEnd::Done,
        ChildStatus::Exited(libc::EINVAL) => UmountEnd::NotMounted,
        ChildStatus::Exited(code) => UmountEnd::Failed(Errno::from_raw(code)),
        ChildStatus::Signalled(signal) => UmountEnd::Killed(signal),
        ChildStatus::Overran { pid, left_behind } => UmountEnd::Overran { pid, left_behind },
    })
}
