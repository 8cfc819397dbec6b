//! Work that may block on hung storage, run in a forked child with a
//! deadline. The caller never blocks past the deadline: a child that overruns
//! is killed, and one stuck in uninterruptible sleep (which even SIGKILL
//! cannot end) is abandoned rather than waited for.
//!
//! Callers must be single-threaded (the CLI, the supervisor): the child runs
//! ordinary Rust code between fork and `_exit`.

use std::os::fd::{FromRawFd, OwnedFd};
use std::time::Duration;

use crate::process::pidfd_wait_exit;

/// How long a killed child gets to die before it is abandoned.
const KILL_REAP_WAIT: Duration = Duration::from_millis(50);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChildOutcome {
    /// The child's `_exit` code.
    Exited(i32),
    /// Killed by this signal (not by us).
    Signalled(i32),
    /// Overran the deadline and was sent SIGKILL. `stuck` is true when it
    /// had not died shortly after: it sleeps uninterruptibly, and its pid is
    /// left for the caller's reaper.
    TimedOut { pid: i32, stuck: bool },
    /// fork(2) failed.
    NotStarted(nix::Error),
}

impl ChildOutcome {
    pub fn succeeded(&self) -> bool {
        matches!(self, ChildOutcome::Exited(0))
    }
}

/// Runs `work` in a child process; its return value is the child's exit
/// code. Waits at most `deadline` (plus a few milliseconds to reap a killed child).
pub fn run_with_deadline(deadline: Duration, work: impl FnOnce() -> i32) -> ChildOutcome {
    let pid = match start(work) {
        Ok(pid) => pid,
        Err(error) => return ChildOutcome::NotStarted(error),
    };
    wait_with_deadline(pid, deadline)
}

/// Forks a child running `work` and returns its pid at once (for callers,
/// like the supervisor's storage probe, that watch it from an event loop).
pub fn start(work: impl FnOnce() -> i32) -> nix::Result<i32> {
    // SAFETY: the callers are single-threaded (module contract), so the child
    // may run ordinary Rust code; it leaves through _exit only.
    match unsafe { libc::fork() } {
        -1 => Err(nix::Error::last()),
        0 => {
            let code = work();
            // SAFETY: end the child without running the parent's cleanup
            // (atexit handlers, buffered output, destructors).
            unsafe { libc::_exit(code) }
        }
        pid => Ok(pid),
    }
}

/// Waits for a child started by [`start`] for at most `deadline`.
pub fn wait_with_deadline(pid: i32, deadline: Duration) -> ChildOutcome {
    // SAFETY: pidfd_open takes a pid and flags; our unreaped child cannot be reused.
    let raw = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if raw >= 0 {
        // SAFETY: the syscall returned a fresh fd that nothing else owns.
        let pidfd = unsafe { OwnedFd::from_raw_fd(raw as i32) };
        if !pidfd_wait_exit(&pidfd, deadline) {
            return kill_and_abandon(pid);
        }
    }
    match reap(pid, true) {
        Some(outcome) => outcome,
        None => kill_and_abandon(pid),
    }
}

/// Reaps `pid` if it has ended (`block` waits for it).
pub fn reap(pid: i32, block: bool) -> Option<ChildOutcome> {
    use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
    let flags = (!block).then_some(WaitPidFlag::WNOHANG);
    loop {
        return match waitpid(nix::unistd::Pid::from_raw(pid), flags) {
            Ok(WaitStatus::Exited(_, code)) => Some(ChildOutcome::Exited(code)),
            Ok(WaitStatus::Signaled(_, signal, _)) => Some(ChildOutcome::Signalled(signal as i32)),
            Ok(WaitStatus::StillAlive) => None,
            Err(nix::Error::EINTR) => continue,
            Err(_) => Some(ChildOutcome::Exited(-1)),
            Ok(_) => None,
        };
    }
}

fn kill_and_abandon(pid: i32) -> ChildOutcome {
    // SAFETY: kill(2) on our own unreaped child: the pid cannot have been reused.
    unsafe { libc::kill(pid, libc::SIGKILL) };
    let stuck = !crate::container::reap_within(pid, KILL_REAP_WAIT);
    ChildOutcome::TimedOut { pid, stuck }
}
