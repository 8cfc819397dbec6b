//! Renders a [`ContainerConfig`] into an OCI runtime spec, the runtime's one
//! input, and reads vroot's own settings back out of it.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use oci_spec::runtime::{
    Capability, LinuxBuilder, LinuxCapabilitiesBuilder, LinuxCpuBuilder, LinuxDevice,
    LinuxDeviceBuilder, LinuxDeviceCgroup, LinuxDeviceCgroupBuilder, LinuxDeviceType,
    LinuxMemoryBuilder, LinuxNamespace, LinuxNamespaceBuilder, LinuxNamespaceType,
    LinuxPidsBuilder, LinuxResourcesBuilder, Mount, MountBuilder, ProcessBuilder, RootBuilder,
    Spec, SpecBuilder, UserBuilder,
};
use sha2::{Digest, Sha256};

use vroot_overlays::layout::LayerPaths;
use vroot_overlays::plan::{LayerMount, Plan};

use crate::capabilities;
use crate::config::{ContainerConfig, FencePolicy, IdRange, OnHang, OnReboot};
use crate::network::Interface;
use crate::signal::RawSignal;

#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    #[error("cannot build the OCI spec: {0}")]
    Build(#[from] oci_spec::OciSpecError),
    #[error("the spec has no {0}")]
    Missing(&'static str),
    #[error("{0}")]
    Seccomp(String),
    #[error("the spec's annotation {key} is invalid: `{value}`")]
    BadAnnotation { key: &'static str, value: String },
    #[error("cannot encode the spec: {0}")]
    Json(#[from] serde_json::Error),
    #[error("security.devices: {path}: {reason}; list only device nodes this host has")]
    HostDevice { path: PathBuf, reason: String },
}

const ANNOTATION_NAME: &str = "org.vroot.name";
const ANNOTATION_STOP_TIMEOUT: &str = "org.vroot.stop-timeout";
const ANNOTATION_HALT_SIGNAL: &str = "org.vroot.halt-signal";
const ANNOTATION_ON_REBOOT: &str = "org.vroot.on-reboot";
const ANNOTATION_MACHINE_ID: &str = "org.vroot.machine-id";
const ANNOTATION_ON_HANG: &str = "org.vroot.fence.on-hang";
const ANNOTATION_HANG_TIMEOUT: &str = "org.vroot.fence.hang-timeout";
const ANNOTATION_RESTART_ON_RECOVERY: &str = "org.vroot.fence.restart-on-recovery";
/// The container's interfaces, resolved (host names and MACs filled in), as JSON.
const ANNOTATION_NETWORK: &str = "org.vroot.network";
/// The system calls the container's filter denies, comma-separated, or `off`.
const ANNOTATION_SECCOMP: &str = "org.vroot.seccomp";

/// The parent of every container's cgroup, in each hierarchy.
pub const CGROUP_PARENT: &str = "vroot";

/// The cgroup a container runs in, below each hierarchy's root.
pub fn cgroup_path_for(name: &str) -> String {
    format!("/{CGROUP_PARENT}/{name}")
}

const CONTAINER_MANAGER: &str = "vroot";
const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Paths inside `/proc` and `/sys` that would show or change the host.
pub const MASKED_PATHS: &[&str] = &[
    "/proc/kcore",
    "/proc/keys",
    "/proc/sysrq-trigger",
    "/proc/timer_list",
    "/proc/kallsyms",
    "/proc/latency_stats",
    "/proc/sched_debug",
    "/proc/acpi",
    "/proc/scsi",
    "/sys/firmware",
];

/// Kernel-wide knobs the container may read but not write. `/proc/sys/net`
/// stays writable because the container has its own network namespace.
pub const READONLY_PATHS: &[&str] = &["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys"];

/// The machine identity of this container on this host: stable across
/// restarts, different per host and per container. 32 lowercase hex digits.
pub fn machine_id(host_name: &str, container_name: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(b"vroot machine-id\0");
    hasher.update(host_name.as_bytes());
    hasher.update(b"\0");
    hasher.update(container_name.as_bytes());
    let digest = hasher.finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    // Mark it as a random (v4) UUID, as systemd does for the ids it makes.
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// `0123…` as `01234567-89ab-…`, the form of `container_uuid`.
pub fn uuid_form(machine_id: &str) -> String {
    format!(
        "{}-{}-{}-{}-{}",
        &machine_id[0..8],
        &machine_id[8..12],
        &machine_id[12..16],
        &machine_id[16..20],
        &machine_id[20..32]
    )
}

fn mount(destination: &str, typ: &str, source: &str, options: &[&str]) -> Result<Mount, SpecError> {
    Ok(MountBuilder::default()
        .destination(destination)
        .typ(typ)
        .source(source)
        .options(
            options
                .iter()
                .map(|option| option.to_string())
                .collect::<Vec<_>>(),
        )
        .build()?)
}

/// A host device node passed through, with the type, numbers and mode the
/// host's node has.
fn host_device(path: &std::path::Path) -> Result<LinuxDevice, SpecError> {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    let refuse = |reason: String| SpecError::HostDevice {
        path: path.to_path_buf(),
        reason,
    };
    let metadata = std::fs::metadata(path).map_err(|error| refuse(error.to_string()))?;
    let typ = if metadata.file_type().is_char_device() {
        LinuxDeviceType::C
    } else if metadata.file_type().is_block_device() {
        LinuxDeviceType::B
    } else {
        return Err(refuse("not a device node".into()));
    };
    let rdev = metadata.rdev();
    Ok(LinuxDeviceBuilder::default()
        .path(path)
        .typ(typ)
        .major(libc::major(rdev) as i64)
        .minor(libc::minor(rdev) as i64)
        .file_mode(metadata.mode() & 0o7777)
        .uid(0u32)
        .gid(0u32)
        .build()?)
}

fn char_device(path: &str, major: i64, minor: i64) -> Result<LinuxDevice, SpecError> {
    Ok(LinuxDeviceBuilder::default()
        .path(path)
        .typ(LinuxDeviceType::C)
        .major(major)
        .minor(minor)
        .file_mode(0o666u32)
        .uid(0u32)
        .gid(0u32)
        .build()?)
}

/// The devices cgroup's list: nothing, then the container's own device
/// nodes, the pseudo-terminals (its console is one) and `/dev/ptmx`. Block
/// devices, `/dev/mem`, the host's watchdog and device-mapper control stay
/// out, whatever node root inside makes or finds in the shared root.
fn device_rules(devices: &[LinuxDevice]) -> Result<Vec<LinuxDeviceCgroup>, SpecError> {
    let rule = |allow: bool, typ, major: Option<i64>, minor: Option<i64>| {
        let mut builder = LinuxDeviceCgroupBuilder::default()
            .allow(allow)
            .typ(typ)
            .access("rwm");
        if let Some(major) = major {
            builder = builder.major(major);
        }
        if let Some(minor) = minor {
            builder = builder.minor(minor);
        }
        builder.build()
    };
    let mut rules = vec![rule(false, LinuxDeviceType::A, None, None)?];
    for device in devices {
        rules.push(rule(
            true,
            device.typ(),
            Some(device.major()),
            Some(device.minor()),
        )?);
    }
    for (major, minor) in [(PTY_SLAVE_MAJOR, None), (5, Some(1)), (5, Some(2))] {
        rules.push(rule(true, LinuxDeviceType::C, Some(major), minor)?);
    }
    Ok(rules)
}

fn path_strings(paths: &[PathBuf]) -> Vec<String> {
    paths
        .iter()
        .map(|path| path.to_string_lossy().into_owned())
        .collect()
}

/// Unix98 pseudo-terminal slaves (`/dev/pts/N`).
const PTY_SLAVE_MAJOR: i64 = 136;

fn namespace(typ: LinuxNamespaceType) -> Result<LinuxNamespace, SpecError> {
    Ok(LinuxNamespaceBuilder::default().typ(typ).build()?)
}

/// The mount option that marks a mount's sources as inside the per-host
/// layer's `root/` (annotation [`ANNOTATION_LAYER`]): the init opens them
/// beneath it, so a symlink the container planted there stays inside.
pub const LAYER_MOUNT: &str = "x-vroot.layer";

/// The per-host layer's `root/` directory on the host.
pub const ANNOTATION_LAYER: &str = "org.vroot.layer";

/// The per-host layer's mounts, as spec entries: the root overlay (in
/// `overlayfs` mode) first, at `/`, then the entries' mounts in order.
/// The per-host layer's mounts. In a user namespace, overlayfs keeps its
/// own metadata in `user.overlay.*` xattrs (`userxattr`): the `trusted.*`
/// ones need the host's CAP_SYS_ADMIN.
fn layer_mounts(layer: &LayerPaths, plan: &Plan, in_userns: bool) -> Result<Vec<Mount>, SpecError> {
    let host = |path: std::path::PathBuf| path.to_string_lossy().into_owned();
    let overlay_options = |upper: std::path::PathBuf, work: std::path::PathBuf| {
        let mut options = vec![
            LAYER_MOUNT.to_string(),
            format!("upperdir={}", host(upper)),
            format!("workdir={}", host(work)),
        ];
        if in_userns {
            options.push("userxattr".to_string());
        }
        options
    };
    let mut mounts = Vec::new();
    if let Some(work) = &plan.root_work {
        let options = overlay_options(layer.root(), layer.work(work));
        let options: Vec<&str> = options.iter().map(String::as_str).collect();
        mounts.push(mount("/", "overlay", "overlay", &options)?);
    }
    for planned in &plan.mounts {
        mounts.push(match planned {
            LayerMount::Bind { target, readonly } => {
                let mut options = vec!["bind", LAYER_MOUNT];
                if *readonly {
                    options.push("ro");
                }
                mount(target, "bind", &host(layer.copy_of(target)), &options)?
            }
            LayerMount::ParentOverlay { target, work } => {
                let options = overlay_options(layer.copy_of(target), layer.work(work));
                let options: Vec<&str> = options.iter().map(String::as_str).collect();
                mount(target, "overlay", "overlay", &options)?
            }
            LayerMount::Tmpfs { target, mode } => mount(
                target,
                "tmpfs",
                "tmpfs",
                &["nosuid", "nodev", &format!("mode={mode:o}")],
            )?,
        });
    }
    Ok(mounts)
}

/// Renders the spec. `host_name` is the host's own hostname, which seeds the
/// container's machine identity; `layer` and `plan` are the container's
/// per-host layer on this host and how it is laid over the root.
pub fn render(
    config: &ContainerConfig,
    host_name: &str,
    layer: &LayerPaths,
    plan: &Plan,
) -> Result<Spec, SpecError> {
    let machine_id = machine_id(host_name, &config.name);
    let env = vec![
        format!("PATH={DEFAULT_PATH}"),
        "TERM=vt220".to_string(),
        "HOME=/root".to_string(),
        format!("container={CONTAINER_MANAGER}"),
        format!("container_uuid={}", uuid_form(&machine_id)),
    ];
    let caps = config.security.capabilities.clone();
    let process = ProcessBuilder::default()
        .terminal(true)
        .user(UserBuilder::default().uid(0u32).gid(0u32).build()?)
        .args(config.init.clone())
        .env(env)
        .cwd("/")
        .capabilities(
            LinuxCapabilitiesBuilder::default()
                .bounding(caps.clone())
                .effective(caps.clone())
                .permitted(caps)
                .inheritable(capabilities::Capabilities::new())
                .ambient(capabilities::Capabilities::new())
                .build()?,
        )
        .build()?;

    let mut mounts = vec![
        mount("/proc", "proc", "proc", &["nosuid", "noexec", "nodev"])?,
        mount(
            "/dev",
            "tmpfs",
            "tmpfs",
            &["nosuid", "strictatime", "mode=755", "size=65536k"],
        )?,
        mount(
            "/dev/pts",
            "devpts",
            "devpts",
            &[
                "nosuid",
                "noexec",
                "newinstance",
                "ptmxmode=0666",
                "mode=0620",
                "gid=5",
            ],
        )?,
        mount(
            "/dev/shm",
            "tmpfs",
            "shm",
            &["nosuid", "noexec", "nodev", "mode=1777"],
        )?,
        mount(
            "/dev/mqueue",
            "mqueue",
            "mqueue",
            &["nosuid", "noexec", "nodev"],
        )?,
        mount(
            "/sys",
            "sysfs",
            "sysfs",
            &["nosuid", "noexec", "nodev", "ro"],
        )?,
        mount(
            "/sys/fs/cgroup",
            "cgroup",
            "cgroup",
            &["nosuid", "noexec", "nodev", "relatime"],
        )?,
        mount("/run", "tmpfs", "tmpfs", &["nosuid", "nodev", "mode=755"])?,
    ];
    let per_host = layer_mounts(layer, plan, config.security.userns.is_some())?;
    let (root_overlay, entries): (Vec<Mount>, Vec<Mount>) = per_host
        .into_iter()
        .partition(|m| m.destination() == std::path::Path::new("/"));
    mounts.splice(0..0, root_overlay);
    mounts.extend(entries);

    let mut devices = vec![
        char_device("/dev/null", 1, 3)?,
        char_device("/dev/zero", 1, 5)?,
        char_device("/dev/full", 1, 7)?,
        char_device("/dev/random", 1, 8)?,
        char_device("/dev/urandom", 1, 9)?,
        char_device("/dev/tty", 5, 0)?,
    ];
    for path in &config.security.devices {
        devices.push(host_device(path)?);
    }

    let mut resources = LinuxResourcesBuilder::default().devices(device_rules(&devices)?);
    if let Some(bytes) = config.limits.memory_bytes {
        resources = resources.memory(LinuxMemoryBuilder::default().limit(bytes as i64).build()?);
    }
    if let Some(cpus) = config.limits.cpus {
        let period: u64 = 100_000;
        let quota = (cpus * period as f64).round() as i64;
        resources = resources.cpu(
            LinuxCpuBuilder::default()
                .quota(quota)
                .period(period)
                .build()?,
        );
    }
    if let Some(pids) = config.limits.pids {
        resources = resources.pids(LinuxPidsBuilder::default().limit(pids as i64).build()?);
    }

    let mut namespaces = vec![
        namespace(LinuxNamespaceType::Pid)?,
        namespace(LinuxNamespaceType::Network)?,
        namespace(LinuxNamespaceType::Ipc)?,
        namespace(LinuxNamespaceType::Uts)?,
        namespace(LinuxNamespaceType::Mount)?,
        namespace(LinuxNamespaceType::Cgroup)?,
    ];
    let mut linux = LinuxBuilder::default();
    if let Some(range) = config.security.userns {
        namespaces.push(namespace(LinuxNamespaceType::User)?);
        linux = linux
            .uid_mappings(vec![id_mapping(range)?])
            .gid_mappings(vec![id_mapping(range)?]);
    }
    let linux = linux
        .namespaces(namespaces)
        .devices(devices)
        .resources(resources.build()?)
        .cgroups_path(PathBuf::from(cgroup_path_for(&config.name)))
        .masked_paths(path_strings(&config.security.masked_paths))
        .readonly_paths(path_strings(&config.security.readonly_paths))
        .build()?;

    let mut annotations = HashMap::new();
    annotations.insert(ANNOTATION_NAME.to_string(), config.name.clone());
    annotations.insert(
        ANNOTATION_STOP_TIMEOUT.to_string(),
        config.stop_timeout.as_secs().to_string(),
    );
    annotations.insert(
        ANNOTATION_ON_REBOOT.to_string(),
        config.on_reboot.as_str().to_string(),
    );
    annotations.insert(
        ANNOTATION_SECCOMP.to_string(),
        match &config.security.seccomp_denied {
            Some(names) => names.join(","),
            None => "off".to_string(),
        },
    );
    let interfaces = resolved_interfaces(config, &machine_id);
    if !interfaces.is_empty() {
        annotations.insert(
            ANNOTATION_NETWORK.to_string(),
            serde_json::to_string(&interfaces)?,
        );
    }
    annotations.insert(ANNOTATION_MACHINE_ID.to_string(), machine_id);
    annotations.insert(
        ANNOTATION_LAYER.to_string(),
        layer.root().to_string_lossy().into_owned(),
    );
    annotations.insert(
        ANNOTATION_ON_HANG.to_string(),
        config.fence.on_hang.as_str().to_string(),
    );
    annotations.insert(
        ANNOTATION_HANG_TIMEOUT.to_string(),
        config.fence.hang_timeout.as_secs().to_string(),
    );
    annotations.insert(
        ANNOTATION_RESTART_ON_RECOVERY.to_string(),
        config.fence.restart_on_recovery.to_string(),
    );
    if let Some(signal) = config.halt_signal {
        annotations.insert(ANNOTATION_HALT_SIGNAL.to_string(), signal.name());
    }

    Ok(SpecBuilder::default()
        .version("1.0.2")
        .root(
            RootBuilder::default()
                .path(&config.root)
                .readonly(false)
                .build()?,
        )
        .hostname(config.hostname.clone())
        .process(process)
        .mounts(mounts)
        .linux(linux)
        .annotations(annotations)
        .build()?)
}

pub fn to_json(spec: &Spec) -> Result<String, SpecError> {
    Ok(serde_json::to_string_pretty(spec)?)
}

pub fn from_json(text: &str) -> Result<Spec, SpecError> {
    Ok(serde_json::from_str(text)?)
}

/// vroot's settings, as carried by a spec. Everything the supervisor, `stop`
/// and `exec` need comes from here, never from the config file, which may
/// have changed since the container started.
#[derive(Debug, Clone, PartialEq)]
pub struct RuntimeSettings {
    pub name: String,
    pub root: PathBuf,
    pub hostname: String,
    pub args: Vec<String>,
    pub env: Vec<String>,
    pub capabilities: std::collections::HashSet<Capability>,
    pub cgroup_path: String,
    pub stop_timeout: Duration,
    pub halt_signal: Option<RawSignal>,
    pub on_reboot: OnReboot,
    pub machine_id: String,
    /// The per-host layer's `root/` on the host.
    pub layer_root: Option<PathBuf>,
    pub fence: FencePolicy,
    pub network: Vec<Interface>,
    /// The system calls the filter denies; `None`: no filter.
    pub seccomp: Option<Vec<String>>,
    /// The user namespace's mapping, when the container has one.
    pub userns: Option<IdRange>,
}

/// The config's interfaces with what vroot derives filled in: veth host
/// names and the MACs that stay the same across restarts on this host.
pub fn resolved_interfaces(config: &ContainerConfig, machine_id: &str) -> Vec<Interface> {
    config
        .network
        .iter()
        .enumerate()
        .map(|(position, interface)| {
            interface
                .clone()
                .resolved(&config.name, machine_id, position)
        })
        .collect()
}

impl RuntimeSettings {
    pub fn from_spec(spec: &Spec) -> Result<Self, SpecError> {
        let annotations = spec
            .annotations()
            .as_ref()
            .ok_or(SpecError::Missing("annotations"))?;
        let annotation = |key: &'static str| annotations.get(key).cloned();
        let required = |key: &'static str| annotation(key).ok_or(SpecError::Missing(key));
        let bad = |key: &'static str, value: &str| SpecError::BadAnnotation {
            key,
            value: value.to_string(),
        };

        let stop_timeout_text = required(ANNOTATION_STOP_TIMEOUT)?;
        let stop_timeout = stop_timeout_text
            .parse()
            .map(Duration::from_secs)
            .map_err(|_| bad(ANNOTATION_STOP_TIMEOUT, &stop_timeout_text))?;
        let halt_signal = annotation(ANNOTATION_HALT_SIGNAL)
            .map(|text| RawSignal::parse(&text).map_err(|_| bad(ANNOTATION_HALT_SIGNAL, &text)))
            .transpose()?;
        let on_reboot = match required(ANNOTATION_ON_REBOOT)?.as_str() {
            "restart" => OnReboot::Restart,
            "stop" => OnReboot::Stop,
            other => return Err(bad(ANNOTATION_ON_REBOOT, other)),
        };
        // Specs written before the watchdog existed carry no fence policy.
        let mut fence = FencePolicy::default();
        if let Some(text) = annotation(ANNOTATION_ON_HANG) {
            fence.on_hang = OnHang::parse(&text).ok_or_else(|| bad(ANNOTATION_ON_HANG, &text))?;
        }
        if let Some(text) = annotation(ANNOTATION_HANG_TIMEOUT) {
            fence.hang_timeout = text
                .parse()
                .ok()
                .filter(|seconds| *seconds > 0)
                .map(Duration::from_secs)
                .ok_or_else(|| bad(ANNOTATION_HANG_TIMEOUT, &text))?;
        }
        if let Some(text) = annotation(ANNOTATION_RESTART_ON_RECOVERY) {
            fence.restart_on_recovery = text
                .parse()
                .map_err(|_| bad(ANNOTATION_RESTART_ON_RECOVERY, &text))?;
        }
        // Specs from before the filter existed get the default one.
        let seccomp = match annotation(ANNOTATION_SECCOMP).as_deref() {
            Some("off") => None,
            Some("") => Some(Vec::new()),
            Some(text) => Some(text.split(',').map(str::to_string).collect()),
            None => Some(
                crate::seccomp::DEFAULT_DENIED
                    .iter()
                    .map(|s| s.to_string())
                    .collect(),
            ),
        };
        let network = match annotation(ANNOTATION_NETWORK) {
            None => Vec::new(),
            Some(text) => {
                serde_json::from_str(&text).map_err(|_| bad(ANNOTATION_NETWORK, &text))?
            }
        };
        let process = spec
            .process()
            .as_ref()
            .ok_or(SpecError::Missing("process"))?;
        let args = process
            .args()
            .clone()
            .filter(|args| !args.is_empty())
            .ok_or(SpecError::Missing("process.args"))?;
        let linux = spec.linux().as_ref().ok_or(SpecError::Missing("linux"))?;
        let cgroup_path = linux
            .cgroups_path()
            .as_ref()
            .ok_or(SpecError::Missing("linux.cgroupsPath"))?
            .to_string_lossy()
            .into_owned();
        let capabilities = process
            .capabilities()
            .as_ref()
            .and_then(|caps| caps.bounding().clone())
            .unwrap_or_default();
        Ok(RuntimeSettings {
            name: required(ANNOTATION_NAME)?,
            root: spec
                .root()
                .as_ref()
                .ok_or(SpecError::Missing("root"))?
                .path()
                .clone(),
            hostname: spec
                .hostname()
                .clone()
                .ok_or(SpecError::Missing("hostname"))?,
            args,
            env: process.env().clone().unwrap_or_default(),
            capabilities,
            cgroup_path,
            stop_timeout,
            halt_signal,
            on_reboot,
            machine_id: required(ANNOTATION_MACHINE_ID)?,
            layer_root: annotation(ANNOTATION_LAYER).map(PathBuf::from),
            fence,
            network,
            seccomp,
            userns: id_range(linux)?,
        })
    }
}

/// The one mapping vroot writes (users and groups alike), from the spec.
fn id_range(linux: &oci_spec::runtime::Linux) -> Result<Option<IdRange>, SpecError> {
    let has_userns = linux
        .namespaces()
        .iter()
        .flatten()
        .any(|ns| ns.typ() == LinuxNamespaceType::User);
    if !has_userns {
        return Ok(None);
    }
    let mapping = linux
        .uid_mappings()
        .as_ref()
        .and_then(|mappings| mappings.first())
        .filter(|mapping| mapping.container_id() == 0)
        .ok_or(SpecError::Missing("linux.uidMappings (container id 0)"))?;
    Ok(Some(IdRange {
        base: mapping.host_id(),
        size: mapping.size(),
    }))
}

fn id_mapping(range: IdRange) -> Result<oci_spec::runtime::LinuxIdMapping, SpecError> {
    Ok(oci_spec::runtime::LinuxIdMappingBuilder::default()
        .container_id(0u32)
        .host_id(range.base)
        .size(range.size)
        .build()?)
}

#[cfg(test)]
mod tests;
