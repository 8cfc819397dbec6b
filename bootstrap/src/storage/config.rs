//! `/etc/vroot/storage.toml`: which shared storage this host mounts at
//! `/vz/private`, parsed and validated into a [`StorageConfig`].
//!
//! Everything a user can get wrong is caught here, before anything is
//! mounted, and reported as one line naming the file, the key and the fix.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use super::error::StorageError;
use super::fs_type::StorageType;
use super::source::{is_normal_path, parse_source, ParsedSource};

/// Where the shared storage is mounted unless the file says otherwise.
pub const DEFAULT_TARGET: &str = "/vz/private";
const DEFAULT_MOUNT_TIMEOUT_SECS: u64 = 60;
const DEFAULT_RETRY_INTERVAL_SECS: u64 = 2;
const DEFAULT_PROBE_TIMEOUT_SECS: u64 = 5;
/// Longer than any sane mount or probe; guards against typos like 6000.
const MAX_TIMEOUT_SECS: u64 = 3600;

/// A validated storage configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StorageConfig {
    /// The file this came from; it may not exist (then this is the built-in
    /// default: `local` at `/vz/private`).
    pub origin: PathBuf,
    pub storage_type: StorageType,
    /// Required for every type but `local`, where it is an optional
    /// directory to bind-mount onto the target.
    pub source: Option<String>,
    /// Absolute and normalised, never `/`.
    pub target: PathBuf,
    /// Appended to the type's default options.
    pub options: Vec<String>,
    /// Deadline for all mount attempts together.
    pub mount_timeout: Duration,
    pub retry_interval: Duration,
    /// A statfs probe that takes longer than this means "hung".
    pub probe_timeout: Duration,
    /// A host-local mount program run as `HELPER SOURCE TARGET -o OPTIONS`
    /// instead of mount(2).
    pub helper: Option<PathBuf>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    storage: Option<FileStorage>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileStorage {
    #[serde(rename = "type")]
    storage_type: StorageType,
    source: Option<String>,
    target: Option<PathBuf>,
    #[serde(default)]
    options: Vec<String>,
    mount_timeout: Option<u64>,
    retry_interval: Option<u64>,
    probe_timeout: Option<u64>,
    helper: Option<PathBuf>,
}

impl StorageConfig {
    /// The configuration used when `storage.toml` does not exist: the
    /// containers' roots are in a plain directory on the host.
    pub fn local_default(origin: &Path) -> Self {
        StorageConfig {
            origin: origin.to_path_buf(),
            storage_type: StorageType::Local,
            source: None,
            target: PathBuf::from(DEFAULT_TARGET),
            options: Vec::new(),
            mount_timeout: Duration::from_secs(DEFAULT_MOUNT_TIMEOUT_SECS),
            retry_interval: Duration::from_secs(DEFAULT_RETRY_INTERVAL_SECS),
            probe_timeout: Duration::from_secs(DEFAULT_PROBE_TIMEOUT_SECS),
            helper: None,
        }
    }

    /// Loads `storage.toml`; a missing file means [`StorageConfig::local_default`].
    pub fn load(path: &Path) -> Result<Self, StorageError> {
        match std::fs::read_to_string(path) {
            Ok(text) => Self::from_toml_str(&text, path),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                Ok(Self::local_default(path))
            }
            Err(source) => Err(StorageError::Read {
                path: path.to_path_buf(),
                source,
            }),
        }
    }

    /// Parses and validates a config text; `origin` names it in errors.
    pub fn from_toml_str(text: &str, origin: &Path) -> Result<Self, StorageError> {
        let file: FileConfig =
            toml::from_str(text).map_err(|error| syntax_error(origin, text, &error))?;
        let invalid = |field: &'static str, reason: String| StorageError::Invalid {
            path: origin.to_path_buf(),
            field,
            reason,
        };
        let storage = file.storage.ok_or_else(|| {
            invalid(
                "storage",
                "table is missing: add [storage] with a `type`, or delete the file for a plain directory at /vz/private".into(),
            )
        })?;
        let storage_type = storage.storage_type;

        let target = storage
            .target
            .unwrap_or_else(|| PathBuf::from(DEFAULT_TARGET));
        check_target(&target).map_err(|reason| invalid("target", reason))?;

        let parsed_source = match (&storage.source, storage_type) {
            (None, StorageType::Local) => None,
            (None, _) => {
                return Err(invalid(
                    "source",
                    format!("is required for type = \"{storage_type}\""),
                ))
            }
            (Some(source), _) => Some(
                parse_source(storage_type, source).map_err(|reason| invalid("source", reason))?,
            ),
        };
        if let (Some(source), StorageType::Local) = (&storage.source, storage_type) {
            let source = Path::new(source);
            if source.starts_with(&target) || target.starts_with(source) {
                return Err(invalid(
                    "source",
                    format!(
                        "`{}` and `target` {} must not contain each other",
                        source.display(),
                        target.display()
                    ),
                ));
            }
        }

        check_options(&storage.options, storage_type)
            .map_err(|reason| invalid("options", reason))?;

        if let Some(helper) = &storage.helper {
            if storage_type == StorageType::Local {
                return Err(invalid(
                    "helper",
                    "is not used by type = \"local\": remove it".into(),
                ));
            }
            if !helper.is_absolute() {
                return Err(invalid(
                    "helper",
                    format!(
                        "must be an absolute path, e.g. \"/sbin/mount.{storage_type}\", not `{}`",
                        helper.display()
                    ),
                ));
            }
        }
        if storage.helper.is_none() {
            if let Some(parsed) = &parsed_source {
                check_no_host_names(parsed, storage_type)
                    .map_err(|reason| invalid("source", reason))?;
            }
        }

        let seconds = |field: &'static str, value: Option<u64>, default: u64| {
            let value = value.unwrap_or(default);
            if (1..=MAX_TIMEOUT_SECS).contains(&value) {
                Ok(Duration::from_secs(value))
            } else {
                Err(invalid(
                    field,
                    format!("must be 1 to {MAX_TIMEOUT_SECS} seconds, not {value}"),
                ))
            }
        };
        Ok(StorageConfig {
            origin: origin.to_path_buf(),
            storage_type,
            source: storage.source,
            target,
            options: storage.options,
            mount_timeout: seconds(
                "mount_timeout",
                storage.mount_timeout,
                DEFAULT_MOUNT_TIMEOUT_SECS,
            )?,
            retry_interval: seconds(
                "retry_interval",
                storage.retry_interval,
                DEFAULT_RETRY_INTERVAL_SECS,
            )?,
            probe_timeout: seconds(
                "probe_timeout",
                storage.probe_timeout,
                DEFAULT_PROBE_TIMEOUT_SECS,
            )?,
            helper: storage.helper,
        })
    }

    /// `local` without a source: a plain directory, nothing to mount.
    pub fn is_plain_directory(&self) -> bool {
        self.storage_type == StorageType::Local && self.source.is_none()
    }

    /// "storage nfs 192.0.2.1:/export at /vz/private", the subject of every
    /// error about this storage.
    pub fn describe(&self) -> String {
        match &self.source {
            Some(source) => format!(
                "storage {} {source} at {}",
                self.storage_type,
                self.target.display()
            ),
            None => format!("storage {} at {}", self.storage_type, self.target.display()),
        }
    }

    /// The source re-parsed (it was validated on load).
    pub(crate) fn parsed_source(&self) -> Option<ParsedSource> {
        self.source
            .as_deref()
            .and_then(|source| parse_source(self.storage_type, source).ok())
    }
}

fn check_target(target: &Path) -> Result<(), String> {
    if !target.is_absolute() {
        return Err(format!(
            "must be an absolute path, e.g. \"{DEFAULT_TARGET}\", not `{}`",
            target.display()
        ));
    }
    if !is_normal_path(target) {
        return Err(format!(
            "`{}` must be a normalised path (no `.`, `..`, `//` or trailing `/`), e.g. \"{DEFAULT_TARGET}\"",
            target.display()
        ));
    }
    if target == Path::new("/") {
        return Err(format!(
            "must not be `/`: the storage needs a directory of its own, e.g. \"{DEFAULT_TARGET}\""
        ));
    }
    match target.to_str() {
        Some(text) if !text.contains(char::is_whitespace) => Ok(()),
        _ => Err(format!(
            "`{}` must be UTF-8 without spaces",
            target.display()
        )),
    }
}

fn check_options(options: &[String], storage_type: StorageType) -> Result<(), String> {
    if storage_type == StorageType::Local && !options.is_empty() {
        return Err("are not used by type = \"local\" (a plain bind mount): remove them".into());
    }
    for option in options {
        if option.is_empty() {
            return Err("must not contain an empty option".into());
        }
        if option.contains(',') {
            return Err(format!(
                "must list one option per string: write `{}` as {:?}",
                option,
                option.split(',').collect::<Vec<_>>()
            ));
        }
        if option.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(format!(
                "`{option}` must not contain spaces or control characters"
            ));
        }
    }
    Ok(())
}

/// The kernel cannot resolve names and vroot does no DNS lookups itself (a
/// lookup can hang, and the runtime must not depend on the resolver), so a
/// host name needs a helper program that resolves it.
fn check_no_host_names(parsed: &ParsedSource, storage_type: StorageType) -> Result<(), String> {
    let names = parsed.host_names();
    let Some(name) = names.first() else {
        return Ok(());
    };
    if storage_type == StorageType::Glusterfs {
        return Ok(());
    }
    let helper = match storage_type {
        StorageType::Cephfs => "/sbin/mount.ceph",
        StorageType::Cifs => "/sbin/mount.cifs",
        _ => "/sbin/mount.nfs",
    };
    Err(format!(
        "host `{name}` is a name, which the kernel cannot resolve (vroot does no DNS lookups): write the server's IP address, or set helper = \"{helper}\""
    ))
}

fn syntax_error(path: &Path, text: &str, error: &toml::de::Error) -> StorageError {
    let (location, message) = vroot_runtime::config::one_line_diagnostic(text, error, "type");
    StorageError::Syntax {
        path: path.to_path_buf(),
        location,
        message,
    }
}
