//! Everything that can go wrong with the shared storage, each as one line
//! that names the file, field or path and says what to do.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}{location}: {message}")]
    Syntax {
        path: PathBuf,
        location: String,
        message: String,
    },
    #[error("{path}: `{field}` {reason}")]
    Invalid {
        path: PathBuf,
        field: &'static str,
        reason: String,
    },
    /// `storage` is "storage nfs 192.0.2.1:/export at /vz/private".
    #[error("{storage}: {reason}")]
    Helper { storage: String, reason: String },
    #[error("{storage}: {target} {problem}")]
    Target {
        storage: String,
        target: PathBuf,
        problem: String,
    },
    #[error(
        "{storage}: {found} is mounted there instead: unmount it (umount {target}), then run `vroot storage mount`"
    )]
    Occupied {
        storage: String,
        target: PathBuf,
        found: String,
    },
    /// `reason` is the last attempt's error and the hint: "mount:
    /// Connection timed out; check that the server is reachable".
    #[error("{storage}: not mounted after {} in {elapsed}: {reason}", attempts_phrase(.attempts))]
    MountFailed {
        storage: String,
        attempts: u32,
        elapsed: String,
        reason: String,
    },
    #[error(
        "{storage}: expected {expected}, found {found}; {aftermath}: check `type` and `source`"
    )]
    WrongFilesystem {
        storage: String,
        expected: String,
        found: String,
        aftermath: &'static str,
    },
    #[error("{storage}: mounted, but {problem}")]
    Unhealthy { storage: String, problem: String },
    #[error("{storage}: still in use: stop the containers first, or --lazy")]
    Busy { storage: String },
    #[error("{storage}: umount failed: {problem}")]
    UmountFailed { storage: String, problem: String },
    #[error("container root {root} is on {storage_type} storage at {target}, {problem}")]
    RootNotReady {
        root: PathBuf,
        storage_type: &'static str,
        target: PathBuf,
        problem: String,
    },
    #[error("cannot read /proc/self/mountinfo: {0}")]
    MountInfo(std::io::Error),
    #[error("cannot {what}: {source}")]
    Sys {
        what: &'static str,
        source: nix::Error,
    },
}

/// "1 attempt", "3 attempts".
pub(crate) fn attempts_phrase(attempts: &u32) -> String {
    match attempts {
        1 => "1 attempt".to_string(),
        count => format!("{count} attempts"),
    }
}
