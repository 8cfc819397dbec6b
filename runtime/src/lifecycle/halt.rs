//! Asking a container's init to power off, the way its init understands.
//! Used by the supervisor and by `stop` when the supervisor is gone; neither
//! path touches the shared root (the sysvinit FIFO is written from a child
//! process that may block, never from the caller).

use std::os::fd::OwnedFd;

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

pub fn request(
    init: &ProcessIdentity,
    pidfd: &OwnedFd,
    configured: Option<RawSignal>,
) -> HaltRequest {
    let masks = SignalMasks::read(init.pid).unwrap_or_default();
    let flavour = flavour::detect(&masks);
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

/// Forks a child that writes `telinit 0`'s request into the container's
/// `/run/initctl`. The path is looked up through the container's root, which
/// may be on hung storage, so only the child can get stuck, never the caller.
fn write_initctl_in_child(init_pid: i32) -> Option<i32> {
    let fifo = std::ffi::CString::new(format!("/proc/{init_pid}/root/run/initctl")).ok()?;
    let request = flavour::initctl_runlevel_request(b'0');
    // SAFETY: the callers are single-threaded; the child only makes
    // async-signal-safe calls (open, write, _exit) on data prepared before fork.
    match unsafe { libc::fork() } {
        -1 => None,
        0 => unsafe {
            let fd = libc::open(
                fifo.as_ptr(),
                libc::O_WRONLY | libc::O_NONBLOCK | libc::O_CLOEXEC,
            );
            let written = if fd >= 0 {
                libc::write(fd, request.as_ptr().cast(), request.len())
            } else {
                -1
            };
            libc::_exit(if written == request.len() as isize {
                0
            } else {
                1
            });
        },
        child => Some(child),
    }
}
