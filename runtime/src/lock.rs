//! Advisory locks on host-local files.
//!
//! Two locks order vroot's operations:
//! - the *state-root lock*, a `flock` on the `/run/vroot` directory itself,
//!   held for microseconds around creating or removing a container's state
//!   directory ([`lock_with_timeout`]);
//! - the *owner lock*, an open-file-description (OFD) write lock on
//!   `/run/vroot/NAME/owner.lock`, held by whoever owns the container (its
//!   supervisor, or a `stop` cleaning up after a dead one) for as long as it
//!   lives ([`try_lock`]). The kernel drops it when the owner dies, so "not
//!   held" means "no owner", even after SIGKILL; and unlike `flock`, an OFD
//!   lock can be queried without being taken ([`is_held`]), so a `status`
//!   never briefly owns a container.
//!
//! Both kinds belong to the open file description, so a forked child shares
//! the parent's lock: `vroot start` hands the owner lock to the supervisor.

use std::fs::File;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("cannot open {path} for locking: {source}")]
    Open {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("timed out after {timeout:?} waiting for the lock on {path}")]
    Timeout { path: PathBuf, timeout: Duration },
    #[error("cannot lock {path}: {source}")]
    Lock { path: PathBuf, source: nix::Error },
}

/// A held lock; released on drop or when every holder process has exited.
#[derive(Debug)]
pub struct HeldLock {
    _file: File,
    path: PathBuf,
}

impl HeldLock {
    pub fn path(&self) -> &Path {
        &self.path
    }
}

fn open(path: &Path, write: bool, create: bool) -> Result<File, LockError> {
    std::fs::OpenOptions::new()
        .read(true)
        .write(write)
        .create(create)
        .open(path)
        .map_err(|source| LockError::Open {
            path: path.to_path_buf(),
            source,
        })
}

fn try_flock(file: &File) -> nix::Result<bool> {
    // SAFETY: flock on an fd we own; LOCK_NB makes it return at once.
    if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0 {
        return Ok(true);
    }
    match nix::Error::last() {
        nix::Error::EWOULDBLOCK => Ok(false),
        error => Err(error),
    }
}

/// Takes the state-root `flock` on a directory, waiting up to `timeout`.
/// Polling keeps this free of signals and threads; the lock is only ever
/// held for a moment.
pub fn lock_with_timeout(
    path: &Path,
    create: bool,
    timeout: Duration,
) -> Result<HeldLock, LockError> {
    let file = open(path, false, create)?;
    let deadline = Instant::now() + timeout;
    loop {
        match try_flock(&file) {
            Ok(true) => {
                return Ok(HeldLock {
                    _file: file,
                    path: path.to_path_buf(),
                })
            }
            Ok(false) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(2)),
            Ok(false) => {
                return Err(LockError::Timeout {
                    path: path.to_path_buf(),
                    timeout,
                })
            }
            Err(source) => {
                return Err(LockError::Lock {
                    path: path.to_path_buf(),
                    source,
                })
            }
        }
    }
}

fn whole_file_write_lock() -> libc::flock {
    // SAFETY: struct flock is plain data; zero is a valid start (whole file).
    let mut request: libc::flock = unsafe { std::mem::zeroed() };
    request.l_type = libc::F_WRLCK as libc::c_short;
    request.l_whence = libc::SEEK_SET as libc::c_short;
    request
}

/// Takes the owner lock if it is free; `None` if another owner holds it.
pub fn try_lock(path: &Path, create: bool) -> Result<Option<HeldLock>, LockError> {
    let file = open(path, true, create)?;
    let mut request = whole_file_write_lock();
    // SAFETY: F_OFD_SETLK reads the flock struct we pass, on an fd we own.
    if unsafe { libc::fcntl(file.as_raw_fd(), libc::F_OFD_SETLK, &mut request) } == 0 {
        return Ok(Some(HeldLock {
            _file: file,
            path: path.to_path_buf(),
        }));
    }
    match nix::Error::last() {
        nix::Error::EAGAIN | nix::Error::EACCES => Ok(None),
        source => Err(LockError::Lock {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// Whether a live process holds the owner lock on `path`, without taking it
/// (a missing file is "no").
pub fn is_held(path: &Path) -> bool {
    let Ok(file) = open(path, false, false) else {
        return false;
    };
    let mut request = whole_file_write_lock();
    // SAFETY: F_OFD_GETLK fills the flock struct we pass, on an fd we own.
    if unsafe { libc::fcntl(file.as_raw_fd(), libc::F_OFD_GETLK, &mut request) } != 0 {
        return false;
    }
    request.l_type != libc::F_UNLCK as libc::c_short
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        std::env::temp_dir().join(format!("vroot-lock-test-{name}-{}", std::process::id()))
    }

    #[test]
    fn an_owner_lock_excludes_a_second_owner_and_probing_does_not_take_it() {
        let path = scratch("owner");
        let first = try_lock(&path, true).unwrap().expect("free lock");
        assert!(is_held(&path));
        assert!(try_lock(&path, false).unwrap().is_none());
        // Probing many times never releases or steals it.
        for _ in 0..10 {
            assert!(is_held(&path));
        }
        drop(first);
        assert!(!is_held(&path));
        assert!(try_lock(&path, false).unwrap().is_some());
        std::fs::remove_file(&path).unwrap();
        assert!(!is_held(&path), "a missing lock file is not held");
    }

    #[test]
    fn the_directory_lock_times_out_while_held() {
        let dir = scratch("dir");
        std::fs::create_dir_all(&dir).unwrap();
        let held = lock_with_timeout(&dir, false, Duration::from_millis(50)).unwrap();
        assert!(matches!(
            lock_with_timeout(&dir, false, Duration::from_millis(20)),
            Err(LockError::Timeout { .. })
        ));
        drop(held);
        assert!(lock_with_timeout(&dir, false, Duration::from_millis(20)).is_ok());
        std::fs::remove_dir(&dir).unwrap();
    }
}
