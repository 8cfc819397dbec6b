//! The kernel features vroot needs, each probed for real where that is
//! cheap and has no side effect: namespaces (`/proc/self/ns`), overlayfs
//! and FUSE (`/proc/filesystems`, or a module the kernel can load), fusectl
//! (mountinfo), the cgroup layout, `cgroup.kill` (a cgroup2 directory),
//! and the `pidfd_open` and `clone3` system calls (called in ways that
//! create nothing: a pidfd of this process, closed at once, and a clone3
//! with an invalid size, which the kernel refuses before doing anything).
//! Nothing here forks.

use std::path::{Path, PathBuf};

use vroot_runtime::cgroups::CgroupLayout;
use vroot_runtime::mountinfo::MountEntry;

use super::{Check, Group};

const FUSECTL: &str = "/sys/fs/fuse/connections";

/// The namespaces every container gets, with the kernel option for each.
const NAMESPACES: &[(&str, &str)] = &[
    ("mnt", "CONFIG_NAMESPACES"),
    ("uts", "CONFIG_UTS_NS"),
    ("ipc", "CONFIG_IPC_NS"),
    ("pid", "CONFIG_PID_NS"),
    ("net", "CONFIG_NET_NS"),
    ("cgroup", "CONFIG_CGROUPS"),
];

/// Kernel version that brought `cgroup.kill`.
const CGROUP_KILL_SINCE: (u32, u32) = (5, 14);

/// Runs every kernel check. `userns_needed`: some container has
/// `[security] userns`, so user namespaces are required too.
pub(crate) fn checks(table: Option<&[MountEntry]>, userns_needed: bool) -> Vec<Check> {
    let filesystems = std::fs::read_to_string("/proc/filesystems").unwrap_or_default();
    let release = nix::sys::utsname::uname()
        .map(|uname| uname.release().to_string_lossy().into_owned())
        .unwrap_or_default();
    let modules = ModuleLists::read(&release);
    let layout = CgroupLayout::read_host();
    vec![
        namespaces(userns_needed),
        filesystem(
            "overlayfs",
            "overlay",
            &filesystems,
            &modules,
            "modprobe overlay (a kernel built with CONFIG_OVERLAY_FS)",
        ),
        filesystem(
            "fuse",
            "fuse",
            &filesystems,
            &modules,
            "modprobe fuse (a kernel built with CONFIG_FUSE_FS)",
        ),
        fusectl(table, &filesystems),
        cgroups(layout.as_ref()),
        cgroup_kill(layout.as_ref(), &release),
        pidfd(),
        clone3(),
    ]
}

fn namespaces(userns_needed: bool) -> Check {
    let has = |name: &str| Path::new("/proc/self/ns").join(name).exists();
    let mut wanted: Vec<(&str, &str)> = NAMESPACES.to_vec();
    if userns_needed {
        wanted.push(("user", "CONFIG_USER_NS"));
    }
    let missing: Vec<(&str, &str)> = wanted
        .iter()
        .copied()
        .filter(|(name, _)| !has(name))
        .collect();
    if missing.is_empty() {
        let mut found: Vec<&str> = wanted.iter().map(|(name, _)| *name).collect();
        if !userns_needed {
            found.push(if has("user") {
                "user"
            } else {
                "(no user: only [security] userns needs it)"
            });
        }
        return Check::pass(Group::Kernel, "namespaces", found.join(" "));
    }
    let names: Vec<&str> = missing.iter().map(|(name, _)| *name).collect();
    let options: Vec<&str> = missing.iter().map(|(_, option)| *option).collect();
    Check::fail(
        Group::Kernel,
        "namespaces",
        format!(
            "this kernel has no {} namespace (no /proc/self/ns/{})",
            names.join(", "),
            names.join(", /proc/self/ns/")
        ),
        format!("boot a kernel built with {}", options.join(" and ")),
    )
}

/// `modules.builtin` and `modules.dep` of the running kernel: a filesystem
/// the kernel has as a module is loaded on its first mount.
#[derive(Debug, Default)]
pub(crate) struct ModuleLists {
    builtin: String,
    loadable: String,
}

impl ModuleLists {
    fn read(release: &str) -> Self {
        let dir = PathBuf::from("/lib/modules").join(release);
        let read = |name: &str| std::fs::read_to_string(dir.join(name)).unwrap_or_default();
        ModuleLists {
            builtin: read("modules.builtin"),
            loadable: read("modules.dep"),
        }
    }

    /// "built in" or "a module", if the kernel has `module` at all.
    pub(crate) fn find(&self, module: &str) -> Option<&'static str> {
        if lists_module(&self.builtin, module) {
            Some("built in")
        } else if lists_module(&self.loadable, module) {
            Some("a module")
        } else {
            None
        }
    }
}

/// Whether a modules list names `module` (`kernel/fs/fuse/fuse.ko.xz: …`).
pub(crate) fn lists_module(text: &str, module: &str) -> bool {
    text.lines().any(|line| {
        let path = line.split(':').next().unwrap_or_default();
        let file = path.rsplit('/').next().unwrap_or_default();
        file.split_once(".ko")
            .is_some_and(|(name, _)| name == module || name.replace('-', "_") == module)
    })
}

/// Whether `/proc/filesystems` lists `name` (`nodev\toverlay`).
pub(crate) fn lists_filesystem(filesystems: &str, name: &str) -> bool {
    filesystems
        .lines()
        .any(|line| line.split_whitespace().last() == Some(name))
}

fn filesystem(
    check: &str,
    name: &str,
    filesystems: &str,
    modules: &ModuleLists,
    fix: &str,
) -> Check {
    if lists_filesystem(filesystems, name) {
        return Check::pass(
            Group::Kernel,
            check,
            format!("{name} is in /proc/filesystems"),
        );
    }
    match modules.find(name) {
        Some(how) => Check::pass(
            Group::Kernel,
            check,
            format!("{name} is {how} of this kernel (loaded on first use)"),
        ),
        None => Check::fail(
            Group::Kernel,
            check,
            format!("this kernel has no {name} filesystem (not in /proc/filesystems, no module)"),
            fix.to_string(),
        ),
    }
}

fn fusectl(table: Option<&[MountEntry]>, filesystems: &str) -> Check {
    let Some(table) = table else {
        return Check::fail(
            Group::Kernel,
            "fusectl",
            "cannot read /proc/self/mountinfo".to_string(),
            "run vroot doctor as root on the host, with /proc mounted".to_string(),
        );
    };
    if let Some(entry) = table.iter().find(|entry| entry.fs_type == "fusectl") {
        return Check::pass(
            Group::Kernel,
            "fusectl",
            format!("mounted at {}", entry.mount_point.display()),
        );
    }
    let mount = format!("mount -t fusectl fusectl {FUSECTL}");
    let fix = if lists_filesystem(filesystems, "fusectl") {
        format!(
            "{mount} (and at boot: systemd's sys-fs-fuse-connections.mount, or an /etc/fstab line `fusectl {FUSECTL} fusectl defaults 0 0`)"
        )
    } else {
        format!("modprobe fuse, then {mount}")
    };
    Check::fail(
        Group::Kernel,
        "fusectl",
        format!(
            "fusectl is not mounted at {FUSECTL} (a fence aborts hung FUSE and virtiofs storage through it)"
        ),
        fix,
    )
}

fn cgroups(layout: Option<&CgroupLayout>) -> Check {
    let fix = "mount cgroup2 beside the v1 controllers (mount -t cgroup2 cgroup2 /sys/fs/cgroup/unified), or boot with systemd.unified_cgroup_hierarchy=1 for pure cgroup v2".to_string();
    match layout {
        Some(CgroupLayout::Unified { mount_point }) => Check::pass(
            Group::Kernel,
            "cgroups",
            format!("cgroup v2 at {}", mount_point.display()),
        ),
        Some(CgroupLayout::Hybrid {
            v1,
            unified: Some(unified),
        }) => Check::pass(
            Group::Kernel,
            "cgroups",
            format!(
                "hybrid: {} v1 hierarchies and cgroup2 at {}",
                v1.len(),
                unified.display()
            ),
        ),
        Some(CgroupLayout::Hybrid { unified: None, .. }) => Check::fail(
            Group::Kernel,
            "cgroups",
            "cgroup v1 only: no cgroup2 hierarchy is mounted".to_string(),
            fix,
        ),
        None => Check::fail(
            Group::Kernel,
            "cgroups",
            "no cgroup hierarchy is mounted".to_string(),
            fix,
        ),
    }
}

/// `cgroup.kill` is in every cgroup2 directory but the root: look in this
/// process's own cgroup, else in the first one below the root, else go by
/// the kernel version.
fn cgroup_kill(layout: Option<&CgroupLayout>, release: &str) -> Check {
    let fix = "boot Linux 5.14 or later (until then vroot kills a container task by task, through the freezer)".to_string();
    let Some(v2) = layout.and_then(CgroupLayout::v2_mount) else {
        return Check::fail(
            Group::Kernel,
            "cgroup.kill",
            "no cgroup2 hierarchy to kill a cgroup through".to_string(),
            "mount cgroup2 (see the cgroups check)".to_string(),
        );
    };
    let own = std::fs::read_to_string("/proc/self/cgroup")
        .ok()
        .and_then(|text| own_v2_cgroup(&text))
        .filter(|path| path != "/")
        .map(|path| v2.join(path.trim_start_matches('/')));
    let below_root = || {
        std::fs::read_dir(v2).ok().and_then(|entries| {
            entries
                .flatten()
                .map(|entry| entry.path())
                .find(|path| path.join("cgroup.procs").exists())
        })
    };
    if let Some(dir) = own.or_else(below_root) {
        let file = dir.join("cgroup.kill");
        return if file.exists() {
            Check::pass(
                Group::Kernel,
                "cgroup.kill",
                format!("{} exists", file.display()),
            )
        } else {
            Check::fail(
                Group::Kernel,
                "cgroup.kill",
                format!(
                    "{} does not exist: this kernel has no cgroup.kill",
                    file.display()
                ),
                fix,
            )
        };
    }
    match kernel_version(release) {
        Some(version) if version >= CGROUP_KILL_SINCE => Check::pass(
            Group::Kernel,
            "cgroup.kill",
            format!(
                "no cgroup below {} to look in; Linux {release} has it",
                v2.display()
            ),
        ),
        _ => Check::fail(
            Group::Kernel,
            "cgroup.kill",
            format!(
                "no cgroup below {} to look in, and Linux {release} is older than 5.14",
                v2.display()
            ),
            fix,
        ),
    }
}

/// This process's cgroup2 path from `/proc/self/cgroup` (`0::/path`).
pub(crate) fn own_v2_cgroup(text: &str) -> Option<String> {
    text.lines()
        .find_map(|line| line.strip_prefix("0::"))
        .map(str::to_string)
}

/// (major, minor) of a release such as `6.18.44-fc-v669`.
pub(crate) fn kernel_version(release: &str) -> Option<(u32, u32)> {
    let mut numbers = release
        .split(|c: char| !c.is_ascii_digit())
        .map(|part| part.parse::<u32>().ok());
    Some((numbers.next()??, numbers.next()??))
}

fn errno_text(errno: i32) -> String {
    nix::errno::Errno::from_raw(errno).desc().to_string()
}

fn pidfd() -> Check {
    // SAFETY: pidfd_open(getpid(), 0) only creates a descriptor, closed below.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, libc::getpid(), 0) };
    if fd >= 0 {
        // SAFETY: the descriptor was just created and nothing else owns it.
        unsafe { libc::close(fd as i32) };
        return Check::pass(Group::Kernel, "pidfd", "pidfd_open works".to_string());
    }
    let errno = nix::errno::Errno::last_raw();
    Check::fail(
        Group::Kernel,
        "pidfd",
        format!("pidfd_open fails: {}", errno_text(errno)),
        syscall_fix(errno, "pidfd_open"),
    )
}

fn clone3() -> Check {
    // SAFETY: a size of 0 is below CLONE_ARGS_SIZE_VER0: the kernel refuses
    // it with EINVAL before reading the (null) arguments or creating
    // anything. A kernel without clone3 (or a filter) says ENOSYS.
    let result = unsafe { libc::syscall(libc::SYS_clone3, std::ptr::null::<u8>(), 0usize) };
    let errno = nix::errno::Errno::last_raw();
    clone3_verdict(result, errno)
}

/// What clone3(NULL, 0) answered.
pub(crate) fn clone3_verdict(result: libc::c_long, errno: i32) -> Check {
    match (result, errno) {
        (-1, libc::EINVAL) | (-1, libc::E2BIG) => Check::pass(
            Group::Kernel,
            "clone3",
            "clone3 is available".to_string(),
        ),
        (-1, errno) => Check::fail(
            Group::Kernel,
            "clone3",
            format!("clone3 fails: {}", errno_text(errno)),
            syscall_fix(errno, "clone3"),
        ),
        (result, _) => Check::fail(
            Group::Kernel,
            "clone3",
            format!("clone3 with an invalid size returned {result} instead of EINVAL: a system-call filter answers for the kernel"),
            "run vroot on the host itself, without a seccomp filter".to_string(),
        ),
    }
}

fn syscall_fix(errno: i32, call: &str) -> String {
    if errno == libc::ENOSYS {
        format!("boot Linux 5.9 or later; if it is newer, a seccomp filter (a container runtime?) blocks {call}: run vroot on the host itself")
    } else {
        format!("run vroot as root on the host itself ({call} is needed)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_proc_filesystems() {
        let text = "nodev\tsysfs\n\text4\nnodev\toverlay\n\tfuseblk\nnodev\tfuse\n";
        assert!(lists_filesystem(text, "overlay"));
        assert!(lists_filesystem(text, "fuse"));
        assert!(!lists_filesystem(text, "fusectl"));
        assert!(!lists_filesystem(text, "sys"));
    }

    #[test]
    fn finds_modules_in_the_module_lists() {
        let dep = "kernel/fs/overlayfs/overlay.ko.zst:\nkernel/fs/fuse/fuse.ko: kernel/lib/x.ko\n";
        assert!(lists_module(dep, "overlay"));
        assert!(lists_module(dep, "fuse"));
        assert!(!lists_module(dep, "over"));
        assert!(!lists_module("", "fuse"));
        let lists = ModuleLists {
            builtin: "kernel/fs/fuse/fuse.ko\n".into(),
            loadable: dep.into(),
        };
        assert_eq!(lists.find("fuse"), Some("built in"));
        assert_eq!(lists.find("overlay"), Some("a module"));
        assert_eq!(lists.find("nfs"), None);
    }

    #[test]
    fn parses_versions_and_cgroups() {
        assert_eq!(kernel_version("6.18.44-fc-v669"), Some((6, 18)));
        assert_eq!(kernel_version("5.4.0-150-generic"), Some((5, 4)));
        assert_eq!(kernel_version("garbage"), None);
        assert!(kernel_version("5.14.0").unwrap() >= CGROUP_KILL_SINCE);
        assert!(kernel_version("5.9.1").unwrap() < CGROUP_KILL_SINCE);
        assert_eq!(
            own_v2_cgroup("4:memory:/x\n0::/system.slice/a.service\n").as_deref(),
            Some("/system.slice/a.service")
        );
        assert_eq!(own_v2_cgroup("4:memory:/x\n"), None);
    }

    #[test]
    fn judges_clone3_answers() {
        assert!(clone3_verdict(-1, libc::EINVAL).ok);
        let missing = clone3_verdict(-1, libc::ENOSYS);
        assert!(!missing.ok);
        assert!(missing.fix.unwrap().contains("5.9"));
        assert!(!clone3_verdict(0, 0).ok);
    }

    #[test]
    fn probes_this_kernel_without_side_effects() {
        // The test host is a supported one: both calls work here.
        assert!(pidfd().ok);
        assert!(clone3().ok);
    }

    #[test]
    fn a_missing_fusectl_names_the_mount_command() {
        let table = vroot_runtime::mountinfo::parse("22 1 8:1 / / rw - ext4 /dev/sda1 rw\n");
        let check = fusectl(Some(&table), "nodev\tfusectl\n");
        assert!(!check.ok);
        assert!(check
            .fix
            .unwrap()
            .starts_with("mount -t fusectl fusectl /sys/fs/fuse/connections"));
        let table = vroot_runtime::mountinfo::parse(
            "44 23 0:40 / /sys/fs/fuse/connections rw - fusectl none rw\n",
        );
        assert!(fusectl(Some(&table), "").ok);
    }
}
