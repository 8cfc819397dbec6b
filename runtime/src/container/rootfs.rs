//! The container's mount tree: the shared root bound privately, the spec's
//! mounts inside it, masked and read-only paths, and the switch of `/`.
//!
//! Every target is opened inside the root with `openat2(RESOLVE_IN_ROOT)` and
//! mounted on through its fd. After a mount, the path is opened again: an fd
//! taken before it still names the mount underneath, and a remount through it
//! would change that mount instead (for the root bind: the shared root).

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::Path;

use nix::mount::{mount, umount2, MntFlags, MsFlags};

use super::resolve::{fd_path, mount_target, open_in_root};
use super::{cgroupfs, mount_options, InitError, InitPlan};

const HARMLESS: MsFlags = MsFlags::MS_NOSUID
    .union(MsFlags::MS_NODEV)
    .union(MsFlags::MS_NOEXEC);

fn mount_error(what: &str, target: &Path, source: nix::Error) -> InitError {
    InitError::Mount {
        what: what.to_string(),
        target: target.to_path_buf(),
        source,
    }
}

fn open_existing(root: &OwnedFd, path: &Path) -> Result<Option<OwnedFd>, InitError> {
    match open_in_root(root, path, 0) {
        Ok(fd) => Ok(Some(fd)),
        Err(nix::Error::ENOENT) => Ok(None),
        Err(source) => Err(InitError::Path {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// Binds `source` onto `destination` (which must exist inside the root),
/// then remounts the new mount with `flags`.
fn bind_then_remount(
    root: &OwnedFd,
    source: &Path,
    destination: &Path,
    recursive: bool,
    flags: MsFlags,
) -> Result<(), InitError> {
    let target = open_existing(root, destination)?.ok_or(InitError::Path {
        path: destination.to_path_buf(),
        source: nix::Error::ENOENT,
    })?;
    let bind = if recursive {
        MsFlags::MS_BIND | MsFlags::MS_REC
    } else {
        MsFlags::MS_BIND
    };
    mount(
        Some(source),
        &fd_path(&target),
        None::<&str>,
        bind,
        None::<&str>,
    )
    .map_err(|e| mount_error("bind", destination, e))?;
    if flags.is_empty() {
        return Ok(());
    }
    let bound = open_existing(root, destination)?.ok_or(InitError::Path {
        path: destination.to_path_buf(),
        source: nix::Error::ENOENT,
    })?;
    mount(
        None::<&str>,
        &fd_path(&bound),
        None::<&str>,
        MsFlags::MS_BIND | MsFlags::MS_REMOUNT | flags,
        None::<&str>,
    )
    .map_err(|e| mount_error("remount", destination, e))
}

fn open_dir(path: &Path) -> Result<OwnedFd, InitError> {
    let fd = nix::fcntl::open(
        path,
        nix::fcntl::OFlag::O_PATH | nix::fcntl::OFlag::O_DIRECTORY | nix::fcntl::OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .map_err(|source| InitError::Path {
        path: path.to_path_buf(),
        source,
    })?;
    // SAFETY: open returned a new fd that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Mounts an overlayfs on `target`, its layers given to the kernel as
/// opened fds: no path the container could have changed is looked up again,
/// and no option string has to escape commas or colons.
fn mount_overlay(
    lower: &OwnedFd,
    upper: &OwnedFd,
    work: &OwnedFd,
    target: &Path,
    shown_as: &Path,
    extra: &str,
) -> Result<(), InitError> {
    let mut data = format!(
        "lowerdir={},upperdir={},workdir={}",
        fd_path(lower).display(),
        fd_path(upper).display(),
        fd_path(work).display()
    );
    if !extra.is_empty() {
        data.push(',');
        data.push_str(extra);
    }
    mount(
        Some("overlay"),
        target,
        Some("overlay"),
        MsFlags::empty(),
        Some(data.as_str()),
    )
    .map_err(|source| mount_error("overlay", shown_as, source))
}

/// Cuts propagation to and from the host, then makes the root a mount of its
/// own (non-recursive: host mounts below the root directory stay outside).
/// In `overlayfs` mode that mount is an overlay with the shared root as its
/// read-only lower layer and the per-host layer as its upper.
pub fn bind_root(plan: &InitPlan) -> Result<OwnedFd, InitError> {
    let root = plan.root.as_path();
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_REC | MsFlags::MS_PRIVATE,
        None::<&str>,
    )
    .map_err(|source| mount_error("make / private", Path::new("/"), source))?;
    match &plan.root_overlay {
        Some(overlay) => {
            let options = mount_options::parse(&overlay.options);
            let (Some(upper), Some(work)) = (&options.upperdir, &options.workdir) else {
                return Err(InitError::Path {
                    path: "/".into(),
                    source: nix::Error::EINVAL,
                });
            };
            let lower = open_dir(root)?;
            mount_overlay(
                &lower,
                &open_dir(upper)?,
                &open_dir(work)?,
                root,
                root,
                &options.data,
            )?;
        }
        None => mount(
            Some(root),
            root,
            None::<&str>,
            MsFlags::MS_BIND,
            None::<&str>,
        )
        .map_err(|source| mount_error("bind the root", root, source))?,
    }
    open_dir(root)
}

/// A source inside the per-host layer, opened beneath its `root/`: the
/// container writes there, and a symlink it planted must not lead the bind
/// (made by host root, before the switch) to a host path.
fn open_in_layer(
    layer: Option<&OwnedFd>,
    plan: &InitPlan,
    source: &Path,
) -> Result<OwnedFd, InitError> {
    let (Some(layer), Some(layer_root)) = (layer, &plan.layer_root) else {
        return Err(InitError::Path {
            path: source.to_path_buf(),
            source: nix::Error::EINVAL,
        });
    };
    let inside = source
        .strip_prefix(layer_root)
        .map_err(|_| InitError::Path {
            path: source.to_path_buf(),
            source: nix::Error::EXDEV,
        })?;
    open_in_root(layer, inside, 0).map_err(|error| InitError::Path {
        path: source.to_path_buf(),
        source: error,
    })
}

/// Mounts every entry of the spec, in order, inside the root. Returns the
/// destinations mounted.
pub fn mount_spec_entries(
    plan: &InitPlan,
    root: &OwnedFd,
) -> Result<Vec<std::path::PathBuf>, InitError> {
    let layer = plan.layer_root.as_deref().map(open_dir).transpose()?;
    let mut mounted = Vec::new();
    for entry in &plan.mounts {
        let options = mount_options::parse(&entry.options);
        if entry.typ == "cgroup" {
            continue;
        }
        mounted.push(entry.destination.clone());
        let layer_source = match (&entry.source, options.in_layer && options.bind) {
            (Some(source), true) => Some(open_in_layer(layer.as_ref(), plan, source)?),
            _ => None,
        };
        let source_is_dir = |fd: &OwnedFd| {
            nix::sys::stat::fstat(fd.as_raw_fd())
                .is_ok_and(|s| s.st_mode & libc::S_IFMT == libc::S_IFDIR)
        };
        let is_file_bind = options.bind
            && match &layer_source {
                Some(fd) => !source_is_dir(fd),
                None => entry.source.as_ref().is_some_and(|s| !s.is_dir()),
            };
        let target_fd = mount_target(root, &plan.root, &entry.destination, !is_file_bind)?;
        let target = fd_path(&target_fd);
        if options.bind {
            let source = match &layer_source {
                Some(fd) => fd_path(fd),
                None => entry
                    .source
                    .clone()
                    .unwrap_or_else(|| std::path::PathBuf::from("none")),
            };
            if options.flags.is_empty() {
                // A plain bind needs no remount: mount straight on the
                // target already opened, without resolving it again.
                mount(
                    Some(&source),
                    &target,
                    None::<&str>,
                    MsFlags::MS_BIND,
                    None::<&str>,
                )
                .map_err(|e| mount_error("bind", &entry.destination, e))?;
            } else {
                bind_then_remount(
                    root,
                    &source,
                    &entry.destination,
                    options.flags.contains(MsFlags::MS_REC),
                    options.flags & !MsFlags::MS_REC,
                )?;
            }
        } else if entry.typ == "overlay" {
            let (Some(upper), Some(work)) = (&options.upperdir, &options.workdir) else {
                return Err(InitError::Path {
                    path: entry.destination.clone(),
                    source: nix::Error::EINVAL,
                });
            };
            let upper = open_in_layer(layer.as_ref(), plan, upper)?;
            mount_overlay(
                &target_fd,
                &upper,
                &open_dir(work)?,
                &target,
                &entry.destination,
                &options.data,
            )?;
        } else {
            let source = entry
                .source
                .as_deref()
                .map(|s| s.as_os_str())
                .unwrap_or(entry.typ.as_ref());
            let data = (!options.data.is_empty()).then_some(options.data.as_str());
            mount(
                Some(source),
                &target,
                Some(entry.typ.as_str()),
                options.flags,
                data,
            )
            .map_err(|e| mount_error(&entry.typ, &entry.destination, e))?;
        }
    }
    Ok(mounted)
}

/// Mounts the spec's `cgroup` entries, deferred by [`mount_spec_entries`]:
/// they show the right tree only inside the cgroup namespace, which the init
/// enters after joining its cgroup.
pub fn mount_cgroup_views(plan: &InitPlan, root: &OwnedFd) -> Result<(), InitError> {
    for entry in plan.mounts.iter().filter(|entry| entry.typ == "cgroup") {
        let options = mount_options::parse(&entry.options);
        let target_fd = mount_target(root, &plan.root, &entry.destination, true)?;
        cgroupfs::mount_view(
            &plan.cgroup_layout,
            root,
            &entry.destination,
            &fd_path(&target_fd),
            options.flags,
        )?;
    }
    Ok(())
}

/// The machine id vroot binds over `/etc/machine-id` is permanent, so
/// systemd's unit that "commits a transient machine-id to disk" must not run:
/// it would fail on the bind, or, were the bind on a tmpfs, unmount it and
/// write the shared root's file. It is masked for this boot only, in the
/// container's own `/run`, the way `systemctl mask --runtime` does.
pub fn mask_machine_id_commit(root: &OwnedFd) -> Result<(), InitError> {
    let unit_dir = Path::new("/run/systemd/system");
    let mut dir = std::path::PathBuf::from("/");
    for component in unit_dir.components().skip(1) {
        dir.push(component);
        mount_target(root, Path::new("/"), &dir, true)?;
    }
    let dir_fd = open_existing(root, unit_dir)?.ok_or(InitError::Path {
        path: unit_dir.to_path_buf(),
        source: nix::Error::ENOENT,
    })?;
    let link = fd_path(&dir_fd).join("systemd-machine-id-commit.service");
    match std::os::unix::fs::symlink("/dev/null", &link) {
        Err(error) if error.kind() != std::io::ErrorKind::AlreadyExists => Err(InitError::Io {
            what: "mask systemd-machine-id-commit.service".into(),
            source: error,
        }),
        _ => Ok(()),
    }
}

/// Hides host information: files get `/dev/null` bound over them,
/// directories an empty read-only tmpfs. Paths this kernel lacks are skipped.
pub fn mask_paths(plan: &InitPlan, root: &OwnedFd) -> Result<(), InitError> {
    let null = open_existing(root, Path::new("/dev/null"))?.ok_or(InitError::Path {
        path: "/dev/null".into(),
        source: nix::Error::ENOENT,
    })?;
    for path in &plan.masked_paths {
        let Some(target_fd) = open_existing(root, path)? else {
            continue;
        };
        let is_dir = nix::sys::stat::fstat(target_fd.as_raw_fd())
            .is_ok_and(|s| s.st_mode & libc::S_IFMT == libc::S_IFDIR);
        let target = fd_path(&target_fd);
        let result = if is_dir {
            mount(
                Some("tmpfs"),
                &target,
                Some("tmpfs"),
                MsFlags::MS_RDONLY | HARMLESS,
                Some("size=0,mode=755"),
            )
        } else {
            mount(
                Some(&fd_path(&null)),
                &target,
                None::<&str>,
                MsFlags::MS_BIND,
                None::<&str>,
            )
        };
        result.map_err(|source| mount_error("mask", path, source))?;
    }
    Ok(())
}

/// Makes kernel knobs read-only. The container has its own network
/// namespace, so `/proc/sys/net` is given back read-write, unless the
/// config lists it read-only itself. Shallower paths go first, so a path
/// listed below `/proc/sys/net` stays read-only.
pub fn make_readonly(plan: &InitPlan, root: &OwnedFd) -> Result<(), InitError> {
    let sys = Path::new("/proc/sys");
    let net = Path::new("/proc/sys/net");
    let mut paths: Vec<&std::path::PathBuf> = plan.readonly_paths.iter().collect();
    paths.sort_by_key(|path| path.components().count());
    for path in paths {
        if open_existing(root, path)?.is_none() {
            continue;
        }
        bind_then_remount(
            root,
            &fd_path(&source_in_root(root, path)?),
            path,
            true,
            MsFlags::MS_RDONLY | HARMLESS,
        )?;
        let give_back_net = path == sys
            && plan.private_network
            && !plan.readonly_paths.iter().any(|p| p == net)
            && open_existing(root, net)?.is_some();
        if give_back_net {
            bind_then_remount(
                root,
                &fd_path(&source_in_root(root, net)?),
                net,
                true,
                HARMLESS,
            )?;
        }
    }
    Ok(())
}

/// A bind source inside the root, resolved like every target
/// (`RESOLVE_IN_ROOT`): a symlink in the shared root cannot make it a host path.
fn source_in_root(root: &OwnedFd, path: &Path) -> Result<OwnedFd, InitError> {
    open_existing(root, path)?.ok_or(InitError::Path {
        path: path.to_path_buf(),
        source: nix::Error::ENOENT,
    })
}

/// Gives the container a boot id of its own, so that a restart is a new boot
/// to systemd and journald: a fresh random id bound over the kernel's file.
pub fn set_boot_id(root: &OwnedFd, boot_id: &str) -> Result<(), InitError> {
    let staging = Path::new("/run/.vroot-boot-id");
    let staging_fd = mount_target(root, Path::new("/"), staging, false)?;
    std::fs::write(fd_path(&staging_fd), format!("{boot_id}\n")).map_err(|source| {
        InitError::Io {
            what: "write the boot id".into(),
            source,
        }
    })?;
    let target = Path::new("/proc/sys/kernel/random/boot_id");
    if open_existing(root, target)?.is_some() {
        bind_then_remount(
            root,
            &fd_path(&staging_fd),
            target,
            false,
            MsFlags::MS_RDONLY | HARMLESS,
        )?;
    }
    let run = open_existing(root, Path::new("/run"))?.ok_or(InitError::Path {
        path: "/run".into(),
        source: nix::Error::ENOENT,
    })?;
    let _ = std::fs::remove_file(fd_path(&run).join(".vroot-boot-id"));
    Ok(())
}

/// Lazily unmounts, in this (private) mount namespace, every mount that is
/// neither `/` nor the container's root or below it, deepest first.
fn detach_host_mounts(root_path: &Path) {
    let Ok(mounts) = crate::mountinfo::read_own() else {
        return;
    };
    let mut host_mounts: Vec<_> = mounts
        .into_iter()
        .map(|m| m.mount_point)
        .filter(|point| {
            point != Path::new("/")
                && !point.starts_with(root_path)
                && !root_path.starts_with(point)
        })
        .collect();
    host_mounts.sort_by_key(|point| std::cmp::Reverse(point.components().count()));
    for point in host_mounts {
        let _ = umount2(&point, MntFlags::MNT_DETACH);
    }
}

/// Makes the root `/`. `pivot_root(".", ".")` needs no directory for the old
/// root, so nothing is written into the shared root; the old root is then
/// detached. A host whose own root is the initramfs (rootfs) cannot pivot:
/// there the root is moved over `/` and chrooted into, after every other host
/// mount has been detached from this namespace. The rootfs itself stays
/// below the chroot, so such hosts should `switch_root` into a tmpfs at boot
/// (docs/operations.md).
pub fn switch_root(root: &OwnedFd, root_path: &Path) -> Result<(), InitError> {
    nix::unistd::fchdir(root.as_raw_fd()).map_err(|source| InitError::Path {
        path: ".".into(),
        source,
    })?;
    match nix::unistd::pivot_root(".", ".") {
        Ok(()) => umount2(".", MntFlags::MNT_DETACH)
            .map_err(|source| mount_error("detach the old root", Path::new("/"), source))?,
        Err(nix::Error::EINVAL) => {
            detach_host_mounts(root_path);
            mount(Some("."), "/", None::<&str>, MsFlags::MS_MOVE, None::<&str>)
                .map_err(|source| mount_error("move the root", Path::new("/"), source))?;
            nix::unistd::chroot(".").map_err(|source| InitError::Path {
                path: "/".into(),
                source,
            })?;
        }
        Err(source) => return Err(mount_error("pivot_root", Path::new("/"), source)),
    }
    nix::unistd::chdir("/").map_err(|source| InitError::Path {
        path: "/".into(),
        source,
    })
}
