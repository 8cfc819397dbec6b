//! The daemon: the mounted session, the control socket and signals.
//!
//! The main thread owns everything and serves the control socket and
//! SIGTERM/SIGINT (through a signalfd) one at a time. The FUSE session runs
//! on fuser's threads; requests reach the passthrough through the shared
//! [`Gate`], which the commands switch.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};
use std::{fs, io, thread};

use fuser::{BackgroundSession, Errno, SessionACL};
use nix::poll::{PollFd, PollFlags, PollTimeout};
use nix::sys::resource::{getrlimit, setrlimit, Resource};
use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};

use crate::control::{Command, State, Status};
use crate::fs::TestFs;
use crate::gate::{Gate, Mode};
use crate::mount::{self, MountError};
use crate::passthrough::Passthrough;

/// How long a control client may take to send its command line.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long `stall` waits for the session thread to stop.
const STALL_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// The directory served.
    pub source: PathBuf,
    pub mountpoint: PathBuf,
    /// The control socket's path.
    pub control: PathBuf,
    /// Where to write the daemon's pid once it serves.
    pub ready_file: Option<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error(transparent)]
    Mount(#[from] MountError),
    #[error("cannot open the source directory {path}: {source}")]
    Source { path: PathBuf, source: io::Error },
    #[error("cannot start the FUSE session: {0}")]
    Session(#[source] io::Error),
    #[error("control socket {path}: {source}")]
    Control { path: PathBuf, source: io::Error },
    #[error("cannot write the ready file {path}: {source}")]
    Ready { path: PathBuf, source: io::Error },
    #[error("cannot set up signal handling: {0}")]
    Signals(#[source] nix::errno::Errno),
}

/// One mounted FUSE connection and the thread serving it.
struct Session {
    background: BackgroundSession,
    /// A duplicate of the connection's `/dev/fuse` descriptor: polling it
    /// shows whether the connection still lives.
    device: OwnedFd,
}

impl Session {
    fn start(config: &Config, gate: &Arc<Gate>) -> Result<Session, DaemonError> {
        let passthrough =
            Passthrough::new(&config.source).map_err(|source| DaemonError::Source {
                path: config.source.clone(),
                source,
            })?;
        let device = mount::mount(&config.mountpoint)?;
        let started = device.try_clone().and_then(|watched| {
            let fs = TestFs::new(passthrough, Arc::clone(gate));
            let session =
                fuser::Session::from_fd(fs, device, SessionACL::All, fuser::Config::default())?;
            Ok(Session {
                background: session.spawn()?,
                device: watched,
            })
        });
        if started.is_err() {
            // Best effort: the error that matters is the one returned.
            let _ = mount::detach(&config.mountpoint);
        }
        started.map_err(DaemonError::Session)
    }

    /// Whether the kernel connection still lives. When someone aborts it
    /// (fusectl's `abort`) or unmounts it, the device reports POLLERR and
    /// the session thread's next read fails with ENODEV, ending it.
    fn alive(&self) -> bool {
        if self.background.guard.is_finished() {
            return false;
        }
        let mut fds = [PollFd::new(self.device.as_fd(), PollFlags::empty())];
        match nix::poll::poll(&mut fds, PollTimeout::ZERO) {
            Ok(_) => !fds[0]
                .revents()
                .is_some_and(|revents| revents.contains(PollFlags::POLLERR)),
            Err(_) => true,
        }
    }
}

pub struct Daemon {
    config: Config,
    gate: Arc<Gate>,
    session: Session,
}

impl Daemon {
    pub fn start(config: Config) -> Result<Daemon, DaemonError> {
        let gate = Arc::new(Gate::default());
        let session = Session::start(&config, &gate)?;
        Ok(Daemon {
            config,
            gate,
            session,
        })
    }

    fn status(&self) -> Status {
        let state = if !self.session.alive() {
            State::Aborted
        } else {
            match self.gate.mode() {
                Mode::Serving => State::Serving,
                Mode::Hung => State::Hung,
                Mode::Stalled => State::Stalled,
            }
        };
        Status {
            state,
            parked: self.gate.parked(),
        }
    }

    /// Runs one command; the reply line's text after `ok `.
    fn run(&mut self, command: Command) -> Result<String, DaemonError> {
        Ok(match command {
            Command::Hang => {
                self.gate.set_mode(Mode::Hung);
                "hung".to_owned()
            }
            Command::Stall => {
                self.stall();
                "stalled".to_owned()
            }
            Command::Release => self.release()?,
            Command::Status => self.status().to_string(),
            Command::Exit => {
                self.shutdown();
                "exiting".to_owned()
            }
        })
    }

    /// Stops the session thread before it reads another request. It sits in
    /// `read` on the device, so it is made to read one more: a `statfs` of
    /// the mountpoint from a thread of the daemon's own, the sentinel, which
    /// the gate answers before it blocks (see [`Gate::admit`]). Returns once
    /// the thread is stopped, so that requests made after the reply stay in
    /// the kernel's queue.
    fn stall(&mut self) {
        if self.gate.mode() == Mode::Stalled {
            return;
        }
        self.gate.set_mode(Mode::Stalled);
        let (gate, mountpoint) = (Arc::clone(&self.gate), self.config.mountpoint.clone());
        let sentinel = thread::spawn(move || {
            gate.set_sentinel(nix::unistd::gettid().as_raw() as u32);
            // Its answer does not matter; a dead connection fails it at once.
            let _ = nix::sys::statfs::statfs(&mountpoint);
            gate.set_sentinel(0);
        });
        let started = Instant::now();
        while !self.gate.holds_a_thread()
            && !sentinel.is_finished()
            && started.elapsed() < STALL_TIMEOUT
        {
            thread::sleep(Duration::from_millis(1));
        }
    }

    /// Serves again: answers the parked requests (performing them) and
    /// reads on. If the connection died meanwhile, its parked requests were
    /// already failed by the kernel and are dropped; the dead mount is
    /// detached and a fresh one mounted in its place.
    fn release(&mut self) -> Result<String, DaemonError> {
        if self.session.alive() {
            let count = self.gate.release();
            return Ok(format!("released={count}"));
        }
        let dropped = self.gate.fail_all(Errno::EIO);
        mount::detach(&self.config.mountpoint)?;
        let fresh = Session::start(&self.config, &self.gate)?;
        let dead = std::mem::replace(&mut self.session, fresh);
        // Its reads fail with ENODEV, so it ends; wait for it to be sure.
        let _ = dead.background.join();
        Ok(format!("remounted dropped={dropped}"))
    }

    /// Fails the parked requests with EIO and unmounts (lazily if busy).
    pub fn shutdown(&mut self) {
        self.gate.fail_all(Errno::EIO);
        if let Err(err) = mount::unmount(&self.config.mountpoint) {
            eprintln!("vroot-testfs: {err}");
        }
        let _ = fs::remove_file(&self.config.control);
    }

    /// Reads one command line from a control client and answers it.
    /// Returns whether the daemon is to exit.
    fn serve_client(&mut self, stream: UnixStream) -> bool {
        let mut line = String::new();
        let read = stream
            .set_read_timeout(Some(CLIENT_TIMEOUT))
            .and_then(|()| BufReader::new((&stream).take(4096)).read_line(&mut line));
        let (reply, exit) = match read.map(|_| Command::parse(&line)) {
            Err(err) => (format!("error reading the command: {err}"), false),
            Ok(Err(err)) => (format!("error {err}"), false),
            Ok(Ok(command)) => match self.run(command) {
                Ok(text) => (format!("ok {text}"), command == Command::Exit),
                Err(err) => (format!("error {err}"), false),
            },
        };
        // The client may have gone; nothing to do about it.
        let _ = writeln!(&stream, "{reply}");
        exit
    }
}

fn write_ready_file(path: &Path) -> io::Result<()> {
    let mut partial = path.as_os_str().to_owned();
    partial.push(".partial");
    fs::write(&partial, format!("{}\n", std::process::id()))?;
    fs::rename(&partial, path)
}

/// Mounts, serves until `exit` or SIGTERM/SIGINT, and unmounts.
pub fn run(config: Config) -> Result<(), DaemonError> {
    // Block the signals before any thread starts, so that every thread
    // inherits the mask and they are only ever read from the signalfd.
    let mut signals = SigSet::empty();
    signals.add(Signal::SIGTERM);
    signals.add(Signal::SIGINT);
    signals.thread_block().map_err(DaemonError::Signals)?;
    let signalfd =
        SignalFd::with_flags(&signals, SfdFlags::SFD_CLOEXEC).map_err(DaemonError::Signals)?;
    // One O_PATH descriptor is held per inode the kernel caches: allow as
    // many as the hard limit does (best effort).
    if let Ok((_, hard)) = getrlimit(Resource::RLIMIT_NOFILE) {
        let _ = setrlimit(Resource::RLIMIT_NOFILE, hard, hard);
    }
    // Modes of new files come from the kernel with the caller's umask
    // applied; the daemon's own must not mask them again.
    nix::sys::stat::umask(nix::sys::stat::Mode::empty());

    let mut daemon = Daemon::start(config.clone())?;
    let control_error = |source| DaemonError::Control {
        path: config.control.clone(),
        source,
    };
    // A socket left over by an earlier daemon would make bind fail.
    let _ = fs::remove_file(&config.control);
    let listener = match UnixListener::bind(&config.control) {
        Ok(listener) => listener,
        Err(err) => {
            daemon.shutdown();
            return Err(control_error(err));
        }
    };
    if let Some(path) = &config.ready_file {
        if let Err(source) = write_ready_file(path) {
            daemon.shutdown();
            return Err(DaemonError::Ready {
                path: path.clone(),
                source,
            });
        }
    }

    loop {
        let mut fds = [
            PollFd::new(listener.as_fd(), PollFlags::POLLIN),
            PollFd::new(signalfd.as_fd(), PollFlags::POLLIN),
        ];
        match nix::poll::poll(&mut fds, PollTimeout::NONE) {
            Ok(_) | Err(nix::errno::Errno::EINTR) => {}
            Err(err) => {
                daemon.shutdown();
                return Err(control_error(err.into()));
            }
        }
        let ready = |fd: &PollFd| fd.revents().is_some_and(|r| !r.is_empty());
        if ready(&fds[1]) {
            daemon.shutdown();
            return Ok(());
        }
        if ready(&fds[0]) {
            match listener.accept() {
                Ok((stream, _)) => {
                    if daemon.serve_client(stream) {
                        return Ok(());
                    }
                }
                Err(err) => eprintln!("vroot-testfs: accept on the control socket: {err}"),
            }
        }
    }
}
