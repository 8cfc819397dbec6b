//! The one place that forks: a system call that may touch the shared storage
//! (mount, umount, statfs, mkdir) or a mount helper program, run in a child
//! process that the caller waits for only until a deadline.
//!
//! Shared storage can hang any call that touches it, deep in the kernel.
//! The parent watches the child through a pidfd (polling `waitpid` with
//! `WNOHANG` where pidfds are missing); a child that overruns is SIGKILLed,
//! and if it still has not died a moment later (stuck in an uninterruptible
//! sleep, it cannot be reaped) it is left behind and reported.
//!
//! Between fork and `_exit` the child only makes async-signal-safe system
//! calls on data prepared before the fork (no allocation, no locks), so the
//! fork is sound even when the caller has other threads (the test harness
//! does; the vroot CLI is single-threaded).

use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::time::{Duration, Instant};

use libc::c_char;
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

use super::error::StorageError;

/// How long a SIGKILLed child gets to die before it is left behind. Short:
/// `status` must answer within the probe timeout plus about 100 ms.
const KILL_GRACE: Duration = Duration::from_millis(50);
/// How often to look at a child when no pidfd can be had.
const POLL_INTERVAL: Duration = Duration::from_millis(10);
/// Enough for any helper's error message; the rest is drained and dropped.
const MAX_OUTPUT: usize = 16 * 1024;
/// A child's exit code when it could not run the helper program.
pub(crate) const EXIT_EXEC_FAILED: i32 = 127;

/// What the child does. Syscall children exit with 0 or the errno.
pub(crate) enum ChildCall {
    Mount {
        source: CString,
        target: CString,
        fs_type: CString,
        flags: libc::c_ulong,
        data: Option<CString>,
    },
    Umount {
        target: CString,
        flags: libc::c_int,
    },
    /// open(O_DIRECTORY) and fstatfs: writes `f_type` (8 bytes, native
    /// endian) to its output.
    Probe {
        target: CString,
    },
    /// mkdir each path in order (parents first); existing ones are fine.
    MakeDirs {
        paths: Vec<CString>,
    },
    /// execve a helper; its stdout and stderr are the child's output.
    Exec {
        program: CString,
        argv: Vec<CString>,
        env: Vec<CString>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ChildStatus {
    Exited(i32),
    Signalled(i32),
    /// Still running at the deadline. `left_behind`: it did not die after
    /// SIGKILL either (stuck in the kernel); its pid is reported.
    Overran {
        pid: i32,
        left_behind: bool,
    },
}

#[derive(Debug)]
pub(crate) struct ChildEnd {
    pub status: ChildStatus,
    pub output: Vec<u8>,
    pub elapsed: Duration,
}

/// Runs `call` in a child and waits at most `deadline` (plus the kill grace).
pub(crate) fn run(call: &ChildCall, deadline: Duration) -> Result<ChildEnd, StorageError> {
    let sys = |what: &'static str| move |source: nix::Error| StorageError::Sys { what, source };
    // Pointer arrays for execve are built before the fork: the child must
    // not allocate.
    let exec_vectors = match call {
        ChildCall::Exec { argv, env, .. } => Some((pointer_array(argv), pointer_array(env))),
        _ => None,
    };
    let (output_read, output_write) =
        nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(sys("create a pipe"))?;
    nix::fcntl::fcntl(
        output_read.as_raw_fd(),
        nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK),
    )
    .map_err(sys("make a pipe non-blocking"))?;

    let started = Instant::now();
    // SAFETY: the child runs only `child_main`, which makes async-signal-safe
    // system calls on memory prepared before the fork and ends in `_exit`;
    // so this is sound even if the caller had other threads (the vroot CLI
    // is single-threaded; the test harness is not).
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(sys("fork a child for the storage call")(nix::Error::last()));
    }
    if pid == 0 {
        child_main(call, exec_vectors.as_ref(), output_write.as_raw_fd());
    }
    drop(output_write);
    // Also from the parent, so that a kill of the group cannot race the
    // child's own setpgid.
    let _ = nix::unistd::setpgid(Pid::from_raw(pid), Pid::from_raw(pid));
    let pidfd = open_pidfd(pid);
    let mut watch = Watch {
        pid,
        pidfd,
        output_fd: Some(output_read),
        output: Vec::new(),
    };
    let status = match watch.wait_until(started + deadline) {
        Some(status) => status,
        None => {
            // SAFETY: kill(2) of the child's own process group (its pid; it
            // may have started a helper's children) and of the child, which
            // we have not reaped, so the pid is still ours.
            unsafe {
                libc::kill(-pid, libc::SIGKILL);
                libc::kill(pid, libc::SIGKILL);
            }
            let reaped = watch.wait_until(Instant::now() + KILL_GRACE).is_some();
            ChildStatus::Overran {
                pid,
                left_behind: !reaped,
            }
        }
    };
    Ok(ChildEnd {
        status,
        output: watch.output,
        elapsed: started.elapsed(),
    })
}

fn pointer_array(strings: &[CString]) -> Vec<*const c_char> {
    strings
        .iter()
        .map(|string| string.as_ptr())
        .chain(std::iter::once(std::ptr::null()))
        .collect()
}

fn open_pidfd(pid: i32) -> Option<OwnedFd> {
    // SAFETY: pidfd_open takes a pid and flags and returns a new fd or -1.
    // The child is not reaped yet, so the pid cannot have been reused.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return None;
    }
    // SAFETY: the syscall returned a fresh fd that nothing else owns.
    Some(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

/// The parent's view of one running child.
struct Watch {
    pid: i32,
    pidfd: Option<OwnedFd>,
    /// Closed once it reads end-of-file.
    output_fd: Option<OwnedFd>,
    output: Vec<u8>,
}

impl Watch {
    /// Waits for the child to end (and reaps it) or for `deadline`: `None`.
    fn wait_until(&mut self, deadline: Instant) -> Option<ChildStatus> {
        loop {
            if let Some(status) = self.try_reap() {
                self.drain_output();
                return Some(status);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return None;
            }
            let wait = if self.pidfd.is_some() {
                left
            } else {
                left.min(POLL_INTERVAL)
            };
            self.poll(wait);
        }
    }

    fn try_reap(&self) -> Option<ChildStatus> {
        match waitpid(Pid::from_raw(self.pid), Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::Exited(_, code)) => Some(ChildStatus::Exited(code)),
            Ok(WaitStatus::Signaled(_, signal, _)) => Some(ChildStatus::Signalled(signal as i32)),
            Ok(_) => None,
            // ECHILD: someone else reaped it (SIGCHLD ignored); it is gone.
            Err(nix::Error::ECHILD) => Some(ChildStatus::Exited(libc::ECHILD)),
            Err(_) => None,
        }
    }

    /// Sleeps until the child ends, it writes output, or `wait` passes.
    fn poll(&mut self, wait: Duration) {
        let fd_or_none = |fd: &Option<OwnedFd>| fd.as_ref().map_or(-1, |fd| fd.as_raw_fd());
        let mut fds = [
            libc::pollfd {
                fd: fd_or_none(&self.pidfd),
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                fd: fd_or_none(&self.output_fd),
                events: libc::POLLIN,
                revents: 0,
            },
        ];
        let millis = wait.as_millis().clamp(1, i32::MAX as u128) as libc::c_int;
        // SAFETY: `fds` is a valid array of pollfd for its length; negative
        // fds are ignored by poll(2).
        let ready = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, millis) };
        if ready > 0 && fds[1].revents != 0 {
            self.drain_output();
        }
    }

    /// Reads what the child wrote so far without blocking; closes the pipe
    /// at end-of-file so that poll does not keep reporting it.
    fn drain_output(&mut self) {
        let Some(fd) = &self.output_fd else {
            return;
        };
        let mut buffer = [0u8; 4096];
        loop {
            match nix::unistd::read(fd.as_raw_fd(), &mut buffer) {
                Ok(0) => {
                    self.output_fd = None;
                    return;
                }
                Ok(count) => {
                    let room = MAX_OUTPUT.saturating_sub(self.output.len());
                    self.output.extend_from_slice(&buffer[..count.min(room)]);
                }
                Err(nix::Error::EINTR) => continue,
                // EAGAIN: nothing more for now (a helper's daemon may hold
                // the pipe open long after the helper ended).
                Err(_) => return,
            }
        }
    }
}

/// The child's whole life after fork. Async-signal-safe calls only.
fn child_main(
    call: &ChildCall,
    exec_vectors: Option<&(Vec<*const c_char>, Vec<*const c_char>)>,
    output_fd: RawFd,
) -> ! {
    // SAFETY: plain system calls on fds and constant strings. The child gets
    // its own process group (so an overrun kills a helper's children too),
    // /dev/null as stdin, the pipe as stdout and stderr, and no other fds:
    // a child stuck in the kernel must not keep the caller's locks open.
    unsafe {
        libc::setpgid(0, 0);
        let null = libc::open(c"/dev/null".as_ptr(), libc::O_RDWR);
        if null >= 0 {
            libc::dup2(null, 0);
        }
        libc::dup2(output_fd, 1);
        libc::dup2(output_fd, 2);
        libc::close_range(3, libc::c_uint::MAX, 0);
    }
    let code = match call {
        ChildCall::Mount {
            source,
            target,
            fs_type,
            flags,
            data,
        } => {
            let data = data
                .as_ref()
                .map_or(std::ptr::null(), |data| data.as_ptr().cast());
            // SAFETY: every pointer is a NUL-terminated string prepared
            // before the fork (or null for no data).
            let result = unsafe {
                libc::mount(
                    source.as_ptr(),
                    target.as_ptr(),
                    fs_type.as_ptr(),
                    *flags,
                    data,
                )
            };
            errno_unless_zero(result)
        }
        ChildCall::Umount { target, flags } => {
            // SAFETY: a NUL-terminated path prepared before the fork.
            errno_unless_zero(unsafe { libc::umount2(target.as_ptr(), *flags) })
        }
        ChildCall::Probe { target } => probe(target),
        ChildCall::MakeDirs { paths } => paths
            .iter()
            .map(|path| {
                // SAFETY: a NUL-terminated path prepared before the fork.
                let result = unsafe { libc::mkdir(path.as_ptr(), 0o755) };
                match errno_unless_zero(result) {
                    libc::EEXIST => 0,
                    code => code,
                }
            })
            .find(|code| *code != 0)
            .unwrap_or(0),
        ChildCall::Exec { program, .. } => {
            reset_signals_for_exec();
            if let Some((argv, env)) = exec_vectors {
                // SAFETY: NULL-terminated arrays of NUL-terminated strings,
                // all built before the fork. execve returns only on failure.
                unsafe { libc::execve(program.as_ptr(), argv.as_ptr(), env.as_ptr()) };
            }
            EXIT_EXEC_FAILED
        }
    };
    // SAFETY: ends the child without running the caller's atexit handlers
    // or destructors (they belong to the parent).
    unsafe { libc::_exit(code) }
}

/// A helper starts as any program expects: no blocked signals (the caller
/// may block some for a signalfd) and SIGPIPE at its default (Rust ignores
/// it, and ignored signals survive execve).
fn reset_signals_for_exec() {
    // SAFETY: sigemptyset fills a stack sigset_t; sigprocmask and signal
    // (sigaction underneath) are async-signal-safe and take no pointers we
    // do not own.
    unsafe {
        let mut none: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut none);
        libc::sigprocmask(libc::SIG_SETMASK, &none, std::ptr::null_mut());
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

/// fstatfs through a directory fd: the f_type goes to stdout (the pipe).
fn probe(target: &CString) -> i32 {
    // SAFETY: a NUL-terminated path prepared before the fork.
    let fd = unsafe {
        libc::open(
            target.as_ptr(),
            libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC,
        )
    };
    if fd < 0 {
        return errno();
    }
    // SAFETY: statfs is plain data; all zeroes is a valid value.
    let mut stats: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: `fd` is open and `stats` is a valid statfs to fill.
    if unsafe { libc::fstatfs(fd, &mut stats) } != 0 {
        return errno();
    }
    let magic = (stats.f_type as i64).to_ne_bytes();
    // SAFETY: writes 8 bytes from a live stack buffer to fd 1 (the pipe);
    // far below PIPE_BUF, so it is written whole.
    let written = unsafe { libc::write(1, magic.as_ptr().cast(), magic.len()) };
    if written == magic.len() as isize {
        0
    } else {
        libc::EIO
    }
}

fn errno_unless_zero(result: libc::c_int) -> i32 {
    if result == 0 {
        0
    } else {
        errno()
    }
}

fn errno() -> i32 {
    match nix::errno::Errno::last_raw() {
        0 => libc::EIO,
        code => code,
    }
}

/// The statfs magic a successful probe wrote.
pub(crate) fn probe_magic(output: &[u8]) -> Option<u64> {
    let bytes: [u8; 8] = output.get(..8)?.try_into().ok()?;
    Some(i64::from_ne_bytes(bytes) as u64)
}
