//! The container's own cgroup, in every hierarchy the host has: created with
//! its limits before the init joins it, killed as a whole, removed at stop.

pub mod device_program;
mod layout;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use device_program::DeviceProgramError;
pub use layout::{CgroupLayout, V1Hierarchy};

#[derive(Debug, thiserror::Error)]
pub enum CgroupError {
    #[error("no cgroup hierarchy is mounted on this host (mount cgroup2 at /sys/fs/cgroup)")]
    NoHierarchy,
    #[error("cannot create cgroup {path}: {source}")]
    Create {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot hand {path} to the container's user namespace: {source}")]
    Delegate {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write `{value}` to {path}: {source}")]
    Write {
        path: PathBuf,
        value: String,
        source: std::io::Error,
    },
    #[error("`{field}` needs the {controller} controller, which this host's cgroups do not offer (remove the limit or enable the controller)")]
    ControllerMissing {
        field: &'static str,
        controller: &'static str,
    },
    #[error("cannot remove cgroup {path}: {source}")]
    Remove {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot confine the devices of cgroup {path}: {source}; {}", .source.fix())]
    DeviceProgram {
        path: PathBuf,
        // Boxed: the error types that carry a CgroupError stay small.
        source: Box<DeviceProgramError>,
    },
    #[error("this host has neither the v1 devices controller nor a cgroup2 hierarchy, so the container's devices allowlist cannot be enforced (mount cgroup2 or the devices controller)")]
    DevicesUnenforceable,
    #[error("processes are still left in cgroup /{} {}s after they were killed (stuck in uninterruptible I/O?)", path.display(), timeout.as_secs())]
    StillPopulated { path: PathBuf, timeout: Duration },
}

/// The limits the runtime applies, taken from the spec's `linux.resources`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResourceLimits {
    pub memory_bytes: Option<u64>,
    pub cpu_quota_us: Option<i64>,
    pub cpu_period_us: Option<u64>,
    pub pids: Option<i64>,
    /// The device access rules, in order (a deny-all first, then what is
    /// allowed): written to the v1 devices controller, and compiled into a
    /// BPF device program for cgroup v2 ([`device_program`]).
    pub devices: Vec<oci_spec::runtime::LinuxDeviceCgroup>,
}

impl ResourceLimits {
    pub fn from_spec(spec: &oci_spec::runtime::Spec) -> Self {
        let Some(resources) = spec
            .linux()
            .as_ref()
            .and_then(|linux| linux.resources().as_ref())
        else {
            return Self::default();
        };
        let cpu = resources.cpu().as_ref();
        ResourceLimits {
            memory_bytes: resources
                .memory()
                .as_ref()
                .and_then(|m| m.limit())
                .map(|bytes| bytes as u64),
            cpu_quota_us: cpu.and_then(|c| c.quota()),
            cpu_period_us: cpu.and_then(|c| c.period()),
            pids: resources.pids().as_ref().map(|p| p.limit()),
            devices: resources.devices().clone().unwrap_or_default(),
        }
    }
}

/// The child cgroup the container runs in, below the one that carries its
/// limits. It is the root of the container's cgroup namespace, so nothing
/// inside can see or write the limits above it (root inside could otherwise
/// rewrite them on a writable cgroup2 mount, or after remounting a v1 one).
pub const PAYLOAD: &str = "payload";

#[derive(Debug, Clone)]
pub struct ContainerCgroup {
    layout: CgroupLayout,
    /// e.g. `vroot/web`, relative to each hierarchy's root.
    relative: PathBuf,
}

/// A rule as the v1 devices controller reads it: `a` for every device
/// (it takes nothing after that), else `c 1:3 rwm`, `*` for any number.
pub fn v1_device_rule(rule: &oci_spec::runtime::LinuxDeviceCgroup) -> String {
    let typ = rule.typ().unwrap_or_default();
    if typ == oci_spec::runtime::LinuxDeviceType::A {
        return "a".to_string();
    }
    let number = |n: Option<i64>| n.map(|n| n.to_string()).unwrap_or_else(|| "*".into());
    format!(
        "{} {}:{} {}",
        typ.as_str(),
        number(rule.major()),
        number(rule.minor()),
        rule.access().as_deref().unwrap_or("rwm")
    )
}

fn write_file(path: &Path, value: &str) -> Result<(), CgroupError> {
    std::fs::write(path, value).map_err(|source| CgroupError::Write {
        path: path.to_path_buf(),
        value: value.to_string(),
        source,
    })
}

impl ContainerCgroup {
    pub fn new(layout: CgroupLayout, cgroup_path: &str) -> Self {
        ContainerCgroup {
            layout,
            relative: PathBuf::from(cgroup_path.trim_start_matches('/')),
        }
    }

    /// For the host's own layout.
    pub fn on_host(cgroup_path: &str) -> Result<Self, CgroupError> {
        let layout = CgroupLayout::read_host().ok_or(CgroupError::NoHierarchy)?;
        Ok(Self::new(layout, cgroup_path))
    }

    pub fn layout(&self) -> &CgroupLayout {
        &self.layout
    }

    pub fn relative_path(&self) -> &Path {
        &self.relative
    }

    fn v2_dir(&self) -> Option<PathBuf> {
        self.layout
            .v2_mount()
            .map(|mount| mount.join(&self.relative))
    }

    fn v1_dir(&self, controller: &str) -> Option<PathBuf> {
        self.layout
            .v1_hierarchies()
            .iter()
            .find(|h| h.has(controller))
            .map(|h| h.mount_point.join(&self.relative))
    }

    /// The container's directory in every hierarchy.
    pub fn dirs(&self) -> Vec<PathBuf> {
        let mut dirs: Vec<PathBuf> = self
            .layout
            .v1_hierarchies()
            .iter()
            .map(|h| h.mount_point.join(&self.relative))
            .collect();
        dirs.extend(self.v2_dir());
        dirs
    }

    pub fn exists(&self) -> bool {
        self.dirs().iter().any(|dir| dir.exists())
    }

    /// Makes the cgroup afresh in every hierarchy and applies the limits.
    /// A stale cgroup from an earlier run is removed first (it must be empty).
    pub fn create(&self, limits: &ResourceLimits) -> Result<(), CgroupError> {
        self.check_controllers(limits)?;
        if self.exists() {
            self.remove(Duration::from_secs(2))?;
        }
        let result = self
            .restrict_devices(limits)
            .and_then(|()| self.create_dirs())
            .and_then(|()| self.apply_limits(limits));
        if result.is_err() {
            let _ = self.remove(Duration::from_secs(1));
        }
        result
    }

    fn check_controllers(&self, limits: &ResourceLimits) -> Result<(), CgroupError> {
        let wanted = [
            ("limits.memory", "memory", limits.memory_bytes.is_some()),
            ("limits.cpus", "cpu", limits.cpu_quota_us.is_some()),
            ("limits.pids", "pids", limits.pids.is_some()),
        ];
        for (field, controller, needed) in wanted {
            if needed && !self.controller_available(controller) {
                return Err(CgroupError::ControllerMissing { field, controller });
            }
        }
        Ok(())
    }

    fn controller_available(&self, controller: &str) -> bool {
        match &self.layout {
            CgroupLayout::Hybrid { .. } => self.v1_dir(controller).is_some(),
            CgroupLayout::Unified { mount_point } => {
                std::fs::read_to_string(mount_point.join("cgroup.controllers"))
                    .unwrap_or_default()
                    .split_whitespace()
                    .any(|name| name == controller)
            }
        }
    }

    fn create_dirs(&self) -> Result<(), CgroupError> {
        let mounts = self
            .layout
            .v1_hierarchies()
            .iter()
            .map(|h| (h.mount_point.clone(), h.has("cpuset")))
            .chain(self.layout.v2_mount().map(|m| (m.clone(), false)));
        for (mount, cpuset) in mounts {
            make_path_retrying(&mount, &self.relative.join(PAYLOAD), cpuset)?;
        }
        Ok(())
    }

    /// The devices allowlist, on the container's own cgroup and before its
    /// payload exists. In the v1 devices controller: the kernel takes a
    /// deny-all only on a cgroup without children, and a payload made
    /// afterwards starts from this narrowed list. In the cgroup2 hierarchy
    /// (the unified one of a hybrid host too: cgroup BPF programs run for a
    /// task's cgroup there), a BPF device program: it applies to the payload
    /// below as well, and anything attached there can only narrow it. Root
    /// inside, whose cgroup namespace starts at the payload, cannot widen
    /// what its parent allows.
    fn restrict_devices(&self, limits: &ResourceLimits) -> Result<(), CgroupError> {
        if limits.devices.is_empty() {
            return Ok(());
        }
        let v1_devices = self
            .layout
            .v1_hierarchies()
            .iter()
            .find(|h| h.has("devices"));
        if let Some(hierarchy) = v1_devices {
            make_path_retrying(&hierarchy.mount_point, &self.relative, false)?;
            let dir = hierarchy.mount_point.join(&self.relative);
            for rule in &limits.devices {
                let file = if rule.allow() {
                    "devices.allow"
                } else {
                    "devices.deny"
                };
                write_file(&dir.join(file), &v1_device_rule(rule))?;
            }
        }
        let Some(mount) = self.layout.v2_mount() else {
            return match v1_devices {
                Some(_) => Ok(()),
                None => Err(CgroupError::DevicesUnenforceable),
            };
        };
        make_path_retrying(mount, &self.relative, false)?;
        let dir = mount.join(&self.relative);
        match device_program::confine(&limits.devices, &dir) {
            Ok(()) => Ok(()),
            // The kernel checks a device access against both the BPF
            // programs and the v1 list, and the v1 list above holds the same
            // rules: where the kernel cannot load or attach the program
            // (no CONFIG_CGROUP_BPF, an older kernel), the container is no
            // less confined, so this is no error and not worth a warning.
            // A rule the program cannot express is an error all the same.
            Err(DeviceProgramError::Load { .. } | DeviceProgramError::Attach { .. })
                if v1_devices.is_some() =>
            {
                Ok(())
            }
            Err(source) => Err(CgroupError::DeviceProgram {
                path: dir,
                source: Box::new(source),
            }),
        }
    }

    fn apply_limits(&self, limits: &ResourceLimits) -> Result<(), CgroupError> {
        match &self.layout {
            CgroupLayout::Hybrid { .. } => {
                if let (Some(bytes), Some(dir)) = (limits.memory_bytes, self.v1_dir("memory")) {
                    write_file(&dir.join("memory.limit_in_bytes"), &bytes.to_string())?;
                }
                if let (Some(quota), Some(dir)) = (limits.cpu_quota_us, self.v1_dir("cpu")) {
                    write_file(
                        &dir.join("cpu.cfs_period_us"),
                        &limits.cpu_period_us.unwrap_or(100_000).to_string(),
                    )?;
                    write_file(&dir.join("cpu.cfs_quota_us"), &quota.to_string())?;
                }
                if let (Some(pids), Some(dir)) = (limits.pids, self.v1_dir("pids")) {
                    write_file(&dir.join("pids.max"), &pids.to_string())?;
                }
            }
            CgroupLayout::Unified { mount_point } => {
                let mut controllers = Vec::new();
                if limits.memory_bytes.is_some() {
                    controllers.push("memory");
                }
                if limits.cpu_quota_us.is_some() {
                    controllers.push("cpu");
                }
                if limits.pids.is_some() {
                    controllers.push("pids");
                }
                self.enable_v2_controllers(mount_point, &controllers)?;
                let dir = mount_point.join(&self.relative);
                if let Some(bytes) = limits.memory_bytes {
                    write_file(&dir.join("memory.max"), &bytes.to_string())?;
                }
                if let Some(quota) = limits.cpu_quota_us {
                    let period = limits.cpu_period_us.unwrap_or(100_000);
                    write_file(&dir.join("cpu.max"), &format!("{quota} {period}"))?;
                }
                if let Some(pids) = limits.pids {
                    write_file(&dir.join("pids.max"), &pids.to_string())?;
                }
            }
        }
        Ok(())
    }

    /// Turns controllers on in `cgroup.subtree_control` from the hierarchy
    /// root down to the container's own cgroup, so that its limits exist and
    /// its payload below it has the controllers too.
    fn enable_v2_controllers(
        &self,
        mount_point: &Path,
        controllers: &[&str],
    ) -> Result<(), CgroupError> {
        if controllers.is_empty() {
            return Ok(());
        }
        let request: Vec<String> = controllers.iter().map(|c| format!("+{c}")).collect();
        let request = request.join(" ");
        let mut dir = mount_point.to_path_buf();
        write_file(&dir.join("cgroup.subtree_control"), &request)?;
        for component in self.relative.components() {
            dir.push(component);
            write_file(&dir.join("cgroup.subtree_control"), &request)?;
        }
        Ok(())
    }

    /// Moves a process (the init) into the container's payload cgroup in every
    /// hierarchy.
    /// Hands the payload cgroup to a user-namespace container's root, as
    /// systemd's delegation does: the directory and the files that create
    /// children and move processes, in the hierarchies the container may
    /// write (cgroup2, and named v1 ones such as `name=systemd`). The limits
    /// above stay the host's.
    pub fn delegate_payload(&self, uid: u32, gid: u32) -> Result<(), CgroupError> {
        let writable = self
            .layout
            .v1_hierarchies()
            .iter()
            .filter(|h| h.controllers.iter().all(|c| c.starts_with("name=")))
            .map(|h| h.mount_point.clone())
            .chain(self.layout.v2_mount().cloned());
        for mount in writable {
            let payload = mount.join(&self.relative).join(PAYLOAD);
            for path in [
                payload.clone(),
                payload.join("cgroup.procs"),
                payload.join("cgroup.threads"),
                payload.join("cgroup.subtree_control"),
                payload.join("tasks"),
            ] {
                match std::os::unix::fs::chown(&path, Some(uid), Some(gid)) {
                    Ok(()) => {}
                    Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
                    Err(source) => return Err(CgroupError::Delegate { path, source }),
                }
            }
        }
        Ok(())
    }

    pub fn attach(&self, pid: i32) -> Result<(), CgroupError> {
        for dir in self.dirs() {
            write_file(&dir.join(PAYLOAD).join("cgroup.procs"), &pid.to_string())?;
        }
        Ok(())
    }

    /// Moves `pid` into the cgroups the container's init is in now, in every
    /// hierarchy: a leaf, even after systemd inside has split its tree and
    /// enabled controllers (which forbids processes in inner cgroups).
    pub fn attach_beside(&self, pid: i32, init_pid: i32) -> Result<(), CgroupError> {
        let init_cgroups =
            std::fs::read_to_string(format!("/proc/{init_pid}/cgroup")).unwrap_or_default();
        let payload = Path::new("/").join(&self.relative).join(PAYLOAD);
        let init_path = |hierarchy: &str| -> PathBuf {
            // A path outside the payload cannot come from the container (its
            // cgroup namespace ends there); fall back to the payload if it does.
            init_cgroups
                .lines()
                .find_map(|line| {
                    let mut fields = line.splitn(3, ':');
                    let (_, controllers, path) = (fields.next()?, fields.next()?, fields.next()?);
                    (controllers == hierarchy).then(|| PathBuf::from(path))
                })
                .filter(|path| path.starts_with(&payload))
                .unwrap_or_else(|| payload.clone())
        };
        let mut targets: Vec<PathBuf> = self
            .layout
            .v1_hierarchies()
            .iter()
            .map(|h| {
                h.mount_point.join(
                    init_path(&h.controllers.join(","))
                        .strip_prefix("/")
                        .unwrap_or(Path::new("")),
                )
            })
            .collect();
        if let Some(mount) = self.layout.v2_mount() {
            targets.push(mount.join(init_path("").strip_prefix("/").unwrap_or(Path::new(""))));
        }
        for dir in targets {
            write_file(&dir.join("cgroup.procs"), &pid.to_string())?;
        }
        Ok(())
    }

    /// Every process in the cgroup or below it.
    pub fn pids(&self) -> Vec<i32> {
        let Some(dir) = self.v2_dir().or_else(|| self.dirs().into_iter().next()) else {
            return Vec::new();
        };
        let mut pids = Vec::new();
        collect_pids(&dir, &mut pids);
        pids
    }

    pub fn is_populated(&self) -> bool {
        if let Some(dir) = self.v2_dir() {
            if let Ok(events) = std::fs::read_to_string(dir.join("cgroup.events")) {
                return events.lines().any(|line| line == "populated 1");
            }
        }
        !self.pids().is_empty()
    }

    /// Kills every process in the cgroup at once: `cgroup.kill` where the
    /// kernel has it (cgroup2, also the unified hierarchy of hybrid hosts),
    /// else freeze, SIGKILL each task, thaw, until none is left.
    pub fn kill_all(&self) -> Result<(), CgroupError> {
        if let Some(dir) = self.v2_dir() {
            let kill_file = dir.join("cgroup.kill");
            if kill_file.exists() {
                return write_file(&kill_file, "1");
            }
        }
        // Frozen tasks cannot exit, so a pid read while frozen cannot be
        // reused before the SIGKILL reaches it.
        let freezer = self.v1_dir("freezer");
        for _ in 0..10 {
            if let Some(dir) = &freezer {
                let _ = std::fs::write(dir.join("freezer.state"), "FROZEN");
            }
            let pids = self.pids();
            for pid in &pids {
                // SAFETY: kill(2) with a pid read from the container's frozen cgroup.
                unsafe { libc::kill(*pid, libc::SIGKILL) };
            }
            if let Some(dir) = &freezer {
                let _ = std::fs::write(dir.join("freezer.state"), "THAWED");
            }
            if pids.is_empty() {
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        Ok(())
    }

    /// Waits until no process is left in the cgroup.
    pub fn wait_empty(&self, timeout: Duration) -> Result<(), CgroupError> {
        let deadline = Instant::now() + timeout;
        while self.is_populated() {
            if Instant::now() >= deadline {
                return Err(CgroupError::StillPopulated {
                    path: self.relative.clone(),
                    timeout,
                });
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        Ok(())
    }

    /// Removes the container's cgroup and everything the container made below
    /// it, in every hierarchy. Dying tasks can keep a cgroup busy for a moment,
    /// so EBUSY is retried until `timeout`.
    pub fn remove(&self, timeout: Duration) -> Result<(), CgroupError> {
        let deadline = Instant::now() + timeout;
        for dir in self.dirs() {
            loop {
                match remove_tree(&dir) {
                    Ok(()) => break,
                    Err(error)
                        if error.raw_os_error() == Some(libc::EBUSY)
                            && Instant::now() < deadline =>
                    {
                        std::thread::sleep(Duration::from_millis(5));
                    }
                    Err(source) => {
                        return Err(CgroupError::Remove {
                            path: dir.clone(),
                            source,
                        })
                    }
                }
            }
        }
        self.remove_empty_parent();
        Ok(())
    }

    /// Drops the shared `vroot` parent once no container is left under it.
    fn remove_empty_parent(&self) {
        let Some(parent) = self.relative.parent().filter(|p| !p.as_os_str().is_empty()) else {
            return;
        };
        let mounts = self
            .layout
            .v1_hierarchies()
            .iter()
            .map(|h| h.mount_point.clone())
            .chain(self.layout.v2_mount().cloned());
        for mount in mounts {
            // Fails harmlessly (EBUSY/ENOTEMPTY) while other containers live there.
            let _ = std::fs::remove_dir(mount.join(parent));
        }
    }
}

/// Creates `relative` below `mount` one level at a time (v1 cpuset levels
/// need their CPUs and memory nodes before anything goes below them).
fn make_path(mount: &Path, relative: &Path, cpuset: bool) -> Result<(), CgroupError> {
    let mut dir = mount.to_path_buf();
    for component in relative.components() {
        let parent = dir.clone();
        dir.push(component);
        make_dir(&dir)?;
        if cpuset {
            inherit_cpuset(&parent, &dir)?;
        }
    }
    Ok(())
}

/// [`make_path`], again if another container's stop removed the shared
/// parent between our mkdirs (it removes it once empty).
fn make_path_retrying(mount: &Path, relative: &Path, cpuset: bool) -> Result<(), CgroupError> {
    let mut attempts = 0;
    loop {
        match make_path(mount, relative, cpuset) {
            Err(CgroupError::Create { source, .. } | CgroupError::Write { source, .. })
                if source.kind() == std::io::ErrorKind::NotFound && attempts < 5 =>
            {
                attempts += 1
            }
            other => return other,
        }
    }
}

fn make_dir(dir: &Path) -> Result<(), CgroupError> {
    match std::fs::create_dir(dir) {
        Ok(()) => Ok(()),
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(source) => Err(CgroupError::Create {
            path: dir.to_path_buf(),
            source,
        }),
    }
}

/// A v1 cpuset cgroup starts with no CPUs and no memory nodes, and refuses
/// tasks until it has them: copy the parent's.
fn inherit_cpuset(parent: &Path, dir: &Path) -> Result<(), CgroupError> {
    for file in ["cpuset.cpus", "cpuset.mems"] {
        let current = std::fs::read_to_string(dir.join(file)).unwrap_or_default();
        if current.trim().is_empty() {
            let inherited = std::fs::read_to_string(parent.join(file)).unwrap_or_default();
            write_file(&dir.join(file), inherited.trim())?;
        }
    }
    Ok(())
}

fn collect_pids(dir: &Path, pids: &mut Vec<i32>) {
    if let Ok(text) = std::fs::read_to_string(dir.join("cgroup.procs")) {
        pids.extend(
            text.lines()
                .filter_map(|line| line.trim().parse::<i32>().ok()),
        );
    }
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                collect_pids(&entry.path(), pids);
            }
        }
    }
}

fn remove_tree(dir: &Path) -> std::io::Result<()> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(error) => return Err(error),
    };
    for entry in entries.flatten() {
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            remove_tree(&entry.path())?;
        }
    }
    match std::fs::remove_dir(dir) {
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(()),
        other => other,
    }
}
