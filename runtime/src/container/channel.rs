//! The one-shot channel between the supervisor and the init child: the
//! supervisor says "go" once the child is in its cgroup; the child answers
//! with an error message, or with nothing at all when its exec succeeds
//! (the close-on-exec socket closes, and the supervisor reads end-of-file).

use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::time::{Duration, Instant};

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::socket::{socketpair, AddressFamily, SockFlag, SockType};

use super::InitError;

const GO: u8 = b'G';
/// The user namespace's id maps are written.
const MAPPED: u8 = b'M';
const MAX_MESSAGE: usize = 4096;

pub struct ParentChannel(OwnedFd);
pub struct ChildChannel(OwnedFd);

pub fn pair() -> nix::Result<(ParentChannel, ChildChannel)> {
    let (parent, child) = socketpair(
        AddressFamily::Unix,
        SockType::SeqPacket,
        None,
        SockFlag::SOCK_CLOEXEC,
    )?;
    Ok((ParentChannel(parent), ChildChannel(child)))
}

/// How the child's setup ended.
#[derive(Debug, PartialEq, Eq)]
pub enum SetupOutcome {
    Execed,
    Failed(String),
    TimedOut,
}

impl ParentChannel {
    pub fn send_go(&self) -> nix::Result<usize> {
        nix::unistd::write(&self.0, &[GO])
    }

    pub fn send_mapped(&self) -> nix::Result<usize> {
        nix::unistd::write(&self.0, &[MAPPED])
    }

    /// Waits for the child's verdict. A blocked child (e.g. a mount stuck on
    /// hung storage) must not wedge the supervisor, hence the deadline.
    pub fn wait_outcome(&self, timeout: Duration) -> SetupOutcome {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return SetupOutcome::TimedOut;
            }
            let millis = left.as_millis().min(i32::MAX as u128) as i32;
            let mut fds = [PollFd::new(self.0.as_fd(), PollFlags::POLLIN)];
            match poll(
                &mut fds,
                PollTimeout::try_from(millis).unwrap_or(PollTimeout::MAX),
            ) {
                Ok(0) => return SetupOutcome::TimedOut,
                Ok(_) => break,
                Err(nix::Error::EINTR) => continue,
                Err(error) => {
                    return SetupOutcome::Failed(format!("cannot wait for the init: {error}"))
                }
            }
        }
        let mut buffer = [0u8; MAX_MESSAGE];
        match nix::unistd::read(self.0.as_raw_fd(), &mut buffer) {
            Ok(0) => SetupOutcome::Execed,
            Ok(length) => {
                SetupOutcome::Failed(String::from_utf8_lossy(&buffer[..length]).into_owned())
            }
            Err(error) => SetupOutcome::Failed(format!("cannot read from the init: {error}")),
        }
    }
}

impl ChildChannel {
    pub fn wait_for_go(&self) -> Result<(), InitError> {
        self.wait_for(GO)
    }

    pub fn wait_for_mapped(&self) -> Result<(), InitError> {
        self.wait_for(MAPPED)
    }

    fn wait_for(&self, expected: u8) -> Result<(), InitError> {
        let mut byte = [0u8; 1];
        loop {
            match nix::unistd::read(self.0.as_raw_fd(), &mut byte) {
                Ok(1) if byte[0] == expected => return Ok(()),
                Err(nix::Error::EINTR) => continue,
                _ => {
                    return Err(InitError::Channel(
                        "the supervisor went away before the start".into(),
                    ))
                }
            }
        }
    }

    pub fn send_error(&self, message: &str) {
        let bytes = message.as_bytes();
        let _ = nix::unistd::write(&self.0, &bytes[..bytes.len().min(MAX_MESSAGE)]);
    }
}
