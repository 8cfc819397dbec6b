//! `vroot doctor`: checks that this host can run vroot's containers, and
//! says for each check that fails what fixes it.
//!
//! The checks, in four groups:
//!
//! - `kernel` ([`kernel`]): namespaces, overlayfs, FUSE, fusectl mounted,
//!   cgroup v2 or hybrid, `cgroup.kill`, `pidfd_open`, `clone3`;
//! - `storage` ([`storage`]): `storage.toml` is valid, and the storage is
//!   mounted, of its type, and answers within its probe timeout;
//! - `placement` ([`placement`]): vroot's config, state, log and lib
//!   directories, the default home of the per-host layers, the binary and
//!   every configured container's per-host layer are off the shared
//!   storage, and the layers are on this host's own storage;
//! - `units` ([`units`]): the files `vroot install-units` writes exist and
//!   are current.
//!
//! A check passes, fails, or is skipped with the reason: skipped means it
//! does not apply here (units on a host without systemd; the storage's
//! health when `storage.toml` cannot be used, which fails on its own), and
//! never makes the report fail. The report is `ok` when no check fails.
//!
//! Doctor answers in bounded time even when the shared storage hangs: the
//! storage's health is probed by `vroot storage status`'s code (a child
//! with a deadline), and no other check looks at a path on the shared
//! storage, or on any network, cluster, FUSE or automount filesystem (see
//! [`placement`]). It forks only for that probe, so it must be called from
//! a single-threaded process (the CLI), like [`crate::storage::status`].

mod kernel;
mod mounts;
mod placement;
mod storage;
mod units;

use std::path::{Path, PathBuf};

use serde::Serialize;
use vroot_runtime::config::{validate_name, ContainerConfig};
use vroot_runtime::mountinfo::{self, MountEntry};
use vroot_runtime::paths::HostPaths;

use crate::storage::DEFAULT_TARGET;
use mounts::SharedArea;
use placement::Context;

pub use units::DEFAULT_UNITS_DIR;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ok,
    Fail,
    /// Does not apply to this host; the detail says why.
    Skip,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Group {
    Kernel,
    Storage,
    Placement,
    Units,
}

impl Group {
    pub fn as_str(self) -> &'static str {
        match self {
            Group::Kernel => "kernel",
            Group::Storage => "storage",
            Group::Placement => "placement",
            Group::Units => "units",
        }
    }
}

/// One line of the report. The JSON form (`vroot doctor --json`) has these
/// fields, in this order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    pub group: Group,
    /// Stable: `namespaces`, `health`, `layer:web`, `unit:vroot@.service`, …
    pub name: String,
    pub status: Status,
    /// `false` only when the check failed (a skipped check is not a failure).
    pub ok: bool,
    /// What was found (for a skipped check: why it does not apply).
    pub detail: String,
    /// For a failed check: the command or config change that fixes it.
    pub fix: Option<String>,
}

impl Check {
    pub fn pass(group: Group, name: &str, detail: String) -> Self {
        Check {
            group,
            name: name.to_string(),
            status: Status::Ok,
            ok: true,
            detail,
            fix: None,
        }
    }

    pub fn fail(group: Group, name: &str, detail: String, fix: String) -> Self {
        Check {
            group,
            name: name.to_string(),
            status: Status::Fail,
            ok: false,
            detail,
            fix: Some(fix),
        }
    }

    pub fn skip(group: Group, name: &str, reason: String) -> Self {
        Check {
            group,
            name: name.to_string(),
            status: Status::Skip,
            ok: true,
            detail: reason,
            fix: None,
        }
    }
}

/// Every check, in the order they ran.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DoctorReport {
    /// No check failed.
    pub ok: bool,
    pub checks: Vec<Check>,
}

impl DoctorReport {
    fn new(checks: Vec<Check>) -> Self {
        DoctorReport {
            ok: checks.iter().all(|check| check.ok),
            checks,
        }
    }

    pub fn failed(&self) -> impl Iterator<Item = &Check> {
        self.checks.iter().filter(|check| !check.ok)
    }
}

/// What `vroot doctor`'s options change.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Where the units should be (`--units-dir`). `None`:
    /// [`DEFAULT_UNITS_DIR`], and the unit checks are skipped on a host
    /// without systemd.
    pub units_dir: Option<PathBuf>,
    /// The vroot binary; `None`: this process's own.
    pub binary: Option<PathBuf>,
}

/// Runs every check. Call it from a single-threaded process (it forks for
/// the storage probe).
pub fn run(paths: &HostPaths, options: &Options) -> DoctorReport {
    let paths = absolute_paths(paths);
    let table = mountinfo::read_own().ok();
    let empty = Vec::new();
    let mounts: &[MountEntry] = table.as_deref().unwrap_or(&empty);

    // The config directory is read (storage.toml, the containers' configs)
    // only if that cannot hang: before storage.toml says where the storage
    // is, its default place and every remote mount count as risky.
    let first_guess = vec![PathBuf::from(DEFAULT_TARGET)];
    let guarded = mounts::untouchable(mounts, &first_guess);
    let config_dir = placement::resolve(&paths.config_dir, &guarded, &mut placement::look_on_disk);
    let config_dir_risk = guarded
        .iter()
        .find(|point| config_dir.path.starts_with(point))
        .map(|point| {
            format!(
                "{} lies on {}, which may hang",
                paths.config_dir.display(),
                point.display()
            )
        });
    let readable_config_dir = config_dir_risk.is_none();

    let (config_check, storage) =
        storage::config(&paths.config_dir.join("storage.toml"), config_dir_risk);
    let containers = if readable_config_dir {
        load_containers(&paths)
    } else {
        Vec::new()
    };
    let userns_needed = containers
        .iter()
        .any(|(_, config)| matches!(config, Ok(config) if config.security.userns.is_some()));

    let mut checks = kernel::checks(table.as_deref(), userns_needed);
    checks.push(config_check);
    checks.push(storage::health(storage.as_ref()));

    // Without a usable storage.toml, the default place is the best guess.
    let area = match &storage {
        Some(storage) => SharedArea::new(storage, mounts),
        None => SharedArea {
            prefixes: first_guess.clone(),
            device: None,
        },
    };
    let untouchable = mounts::untouchable(mounts, &area.mount_points(mounts));
    let binary = options
        .binary
        .clone()
        .or_else(|| std::env::current_exe().ok());
    checks.extend(placement_checks(
        &paths,
        mounts,
        table.is_some(),
        &area,
        &untouchable,
        binary.as_deref(),
        readable_config_dir,
        &containers,
    ));

    let risky = |path: &Path| -> Option<String> {
        let resolved = placement::resolve(path, &untouchable, &mut placement::look_on_disk);
        untouchable
            .iter()
            .find(|point| resolved.path.starts_with(point))
            .map(|point| format!("it lies on {}, which may hang", point.display()))
    };
    let fallback_binary = PathBuf::from("/usr/sbin/vroot");
    checks.extend(units::checks(&units::Inputs {
        dir: options.units_dir.as_deref(),
        storage: storage.as_ref(),
        binary: binary.as_deref().unwrap_or(&fallback_binary),
        risky: &risky,
        systemd: Path::new("/run/systemd/system").is_dir(),
    }));
    DoctorReport::new(checks)
}

type LoadedConfig = (String, Result<ContainerConfig, String>);

/// Every `NAME.toml` in the config directory but `storage.toml`, sorted.
fn load_containers(paths: &HostPaths) -> Vec<LoadedConfig> {
    let mut names: Vec<String> = std::fs::read_dir(&paths.config_dir)
        .map(|entries| {
            entries
                .flatten()
                .filter_map(|entry| {
                    let path = entry.path();
                    if path.extension()? != "toml" {
                        return None;
                    }
                    let name = path.file_stem()?.to_str()?.to_string();
                    validate_name(&name).is_ok().then_some(name)
                })
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
        .into_iter()
        .map(|name| {
            let config =
                ContainerConfig::load(&paths.config_dir, &name).map_err(|error| error.to_string());
            (name, config)
        })
        .collect()
}

#[allow(clippy::too_many_arguments)]
fn placement_checks(
    paths: &HostPaths,
    mounts: &[MountEntry],
    have_table: bool,
    area: &SharedArea,
    untouchable: &[PathBuf],
    binary: Option<&Path>,
    readable_config_dir: bool,
    containers: &[LoadedConfig],
) -> Vec<Check> {
    if !have_table {
        return vec![Check::fail(
            Group::Placement,
            "mounts",
            "cannot read /proc/self/mountinfo: nothing can be placed".to_string(),
            "run vroot doctor as root on the host, with /proc mounted".to_string(),
        )];
    }
    let mut look = placement::look_on_disk;
    let mut context = Context {
        table: mounts,
        area,
        untouchable,
        look: &mut look,
    };
    let move_dir = |path: &Path, variable: &str| {
        format!(
            "move {} to this host's own disk, or point {variable} at a host-local directory",
            path.display()
        )
    };
    let mut checks = vec![
        placement::host_path(
            &mut context,
            "config_dir",
            &paths.config_dir,
            move_dir(&paths.config_dir, "VROOT_CONFIG_DIR"),
        ),
        placement::host_path(
            &mut context,
            "state_dir",
            &paths.state_dir,
            move_dir(&paths.state_dir, "VROOT_STATE_DIR"),
        ),
        placement::host_path(
            &mut context,
            "log_dir",
            &paths.log_dir,
            move_dir(&paths.log_dir, "VROOT_LOG_DIR"),
        ),
        placement::host_path(
            &mut context,
            "lib_dir",
            &paths.lib_dir,
            move_dir(&paths.lib_dir, "VROOT_LIB_DIR"),
        ),
    ];
    let layers = paths.lib_dir.join("hosts");
    checks.push(placement::layer(
        &mut context,
        "layers_dir",
        &layers,
        None,
        format!(
            "keep {} on this host's own disk (VROOT_LIB_DIR moves it); per-host layers live there by default",
            layers.display()
        ),
    ));
    checks.push(match binary {
        Some(binary) => placement::host_path(
            &mut context,
            "binary",
            binary,
            "install vroot on this host's own disk, e.g. /usr/local/sbin/vroot, then run `vroot install-units` again".to_string(),
        ),
        None => Check::fail(
            Group::Placement,
            "binary",
            "cannot tell where this vroot binary is (/proc/self/exe)".to_string(),
            "run vroot doctor with /proc mounted".to_string(),
        ),
    });
    if !readable_config_dir {
        checks.push(Check::skip(
            Group::Placement,
            "layers",
            "the containers' configs are not read (see the storage.toml check)".to_string(),
        ));
        return checks;
    }
    for (name, config) in containers {
        checks.push(match config {
            Ok(config) => placement::container_layer(&mut context, config, paths),
            Err(error) => Check::fail(
                Group::Placement,
                &format!("layer:{name}"),
                format!("cannot tell where the per-host layer is: {error}"),
                format!(
                    "correct {} as the message says",
                    paths.config_file(name).display()
                ),
            ),
        });
    }
    checks
}

/// The directories made absolute (the VROOT_* variables may be relative).
fn absolute_paths(paths: &HostPaths) -> HostPaths {
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/"));
    let absolute = |path: &Path| crate::storage::lexically_normal(&cwd.join(path));
    HostPaths {
        config_dir: absolute(&paths.config_dir),
        state_dir: absolute(&paths.state_dir),
        log_dir: absolute(&paths.log_dir),
        lib_dir: absolute(&paths.lib_dir),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skipped_checks_do_not_fail_the_report() {
        let report = DoctorReport::new(vec![
            Check::pass(Group::Kernel, "pidfd", "works".into()),
            Check::skip(Group::Units, "unit:vroot@.service", "no systemd".into()),
        ]);
        assert!(report.ok);
        let report = DoctorReport::new(vec![
            Check::pass(Group::Kernel, "pidfd", "works".into()),
            Check::fail(Group::Kernel, "clone3", "missing".into(), "upgrade".into()),
        ]);
        assert!(!report.ok);
        assert_eq!(report.failed().count(), 1);
    }

    #[test]
    fn the_json_shape_is_stable() {
        let report = DoctorReport::new(vec![Check::fail(
            Group::Kernel,
            "fusectl",
            "not mounted".into(),
            "mount it".into(),
        )]);
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "ok": false,
                "checks": [{
                    "group": "kernel",
                    "name": "fusectl",
                    "status": "fail",
                    "ok": false,
                    "detail": "not mounted",
                    "fix": "mount it",
                }],
            })
        );
    }

    #[test]
    fn relative_directories_become_absolute() {
        let paths = HostPaths {
            config_dir: "etc".into(),
            state_dir: "/run/vroot".into(),
            log_dir: "./log/../log".into(),
            lib_dir: "/var/lib/vroot".into(),
        };
        let absolute = absolute_paths(&paths);
        let cwd = std::env::current_dir().unwrap();
        assert_eq!(absolute.config_dir, cwd.join("etc"));
        assert_eq!(absolute.log_dir, cwd.join("log"));
        assert_eq!(absolute.state_dir, PathBuf::from("/run/vroot"));
    }
}
