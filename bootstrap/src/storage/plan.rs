//! How a configuration is mounted: which mount(2) call, bind mount or
//! helper command, with the options assembled from the type's defaults, the
//! configured ones and the server address the kernel needs.

use std::path::{Path, PathBuf};

use super::config::StorageConfig;
use super::error::StorageError;
use super::fs_type::StorageType;

/// Used for glusterfs when `helper` is not set: glusterfs is a FUSE
/// filesystem that only its own mount program can start.
pub(crate) const DEFAULT_GLUSTERFS_HELPER: &str = "/sbin/mount.glusterfs";

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum MountPlan {
    /// `local` without a source: a directory on the host, nothing to mount.
    PlainDirectory,
    /// `local` with a source: bind-mount that directory onto the target.
    Bind { source: String },
    /// mount(2) with a filesystem type and comma-joined options.
    Kernel {
        source: String,
        fs_type: &'static str,
        options: Vec<String>,
    },
    /// `HELPER SOURCE TARGET -o OPTIONS`.
    Helper {
        program: PathBuf,
        source: String,
        options: Vec<String>,
    },
}

/// The plan for `config`; fails only when glusterfs has no helper.
pub(crate) fn plan(config: &StorageConfig) -> Result<MountPlan, StorageError> {
    plan_with(config, |path| path.exists())
}

/// [`plan`] with the check for the default glusterfs helper passed in.
pub(crate) fn plan_with(
    config: &StorageConfig,
    helper_exists: impl Fn(&Path) -> bool,
) -> Result<MountPlan, StorageError> {
    let source = match (&config.source, config.storage_type) {
        (None, StorageType::Local) => return Ok(MountPlan::PlainDirectory),
        (Some(source), StorageType::Local) => {
            return Ok(MountPlan::Bind {
                source: source.clone(),
            })
        }
        (Some(source), _) => source.clone(),
        // Validated on load: every other type has a source.
        (None, _) => String::new(),
    };
    let mut options: Vec<String> = config
        .storage_type
        .default_options()
        .iter()
        .map(|option| option.to_string())
        .chain(config.options.iter().cloned())
        .collect();
    let helper = match (&config.helper, config.storage_type) {
        (Some(helper), _) => Some(helper.clone()),
        (None, StorageType::Glusterfs) => {
            let default = Path::new(DEFAULT_GLUSTERFS_HELPER);
            if !helper_exists(default) {
                return Err(StorageError::Helper {
                    storage: config.describe(),
                    reason: format!(
                        "glusterfs is mounted by its FUSE helper, and {DEFAULT_GLUSTERFS_HELPER} does not exist: install glusterfs-client, or set `helper` in {}",
                        config.origin.display()
                    ),
                });
            }
            Some(default.to_path_buf())
        }
        (None, _) => None,
    };
    if let Some(program) = helper {
        return Ok(MountPlan::Helper {
            program,
            source,
            options,
        });
    }
    if let Some(option) = server_address_option(config, &options) {
        options.push(option);
    }
    let fs_type = config.storage_type.kernel_type(&options).unwrap_or("none");
    Ok(MountPlan::Kernel {
        source,
        fs_type,
        options,
    })
}

/// mount(2) does no name resolution: NFS wants the server's address as
/// `addr=`, CIFS as `ip=`, unless the configured options already give it.
fn server_address_option(config: &StorageConfig, options: &[String]) -> Option<String> {
    let (key, also_accepted) = match config.storage_type {
        StorageType::Nfs => ("addr", "addr"),
        StorageType::Cifs => ("ip", "addr"),
        _ => return None,
    };
    let given = options.iter().any(|option| {
        option.starts_with(&format!("{key}=")) || option.starts_with(&format!("{also_accepted}="))
    });
    if given {
        return None;
    }
    let address = config.parsed_source()?.server_ip()?;
    Some(format!("{key}={address}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(text: &str) -> StorageConfig {
        StorageConfig::from_toml_str(text, Path::new("/etc/vroot/storage.toml")).unwrap()
    }

    fn kernel(plan: MountPlan) -> (String, &'static str, Vec<String>) {
        match plan {
            MountPlan::Kernel {
                source,
                fs_type,
                options,
            } => (source, fs_type, options),
            other => panic!("expected a mount(2) plan, got {other:?}"),
        }
    }

    #[test]
    fn nfs_gets_defaults_configured_options_and_the_server_address() {
        let (source, fs_type, options) = kernel(
            plan(&config(
                "[storage]\ntype = \"nfs\"\nsource = \"192.0.2.1:/export/vz\"\noptions = [\"vers=4.2\"]\n",
            ))
            .unwrap(),
        );
        assert_eq!(source, "192.0.2.1:/export/vz");
        assert_eq!(fs_type, "nfs4");
        assert_eq!(
            options,
            ["hard", "nosharecache", "vers=4.2", "addr=192.0.2.1"]
        );
    }

    #[test]
    fn nfs_over_ipv6_and_an_explicit_addr() {
        let (_, fs_type, options) = kernel(
            plan(&config(
                "[storage]\ntype = \"nfs\"\nsource = \"[2001:db8::1]:/vz\"\n",
            ))
            .unwrap(),
        );
        assert_eq!(fs_type, "nfs");
        assert_eq!(options, ["hard", "nosharecache", "addr=2001:db8::1"]);
        let (_, _, options) = kernel(
            plan(&config(
                "[storage]\ntype = \"nfs\"\nsource = \"192.0.2.1:/vz\"\noptions = [\"addr=192.0.2.9\"]\n",
            ))
            .unwrap(),
        );
        assert_eq!(options, ["hard", "nosharecache", "addr=192.0.2.9"]);
    }

    #[test]
    fn cifs_gets_ip_and_9p_its_transport() {
        let (_, fs_type, options) = kernel(
            plan(&config(
                "[storage]\ntype = \"cifs\"\nsource = \"//192.0.2.1/vz\"\noptions = [\"vers=3.1.1\"]\n",
            ))
            .unwrap(),
        );
        assert_eq!(fs_type, "cifs");
        assert_eq!(options, ["vers=3.1.1", "ip=192.0.2.1"]);
        let (source, fs_type, options) =
            kernel(plan(&config("[storage]\ntype = \"9p\"\nsource = \"vz\"\n")).unwrap());
        assert_eq!((source.as_str(), fs_type), ("vz", "9p"));
        assert_eq!(options, ["trans=virtio", "version=9p2000.L"]);
    }

    #[test]
    fn a_helper_gets_the_options_without_an_address() {
        let plan = plan(&config(
            "[storage]\ntype = \"nfs\"\nsource = \"nfs.example:/vz\"\nhelper = \"/sbin/mount.nfs\"\n",
        ))
        .unwrap();
        assert_eq!(
            plan,
            MountPlan::Helper {
                program: PathBuf::from("/sbin/mount.nfs"),
                source: "nfs.example:/vz".into(),
                options: vec!["hard".into(), "nosharecache".into()],
            }
        );
    }

    #[test]
    fn glusterfs_needs_a_helper() {
        let gluster = config("[storage]\ntype = \"glusterfs\"\nsource = \"gluster1:/vz\"\n");
        let error = plan_with(&gluster, |_| false).unwrap_err().to_string();
        assert!(
            error.contains("/sbin/mount.glusterfs does not exist"),
            "{error}"
        );
        assert!(matches!(
            plan_with(&gluster, |_| true).unwrap(),
            MountPlan::Helper { .. }
        ));
    }

    #[test]
    fn local_plans() {
        assert_eq!(
            plan(&config("[storage]\ntype = \"local\"\n")).unwrap(),
            MountPlan::PlainDirectory
        );
        assert_eq!(
            plan(&config(
                "[storage]\ntype = \"local\"\nsource = \"/srv/vz\"\n"
            ))
            .unwrap(),
            MountPlan::Bind {
                source: "/srv/vz".into()
            }
        );
    }
}
