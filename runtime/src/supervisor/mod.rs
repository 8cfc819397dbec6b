//! The per-container supervisor: a small single-threaded process (like LXC's
//! monitor or conmon) that creates the init, holds its console, classifies its
//! end, reboots or stops it, and answers the control socket.

pub mod console;
pub mod control;
pub mod watchdog;

use std::io::{BufRead, BufReader, Write};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::time::{Duration, Instant};

use oci_spec::runtime::Spec;

use crate::cgroups::{ContainerCgroup, ResourceLimits};
use crate::config::OnHang;
use crate::container::{self, InitPlan};
use crate::fence::marker::{FenceMarker, FencedBy};
use crate::fence::{self, FenceTarget};
use crate::init_end::{InitEnd, NextStep};
use crate::lifecycle::halt::{self, HaltRequest};
use crate::lifecycle::teardown;
use crate::lock::HeldLock;
use crate::network::{self, netns::Netns, Attachment};
use crate::paths::{HostPaths, StateFiles};
use crate::process::ProcessIdentity;
use crate::signal::RawSignal;
use crate::spec::RuntimeSettings;
use crate::state::{now_rfc3339, ContainerState, Phase};
use console::{open_pty, ConsoleLog};
use control::{Reply, Request};
use watchdog::{Health, Verdict, Watchdog};

/// Exit code of `vroot start --foreground` for a container that ended
/// fenced, and of a `start` refused because the container is fenced: the
/// systemd unit does not restart on it.
pub const EXIT_FENCED: i32 = 6;

/// The bound of a fence the watchdog starts.
const WATCHDOG_FENCE_BUDGET: Duration = Duration::from_secs(10);

/// Console reads of 16 KiB per poll round (256 KiB).
const CONSOLE_READS_PER_ROUND: usize = 16;

/// How long the init may take to set up its root before it counts as stuck.
pub const SETUP_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, thiserror::Error)]
pub enum SupervisorError {
    #[error(transparent)]
    Spec(#[from] crate::spec::SpecError),
    #[error(transparent)]
    Cgroup(#[from] crate::cgroups::CgroupError),
    #[error(transparent)]
    Spawn(#[from] container::SpawnError),
    #[error(transparent)]
    State(#[from] crate::state::StateError),
    #[error(transparent)]
    Teardown(#[from] teardown::TeardownError),
    #[error("cannot {what}: {source}")]
    Io {
        what: String,
        source: std::io::Error,
    },
    #[error("cannot {what}: {source}")]
    Sys {
        what: &'static str,
        source: nix::Error,
    },
}

/// Where the supervisor tells its starter that the init runs, or why not.
pub enum Reporter {
    /// `vroot start` waits on the read end of this pipe.
    Pipe(OwnedFd),
    /// `vroot start --foreground`: the supervisor is the command itself.
    Stderr,
}

impl Reporter {
    fn send(self, result: Result<i32, String>, steps: &[(String, std::time::Duration)]) {
        match self {
            Reporter::Pipe(fd) => {
                let mut text: String = steps
                    .iter()
                    .map(|(what, took)| crate::progress::encode_step(what, *took))
                    .collect();
                text.push_str(&match result {
                    Ok(pid) => format!("OK {pid}\n"),
                    Err(message) => format!("ERR {}\n", message.replace('\n', " ")),
                });
                let _ = nix::unistd::write(&fd, text.as_bytes());
            }
            Reporter::Stderr => {
                if let Err(message) = result {
                    eprintln!("vroot: {message}");
                }
            }
        }
    }
}

struct Boot {
    identity: ProcessIdentity,
    pidfd: OwnedFd,
    master: OwnedFd,
    /// Held so that the master never sees a hangup while the init reopens
    /// its console; the init's end is learnt from the pidfd instead.
    _slave: OwnedFd,
    /// The boot's links; its namespace outlives the init until released.
    network: Option<Attachment>,
}

struct StopInProgress {
    /// Before the kill: when to kill. After it: when to stop waiting for the
    /// killed tasks and answer the waiters with a failure.
    deadline: Instant,
    waiters: Vec<UnixStream>,
    escalated: bool,
    /// The waiters were told that tasks outlived the kill.
    reported_stuck: bool,
}

pub struct Supervisor {
    spec: Spec,
    settings: RuntimeSettings,
    paths: HostPaths,
    files: StateFiles,
    cgroup: ContainerCgroup,
    limits: ResourceLimits,
    _owner_lock: HeldLock,
    /// Keeps another container from running on the same per-host layer.
    _layer_lock: HeldLock,
    console_log: ConsoleLog,
    listener: UnixListener,
    signals: OwnedFd,
    state: ContainerState,
    boot: Option<Boot>,
    clients: Vec<UnixStream>,
    stop: Option<StopInProgress>,
    helpers: Vec<i32>,
    /// Leave the final "stopped" line out (a failed foreground start).
    quiet: bool,
    /// The first boot's steps and their times, for `vroot start --verbose`.
    boot_steps: Vec<(String, std::time::Duration)>,
    watchdog: Watchdog,
    /// The event loop ends with this exit code.
    done: Option<i32>,
}

fn io_error(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> SupervisorError {
    let what = what.into();
    move |source| SupervisorError::Io { what, source }
}

/// Runs a container until it stops for good; returns the exit code of
/// `vroot start --foreground` (0 on poweroff, 128+signal on a crash).
/// The `tty` group of Debian and most distributions, which owns terminals.
const TTY_GID: u32 = 5;

pub fn run(
    spec: Spec,
    paths: HostPaths,
    owner_lock: HeldLock,
    layer_lock: HeldLock,
    reporter: Reporter,
) -> i32 {
    let name = RuntimeSettings::from_spec(&spec)
        .map(|settings| settings.name)
        .unwrap_or_default();
    // In the foreground the reporter's one line is the whole story on stderr;
    // in the background the log keeps it too.
    let foreground = matches!(reporter, Reporter::Stderr);
    crate::logging::init(
        crate::logging::supervisor_sink(&paths, &name, foreground),
        &name,
    );
    let mut supervisor = match Supervisor::prepare(spec, paths, owner_lock, layer_lock) {
        Ok(supervisor) => supervisor,
        Err((error, files, state_root)) => {
            let _ = teardown::remove_state_dir(&state_root, &files);
            reporter.send(Err(format!("container {name}: {error}")), &[]);
            return 1;
        }
    };
    if let Err(error) = supervisor.boot() {
        if !foreground {
            supervisor.error(&format!("start failed: {error}"));
        }
        supervisor.quiet = foreground;
        let _ = supervisor.finish(1);
        reporter.send(
            Err(format!("container {}: {error}", supervisor.settings.name)),
            &[],
        );
        return 1;
    }
    let init_pid = supervisor
        .boot
        .as_ref()
        .map(|b| b.identity.pid)
        .unwrap_or(0);
    reporter.send(Ok(init_pid), &supervisor.boot_steps);
    supervisor.event_loop()
}

impl Supervisor {
    fn prepare(
        spec: Spec,
        paths: HostPaths,
        owner_lock: HeldLock,
        layer_lock: HeldLock,
    ) -> Result<Self, (SupervisorError, StateFiles, std::path::PathBuf)> {
        let settings = match RuntimeSettings::from_spec(&spec) {
            Ok(settings) => settings,
            Err(error) => {
                let files = StateFiles::new(owner_lock.path().parent().unwrap_or(&paths.state_dir));
                return Err((error.into(), files, paths.state_dir.clone()));
            }
        };
        let files = StateFiles::new(&paths.container_state_dir(&settings.name));
        let fail = |error: SupervisorError| (error, files.clone(), paths.state_dir.clone());

        let cgroup = ContainerCgroup::on_host(&settings.cgroup_path).map_err(|e| fail(e.into()))?;
        std::fs::create_dir_all(&paths.log_dir)
            .map_err(|e| fail(io_error(format!("create {}", paths.log_dir.display()))(e)))?;
        let console_path = paths.console_log(&settings.name);
        let console_log = ConsoleLog::open(&console_path)
            .map_err(|e| fail(io_error(format!("open {}", console_path.display()))(e)))?;

        let signals = crate::signal::blocked_signalfd(&[
            libc::SIGTERM,
            libc::SIGINT,
            libc::SIGHUP,
            libc::SIGCHLD,
        ])
        .map_err(|source| {
            fail(SupervisorError::Sys {
                what: "route signals to a signalfd",
                source,
            })
        })?;

        let socket = files.control_socket();
        let _ = std::fs::remove_file(&socket);
        let listener = UnixListener::bind(&socket)
            .map_err(|e| fail(io_error(format!("bind {}", socket.display()))(e)))?;
        listener
            .set_nonblocking(true)
            .map_err(|e| fail(io_error("make the control socket non-blocking")(e)))?;
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(&socket, std::fs::Permissions::from_mode(0o600));

        let state = ContainerState {
            name: settings.name.clone(),
            phase: Phase::Starting,
            root: settings.root.clone(),
            supervisor: ProcessIdentity::of(std::process::id() as i32).expect("own /proc entry"),
            init: None,
            started_at: now_rfc3339(),
            boot_count: 0,
            cgroup: settings.cgroup_path.clone(),
            storage: None,
        };
        state
            .save(&files.state_json())
            .map_err(|e| fail(e.into()))?;
        let watchdog = Watchdog::new(&settings.root, settings.fence.hang_timeout);
        Ok(Supervisor {
            limits: ResourceLimits::from_spec(&spec),
            spec,
            settings,
            paths,
            files,
            cgroup,
            _owner_lock: owner_lock,
            _layer_lock: layer_lock,
            console_log,
            listener,
            signals,
            state,
            boot: None,
            clients: Vec::new(),
            stop: None,
            helpers: Vec::new(),
            quiet: false,
            boot_steps: Vec::new(),
            watchdog,
            done: None,
        })
    }

    fn log(&self, message: &str) {
        tracing::info!("{message}");
    }

    fn warn(&self, message: &str) {
        tracing::warn!("{message}");
    }

    fn error(&self, message: &str) {
        tracing::error!("{message}");
    }

    fn save_state(&self) {
        if let Err(error) = self.state.save(&self.files.state_json()) {
            self.warn(&format!("cannot save state: {error}"));
        }
    }

    fn boot(&mut self) -> Result<(), SupervisorError> {
        let mut steps = Vec::new();
        let mut clock = std::time::Instant::now();
        let mut lap = |what: String, steps: &mut Vec<(String, std::time::Duration)>| {
            steps.push((what, clock.elapsed()));
            clock = std::time::Instant::now();
        };
        self.cgroup.create(&self.limits)?;
        lap("cgroup created".into(), &mut steps);
        let pty = open_pty().map_err(|source| SupervisorError::Sys {
            what: "open the console pty",
            source,
        })?;
        if let Some(range) = self.settings.userns {
            // The container's root and tty group are BASE and BASE+5 here:
            // it must own its console and the cgroup it manages.
            let tty_group = range.to_host(TTY_GID).unwrap_or(range.base);
            nix::unistd::fchown(
                std::os::fd::AsRawFd::as_raw_fd(&pty.slave),
                Some(nix::unistd::Uid::from_raw(range.base)),
                Some(nix::unistd::Gid::from_raw(tty_group)),
            )
            .map_err(|source| SupervisorError::Sys {
                what: "give the console to the user namespace",
                source,
            })?;
            self.cgroup.delegate_payload(range.base, range.base)?;
        }
        let plan = InitPlan::from_spec(&self.spec, self.cgroup.layout().clone())?;
        lap("console and plan ready".into(), &mut steps);
        let mut attachment: Option<Attachment> = None;
        let mut network_took = None;
        let name = self.settings.name.clone();
        let interfaces = &self.settings.network;
        let record_path = self.files.network_json();
        let mut attach_network = |pid: i32| -> Result<(), String> {
            if interfaces.is_empty() {
                return Ok(());
            }
            let began = std::time::Instant::now();
            let netns = Netns::of_process(pid).map_err(|error| error.to_string())?;
            let attached = network::attach(&name, interfaces, netns).map_err(|e| e.to_string())?;
            network_took = Some(began.elapsed());
            let saved = attached.record().save(&record_path);
            attachment = Some(attached);
            saved.map_err(|error| format!("cannot write {}: {error}", record_path.display()))
        };
        let spawned = container::spawn(
            &plan,
            &pty.slave,
            &self.cgroup,
            SETUP_TIMEOUT,
            &mut attach_network,
        );
        let spawned = match spawned {
            Ok(spawned) => spawned,
            Err(error) => {
                if let Some(attachment) = attachment.take() {
                    self.release_network(attachment);
                }
                let _ = teardown::remove_cgroup(&self.cgroup);
                return Err(error.into());
            }
        };
        let spawn_took = clock.elapsed();
        if let Some(took) = network_took {
            steps.push((
                format!("network attached ({} interfaces)", interfaces.len()),
                took,
            ));
        }
        steps.push((
            "init set up (namespaces, mounts, /dev) and running".into(),
            spawn_took.saturating_sub(network_took.unwrap_or_default()),
        ));
        if self.boot_steps.is_empty() {
            self.boot_steps = steps;
        }
        let identity = ProcessIdentity::of(spawned.pid).unwrap_or(ProcessIdentity {
            pid: spawned.pid,
            start_time: 0,
        });
        self.state.init = Some(identity);
        self.state.phase = Phase::Running;
        self.state.boot_count += 1;
        self.state.started_at = now_rfc3339();
        self.save_state();
        self.log(&format!(
            "boot {} started: init pid {} (boot id {})",
            self.state.boot_count, identity.pid, plan.boot_id
        ));
        self.boot = Some(Boot {
            identity,
            pidfd: spawned.pidfd,
            master: pty.master,
            _slave: pty.slave,
            network: attachment,
        });
        self.watchdog.reset();
        self.watchdog.arm();
        Ok(())
    }

    fn event_loop(&mut self) -> i32 {
        loop {
            let mut fds: Vec<libc::pollfd> = Vec::with_capacity(4 + self.clients.len());
            let mut push = |fd: RawFd| {
                fds.push(libc::pollfd {
                    fd,
                    events: libc::POLLIN,
                    revents: 0,
                })
            };
            push(self.signals.as_raw_fd());
            push(self.listener.as_raw_fd());
            if let Some(boot) = &self.boot {
                push(boot.pidfd.as_raw_fd());
                push(boot.master.as_raw_fd());
            }
            for client in &self.clients {
                push(client.as_raw_fd());
            }
            if let Some(exit_code) = self.done {
                return exit_code;
            }
            let now = Instant::now();
            let stop_wait = self
                .stop
                .as_ref()
                .filter(|stop| !stop.reported_stuck)
                .map(|stop| stop.deadline.saturating_duration_since(now));
            let wait = [stop_wait, Some(self.watchdog.poll_timeout(now))]
                .into_iter()
                .flatten()
                .min()
                .unwrap_or(Duration::MAX);
            let timeout_ms = wait.as_millis().min(i32::MAX as u128) as i32;
            // SAFETY: `fds` is a valid array of pollfd for its length.
            let ready =
                unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, timeout_ms) };
            if ready < 0 {
                continue;
            }
            let due = self
                .stop
                .as_ref()
                .filter(|stop| !stop.reported_stuck && Instant::now() >= stop.deadline)
                .map(|stop| stop.escalated);
            match due {
                Some(false) => self.escalate("the stop timeout passed"),
                Some(true) => self.report_stuck(),
                None => {}
            }
            let readable = |index: usize| fds.get(index).is_some_and(|fd| fd.revents != 0);
            if readable(0) {
                self.handle_signals();
            }
            self.watch_storage();
            if self.done.is_some() {
                continue;
            }
            if readable(1) {
                self.accept_requests();
            }
            let has_boot = self.boot.is_some();
            if has_boot && readable(3) {
                self.pump_console();
            }
            let client_base = if has_boot { 4 } else { 2 };
            let ready_clients: Vec<usize> = (0..self.clients.len())
                .filter(|i| readable(client_base + i))
                .collect();
            self.pump_clients(&ready_clients);
            if has_boot && readable(2) {
                if let Some(exit_code) = self.handle_init_end() {
                    return exit_code;
                }
            }
        }
    }

    fn handle_signals(&mut self) {
        while let Some(RawSignal(signal)) = crate::signal::read_signalfd(&self.signals) {
            match signal {
                libc::SIGCHLD => {
                    self.reap_helpers();
                    self.watchdog.reap(Instant::now());
                }
                signal if self.stop.is_some() && signal == libc::SIGINT => {
                    self.escalate("interrupted twice")
                }
                signal => {
                    self.log(&format!(
                        "{} received: stopping the container",
                        RawSignal(signal)
                    ));
                    self.begin_stop(self.settings.stop_timeout, false, None);
                }
            }
        }
    }

    /// Runs the storage watchdog: starts a probe when one is due, publishes
    /// health changes, fences on a hang when the policy says so, and starts
    /// a watchdog-fenced container again once its storage answers.
    fn watch_storage(&mut self) {
        let now = Instant::now();
        self.watchdog.reap(now);
        let waiting = self.state.phase == Phase::Fenced;
        if self.boot.is_none() && !waiting {
            return;
        }
        self.watchdog.tick(now);
        if let Verdict::Changed(health) = self.watchdog.observe(now) {
            self.state.storage = self.watchdog.published();
            self.save_state();
            self.log(&format!(
                "storage under {}: {health}",
                self.settings.root.display()
            ));
        }
        if waiting {
            if self.watchdog.answering() {
                self.recover();
            }
            return;
        }
        let unanswered = self.watchdog.unanswered_for(now).unwrap_or_default();
        let hung = matches!(self.watchdog.health(now), Health::Hung | Health::Failed)
            && unanswered >= self.settings.fence.hang_timeout;
        if hung && self.settings.fence.on_hang == OnHang::Fence && self.stop.is_none() {
            self.fence_for_hang(unanswered);
        }
    }

    fn fence_for_hang(&mut self, unanswered: Duration) {
        let reason = format!(
            "the storage under {} did not answer for {}s",
            self.settings.root.display(),
            unanswered.as_secs()
        );
        self.log(&format!("{reason}: fencing the container"));
        let mut marker = FenceMarker::new(&self.settings.name, FencedBy::Watchdog, &reason);
        if let Err(error) = marker.save(&self.paths) {
            self.error(&format!("cannot write the fenced marker: {error}"));
        }
        let record = self
            .boot
            .as_ref()
            .and_then(|boot| boot.network.as_ref())
            .map(|attachment| attachment.record().clone());
        let target = FenceTarget {
            name: &self.settings.name,
            init: self.boot.as_ref().map(|boot| boot.identity.pid),
            network: record,
            cgroup: &self.cgroup,
            root: Some(&self.settings.root),
            scratch: self
                .paths
                .state_dir
                .join(format!(".fence-{}", self.settings.name)),
        };
        let report = fence::fence(&target, WATCHDOG_FENCE_BUDGET);
        marker.outcome = Some(report.summary());
        let _ = marker.save(&self.paths);
        if report.verified() {
            self.log(&format!(
                "fenced in {} ms: {} task(s) killed, storage released: {}",
                report.elapsed_ms,
                report.tasks_killed,
                if report.storage_released.is_empty() {
                    "none needed".to_string()
                } else {
                    report.storage_released.join(", ")
                }
            ));
        } else {
            self.error(&format!("fence incomplete: {}", report.failure()));
        }
        self.watchdog.disarm();
    }

    /// The init ended while the container is marked fenced: never boot it
    /// again, except to wait for the storage after a watchdog fence whose
    /// policy says to restart on recovery.
    fn after_fence(&mut self, marker: FenceMarker) -> Option<i32> {
        let wait_for_recovery = marker.by == FencedBy::Watchdog
            && self.settings.fence.restart_on_recovery
            && self.stop.is_none();
        if !wait_for_recovery {
            self.log(&format!("fenced ({}): not starting again", marker.reason));
            return Some(self.finish(EXIT_FENCED));
        }
        if let Err(error) = teardown::remove_cgroup(&self.cgroup) {
            self.warn(&format!("cannot clean up after the fence: {error}"));
            return Some(self.finish(EXIT_FENCED));
        }
        self.state.phase = Phase::Fenced;
        self.state.init = None;
        self.save_state();
        self.log("fenced by the watchdog: waiting for the storage to answer, then starting again");
        None
    }

    fn recover(&mut self) {
        match FenceMarker::load(&self.paths, &self.settings.name) {
            Some(marker) if marker.by == FencedBy::Watchdog => {
                if let Err(error) = FenceMarker::clear(&self.paths, &self.settings.name) {
                    self.warn(&format!("cannot clear the fenced marker: {error}"));
                    return;
                }
            }
            Some(marker) => {
                self.log(&format!(
                    "the storage answers again, but the container was fenced meanwhile ({}): not starting",
                    marker.reason
                ));
                self.done = Some(self.finish(EXIT_FENCED));
                return;
            }
            None => {}
        }
        self.log("the storage answers again: starting the container");
        if let Err(error) = self.boot() {
            self.error(&format!("start after recovery failed: {error}"));
            self.done = Some(self.finish(1));
        }
    }

    /// Deletes the boot's links and gives lent devices back to the host.
    fn release_network(&self, attachment: Attachment) {
        let report = attachment.detach();
        let _ = std::fs::remove_file(self.files.network_json());
        if !report.is_empty() {
            self.log(&format!("network released: {}", report.summary()));
        }
    }

    fn reap_helpers(&mut self) {
        self.helpers.retain(|pid| {
            matches!(
                nix::sys::wait::waitpid(
                    nix::unistd::Pid::from_raw(*pid),
                    Some(nix::sys::wait::WaitPidFlag::WNOHANG)
                ),
                Ok(nix::sys::wait::WaitStatus::StillAlive)
            )
        });
    }

    fn accept_requests(&mut self) {
        while let Ok((stream, _)) = self.listener.accept() {
            let _ = stream.set_nonblocking(false);
            let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
            let mut line = String::new();
            if BufReader::new(&stream).read_line(&mut line).is_err() {
                continue;
            }
            match serde_json::from_str::<Request>(&line) {
                Ok(Request::Stop { timeout_secs, kill }) => {
                    self.begin_stop(Duration::from_secs(timeout_secs), kill, Some(stream));
                }
                Ok(Request::Attach) => {
                    let reply = Reply {
                        ok: true,
                        error: None,
                        escalated: false,
                    };
                    if (&stream).write_all(&control::encode(&reply)).is_ok()
                        && stream.set_nonblocking(true).is_ok()
                    {
                        self.clients.push(stream);
                    }
                }
                Err(error) => {
                    let reply = Reply {
                        ok: false,
                        error: Some(format!("bad request: {error}")),
                        escalated: false,
                    };
                    let _ = (&stream).write_all(&control::encode(&reply));
                }
            }
        }
    }

    fn begin_stop(&mut self, timeout: Duration, kill: bool, waiter: Option<UnixStream>) {
        if let Some(stop) = self.stop.as_mut() {
            stop.waiters.extend(waiter);
            // A later, shorter stop request shortens the wait.
            if !stop.escalated {
                stop.deadline = stop.deadline.min(Instant::now() + timeout);
            }
            if kill {
                self.escalate("a kill was requested");
            }
            return;
        }
        self.state.phase = Phase::Stopping;
        self.save_state();
        self.stop = Some(StopInProgress {
            deadline: Instant::now() + timeout,
            waiters: waiter.into_iter().collect(),
            escalated: false,
            reported_stuck: false,
        });
        let Some(boot) = &self.boot else {
            // Between boots, or fenced and waiting for the storage: nothing runs.
            self.done = Some(self.finish(0));
            return;
        };
        if kill {
            self.escalate("a kill was requested");
            return;
        }
        match halt::request(&boot.identity, &boot.pidfd, self.settings.halt_signal) {
            HaltRequest::Signalled(flavour, signal) => self.log(&format!(
                "asked the {flavour} init to power off with {signal}; waiting up to {}s",
                timeout.as_secs()
            )),
            HaltRequest::Initctl(flavour, helper) => {
                self.helpers.push(helper);
                self.log(&format!("asked the {flavour} init for runlevel 0 through /run/initctl; waiting up to {}s", timeout.as_secs()));
            }
            HaltRequest::Unsupported(flavour) => {
                self.escalate(&format!("the {flavour} init handles no poweroff signal"))
            }
        }
    }

    fn escalate(&mut self, reason: &str) {
        if let Some(stop) = self.stop.as_mut() {
            stop.escalated = true;
            stop.deadline = Instant::now() + teardown::KILL_GRACE;
        }
        self.log(&format!("{reason}: killing every process in the container"));
        if let Err(error) = self.cgroup.kill_all() {
            self.error(&format!("cannot kill the container's cgroup: {error}"));
        }
    }

    /// Killed tasks that do not go are stuck in uninterruptible I/O (hung
    /// storage): say so to the waiting `stop`s instead of leaving them hanging.
    /// The supervisor keeps waiting for the init.
    fn report_stuck(&mut self) {
        let Some(stop) = self.stop.as_mut() else {
            return;
        };
        stop.reported_stuck = true;
        let message = format!(
            "processes are left in the container {}s after the kill (stuck in uninterruptible I/O, e.g. on hung storage?); the supervisor keeps waiting",
            teardown::KILL_GRACE.as_secs()
        );
        let reply = Reply {
            ok: false,
            error: Some(message.clone()),
            escalated: true,
        };
        for waiter in stop.waiters.drain(..) {
            let _ = (&waiter).write_all(&control::encode(&reply));
        }
        self.log(&message);
    }

    fn pump_console(&mut self) {
        let Some(boot) = &self.boot else { return };
        let mut buffer = [0u8; 16 * 1024];
        // Bounded per poll round: a console flooded from inside must not keep
        // the supervisor from its signals, requests and the init's end.
        for _ in 0..CONSOLE_READS_PER_ROUND {
            match nix::unistd::read(boot.master.as_raw_fd(), &mut buffer) {
                Ok(0) | Err(_) => break,
                Ok(length) => {
                    let bytes = &buffer[..length];
                    self.console_log.write(bytes);
                    self.clients.retain(|client| match (&*client).write(bytes) {
                        Ok(_) => true,
                        Err(error) => error.kind() == std::io::ErrorKind::WouldBlock,
                    });
                }
            }
        }
    }

    fn pump_clients(&mut self, ready: &[usize]) {
        let mut closed = Vec::new();
        for &index in ready {
            let mut buffer = [0u8; 4096];
            match nix::unistd::read(self.clients[index].as_raw_fd(), &mut buffer) {
                Ok(0) => closed.push(index),
                Ok(length) => {
                    if let Some(boot) = &self.boot {
                        let _ = nix::unistd::write(&boot.master, &buffer[..length]);
                    }
                }
                Err(nix::Error::EAGAIN) => {}
                Err(_) => closed.push(index),
            }
        }
        for index in closed.into_iter().rev() {
            self.clients.remove(index);
        }
    }

    /// Handles the init's end; returns the exit code once the container is
    /// stopped for good.
    fn handle_init_end(&mut self) -> Option<i32> {
        self.pump_console();
        let mut boot = self.boot.take()?;
        let end = wait_pidfd(&boot.pidfd);
        if let Some(attachment) = boot.network.take() {
            self.release_network(attachment);
        }
        drop(boot);
        let stop_requested = self.stop.is_some();
        let step = end.next_step(self.settings.on_reboot, stop_requested);
        self.log(&format!("{end}"));
        if end.is_crash() && !stop_requested {
            self.console_log
                .write(format!("\r\nvroot: container {} {end}\r\n", self.settings.name).as_bytes());
        }
        if let Some(marker) = FenceMarker::load(&self.paths, &self.settings.name) {
            return self.after_fence(marker);
        }
        match step {
            NextStep::BootAgain => {
                if let Err(error) = teardown::remove_cgroup(&self.cgroup) {
                    self.warn(&format!("cannot clean up before the reboot: {error}"));
                    return Some(self.finish(1));
                }
                match self.boot() {
                    Ok(()) => None,
                    Err(error) => {
                        self.error(&format!("reboot failed: {error}"));
                        Some(self.finish(1))
                    }
                }
            }
            NextStep::Stop { exit_code } => Some(self.finish(exit_code)),
        }
    }

    /// Removes everything the container left on the host and answers the
    /// stop requests waiting for it.
    fn finish(&mut self, exit_code: i32) -> i32 {
        let escalated = self.stop.as_ref().is_some_and(|stop| stop.escalated);
        let result = teardown::remove_cgroup(&self.cgroup)
            .and_then(|()| teardown::remove_state_dir(&self.paths.state_dir, &self.files));
        let (reply, exit_code) = match result {
            Ok(()) => (
                Reply {
                    ok: true,
                    error: None,
                    escalated,
                },
                exit_code,
            ),
            Err(error) => {
                self.warn(&format!("cleanup failed: {error}"));
                (
                    Reply {
                        ok: false,
                        error: Some(error.to_string()),
                        escalated,
                    },
                    1,
                )
            }
        };
        if !self.quiet {
            self.log(&format!("stopped (exit code {exit_code})"));
        }
        for waiter in self
            .stop
            .take()
            .map(|stop| stop.waiters)
            .unwrap_or_default()
        {
            let _ = (&waiter).write_all(&control::encode(&reply));
        }
        exit_code
    }
}

/// Reaps the init through its pidfd and classifies its end.
fn wait_pidfd(pidfd: &OwnedFd) -> InitEnd {
    // SAFETY: siginfo_t is plain data; waitid fills it for the pidfd's child.
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    const P_PIDFD: libc::idtype_t = 3;
    // SAFETY: valid pidfd and siginfo pointer for the duration of the call.
    let result = unsafe {
        libc::waitid(
            P_PIDFD,
            pidfd.as_raw_fd() as libc::id_t,
            &mut info,
            libc::WEXITED,
        )
    };
    if result != 0 {
        return InitEnd::Exited(0);
    }
    // SAFETY: waitid succeeded, so si_status is set for a CLD_* code.
    let status = unsafe { info.si_status() };
    match info.si_code {
        libc::CLD_EXITED => InitEnd::from_wait(Some(status), None),
        _ => InitEnd::from_wait(None, Some(RawSignal(status))),
    }
}
