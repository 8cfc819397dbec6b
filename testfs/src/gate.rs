//! The gate every FUSE request passes before it is performed: open
//! (serving), parking requests unanswered (hung), or holding the session
//! thread so that nothing more is read from the kernel (stalled).
//!
//! A request is a [`Job`]: a closure owning the operation's arguments and
//! fuser's reply object, which either performs the operation and replies or
//! fails it with an errno. A parked job can so be answered later, from any
//! thread.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};

use fuser::Errno;

/// How a job ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Perform the operation and send its reply.
    Perform,
    /// Reply with this error without performing anything.
    Fail(Errno),
}

pub type Job = Box<dyn FnOnce(Outcome) + Send>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Serving,
    Hung,
    Stalled,
}

struct Inner {
    mode: Mode,
    parked: VecDeque<Job>,
    /// How many threads wait in [`Gate::admit`] for a stall to end.
    waiting: usize,
}

pub struct Gate {
    inner: Mutex<Inner>,
    changed: Condvar,
    /// The thread id of the daemon's own stall sentinel (see
    /// [`Gate::admit`]), 0 when there is none.
    sentinel: AtomicU32,
}

impl Default for Gate {
    fn default() -> Self {
        Gate {
            inner: Mutex::new(Inner {
                mode: Mode::Serving,
                parked: VecDeque::new(),
                waiting: 0,
            }),
            changed: Condvar::new(),
            sentinel: AtomicU32::new(0),
        }
    }
}

impl Gate {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn wait_while_stalled(&self) -> MutexGuard<'_, Inner> {
        let mut inner = self.lock();
        inner.waiting += 1;
        let mut inner = self
            .changed
            .wait_while(inner, |inner| inner.mode == Mode::Stalled)
            .unwrap_or_else(PoisonError::into_inner);
        inner.waiting -= 1;
        inner
    }

    /// Whether a session thread is stopped by the stall.
    pub fn holds_a_thread(&self) -> bool {
        self.lock().waiting > 0
    }

    pub fn mode(&self) -> Mode {
        self.lock().mode
    }

    pub fn parked(&self) -> usize {
        self.lock().parked.len()
    }

    /// Switches to hung or stalled. (Back to serving is [`Gate::release`].)
    pub fn set_mode(&self, mode: Mode) {
        self.lock().mode = mode;
        self.changed.notify_all();
    }

    /// Called on the session thread for each request read, made by thread
    /// `pid`. Stalled: blocks until the mode changes. Hung: parks the job.
    /// Serving: performs it.
    ///
    /// The daemon's own stall sentinel is answered at once and never
    /// parked: its request only serves to make the session thread return
    /// here, where it then stops until released. (A request of the daemon's
    /// own left unanswered would keep the daemon from ever exiting.)
    pub fn admit(&self, pid: u32, job: Job) {
        if pid != 0 && pid == self.sentinel.load(Ordering::SeqCst) {
            job(Outcome::Perform);
            drop(self.wait_while_stalled());
            return;
        }
        let mut inner = self.wait_while_stalled();
        if inner.mode == Mode::Hung {
            inner.parked.push_back(job);
        } else {
            drop(inner);
            job(Outcome::Perform);
        }
    }

    /// Back to serving: performs the parked jobs, in the order they came,
    /// before any new request is admitted. Returns how many there were.
    pub fn release(&self) -> usize {
        self.finish(Outcome::Perform)
    }

    /// Back to serving, failing every parked job with `errno`.
    pub fn fail_all(&self, errno: Errno) -> usize {
        self.finish(Outcome::Fail(errno))
    }

    fn finish(&self, outcome: Outcome) -> usize {
        let mut inner = self.lock();
        inner.mode = Mode::Serving;
        self.changed.notify_all();
        let count = inner.parked.len();
        // Run while holding the lock, so a request read meanwhile waits in
        // `admit` and is performed after these.
        while let Some(job) = inner.parked.pop_front() {
            job(outcome);
        }
        count
    }

    /// Marks thread `tid` as the stall sentinel (0: none).
    pub fn set_sentinel(&self, tid: u32) {
        self.sentinel.store(tid, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc;
    use std::sync::Arc;
    use std::thread;
    use std::time::Duration;

    use super::*;

    fn recorder(log: &Arc<Mutex<Vec<String>>>, name: &str) -> Job {
        let (log, name) = (Arc::clone(log), name.to_owned());
        Box::new(move |outcome| log.lock().unwrap().push(format!("{name}:{outcome:?}")))
    }

    #[test]
    fn serving_performs_at_once() {
        let gate = Gate::default();
        let log = Arc::default();
        gate.admit(100, recorder(&log, "a"));
        assert_eq!(*log.lock().unwrap(), ["a:Perform"]);
    }

    #[test]
    fn hung_parks_until_released_in_order() {
        let gate = Gate::default();
        let log = Arc::default();
        gate.set_mode(Mode::Hung);
        gate.admit(100, recorder(&log, "a"));
        gate.admit(101, recorder(&log, "b"));
        assert!(log.lock().unwrap().is_empty());
        assert_eq!(gate.parked(), 2);
        assert_eq!(gate.release(), 2);
        assert_eq!(gate.mode(), Mode::Serving);
        assert_eq!(*log.lock().unwrap(), ["a:Perform", "b:Perform"]);
        assert_eq!(gate.parked(), 0);
    }

    #[test]
    fn fail_all_answers_with_the_error() {
        let gate = Gate::default();
        let log = Arc::default();
        gate.set_mode(Mode::Hung);
        gate.admit(100, recorder(&log, "a"));
        assert_eq!(gate.fail_all(Errno::EIO), 1);
        assert_eq!(*log.lock().unwrap(), [format!("a:Fail({:?})", Errno::EIO)]);
    }

    #[test]
    fn the_sentinel_is_never_parked() {
        let gate = Gate::default();
        let log = Arc::default();
        gate.set_mode(Mode::Hung);
        gate.set_sentinel(42);
        gate.admit(42, recorder(&log, "sentinel"));
        assert_eq!(*log.lock().unwrap(), ["sentinel:Perform"]);
        assert_eq!(gate.parked(), 0);
    }

    #[test]
    fn stalled_blocks_the_caller_until_released() {
        let gate = Arc::new(Gate::default());
        let log = Arc::default();
        gate.set_mode(Mode::Stalled);
        let (done_tx, done_rx) = mpsc::channel();
        let worker = {
            let (gate, job) = (Arc::clone(&gate), recorder(&log, "a"));
            thread::spawn(move || {
                gate.admit(100, job);
                done_tx.send(()).unwrap();
            })
        };
        assert!(done_rx.recv_timeout(Duration::from_millis(100)).is_err());
        assert!(log.lock().unwrap().is_empty());
        assert!(gate.holds_a_thread());
        gate.release();
        done_rx.recv_timeout(Duration::from_secs(5)).unwrap();
        worker.join().unwrap();
        assert_eq!(*log.lock().unwrap(), ["a:Perform"]);
        assert!(!gate.holds_a_thread());
    }

    #[test]
    fn the_sentinel_is_answered_then_blocks() {
        let gate = Arc::new(Gate::default());
        let log = Arc::default();
        gate.set_mode(Mode::Stalled);
        gate.set_sentinel(42);
        let (done_tx, done_rx) = mpsc::channel();
        let worker = {
            let (gate, job) = (Arc::clone(&gate), recorder(&log, "sentinel"));
            thread::spawn(move || {
                gate.admit(42, job);
                done_tx.send(()).unwrap();
            })
        };
        assert!(done_rx.recv_timeout(Duration::from_millis(100)).is_err());
        assert_eq!(*log.lock().unwrap(), ["sentinel:Perform"]);
        gate.release();
        done_rx.recv_timeout(Duration::from_secs(5)).unwrap();
        worker.join().unwrap();
    }
}
