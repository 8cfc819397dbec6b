//! The health probe: fstatfs on the mount point, in a child with a deadline.
//! A probe that does not answer in time means the storage hangs.

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::time::Duration;

use nix::errno::Errno;

use super::child::{self, ChildCall, ChildStatus};
use super::error::StorageError;

/// A probe slower than this is reported as "slow".
pub(crate) const SLOW_PROBE: Duration = Duration::from_secs(1);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Probe {
    Answered {
        magic: u64,
        elapsed: Duration,
    },
    Failed {
        errno: Errno,
        elapsed: Duration,
    },
    /// No answer within the timeout. `left_behind`: the pid of a probe
    /// process stuck in the kernel, if SIGKILL did not end it.
    Hung {
        elapsed: Duration,
        left_behind: Option<i32>,
    },
}

impl Probe {
    pub(crate) fn elapsed(&self) -> Duration {
        match self {
            Probe::Answered { elapsed, .. }
            | Probe::Failed { elapsed, .. }
            | Probe::Hung { elapsed, .. } => *elapsed,
        }
    }
}

pub(crate) fn probe(target: &Path, timeout: Duration) -> Result<Probe, StorageError> {
    let call = ChildCall::Probe {
        target: path_cstring(target)?,
    };
    let end = child::run(&call, timeout)?;
    Ok(match end.status {
        ChildStatus::Exited(0) => match child::probe_magic(&end.output) {
            Some(magic) => Probe::Answered {
                magic,
                elapsed: end.elapsed,
            },
            None => Probe::Failed {
                errno: Errno::EIO,
                elapsed: end.elapsed,
            },
        },
        ChildStatus::Exited(code) => Probe::Failed {
            errno: Errno::from_raw(code),
            elapsed: end.elapsed,
        },
        ChildStatus::Signalled(_) => Probe::Failed {
            errno: Errno::EINTR,
            elapsed: end.elapsed,
        },
        ChildStatus::Overran { pid, left_behind } => Probe::Hung {
            elapsed: end.elapsed,
            left_behind: left_behind.then_some(pid),
        },
    })
}

/// "statfs did not answer within 5s (probe process 1234 is stuck in the
/// kernel and was left behind)".
pub(crate) fn describe_hang(timeout: Duration, left_behind: Option<i32>) -> String {
    let stuck = left_behind
        .map(|pid| format!(" (probe process {pid} is stuck in the kernel and was left behind)"))
        .unwrap_or_default();
    format!("statfs did not answer within {}{stuck}", seconds(timeout))
}

pub(crate) fn path_cstring(path: &Path) -> Result<CString, StorageError> {
    CString::new(path.as_os_str().as_bytes()).map_err(|_| StorageError::Sys {
        what: "pass a path containing a NUL byte",
        source: Errno::EINVAL,
    })
}

/// "5s", "0.3s", "60s": tenths only for a measured time under 10 s.
pub(crate) fn seconds(duration: Duration) -> String {
    let secs = duration.as_secs_f64();
    if secs >= 10.0 || duration.subsec_nanos() == 0 {
        format!("{}s", secs.round() as u64)
    } else {
        format!("{secs:.1}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_durations_briefly() {
        assert_eq!(seconds(Duration::from_secs(60)), "60s");
        assert_eq!(seconds(Duration::from_millis(2049)), "2.0s");
        assert_eq!(seconds(Duration::from_millis(12_400)), "12s");
        assert_eq!(seconds(Duration::from_millis(300)), "0.3s");
        assert_eq!(seconds(Duration::from_micros(800)), "0.0s");
    }
}
