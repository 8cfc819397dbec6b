//! Asking a container's init to power off, the way its init understands.
//! Used by the supervisor and by `stop` when the supervisor is gone; neither
//! path touches the shared root (the sysvinit FIFO is written from a child
//! process that may block, never from the caller).

use std::os::fd::OwnedFd;
use std::time::{Duration, Instant};

use crate::flavour::{self, HaltMethod, InitFlavour, SignalMasks};
use crate::process::{pidfd_send_signal, ProcessIdentity};
use crate::signal::RawSignal;

/// What was done to ask for poweroff.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HaltRequest {
    Signalled(InitFlavour, RawSignal),
    /// A child is writing the runlevel-0 request; reap it by pid.
    Initctl(InitFlavour, i32),
    /// Nothing the init would act on: kill instead.
    Unsupported(InitFlavour),
}

/// An init just exec'd has not set up its signal handling yet; a stop right
/// after a start (or a reboot inside) gives it this long to show who it is.
const DETECTION_GRACE: Duration = Duration::from_secs(1);

pub fn request(
    init: &ProcessIdentity,
    pidfd: &OwnedFd,
    configured: Option<RawSignal>,
) -> HaltRequest {
    let (masks, flavour) = settled_flavour(init);
    match flavour::halt_method(flavour, &masks, configured) {
        HaltMethod::Signal(signal) => match pidfd_send_signal(pidfd, init.pid, signal) {
            Ok(()) => HaltRequest::Signalled(flavour, signal),
            Err(_) => HaltRequest::Unsupported(flavour),
        },
        HaltMethod::InitctlRunlevelZero => match write_initctl_in_child(init.pid) {
            Some(child) => HaltRequest::Initctl(flavour, child),
            None => HaltRequest::Unsupported(flavour),
        },
        HaltMethod::None => HaltRequest::Unsupported(flavour),
    }
}

fn settled_flavour(init: &ProcessIdentity) -> (SignalMasks, InitFlavour) {
    let deadline = Instant::now() + DETECTION_GRACE;
    loop {
        let masks = SignalMasks::read(init.pid).unwrap_or_default();
        let flavour = flavour::detect(&masks);
        if flavour != InitFlavour::Unknown || Instant::now() >= deadline || !init.is_alive() {
            return (masks, flavour);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Forks a child that writes `telinit 0`'s request into the container's
/// `/run/initctl`. The path lives in a root the container controls and may sit
/// on hung storage, so:
/// - only the child can block, never the caller;
/// - the path is resolved inside the container's root (`RESOLVE_IN_ROOT`), so a
///   symlink planted there cannot lead the host's root to a host file;
/// - it is opened as `O_PATH` first and must be a FIFO before it is opened for
///   writing: opening a device node the container made could act on the host.
fn write_initctl_in_child(init_pid: i32) -> Option<i32> {
    let root = format!("/proc/{init_pid}/root");
    let request = flavour::initctl_runlevel_request(b'0');
    // SAFETY: the callers are single-threaded, so the child may run ordinary
    // Rust code; it ends in _exit without returning into the caller.
    match unsafe { libc::fork() } {
        -1 => None,
        0 => {
            // SAFETY: close_range only closes fds; the child must not keep the
            // caller's locks or sockets.
            unsafe { libc::close_range(3, u32::MAX, 0) };
            let written = write_fifo_in_root(&root, "/run/initctl", &request).is_ok();
            // SAFETY: leave the child without running the caller's cleanup.
            unsafe { libc::_exit(if written { 0 } else { 1 }) }
        }
        child => Some(child),
    }
}

fn write_fifo_in_root(root: &str, path: &str, bytes: &[u8]) -> nix::Result<()> {
    use nix::fcntl::{open, OFlag};
    use nix::sys::stat::Mode;
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
    let root_fd = open(
        root,
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )?;
    // SAFETY: open returned a new fd that nothing else owns.
    let root_fd = unsafe { OwnedFd::from_raw_fd(root_fd) };
    let fifo =
        crate::container::open_in_root(&root_fd, std::path::Path::new(path), libc::O_NOFOLLOW)?;
    let stat = nix::sys::stat::fstat(fifo.as_raw_fd())?;
    if stat.st_mode & libc::S_IFMT != libc::S_IFIFO {
        return Err(nix::Error::EPERM);
    }
    let writer = open(
        format!("/proc/self/fd/{}", fifo.as_raw_fd()).as_str(),
        OFlag::O_WRONLY | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC,
        Mode::empty(),
    )?;
    // SAFETY: open returned a new fd that nothing else owns.
    let writer = unsafe { OwnedFd::from_raw_fd(writer) };
    match nix::unistd::write(&writer, bytes)? {
        written if written == bytes.len() => Ok(()),
        _ => Err(nix::Error::EIO),
    }
}
