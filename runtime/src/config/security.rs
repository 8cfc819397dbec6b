//! The `[security]` section: the system-call filter, the capability set,
//! the host devices passed through, and the masked and read-only kernel
//! paths. Each starts from a documented default that can be extended or
//! relaxed.

use std::collections::HashSet;
use std::path::{Component, Path, PathBuf};

use oci_spec::runtime::Capability;
use serde::de::IntoDeserializer;
use serde::Deserialize;

use crate::{capabilities, seccomp, spec};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileSecurity {
    #[serde(default = "on")]
    seccomp: bool,
    #[serde(default)]
    syscalls_allow: Vec<String>,
    #[serde(default)]
    syscalls_deny: Vec<String>,
    #[serde(default)]
    capabilities_add: Vec<String>,
    #[serde(default)]
    capabilities_drop: Vec<String>,
    #[serde(default)]
    devices: Vec<PathBuf>,
    #[serde(default)]
    mask: Vec<PathBuf>,
    #[serde(default)]
    unmask: Vec<PathBuf>,
    #[serde(default)]
    readonly: Vec<PathBuf>,
    #[serde(default)]
    writable: Vec<PathBuf>,
    #[serde(default)]
    userns: bool,
    #[serde(default = "default_userns_base")]
    userns_base: u32,
    #[serde(default = "default_userns_size")]
    userns_size: u32,
}

fn default_userns_base() -> u32 {
    DEFAULT_USERNS_BASE
}

fn default_userns_size() -> u32 {
    DEFAULT_USERNS_SIZE
}

/// The host ids a user-namespace container's ids 0… map to by default:
/// the same on every node, since the shared root's files are owned by them.
pub const DEFAULT_USERNS_BASE: u32 = 100_000;
/// 65536 ids: every id a distribution assigns, `nobody` (65534) included.
pub const DEFAULT_USERNS_SIZE: u32 = 65_536;

/// A user namespace's mapping: ids 0..size inside are base..base+size on
/// the host, for users and groups alike.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct IdRange {
    pub base: u32,
    pub size: u32,
}

impl IdRange {
    /// The host id of `inside`, if the range maps it.
    pub fn to_host(self, inside: u32) -> Option<u32> {
        (inside < self.size).then(|| self.base + inside)
    }

    /// The id inside for `host`, if the range maps it.
    pub fn to_inside(self, host: u32) -> Option<u32> {
        host.checked_sub(self.base).filter(|id| *id < self.size)
    }
}

fn on() -> bool {
    true
}

impl Default for FileSecurity {
    fn default() -> Self {
        FileSecurity {
            seccomp: true,
            syscalls_allow: Vec::new(),
            syscalls_deny: Vec::new(),
            capabilities_add: Vec::new(),
            capabilities_drop: Vec::new(),
            devices: Vec::new(),
            mask: Vec::new(),
            unmask: Vec::new(),
            readonly: Vec::new(),
            writable: Vec::new(),
            userns: false,
            userns_base: DEFAULT_USERNS_BASE,
            userns_size: DEFAULT_USERNS_SIZE,
        }
    }
}

/// The container's confinement, defaults adjusted by `[security]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecurityPolicy {
    /// What the system-call filter denies; `None` when there is no filter.
    pub seccomp_denied: Option<Vec<String>>,
    pub capabilities: HashSet<Capability>,
    /// Host device nodes made in the container's `/dev` and allowed in its
    /// devices cgroup (their numbers are read from the host at start).
    pub devices: Vec<PathBuf>,
    pub masked_paths: Vec<PathBuf>,
    pub readonly_paths: Vec<PathBuf>,
    /// The user namespace's mapping; `None`: the container shares the
    /// host's user namespace (its root is the host's root, confined).
    pub userns: Option<IdRange>,
}

impl Default for SecurityPolicy {
    fn default() -> Self {
        SecurityPolicy {
            seccomp_denied: Some(
                seccomp::DEFAULT_DENIED
                    .iter()
                    .map(|s| s.to_string())
                    .collect(),
            ),
            capabilities: capabilities::container_default(),
            devices: Vec::new(),
            masked_paths: spec::MASKED_PATHS.iter().map(PathBuf::from).collect(),
            readonly_paths: spec::READONLY_PATHS.iter().map(PathBuf::from).collect(),
            userns: None,
        }
    }
}

type Invalid = (&'static str, String);

fn capability(key: &'static str, name: &str) -> Result<Capability, Invalid> {
    Capability::deserialize(name.into_deserializer()).map_err(|_: serde::de::value::Error| {
        (
            key,
            format!("`{name}` is not a capability (names as in capabilities(7), e.g. CAP_SYS_TIME or SYS_TIME)"),
        )
    })
}

/// An absolute path without `.` or `..`, so that what is checked against
/// the defaults is what the kernel will walk.
fn plain_absolute(key: &'static str, path: &Path) -> Result<(), Invalid> {
    let plain = path.is_absolute()
        && path
            .components()
            .all(|c| matches!(c, Component::RootDir | Component::Normal(_)));
    if plain {
        Ok(())
    } else {
        Err((
            key,
            format!(
                "`{}` must be an absolute path without `.` or `..`",
                path.display()
            ),
        ))
    }
}

/// `defaults` with `remove` taken out (each must be in it) and `add`
/// added (each plain and absolute).
fn adjust_paths(
    defaults: &[&str],
    add: (&'static str, &[PathBuf]),
    remove: (&'static str, &[PathBuf]),
) -> Result<Vec<PathBuf>, Invalid> {
    let mut paths: Vec<PathBuf> = defaults.iter().map(PathBuf::from).collect();
    for path in remove.1 {
        let Some(position) = paths.iter().position(|p| p == path) else {
            return Err((
                remove.0,
                format!(
                    "`{}` is not in the default list ({}); there is nothing to take out",
                    path.display(),
                    defaults.join(", ")
                ),
            ));
        };
        paths.remove(position);
    }
    for path in add.1 {
        plain_absolute(add.0, path)?;
        if !paths.contains(path) {
            paths.push(path.clone());
        }
    }
    Ok(paths)
}

impl FileSecurity {
    /// The policy, or the offending key and why.
    pub fn validate(self) -> Result<SecurityPolicy, Invalid> {
        let mut capabilities = capabilities::container_default();
        for name in &self.capabilities_drop {
            let dropped = capability("security.capabilities_drop", name)?;
            if !capabilities.remove(&dropped) {
                return Err((
                    "security.capabilities_drop",
                    format!("`{name}` is not in the default set; there is nothing to drop"),
                ));
            }
        }
        for name in &self.capabilities_add {
            let added = capability("security.capabilities_add", name)?;
            if self
                .capabilities_drop
                .iter()
                .any(|d| capability("", d).ok() == Some(added))
            {
                return Err((
                    "security.capabilities_add",
                    format!("`{name}` is also in capabilities_drop"),
                ));
            }
            capabilities.insert(added);
        }
        for device in &self.devices {
            plain_absolute("security.devices", device)?;
            if !device.starts_with("/dev") || device == Path::new("/dev") {
                return Err((
                    "security.devices",
                    format!("`{}` is not a path below /dev", device.display()),
                ));
            }
        }
        let masked_paths = adjust_paths(
            spec::MASKED_PATHS,
            ("security.mask", &self.mask),
            ("security.unmask", &self.unmask),
        )?;
        let readonly_paths = adjust_paths(
            spec::READONLY_PATHS,
            ("security.readonly", &self.readonly),
            ("security.writable", &self.writable),
        )?;
        let seccomp_denied = self.seccomp_denied()?;
        let userns = self.userns()?;
        Ok(SecurityPolicy {
            seccomp_denied,
            capabilities,
            devices: self.devices,
            masked_paths,
            readonly_paths,
            userns,
        })
    }

    fn userns(&self) -> Result<Option<IdRange>, Invalid> {
        let adjusted =
            self.userns_base != DEFAULT_USERNS_BASE || self.userns_size != DEFAULT_USERNS_SIZE;
        if !self.userns {
            if adjusted {
                return Err((
                    "security.userns",
                    "is false, so userns_base and userns_size have no namespace to map".into(),
                ));
            }
            return Ok(None);
        }
        if self.userns_base == 0 {
            return Err((
                "security.userns_base",
                "must not be 0: the container's root would be the host's root".into(),
            ));
        }
        if self.userns_size == 0 {
            return Err(("security.userns_size", "must be at least 1".into()));
        }
        if self.userns_base < self.userns_size {
            return Err((
                "security.userns_base",
                format!(
                    "must be at least userns_size ({}): the host's ids 0..{} and the container's \
                     range must not overlap, or a shifted owner could not be told from an unshifted one",
                    self.userns_size, self.userns_size
                ),
            ));
        }
        if self.userns_base.checked_add(self.userns_size).is_none() {
            return Err((
                "security.userns_size",
                format!(
                    "{} ids from {} run past the last id (4294967295)",
                    self.userns_size, self.userns_base
                ),
            ));
        }
        Ok(Some(IdRange {
            base: self.userns_base,
            size: self.userns_size,
        }))
    }

    fn seccomp_denied(&self) -> Result<Option<Vec<String>>, Invalid> {
        if !self.seccomp {
            if !self.syscalls_allow.is_empty() || !self.syscalls_deny.is_empty() {
                return Err((
                    "security.seccomp",
                    "is false, so syscalls_allow and syscalls_deny have no filter to change".into(),
                ));
            }
            return Ok(None);
        }
        for name in &self.syscalls_allow {
            if seccomp::table::find(name).is_some()
                && !seccomp::DEFAULT_DENIED.contains(&name.as_str())
            {
                return Err((
                    "security.syscalls_allow",
                    format!("`{name}` is not denied by default; there is nothing to allow"),
                ));
            }
        }
        let key = |name: &String| {
            if self.syscalls_allow.contains(name) {
                "security.syscalls_allow"
            } else {
                "security.syscalls_deny"
            }
        };
        let denied =
            seccomp::denied_names(&self.syscalls_allow, &self.syscalls_deny).map_err(|error| {
                match &error {
                    seccomp::SeccompError::Unknown(name) => (key(name), error.to_string()),
                    _ => ("security", error.to_string()),
                }
            })?;
        Ok(Some(denied))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<SecurityPolicy, Invalid> {
        toml::from_str::<FileSecurity>(text).unwrap().validate()
    }

    #[test]
    fn the_filter_is_on_by_default_and_can_be_adjusted_or_turned_off() {
        assert_eq!(parse("").unwrap(), SecurityPolicy::default());
        let relaxed =
            parse("syscalls_allow = [\"swapon\"]\nsyscalls_deny = [\"adjtimex\"]").unwrap();
        let names = relaxed.seccomp_denied.unwrap();
        assert!(!names.iter().any(|n| n == "swapon"));
        assert!(names.iter().any(|n| n == "adjtimex"));
        assert_eq!(parse("seccomp = false").unwrap().seccomp_denied, None);
    }

    #[test]
    fn bad_names_and_contradictions_name_their_key() {
        let (key, reason) = parse("syscalls_deny = [\"frobnicate\"]").unwrap_err();
        assert_eq!(key, "security.syscalls_deny");
        assert!(
            reason.contains("unknown system call `frobnicate`"),
            "{reason}"
        );
        let (key, reason) = parse("syscalls_allow = [\"adjtimex\"]").unwrap_err();
        assert_eq!(key, "security.syscalls_allow");
        assert!(reason.contains("not denied by default"), "{reason}");
        let (key, _) = parse("seccomp = false\nsyscalls_deny = [\"bpf\"]").unwrap_err();
        assert_eq!(key, "security.seccomp");
    }

    #[test]
    fn capabilities_can_be_added_and_dropped() {
        let policy =
            parse("capabilities_add = [\"CAP_SYS_TIME\"]\ncapabilities_drop = [\"net_raw\"]")
                .unwrap();
        assert!(policy.capabilities.contains(&Capability::SysTime));
        assert!(!policy.capabilities.contains(&Capability::NetRaw));
        assert!(policy.capabilities.contains(&Capability::SysAdmin));
        let (key, reason) = parse("capabilities_add = [\"SYS_FLY\"]").unwrap_err();
        assert_eq!(key, "security.capabilities_add");
        assert!(reason.contains("`SYS_FLY` is not a capability"), "{reason}");
        let (key, _) = parse("capabilities_drop = [\"SYS_MODULE\"]").unwrap_err();
        assert_eq!(key, "security.capabilities_drop");
        let (key, _) = parse(
            "capabilities_add = [\"SYS_TIME\"]\ncapabilities_drop = [\"NET_RAW\", \"SYS_TIME\"]",
        )
        .unwrap_err();
        assert_eq!(key, "security.capabilities_drop");
    }

    #[test]
    fn masked_and_read_only_paths_can_be_adjusted() {
        let policy = parse(
            "unmask = [\"/proc/kcore\"]\nmask = [\"/proc/vmallocinfo\"]\nwritable = [\"/proc/sys\"]\nreadonly = [\"/proc/sysvipc\"]",
        )
        .unwrap();
        assert!(!policy.masked_paths.contains(&PathBuf::from("/proc/kcore")));
        assert!(policy.masked_paths.contains(&PathBuf::from("/proc/keys")));
        assert!(policy
            .masked_paths
            .contains(&PathBuf::from("/proc/vmallocinfo")));
        assert!(!policy.readonly_paths.contains(&PathBuf::from("/proc/sys")));
        assert!(policy
            .readonly_paths
            .contains(&PathBuf::from("/proc/sysvipc")));
        let (key, reason) = parse("unmask = [\"/proc/cpuinfo\"]").unwrap_err();
        assert_eq!(key, "security.unmask");
        assert!(reason.contains("not in the default list"), "{reason}");
        let (key, _) = parse("mask = [\"proc/x\"]").unwrap_err();
        assert_eq!(key, "security.mask");
        let (key, _) = parse("readonly = [\"/proc/../etc\"]").unwrap_err();
        assert_eq!(key, "security.readonly");
    }

    #[test]
    fn the_user_namespace_is_off_by_default_and_maps_a_range() {
        assert_eq!(parse("").unwrap().userns, None);
        let range = parse("userns = true").unwrap().userns.unwrap();
        assert_eq!((range.base, range.size), (100_000, 65_536));
        assert_eq!(range.to_host(0), Some(100_000));
        assert_eq!(range.to_host(65_536), None);
        assert_eq!(range.to_inside(100_005), Some(5));
        assert_eq!(range.to_inside(5), None);
        let range = parse("userns = true\nuserns_base = 200000\nuserns_size = 1000")
            .unwrap()
            .userns
            .unwrap();
        assert_eq!((range.base, range.size), (200_000, 1000));
        for (text, key) in [
            ("userns = true\nuserns_base = 0", "security.userns_base"),
            ("userns = true\nuserns_base = 1000", "security.userns_base"),
            ("userns = true\nuserns_size = 0", "security.userns_size"),
            (
                "userns = true\nuserns_base = 4294967000",
                "security.userns_size",
            ),
            ("userns_base = 200000", "security.userns"),
        ] {
            assert_eq!(parse(text).unwrap_err().0, key, "{text}");
        }
    }

    #[test]
    fn devices_must_be_plain_paths_below_dev() {
        let policy = parse("devices = [\"/dev/fuse\", \"/dev/net/tun\"]").unwrap();
        assert_eq!(policy.devices.len(), 2);
        for bad in ["/etc/passwd", "/dev", "/dev/../etc/x", "dev/fuse"] {
            let (key, _) = parse(&format!("devices = [\"{bad}\"]")).unwrap_err();
            assert_eq!(key, "security.devices", "{bad}");
        }
    }
}
