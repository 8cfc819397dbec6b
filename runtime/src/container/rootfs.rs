//! The container's mount tree: the shared root bound privately, the spec's
//! mounts inside it, masked and read-only paths, and the switch of `/`.

use std::os::fd::{AsRawFd, OwnedFd};
use std::path::Path;

use nix::mount::{mount, umount2, MntFlags, MsFlags};

use super::resolve::{fd_path, mount_target, open_in_root};
use super::{cgroupfs, mount_options, InitError, InitPlan};

fn mount_error(what: &str, target: &Path, source: nix::Error) -> InitError {
    InitError::Mount {
        what: what.to_string(),
        target: target.to_path_buf(),
        source,
    }
}

/// Cuts propagation to and from the host, then makes the root a mount of its
/// own (non-recursive: host mounts below the root directory stay outside).
pub fn bind_root(root: &Path) -> Result<OwnedFd, InitError> {
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_REC | MsFlags::MS_PRIVATE,
        None::<&str>,
    )
    .map_err(|source| mount_error("make / private", Path::new("/"), source))?;
    mount(
        Some(root),
        root,
        None::<&str>,
        MsFlags::MS_BIND,
        None::<&str>,
    )
    .map_err(|source| mount_error("bind the root", root, source))?;
    let fd = nix::fcntl::open(
        root,
        nix::fcntl::OFlag::O_PATH | nix::fcntl::OFlag::O_DIRECTORY | nix::fcntl::OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .map_err(|source| InitError::Path {
        path: root.to_path_buf(),
        source,
    })?;
    // SAFETY: open returned a new fd that nothing else owns.
    Ok(unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd) })
}

/// Mounts every entry of the spec, in order, inside the root.
pub fn mount_spec_entries(plan: &InitPlan, root: &OwnedFd) -> Result<(), InitError> {
    for entry in &plan.mounts {
        let options = mount_options::parse(&entry.options);
        let is_file_bind = options.bind && entry.source.as_ref().is_some_and(|s| !s.is_dir());
        let target_fd = mount_target(root, &plan.root, &entry.destination, !is_file_bind)?;
        let target = fd_path(&target_fd);
        if entry.typ == "cgroup" {
            cgroupfs::mount_view(&plan.cgroup_layout, &target, options.flags)?;
            continue;
        }
        if options.bind {
            let source = entry.source.as_deref().unwrap_or(Path::new("none"));
            mount(
                Some(source),
                &target,
                None::<&str>,
                MsFlags::MS_BIND | (options.flags & MsFlags::MS_REC),
                None::<&str>,
            )
            .map_err(|source| mount_error("bind", &entry.destination, source))?;
            let remount =
                MsFlags::MS_BIND | MsFlags::MS_REMOUNT | (options.flags & !MsFlags::MS_REC);
            mount(None::<&str>, &target, None::<&str>, remount, None::<&str>)
                .map_err(|source| mount_error("remount bind", &entry.destination, source))?;
            continue;
        }
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
        .map_err(|source| mount_error(&entry.typ, &entry.destination, source))?;
    }
    Ok(())
}

/// Hides host information: files get `/dev/null` bound over them,
/// directories an empty read-only tmpfs. Paths this kernel lacks are skipped.
pub fn mask_paths(plan: &InitPlan, root: &OwnedFd) -> Result<(), InitError> {
    let null = open_in_root(root, Path::new("/dev/null"), 0).map_err(|source| InitError::Path {
        path: "/dev/null".into(),
        source,
    })?;
    for path in &plan.masked_paths {
        let target_fd = match open_in_root(root, path, 0) {
            Ok(fd) => fd,
            Err(nix::Error::ENOENT) => continue,
            Err(source) => {
                return Err(InitError::Path {
                    path: path.clone(),
                    source,
                })
            }
        };
        let is_dir = nix::sys::stat::fstat(target_fd.as_raw_fd())
            .map(|s| s.st_mode & libc::S_IFMT == libc::S_IFDIR)
            .unwrap_or(false);
        let target = fd_path(&target_fd);
        let result = if is_dir {
            mount(
                Some("tmpfs"),
                &target,
                Some("tmpfs"),
                MsFlags::MS_RDONLY | MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
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

fn bind_onto_itself(target: &Path, read_only: bool) -> Result<(), nix::Error> {
    mount(
        Some(target),
        target,
        None::<&str>,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None::<&str>,
    )?;
    let mut flags = MsFlags::MS_BIND
        | MsFlags::MS_REMOUNT
        | MsFlags::MS_NOSUID
        | MsFlags::MS_NODEV
        | MsFlags::MS_NOEXEC;
    if read_only {
        flags |= MsFlags::MS_RDONLY;
    }
    mount(None::<&str>, target, None::<&str>, flags, None::<&str>)
}

/// Makes kernel knobs read-only. The container has its own network
/// namespace, so `/proc/sys/net` is given back read-write.
pub fn make_readonly(plan: &InitPlan, root: &OwnedFd) -> Result<(), InitError> {
    for path in &plan.readonly_paths {
        let target_fd = match open_in_root(root, path, 0) {
            Ok(fd) => fd,
            Err(nix::Error::ENOENT) => continue,
            Err(source) => {
                return Err(InitError::Path {
                    path: path.clone(),
                    source,
                })
            }
        };
        bind_onto_itself(&fd_path(&target_fd), true)
            .map_err(|source| mount_error("read-only bind", path, source))?;
    }
    if plan.private_network
        && plan
            .readonly_paths
            .iter()
            .any(|p| p == Path::new("/proc/sys"))
    {
        let net = Path::new("/proc/sys/net");
        if let Ok(fd) = open_in_root(root, net, 0) {
            bind_onto_itself(&fd_path(&fd), false)
                .map_err(|source| mount_error("writable bind", net, source))?;
        }
    }
    Ok(())
}

/// Gives the container a boot id of its own, so that a restart is a new boot
/// to systemd and journald: a fresh random id bound over the kernel's file.
pub fn set_boot_id(root: &OwnedFd, boot_id: &str) -> Result<(), InitError> {
    let staging = Path::new("/run/.vroot-boot-id");
    let staging_fd = mount_target(root, Path::new("/"), staging, false)?;
    std::fs::write(fd_path(&staging_fd), format!("{boot_id}\n")).map_err(|error| {
        InitError::Io {
            what: "write the boot id".into(),
            source: error,
        }
    })?;
    let target = Path::new("/proc/sys/kernel/random/boot_id");
    if let Ok(target_fd) = open_in_root(root, target, 0) {
        mount(
            Some(&fd_path(&staging_fd)),
            &fd_path(&target_fd),
            None::<&str>,
            MsFlags::MS_BIND,
            None::<&str>,
        )
        .map_err(|source| mount_error("bind the boot id", target, source))?;
        mount(
            None::<&str>,
            &fd_path(&target_fd),
            None::<&str>,
            MsFlags::MS_BIND
                | MsFlags::MS_REMOUNT
                | MsFlags::MS_RDONLY
                | MsFlags::MS_NOSUID
                | MsFlags::MS_NODEV
                | MsFlags::MS_NOEXEC,
            None::<&str>,
        )
        .map_err(|source| mount_error("make the boot id read-only", target, source))?;
    }
    let run = open_in_root(root, Path::new("/run"), libc::O_DIRECTORY).map_err(|source| {
        InitError::Path {
            path: "/run".into(),
            source,
        }
    })?;
    let run_dir = nix::fcntl::open(
        &fd_path(&run),
        nix::fcntl::OFlag::O_DIRECTORY | nix::fcntl::OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .map_err(|source| InitError::Path {
        path: "/run".into(),
        source,
    })?;
    let _ = nix::unistd::unlinkat(
        Some(run_dir),
        ".vroot-boot-id",
        nix::unistd::UnlinkatFlags::NoRemoveDir,
    );
    let _ = nix::unistd::close(run_dir);
    Ok(())
}

/// Makes the root `/`. `pivot_root(".", ".")` needs no directory for the old
/// root, so nothing is written into the shared root; the old root is then
/// detached. An initramfs root cannot be pivoted: move it over `/` and chroot.
pub fn switch_root(root: &OwnedFd) -> Result<(), InitError> {
    nix::unistd::fchdir(root.as_raw_fd()).map_err(|source| InitError::Path {
        path: ".".into(),
        source,
    })?;
    match nix::unistd::pivot_root(".", ".") {
        Ok(()) => {
            umount2(".", MntFlags::MNT_DETACH)
                .map_err(|source| mount_error("detach the old root", Path::new("/"), source))?;
        }
        Err(nix::Error::EINVAL) => {
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
