//! The storage watchdog: the supervisor probes the filesystem under the
//! container's root with `fstatfs`, from a child process, so that the probe
//! may hang and the supervisor never does. One probe at a time: a probe
//! stuck in the kernel cannot be reaped, and while it lives the storage
//! counts as slow, then hung.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::deadline_child::{self, ChildOutcome};

/// Time between the end of one probe and the start of the next.
pub const PROBE_INTERVAL: Duration = Duration::from_millis(500);
/// A probe taking longer than this makes the storage "slow".
const SLOW_AFTER: Duration = Duration::from_secs(1);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Health {
    Healthy,
    /// A probe has been waiting longer than a second.
    Slow,
    /// No probe has succeeded for the fence's `hang_timeout`.
    Hung,
    /// The filesystem answers with an error (e.g. an aborted connection).
    Failed,
}

impl std::fmt::Display for Health {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Health::Healthy => "healthy",
            Health::Slow => "slow",
            Health::Hung => "hung",
            Health::Failed => "failed",
        })
    }
}

/// What `state.json` records for `vroot status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StorageHealth {
    pub health: Health,
    /// When the storage last answered a probe (RFC 3339), if it has.
    pub last_answer: Option<String>,
    /// How long the last finished probe took.
    pub last_probe_ms: Option<u64>,
}

struct Probe {
    pid: i32,
    started: Instant,
}

pub struct Watchdog {
    root: PathBuf,
    /// Opened when the container starts; probed while it runs.
    root_fd: Option<OwnedFd>,
    probe: Option<Probe>,
    next_probe: Instant,
    hang_timeout: Duration,
    /// Since when no probe has succeeded (`None` while healthy).
    unanswered_since: Option<Instant>,
    last_failed: bool,
    last_probe: Option<Duration>,
    last_answer: Option<String>,
    published: Option<StorageHealth>,
}

/// What changed after a tick or a reaped probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Unchanged,
    /// The health changed: publish it.
    Changed(Health),
}

impl Watchdog {
    pub fn new(root: &Path, hang_timeout: Duration) -> Self {
        Watchdog {
            root: root.to_path_buf(),
            root_fd: None,
            probe: None,
            next_probe: Instant::now(),
            hang_timeout,
            unanswered_since: None,
            last_failed: false,
            last_probe: None,
            last_answer: None,
            published: None,
        }
    }

    /// Opens the root as an `O_PATH` fd for the probes of this boot. The
    /// container is about to start from this root, so it answers now.
    pub fn arm(&mut self) {
        self.root_fd = open_path(&self.root).ok();
    }

    /// Forget the fd: after a fence the old mount may be gone for good, and
    /// recovery is judged by looking the root up afresh.
    pub fn disarm(&mut self) {
        self.root_fd = None;
    }

    pub fn health(&self, now: Instant) -> Health {
        let waited = self.probe.as_ref().map(|p| now.duration_since(p.started));
        let unanswered = self.unanswered_since.map(|since| now.duration_since(since));
        if unanswered.is_some_and(|time| time >= self.hang_timeout) {
            return if self.last_failed && self.probe.is_none() {
                Health::Failed
            } else {
                Health::Hung
            };
        }
        if self.last_failed {
            return Health::Failed;
        }
        if waited.is_some_and(|time| time >= SLOW_AFTER)
            || self.last_probe.is_some_and(|time| time >= SLOW_AFTER)
        {
            return Health::Slow;
        }
        Health::Healthy
    }

    /// How long has the storage not answered, if it has not.
    pub fn unanswered_for(&self, now: Instant) -> Option<Duration> {
        self.unanswered_since.map(|since| now.duration_since(since))
    }

    /// Milliseconds until the watchdog needs the event loop again.
    pub fn poll_timeout(&self, now: Instant) -> Duration {
        match &self.probe {
            None => self.next_probe.saturating_duration_since(now),
            // Wake up when an outstanding probe turns slow or hung.
            Some(probe) => {
                let age = now.duration_since(probe.started);
                [SLOW_AFTER, self.hang_timeout]
                    .into_iter()
                    .filter(|mark| *mark > age)
                    .map(|mark| mark - age)
                    .min()
                    .unwrap_or(PROBE_INTERVAL)
                    .max(Duration::from_millis(10))
            }
        }
    }

    /// Starts a probe when one is due and none is outstanding. Returns the
    /// probe's pid so the caller can tell its SIGCHLD apart.
    pub fn tick(&mut self, now: Instant) -> Option<i32> {
        if self.probe.is_some() || now < self.next_probe {
            return None;
        }
        let pid = match &self.root_fd {
            Some(fd) => {
                let raw = fd.as_raw_fd();
                deadline_child::start(move || probe_fd(raw))
            }
            None => {
                let root = self.root.clone();
                deadline_child::start(move || match open_path(&root) {
                    Ok(fd) => probe_fd(fd.as_raw_fd()),
                    Err(_) => 1,
                })
            }
        }
        .ok()?;
        self.probe = Some(Probe { pid, started: now });
        Some(pid)
    }

    /// Reaps the probe if it has ended; true when it had.
    pub fn reap(&mut self, now: Instant) -> bool {
        let Some(probe) = &self.probe else {
            return false;
        };
        let Some(outcome) = deadline_child::reap(probe.pid, false) else {
            return false;
        };
        let took = now.duration_since(probe.started);
        self.probe = None;
        self.next_probe = now + PROBE_INTERVAL;
        self.last_probe = Some(took);
        if outcome == ChildOutcome::Exited(0) {
            self.unanswered_since = None;
            self.last_failed = false;
            self.last_answer = Some(crate::state::now_rfc3339());
        } else {
            self.last_failed = true;
            self.unanswered_since.get_or_insert(now - took);
        }
        true
    }

    /// Marks the time a hang began: an outstanding probe counts from its start.
    pub fn observe(&mut self, now: Instant) -> Verdict {
        if let Some(probe) = &self.probe {
            if now.duration_since(probe.started) >= SLOW_AFTER {
                self.unanswered_since.get_or_insert(probe.started);
            }
        }
        let current = StorageHealth {
            health: self.health(now),
            last_answer: self.last_answer.clone(),
            last_probe_ms: self.last_probe.map(|time| time.as_millis() as u64),
        };
        let changed = self.published.as_ref().map(|old| old.health) != Some(current.health);
        let health = current.health;
        self.published = Some(current);
        if changed {
            Verdict::Changed(health)
        } else {
            Verdict::Unchanged
        }
    }

    pub fn published(&self) -> Option<StorageHealth> {
        self.published.clone()
    }

    /// The last probe succeeded.
    pub fn answering(&self) -> bool {
        self.last_probe.is_some() && self.unanswered_since.is_none() && !self.last_failed
    }

    /// The outstanding probe's pid, if any.
    pub fn probe_pid(&self) -> Option<i32> {
        self.probe.as_ref().map(|probe| probe.pid)
    }

    /// After recovery: start counting afresh.
    pub fn reset(&mut self) {
        self.unanswered_since = None;
        self.last_failed = false;
    }
}

fn open_path(path: &Path) -> nix::Result<OwnedFd> {
    let fd = nix::fcntl::open(
        path,
        nix::fcntl::OFlag::O_PATH | nix::fcntl::OFlag::O_DIRECTORY | nix::fcntl::OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )?;
    // SAFETY: open returned a new fd that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// The probe itself, in the child: 0 when the filesystem answered.
fn probe_fd(fd: i32) -> i32 {
    // SAFETY: statfs is plain data, filled by fstatfs on success.
    let mut stat: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: a valid fd and a pointer to a statfs for the call's duration.
    if unsafe { libc::fstatfs(fd, &mut stat) } == 0 {
        0
    } else {
        1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn watchdog() -> Watchdog {
        Watchdog::new(Path::new("/nonexistent"), Duration::from_secs(10))
    }

    #[test]
    fn an_outstanding_probe_turns_slow_then_hung() {
        let mut dog = watchdog();
        let start = Instant::now();
        dog.probe = Some(Probe {
            pid: 0,
            started: start,
        });
        assert_eq!(dog.observe(start), Verdict::Changed(Health::Healthy));
        assert_eq!(
            dog.observe(start + Duration::from_millis(500)),
            Verdict::Unchanged
        );
        assert_eq!(
            dog.observe(start + Duration::from_secs(2)),
            Verdict::Changed(Health::Slow)
        );
        assert_eq!(
            dog.observe(start + Duration::from_secs(10)),
            Verdict::Changed(Health::Hung)
        );
        assert_eq!(
            dog.unanswered_for(start + Duration::from_secs(10)),
            Some(Duration::from_secs(10))
        );
    }

    #[test]
    fn the_wakeup_is_at_the_next_mark() {
        let mut dog = watchdog();
        let start = Instant::now();
        dog.probe = Some(Probe {
            pid: 0,
            started: start,
        });
        assert_eq!(dog.poll_timeout(start), SLOW_AFTER);
        assert_eq!(
            dog.poll_timeout(start + Duration::from_secs(3)),
            Duration::from_secs(7)
        );
    }
}
