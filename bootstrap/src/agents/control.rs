//! The one seam between the cluster-agent protocols and the containers: the
//! agents speak fence-agents and OCF, the binary supplies an implementation of
//! [`ContainerControl`] that does the real work. Keeping the protocols pure
//! lets their exit codes and messages be tested without a single container.

use std::time::Duration;

/// A container's state as the cluster agents see it.
///
/// `Fenced` is kept apart from `Off` because the two answer differently:
/// a fenced container is verified dead *and* barred from starting until it
/// is unfenced, while a stopped one may be started by anyone at any time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Power {
    /// Its init is running.
    On,
    /// Stopped cleanly; nothing prevents a start.
    Off,
    /// Killed and isolated by a fence; nothing is left of it and no plain
    /// start brings it back until the fence is cleared ([`ContainerControl::power_on`]).
    Fenced,
}

/// Why a container operation failed; the agents turn it into their exit codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    /// This host neither has a configuration for the container nor runs it.
    UnknownContainer,
    /// The container's configuration exists on this host but is not valid.
    NotConfigured,
    /// The caller lacks the privileges the operation needs.
    Permission,
    /// The operation did not finish, or could not be verified, in time.
    Timeout,
    /// Anything else.
    Failed,
}

/// A failed container operation: what kind of failure, and a message for
/// the cluster manager's log.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ControlFailure {
    pub kind: FailureKind,
    pub message: String,
}

impl ControlFailure {
    pub fn new(kind: FailureKind, message: impl Into<String>) -> Self {
        ControlFailure {
            kind,
            message: message.into(),
        }
    }
}

/// The container operations both agents need, on this host.
///
/// Every method that changes state returns `Ok` only once the new state is
/// verified: a timeout is a failure, never an assumed success. The agents
/// still read [`power`](ContainerControl::power) again afterwards, so an
/// implementation that returns early is caught rather than trusted.
pub trait ContainerControl {
    /// Every container this host knows (configured or running), with its state.
    fn list(&self) -> Result<Vec<(String, Power)>, ControlFailure>;

    /// The state of one container; [`FailureKind::UnknownContainer`] when
    /// this host neither configures nor runs it.
    fn power(&self, name: &str) -> Result<Power, ControlFailure>;

    /// Fences the container within `timeout`: kills every process, isolates
    /// it and marks it fenced. `Ok` only when nothing of it is left, after
    /// which [`power`](ContainerControl::power) reports [`Power::Fenced`].
    /// Also called on a cleanly stopped container, to put the fence up.
    fn fence_off(&self, name: &str, timeout: Duration) -> Result<(), ControlFailure>;

    /// Clears the fence (if any) and starts the container within `timeout`;
    /// `Ok` once its init runs.
    fn power_on(&self, name: &str, timeout: Duration) -> Result<(), ControlFailure>;

    /// Graceful stop (the OCF `stop`), escalating to a kill when `timeout`
    /// runs out; `Ok` only when nothing of the container is left.
    fn stop(&self, name: &str, timeout: Duration) -> Result<(), ControlFailure>;

    /// Plain start (the OCF `start`) within `timeout`; refuses a fenced
    /// container. `Ok` once its init runs.
    fn start(&self, name: &str, timeout: Duration) -> Result<(), ControlFailure>;

    /// Whether the container is configured on this host (its configuration
    /// exists and is valid).
    fn validate(&self, name: &str) -> Result<(), ControlFailure>;

    /// Whether this host is healthy enough to fence (its state directory is
    /// readable, the cgroup filesystem is there).
    fn monitor(&self) -> Result<(), ControlFailure>;

    /// Why a running container cannot do its work although its init runs:
    /// its storage hangs or fails, as the supervisor's watchdog last saw.
    /// `None` when nothing is known to be wrong.
    fn trouble(&self, _name: &str) -> Option<String> {
        None
    }

    /// Waits before fencing (the fence agent's `delay`). A method of its own
    /// so that tests can record the wait instead of sleeping through it.
    fn pause(&self, duration: Duration) {
        std::thread::sleep(duration);
    }
}
