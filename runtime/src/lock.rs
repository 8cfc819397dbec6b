//! Advisory locks (flock) on host-local files.
//!
//! Two locks order vroot's operations:
//! - the *state root lock* on the `/run/vroot` directory itself, held for
//!   microseconds around creating or removing a container's state directory;
//! - the *owner lock* on `/run/vroot/NAME/owner.lock`, held by whoever owns
//!   the container (its supervisor, or a `stop` cleaning up after a dead one)
//!   for as long as it lives. The kernel drops it when the owner dies, so
//!   "lock free" means "no owner", even after SIGKILL.

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
    Flock { path: PathBuf, source: nix::Error },
}

/// A held flock; released on drop or when the process dies.
#[derive(Debug)]
pub struct HeldLock {
    file: File,
    path: PathBuf,
}

impl HeldLock {
    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn file(&self) -> &File {
        &self.file
    }
}

fn try_flock(file: &File) -> nix::Result<bool> {
    // SAFETY: flock on an fd we own; LOCK_NB makes it return at once.
    let result = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    if result == 0 {
        return Ok(true);
    }
    match nix::Error::last() {
        nix::Error::EWOULDBLOCK => Ok(false),
        error => Err(error),
    }
}

fn open_for_lock(path: &Path, create: bool) -> Result<File, LockError> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    if create {
        options.write(true).create(true);
    }
    options.open(path).map_err(|source| LockError::Open {
        path: path.to_path_buf(),
        source,
    })
}

/// Takes an exclusive lock, waiting up to `timeout`. Polling keeps this free
/// of signals and threads; the locks involved are held only briefly or by
/// owners that are checked for liveness first.
pub fn lock_with_timeout(
    path: &Path,
    create: bool,
    timeout: Duration,
) -> Result<HeldLock, LockError> {
    let file = open_for_lock(path, create)?;
    let deadline = Instant::now() + timeout;
    loop {
        match try_flock(&file) {
            Ok(true) => {
                return Ok(HeldLock {
                    file,
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
                return Err(LockError::Flock {
                    path: path.to_path_buf(),
                    source,
                })
            }
        }
    }
}

/// Takes the lock if it is free; `None` if someone holds it.
pub fn try_lock(path: &Path, create: bool) -> Result<Option<HeldLock>, LockError> {
    let file = open_for_lock(path, create)?;
    match try_flock(&file) {
        Ok(true) => Ok(Some(HeldLock {
            file,
            path: path.to_path_buf(),
        })),
        Ok(false) => Ok(None),
        Err(source) => Err(LockError::Flock {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// Whether some live process holds the lock on `path` (a missing file is "no").
pub fn is_held(path: &Path) -> bool {
    match try_lock(path, false) {
        Ok(Some(_probe)) => false,
        Ok(None) => true,
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_is_refused_until_release() {
        let path = std::env::temp_dir().join(format!("vroot-lock-test-{}", std::process::id()));
        let first = try_lock(&path, true).unwrap().expect("free lock");
        assert!(try_lock(&path, false).unwrap().is_none());
        assert!(is_held(&path));
        assert!(matches!(
            lock_with_timeout(&path, false, Duration::from_millis(20)),
            Err(LockError::Timeout { .. })
        ));
        drop(first);
        assert!(!is_held(&path));
        std::fs::remove_file(&path).unwrap();
    }
}
