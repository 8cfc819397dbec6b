//! The shared storage: `storage.toml` is valid, and the storage is mounted
//! at its target, of the configured type, and answers within the probe
//! timeout. The health is `vroot storage status`'s own ([`crate::storage::status`]):
//! mountinfo, and one statfs in a child with a deadline.

use std::path::Path;

use crate::storage::{status, Health, StorageConfig, StorageStatus};

use super::{Check, Group};

/// The `storage.toml` check, and the configuration when it is usable.
/// `unsafe_dir`: why the config directory must not be read (it lies where
/// reading may hang), if it must not.
pub(crate) fn config(path: &Path, unsafe_dir: Option<String>) -> (Check, Option<StorageConfig>) {
    const NAME: &str = "storage.toml";
    if let Some(reason) = unsafe_dir {
        return (
            Check::fail(
                Group::Storage,
                NAME,
                format!("{} is not read: {reason}", path.display()),
                "keep vroot's config directory on this host's own disk (VROOT_CONFIG_DIR moves it)"
                    .to_string(),
            ),
            None,
        );
    }
    let present = path.symlink_metadata().is_ok();
    match StorageConfig::load(path) {
        Ok(config) if present => {
            let detail = format!("{}: {}", path.display(), config.describe());
            (Check::pass(Group::Storage, NAME, detail), Some(config))
        }
        Ok(config) => {
            let detail = format!(
                "no {}: the containers' roots are in a plain directory, {} (the default)",
                path.display(),
                config.target.display()
            );
            (Check::pass(Group::Storage, NAME, detail), Some(config))
        }
        Err(error) => (
            Check::fail(
                Group::Storage,
                NAME,
                error.to_string(),
                format!(
                    "correct {} as the message says (docs/operations.md, \"Shared storage\")",
                    path.display()
                ),
            ),
            None,
        ),
    }
}

/// The `health` check: mounted, the right type, answering.
pub(crate) fn health(config: Option<&StorageConfig>) -> Check {
    const NAME: &str = "health";
    let Some(config) = config else {
        return Check::skip(
            Group::Storage,
            NAME,
            "storage.toml is not usable (see the storage.toml check)".to_string(),
        );
    };
    judge(config, &status(config))
}

/// Turns `vroot storage status`'s answer into a check with its fix.
pub(crate) fn judge(config: &StorageConfig, found: &StorageStatus) -> Check {
    const NAME: &str = "health";
    let detail = format!(
        "{}: {}: {}",
        config.describe(),
        found.health.as_str().replace('_', " "),
        found.message
    );
    if found.health.is_usable() {
        return Check::pass(Group::Storage, NAME, detail);
    }
    let target = config.target.display();
    let fix = match found.health {
        Health::NotMounted if config.is_plain_directory() => format!(
            "mkdir -p {target}, or describe the shared storage in {}",
            config.origin.display()
        ),
        Health::NotMounted => {
            "vroot storage mount (at boot: systemctl enable --now vroot-storage.service)"
                .to_string()
        }
        Health::WrongType => {
            format!("unmount what is mounted at {target}, then run `vroot storage mount`")
        }
        _ => format!(
            "bring the storage server or its network back; `vroot storage status` says when {target} answers again"
        ),
    };
    Check::fail(Group::Storage, NAME, detail, fix)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::StorageType;

    fn config(text: &str) -> StorageConfig {
        StorageConfig::from_toml_str(text, Path::new("/etc/vroot/storage.toml")).unwrap()
    }

    fn status_of(config: &StorageConfig, health: Health, message: &str) -> StorageStatus {
        StorageStatus {
            storage_type: config.storage_type,
            source: config.source.clone(),
            target: config.target.clone(),
            mounted: health != Health::NotMounted,
            mounted_type: None,
            mounted_source: None,
            health,
            probe_ms: None,
            message: message.to_string(),
        }
    }

    #[test]
    fn each_unhealthy_state_names_its_fix() {
        let nfs = config("[storage]\ntype = \"nfs\"\nsource = \"192.0.2.1:/x\"\n");
        assert_eq!(nfs.storage_type, StorageType::Nfs);
        let healthy = judge(&nfs, &status_of(&nfs, Health::Healthy, "answers"));
        assert!(healthy.ok);
        assert!(healthy.detail.contains("healthy"), "{healthy:?}");
        assert!(judge(&nfs, &status_of(&nfs, Health::Slow, "slowly")).ok);

        let missing = judge(&nfs, &status_of(&nfs, Health::NotMounted, "nothing"));
        assert!(!missing.ok);
        assert!(missing.detail.contains("not mounted"), "{missing:?}");
        assert!(missing.fix.unwrap().starts_with("vroot storage mount"));

        let wrong = judge(&nfs, &status_of(&nfs, Health::WrongType, "tmpfs"));
        assert!(wrong.fix.unwrap().contains("unmount"));
        let hung = judge(&nfs, &status_of(&nfs, Health::Hung, "no answer"));
        assert!(hung.fix.unwrap().contains("vroot storage status"));

        let plain = StorageConfig::local_default(Path::new("/etc/vroot/storage.toml"));
        let absent = judge(&plain, &status_of(&plain, Health::NotMounted, "no dir"));
        assert!(absent.fix.unwrap().starts_with("mkdir -p /vz/private"));
    }

    #[test]
    fn an_unreadable_config_dir_is_not_read() {
        let (check, config) = super::config(
            Path::new("/vz/private/etc/storage.toml"),
            Some("it is on the shared storage".into()),
        );
        assert!(!check.ok);
        assert!(config.is_none());
        assert!(health(None).status == super::super::Status::Skip);
    }
}
