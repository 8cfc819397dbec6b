//! The container's PID 1 before it execs the root's own init: everything
//! here runs in the child of clone3, inside the new namespaces, and ends in
//! `execve` or in an error sent back to the supervisor.

use std::convert::Infallible;
use std::ffi::CString;
use std::os::fd::{AsRawFd, OwnedFd};

use nix::sched::{unshare, CloneFlags};

use super::channel::ChildChannel;
use super::{devices, rootfs, InitError, InitPlan};
use crate::capabilities;

/// Runs the setup and execs the init; returns only on failure.
pub fn run(
    plan: &InitPlan,
    channel: &ChildChannel,
    console: &OwnedFd,
) -> Result<Infallible, InitError> {
    if plan.userns.is_some() {
        channel.wait_for_mapped()?;
        super::take_root_ids().map_err(|source| InitError::Syscall {
            what: "take root's ids in the user namespace",
            source,
        })?;
    }
    attach_console(console)?;
    reset_signals();
    nix::sys::stat::umask(nix::sys::stat::Mode::empty());

    // The mount tree is built while the supervisor moves this process into
    // the container's cgroup: that move waits for an RCU grace period
    // (milliseconds), and nothing before the cgroup namespace depends on it.
    let root = rootfs::bind_root(plan)?;
    let mounted = rootfs::mount_spec_entries(plan, &root)?;
    if mounted
        .iter()
        .any(|destination| destination == std::path::Path::new("/etc/machine-id"))
    {
        rootfs::mask_machine_id_commit(&root)?;
    }
    devices::populate(plan, &root, 0)?;
    rootfs::set_boot_id(&root, &plan.boot_id)?;
    rootfs::mask_paths(plan, &root)?;
    rootfs::make_readonly(plan, &root)?;

    channel.wait_for_go()?;
    // Only now is the init in its cgroup, so the namespace's root is that cgroup.
    unshare(CloneFlags::CLONE_NEWCGROUP).map_err(|source| InitError::Syscall {
        what: "unshare the cgroup namespace",
        source,
    })?;
    rootfs::mount_cgroup_views(plan, &root)?;
    rootfs::switch_root(&root, &plan.root)?;
    drop(root);

    nix::unistd::sethostname(&plan.hostname).map_err(|source| InitError::Syscall {
        what: "set the hostname",
        source,
    })?;
    bring_up_loopback()?;
    nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o022));
    capabilities::restrict_to(&plan.capabilities)?;
    // Last, while CAP_SYS_ADMIN is still held: no no_new_privs needed.
    if let Some(program) = &plan.seccomp {
        crate::seccomp::install(program)?;
    }
    close_inherited_fds();
    exec_init(plan)
}

/// Makes the console pty the init's controlling terminal and stdio.
fn attach_console(console: &OwnedFd) -> Result<(), InitError> {
    nix::unistd::setsid().map_err(|source| InitError::Syscall {
        what: "setsid",
        source,
    })?;
    // SAFETY: TIOCSCTTY on a terminal fd we own, with arg 0 (do not steal).
    if unsafe { libc::ioctl(console.as_raw_fd(), libc::TIOCSCTTY, 0) } < 0 {
        return Err(InitError::Syscall {
            what: "make the console the controlling terminal",
            source: nix::Error::last(),
        });
    }
    for target in 0..=2 {
        nix::unistd::dup2(console.as_raw_fd(), target).map_err(|source| InitError::Syscall {
            what: "dup2 the console",
            source,
        })?;
    }
    Ok(())
}

/// The supervisor blocks signals it reads through a signalfd, and Rust ignores
/// SIGPIPE; an init must start with nothing blocked or ignored, or it would
/// inherit both (and systemd's signal handling would break).
fn reset_signals() {
    // SAFETY: plain libc signal calls on this single-threaded child; a zeroed
    // sigset_t emptied with sigemptyset is valid.
    unsafe {
        let mut empty: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut empty);
        libc::sigprocmask(libc::SIG_SETMASK, &empty, std::ptr::null_mut());
        for signal in 1..libc::SIGRTMAX() {
            if signal != libc::SIGKILL && signal != libc::SIGSTOP {
                libc::signal(signal, libc::SIG_DFL);
            }
        }
    }
}

fn bring_up_loopback() -> Result<(), InitError> {
    let error = |source| InitError::Syscall {
        what: "bring up lo",
        source,
    };
    let socket = nix::sys::socket::socket(
        nix::sys::socket::AddressFamily::Inet,
        nix::sys::socket::SockType::Datagram,
        nix::sys::socket::SockFlag::SOCK_CLOEXEC,
        None,
    )
    .map_err(error)?;
    // SAFETY: ifreq is plain data; zeroed is a valid empty request.
    let mut request: libc::ifreq = unsafe { std::mem::zeroed() };
    for (slot, byte) in request.ifr_name.iter_mut().zip(b"lo\0") {
        *slot = *byte as libc::c_char;
    }
    // SAFETY: SIOCGIFFLAGS/SIOCSIFFLAGS read and write the ifreq we pass,
    // which lives across both calls; the socket fd is valid.
    unsafe {
        if libc::ioctl(socket.as_raw_fd(), libc::SIOCGIFFLAGS, &mut request) < 0 {
            return Err(error(nix::Error::last()));
        }
        request.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short;
        if libc::ioctl(socket.as_raw_fd(), libc::SIOCSIFFLAGS, &request) < 0 {
            return Err(error(nix::Error::last()));
        }
    }
    Ok(())
}

/// Marks every fd above stdio close-on-exec, the channel included: its
/// closing at exec is how the supervisor learns the init runs.
fn close_inherited_fds() {
    // SAFETY: close_range with CLOSE_RANGE_CLOEXEC only sets flags on fds.
    unsafe { libc::close_range(3, u32::MAX, libc::CLOSE_RANGE_CLOEXEC as libc::c_int) };
}

fn exec_init(plan: &InitPlan) -> Result<Infallible, InitError> {
    let to_c = |text: &str| {
        CString::new(text).map_err(|_| InitError::Exec {
            program: text.to_string(),
            source: nix::Error::EINVAL,
        })
    };
    let args = plan
        .args
        .iter()
        .map(|a| to_c(a))
        .collect::<Result<Vec<_>, _>>()?;
    let env = plan
        .env
        .iter()
        .map(|e| to_c(e))
        .collect::<Result<Vec<_>, _>>()?;
    let program = args[0].clone();
    let source = nix::unistd::execve(&program, &args, &env).unwrap_err();
    Err(InitError::Exec {
        program: plan.args[0].clone(),
        source,
    })
}
