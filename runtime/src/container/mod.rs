//! Creating the container's init: clone3 into new namespaces, set up the mount
//! tree inside, exec the root's own init. The supervisor calls [`spawn`]
//! while it is single-threaded.

mod cgroupfs;
mod channel;
mod devices;
mod init;
mod mount_options;
mod resolve;
mod rootfs;

use std::collections::HashSet;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::PathBuf;
use std::time::Duration;

use oci_spec::runtime::{Capability, LinuxNamespaceType, Spec};

use crate::cgroups::{CgroupLayout, ContainerCgroup};
use crate::spec::SpecError;
pub use channel::SetupOutcome;
pub use resolve::open_in_root;

#[derive(Debug, thiserror::Error)]
pub enum InitError {
    #[error("cannot mount {what} on {target}: {source}")]
    Mount {
        what: String,
        target: PathBuf,
        source: nix::Error,
    },
    #[error("{path}: {source}")]
    Path { path: PathBuf, source: nix::Error },
    #[error("the shared root has no {kind} {path}; create it there (vroot never writes into the shared root)")]
    MissingInRoot { path: PathBuf, kind: &'static str },
    #[error("cannot {what}: {source}")]
    Syscall {
        what: &'static str,
        source: nix::Error,
    },
    #[error("cannot {what}: {source}")]
    Io {
        what: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Capabilities(#[from] crate::capabilities::CapabilityError),
    #[error(transparent)]
    Seccomp(#[from] crate::seccomp::SeccompError),
    #[error("cannot execute the init {program}: {source}")]
    Exec { program: String, source: nix::Error },
    #[error("{0}")]
    Channel(String),
}

#[derive(Debug, thiserror::Error)]
pub enum SpawnError {
    #[error(transparent)]
    Spec(#[from] SpecError),
    #[error("cannot create the container's init: {0}")]
    Clone(nix::Error),
    #[error("cannot put the init into its cgroup: {0}")]
    Cgroup(#[from] crate::cgroups::CgroupError),
    /// The caller's preparation of the new namespaces (its network) failed.
    #[error("{0}")]
    Prepare(String),
    #[error("{0}")]
    Setup(String),
    #[error("the init's setup did not finish within {0:?} (is the shared root's storage hung?)")]
    Timeout(Duration),
}

#[derive(Debug, Clone)]
pub struct PlannedMount {
    pub destination: PathBuf,
    pub typ: String,
    pub source: Option<PathBuf>,
    pub options: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct PlannedDevice {
    pub path: PathBuf,
    pub major: u64,
    pub minor: u64,
    pub mode: u32,
    pub block: bool,
}

/// Everything the init child needs, taken from the spec before the clone.
#[derive(Debug, Clone)]
pub struct InitPlan {
    pub root: PathBuf,
    pub hostname: String,
    pub args: Vec<String>,
    pub env: Vec<String>,
    pub capabilities: HashSet<Capability>,
    pub mounts: Vec<PlannedMount>,
    pub devices: Vec<PlannedDevice>,
    pub masked_paths: Vec<PathBuf>,
    pub readonly_paths: Vec<PathBuf>,
    pub private_network: bool,
    pub clone_flags: u64,
    pub cgroup_layout: CgroupLayout,
    pub boot_id: String,
    /// The per-host layer's `root/`: sources of mounts marked
    /// [`crate::spec::LAYER_MOUNT`] are opened beneath it.
    pub layer_root: Option<PathBuf>,
    /// `overlayfs` mode: the overlay that becomes the root, lower being the
    /// shared root.
    pub root_overlay: Option<PlannedMount>,
    /// The system-call filter, compiled before the clone.
    pub seccomp: Option<Vec<libc::sock_filter>>,
    /// The user namespace's mapping: the supervisor writes it, and the
    /// child waits for it before anything else.
    pub userns: Option<crate::config::IdRange>,
}

impl InitPlan {
    pub fn from_spec(spec: &Spec, cgroup_layout: CgroupLayout) -> Result<Self, SpecError> {
        let settings = crate::spec::RuntimeSettings::from_spec(spec)?;
        let linux = spec.linux().as_ref().ok_or(SpecError::Missing("linux"))?;
        let namespaces = linux.namespaces().clone().unwrap_or_default();
        let mut clone_flags = 0u64;
        let mut private_network = false;
        for namespace in namespaces.iter().filter(|ns| ns.path().is_none()) {
            clone_flags |= match namespace.typ() {
                LinuxNamespaceType::Pid => libc::CLONE_NEWPID,
                LinuxNamespaceType::Network => {
                    private_network = true;
                    libc::CLONE_NEWNET
                }
                LinuxNamespaceType::Ipc => libc::CLONE_NEWIPC,
                LinuxNamespaceType::Uts => libc::CLONE_NEWUTS,
                LinuxNamespaceType::Mount => libc::CLONE_NEWNS,
                // Made in the same clone, so the user namespace owns every
                // other one: root inside can mount its /proc, configure its
                // network and set its hostname.
                LinuxNamespaceType::User => libc::CLONE_NEWUSER,
                // The cgroup namespace is entered after joining the cgroup.
                LinuxNamespaceType::Cgroup => 0,
                _ => 0,
            } as u64;
        }
        let (root_overlay, mounts): (Vec<PlannedMount>, Vec<PlannedMount>) = spec
            .mounts()
            .clone()
            .unwrap_or_default()
            .into_iter()
            .map(|m| PlannedMount {
                destination: m.destination().clone(),
                typ: m.typ().clone().unwrap_or_else(|| "none".into()),
                source: m.source().clone(),
                options: m.options().clone().unwrap_or_default(),
            })
            .partition(|m| m.destination == std::path::Path::new("/"));
        let devices = linux
            .devices()
            .clone()
            .unwrap_or_default()
            .into_iter()
            .map(|d| PlannedDevice {
                path: d.path().clone(),
                major: d.major() as u64,
                minor: d.minor() as u64,
                mode: d.file_mode().unwrap_or(0o666),
                block: d.typ() == oci_spec::runtime::LinuxDeviceType::B,
            })
            .collect();
        let paths = |list: &Option<Vec<String>>| {
            list.clone()
                .unwrap_or_default()
                .into_iter()
                .map(PathBuf::from)
                .collect()
        };
        Ok(InitPlan {
            root: settings.root,
            hostname: settings.hostname,
            args: settings.args,
            env: settings.env,
            capabilities: settings.capabilities,
            mounts,
            devices,
            masked_paths: paths(linux.masked_paths()),
            readonly_paths: paths(linux.readonly_paths()),
            private_network,
            clone_flags,
            cgroup_layout,
            boot_id: random_uuid(),
            layer_root: settings.layer_root,
            root_overlay: root_overlay.into_iter().next(),
            seccomp: settings
                .seccomp
                .as_deref()
                .map(crate::seccomp::compile)
                .transpose()
                .map_err(|error| SpecError::Seccomp(error.to_string()))?,
            userns: settings.userns,
        })
    }
}

/// Takes ids 0 of the user namespace the process has just entered. It comes
/// in with the host's root ids, which the namespace does not map: files it
/// made would fail with EOVERFLOW. It already holds every capability there.
pub fn take_root_ids() -> nix::Result<()> {
    let root_gid = nix::unistd::Gid::from_raw(0);
    let root_uid = nix::unistd::Uid::from_raw(0);
    nix::unistd::setresgid(root_gid, root_gid, root_gid)?;
    nix::unistd::setgroups(&[])?;
    nix::unistd::setresuid(root_uid, root_uid, root_uid)
}

/// A random RFC 4122 v4 UUID, for boot ids.
pub fn random_uuid() -> String {
    let mut bytes = [0u8; 16];
    // SAFETY: getrandom fills at most the buffer's length.
    let filled = unsafe { libc::getrandom(bytes.as_mut_ptr().cast(), bytes.len(), 0) };
    if filled != bytes.len() as isize {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos();
        bytes.copy_from_slice(&(nanos ^ (std::process::id() as u128) << 64).to_ne_bytes());
    }
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    crate::spec::uuid_form(&hex)
}

/// How long to wait for a killed child to be reaped: one stuck in
/// uninterruptible I/O on hung storage may never go, and must not wedge us.
const ABANDON_REAP_WAIT: Duration = Duration::from_secs(1);

/// Reaps `pid` if it exits within `wait`; otherwise leaves it (a zombie, or a
/// task stuck in D state, is reaped later or by init once we exit).
pub fn reap_within(pid: i32, wait: Duration) -> bool {
    let deadline = std::time::Instant::now() + wait;
    loop {
        match nix::sys::wait::waitpid(
            nix::unistd::Pid::from_raw(pid),
            Some(nix::sys::wait::WaitPidFlag::WNOHANG),
        ) {
            Ok(nix::sys::wait::WaitStatus::StillAlive) if std::time::Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(5))
            }
            Ok(nix::sys::wait::WaitStatus::StillAlive) => return false,
            _ => return true,
        }
    }
}

/// How long to wait for the child's own error after the supervisor's side failed.
const CHILD_REPORT_GRACE: Duration = Duration::from_secs(2);

/// The init, running the root's own init program.
#[derive(Debug)]
pub struct SpawnedInit {
    pub pid: i32,
    pub pidfd: OwnedFd,
}

#[repr(C)]
#[derive(Default)]
struct CloneArgs {
    flags: u64,
    pidfd: u64,
    child_tid: u64,
    parent_tid: u64,
    exit_signal: u64,
    stack: u64,
    stack_size: u64,
    tls: u64,
    set_tid: u64,
    set_tid_size: u64,
    cgroup: u64,
}

/// Maps ids 0.. of the child's user namespace to the range, for users and
/// groups. Written by us (root on the host), so `setgroups` stays allowed.
fn write_id_maps(pid: i32, range: crate::config::IdRange) -> nix::Result<()> {
    let line = format!("0 {} {}\n", range.base, range.size);
    for file in ["uid_map", "gid_map"] {
        std::fs::write(format!("/proc/{pid}/{file}"), &line)
            .map_err(|error| nix::Error::from_raw(error.raw_os_error().unwrap_or(libc::EIO)))?;
    }
    Ok(())
}

/// Short wait for a message the child may already have queued, when our own
/// side failed first.
const CHILD_REPORT_PEEK: Duration = Duration::from_millis(5);

/// Creates the init in new namespaces, puts it in `cgroup`, lets it set up the
/// root and waits until it has exec'd the root's init (or failed, or timed out).
/// `prepare` runs with the child's pid once it is in its cgroup and before
/// it may go on (the network is attached there); its error ends the spawn.
/// Must be called from a single-threaded process.
pub fn spawn(
    plan: &InitPlan,
    console_slave: &OwnedFd,
    cgroup: &ContainerCgroup,
    setup_timeout: Duration,
    prepare: &mut dyn FnMut(i32) -> Result<(), String>,
) -> Result<SpawnedInit, SpawnError> {
    let (parent_channel, child_channel) = channel::pair().map_err(SpawnError::Clone)?;
    let mut pidfd: libc::c_int = -1;
    let mut args = CloneArgs {
        flags: plan.clone_flags | libc::CLONE_PIDFD as u64,
        pidfd: &mut pidfd as *mut libc::c_int as u64,
        exit_signal: libc::SIGCHLD as u64,
        ..Default::default()
    };
    // SAFETY: clone3 with no stack behaves like fork: the child continues on a
    // copy of this stack. The caller is single-threaded, so no lock can be held
    // by another thread in the child; `args` outlives the call.
    let pid = unsafe {
        libc::syscall(
            libc::SYS_clone3,
            &mut args as *mut CloneArgs,
            std::mem::size_of::<CloneArgs>(),
        )
    };
    if pid < 0 {
        return Err(SpawnError::Clone(nix::Error::last()));
    }
    if pid == 0 {
        drop(parent_channel);
        let Err(error) = init::run(plan, &child_channel, console_slave);
        child_channel.send_error(&error.to_string());
        // SAFETY: leave the child at once, without running the parent's
        // atexit handlers or destructors on its copied state.
        unsafe { libc::_exit(1) };
    }
    drop(child_channel);
    let pid = pid as i32;
    // SAFETY: CLONE_PIDFD stored a new pidfd that nothing else owns.
    let pidfd = unsafe { OwnedFd::from_raw_fd(pidfd) };
    let abandon = |pidfd: &OwnedFd| {
        // SAFETY: kill the child we just created through its pidfd, then reap it.
        unsafe {
            libc::syscall(
                libc::SYS_pidfd_send_signal,
                pidfd.as_raw_fd(),
                libc::SIGKILL,
                std::ptr::null::<libc::siginfo_t>(),
                0,
            );
        }
        reap_within(pid, ABANDON_REAP_WAIT);
    };
    // In a user namespace the child waits for its ids before anything else.
    let mapped = match plan.userns {
        None => Ok(()),
        Some(range) => write_id_maps(pid, range)
            .and_then(|()| parent_channel.send_mapped().map(drop))
            .map_err(|error| SpawnError::Setup(format!("cannot map the user namespace: {error}"))),
    };
    // The child builds its mount tree meanwhile and may already have failed:
    // its own message, queued on the channel, explains more than ours.
    let own_error = match mapped.and_then(|()| cgroup.attach(pid).map_err(SpawnError::from)) {
        Err(error) => Some(error),
        Ok(()) => match prepare(pid) {
            Err(message) => Some(SpawnError::Prepare(message)),
            Ok(()) => parent_channel
                .send_go()
                .err()
                .map(|error| SpawnError::Setup(format!("cannot start the init: {error}"))),
        },
    };
    if let Some(own_error) = own_error {
        // A failed preparation is the caller's own error: the child is
        // only waiting, unless it already failed on its own.
        let grace = match own_error {
            SpawnError::Prepare(_) => CHILD_REPORT_PEEK,
            _ => CHILD_REPORT_GRACE,
        };
        let outcome = parent_channel.wait_outcome(grace);
        abandon(&pidfd);
        return Err(match outcome {
            SetupOutcome::Failed(message) => SpawnError::Setup(message),
            _ => own_error,
        });
    }
    match parent_channel.wait_outcome(setup_timeout) {
        SetupOutcome::Execed => Ok(SpawnedInit { pid, pidfd }),
        SetupOutcome::Failed(message) => {
            abandon(&pidfd);
            Err(SpawnError::Setup(message))
        }
        SetupOutcome::TimedOut => {
            abandon(&pidfd);
            Err(SpawnError::Timeout(setup_timeout))
        }
    }
}
