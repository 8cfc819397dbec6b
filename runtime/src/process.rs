//! Process identity that survives pid reuse: a pid together with its start
//! time (in clock ticks since boot, `/proc/PID/stat` field 22).

use std::os::fd::{FromRawFd, OwnedFd};

use libc::c_int;
use serde::{Deserialize, Serialize};

use crate::signal::RawSignal;

#[derive(Debug, thiserror::Error)]
pub enum ProcessError {
    #[error("process {pid} is gone")]
    Gone { pid: i32 },
    #[error("cannot signal process {pid}: {source}")]
    Signal { pid: i32, source: nix::Error },
    #[error("cannot open a pidfd for process {pid}: {source}")]
    Pidfd { pid: i32, source: nix::Error },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessIdentity {
    pub pid: i32,
    pub start_time: u64,
}

/// Reads field 22 (starttime) of a `/proc/PID/stat` text. The command name
/// (field 2) may contain spaces and parentheses, so fields are counted from
/// the last `)`.
pub fn parse_start_time(stat: &str) -> Option<u64> {
    let after_name = &stat[stat.rfind(')')? + 1..];
    after_name.split_whitespace().nth(19)?.parse().ok()
}

impl ProcessIdentity {
    /// The identity of a live process.
    pub fn of(pid: i32) -> Option<Self> {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        Some(ProcessIdentity {
            pid,
            start_time: parse_start_time(&stat)?,
        })
    }

    /// True only while this very process (not a reuse of its pid) exists,
    /// zombies included.
    pub fn is_alive(&self) -> bool {
        ProcessIdentity::of(self.pid).is_some_and(|now| now == *self)
    }

    /// A pidfd for this process, checked against the start time after opening
    /// so that the fd cannot refer to a process that reused the pid.
    pub fn open_pidfd(&self) -> Result<OwnedFd, ProcessError> {
        // SAFETY: pidfd_open takes a pid and flags and returns a new fd or -1.
        let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, self.pid, 0) };
        if fd < 0 {
            let source = nix::Error::last();
            return Err(if source == nix::Error::ESRCH {
                ProcessError::Gone { pid: self.pid }
            } else {
                ProcessError::Pidfd {
                    pid: self.pid,
                    source,
                }
            });
        }
        // SAFETY: the syscall returned a fresh fd that nothing else owns.
        let pidfd = unsafe { OwnedFd::from_raw_fd(fd as c_int) };
        if !self.is_alive() {
            return Err(ProcessError::Gone { pid: self.pid });
        }
        Ok(pidfd)
    }
}

/// Sends a raw signal through a pidfd: no pid-reuse race.
pub fn pidfd_send_signal(pidfd: &OwnedFd, pid: i32, signal: RawSignal) -> Result<(), ProcessError> {
    use std::os::fd::AsRawFd;
    // SAFETY: the pidfd is valid for the call; a null siginfo means "as kill(2)".
    let result = unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            pidfd.as_raw_fd(),
            signal.number(),
            std::ptr::null::<libc::siginfo_t>(),
            0,
        )
    };
    if result < 0 {
        let source = nix::Error::last();
        return Err(if source == nix::Error::ESRCH {
            ProcessError::Gone { pid }
        } else {
            ProcessError::Signal { pid, source }
        });
    }
    Ok(())
}

/// Waits up to `timeout` for the process behind a pidfd to end.
pub fn pidfd_wait_exit(pidfd: &OwnedFd, timeout: std::time::Duration) -> bool {
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    use std::os::fd::AsFd;
    let deadline = std::time::Instant::now() + timeout;
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        let millis = PollTimeout::try_from(left.as_millis().min(i32::MAX as u128) as i32)
            .unwrap_or(PollTimeout::MAX);
        let mut fds = [PollFd::new(pidfd.as_fd(), PollFlags::POLLIN)];
        match poll(&mut fds, millis) {
            Ok(0) => return false,
            Ok(_) => return true,
            Err(nix::Error::EINTR) => continue,
            Err(_) => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_time_survives_odd_command_names() {
        let stat =
            "1234 (a) b (c)) S 1 1234 1234 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 1000 10";
        assert_eq!(parse_start_time(stat), Some(987654));
        assert_eq!(parse_start_time("garbage"), None);
    }

    #[test]
    fn own_identity_is_alive_and_a_changed_start_time_is_not() {
        let me = ProcessIdentity::of(std::process::id() as i32).unwrap();
        assert!(me.is_alive());
        let reused = ProcessIdentity {
            start_time: me.start_time + 1,
            ..me
        };
        assert!(!reused.is_alive());
    }
}
