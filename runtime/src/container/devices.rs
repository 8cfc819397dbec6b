//! The container's private `/dev`: the spec's device nodes, the usual
//! symlinks, and `/dev/console` bound to the pty the supervisor holds.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::Path;

use nix::mount::{mount, MsFlags};
use nix::sys::stat::{makedev, mknodat, Mode, SFlag};

use super::resolve::{fd_path, mount_target, open_in_root};
use super::{InitError, InitPlan};

const SYMLINKS: &[(&str, &str)] = &[
    ("fd", "/proc/self/fd"),
    ("stdin", "/proc/self/fd/0"),
    ("stdout", "/proc/self/fd/1"),
    ("stderr", "/proc/self/fd/2"),
    ("ptmx", "pts/ptmx"),
];

fn open_dev_dir(root: &OwnedFd) -> Result<OwnedFd, InitError> {
    let path_fd = open_in_root(root, Path::new("/dev"), libc::O_DIRECTORY).map_err(|source| {
        InitError::Path {
            path: "/dev".into(),
            source,
        }
    })?;
    let fd = nix::fcntl::open(
        &fd_path(&path_fd),
        nix::fcntl::OFlag::O_DIRECTORY | nix::fcntl::OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|source| InitError::Path {
        path: "/dev".into(),
        source,
    })?;
    // SAFETY: open returned a new fd that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// The directories above a nested node (`net/` for `/dev/net/tun`), in the
/// fresh tmpfs that is the container's `/dev`.
fn make_parents(dev: &OwnedFd, name: &Path, device_path: &Path) -> Result<(), InitError> {
    let mut parent = std::path::PathBuf::new();
    let Some(parents) = name.parent() else {
        return Ok(());
    };
    for component in parents.components() {
        parent.push(component);
        match nix::sys::stat::mkdirat(
            Some(dev.as_raw_fd()),
            &parent,
            Mode::from_bits_truncate(0o755),
        ) {
            Ok(()) | Err(nix::Error::EEXIST) => {}
            Err(source) => {
                return Err(InitError::Path {
                    path: device_path.to_path_buf(),
                    source,
                })
            }
        }
    }
    Ok(())
}

pub fn populate(plan: &InitPlan, root: &OwnedFd, console: RawFd) -> Result<(), InitError> {
    let dev = open_dev_dir(root)?;
    for device in &plan.devices {
        let name = device.path.strip_prefix("/dev/").unwrap_or(&device.path);
        make_parents(&dev, name, &device.path)?;
        let made = mknodat(
            Some(dev.as_raw_fd()),
            name,
            if device.block {
                SFlag::S_IFBLK
            } else {
                SFlag::S_IFCHR
            },
            Mode::from_bits_truncate(device.mode),
            makedev(device.major, device.minor),
        );
        match made {
            Ok(()) | Err(nix::Error::EEXIST) => {}
            // Without CAP_MKNOD (a user namespace), bind the host's node instead.
            Err(nix::Error::EPERM) => {
                let target = mount_target(root, &plan.root, &device.path, false)?;
                mount(
                    Some(&device.path),
                    &fd_path(&target),
                    None::<&str>,
                    MsFlags::MS_BIND,
                    None::<&str>,
                )
                .map_err(|source| InitError::Mount {
                    what: "bind device".into(),
                    target: device.path.clone(),
                    source,
                })?;
            }
            Err(source) => {
                return Err(InitError::Path {
                    path: device.path.clone(),
                    source,
                })
            }
        }
    }
    for (name, target) in SYMLINKS {
        match nix::unistd::symlinkat(*target, Some(dev.as_raw_fd()), *name) {
            Ok(()) | Err(nix::Error::EEXIST) => {}
            Err(source) => {
                return Err(InitError::Path {
                    path: Path::new("/dev").join(name),
                    source,
                })
            }
        }
    }
    let console_target = mount_target(root, &plan.root, Path::new("/dev/console"), false)?;
    // The pty belongs to the host's devpts: bind it by its path, which resolves
    // to this mount namespace's copy of that devpts (a bind through the fd
    // would name a mount of the host's namespace, which the kernel refuses).
    let console_source =
        std::fs::read_link(format!("/proc/self/fd/{console}")).map_err(|source| InitError::Io {
            what: "find the console pty".into(),
            source,
        })?;
    mount(
        Some(&console_source),
        &fd_path(&console_target),
        None::<&str>,
        MsFlags::MS_BIND,
        None::<&str>,
    )
    .map_err(|source| InitError::Mount {
        what: "bind the console".into(),
        target: "/dev/console".into(),
        source,
    })?;
    Ok(())
}
