//! `/etc/vroot/NAME.toml`: parsing and validation into a [`ContainerConfig`].
//!
//! Everything a user can get wrong is caught here, before anything is made,
//! and reported as one line naming the file, the key and the fix.

mod fence;
mod limits;
mod name;
mod network;
mod security;

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::signal::RawSignal;
pub use fence::{FencePolicy, OnHang, DEFAULT_HANG_TIMEOUT};
pub use limits::{parse_size, SizeText};
pub use name::validate_name;
pub use security::{IdRange, SecurityPolicy};

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("invalid container name `{name}`: {reason}")]
    BadName { name: String, reason: String },
    #[error("unknown container `{name}`: no {path} (create it, or set VROOT_CONFIG_DIR)")]
    NotFound { name: String, path: PathBuf },
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}{location}: {message}")]
    Syntax {
        path: PathBuf,
        location: String,
        message: String,
    },
    #[error("{path}: `{field}` {reason}")]
    Invalid {
        path: PathBuf,
        field: &'static str,
        reason: String,
    },
    #[error("{path}: {source}")]
    Overlay {
        path: PathBuf,
        source: vroot_overlays::config::OverlayConfigError,
    },
}

/// What a reboot typed inside the container does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OnReboot {
    #[default]
    Restart,
    Stop,
}

impl OnReboot {
    pub fn as_str(self) -> &'static str {
        match self {
            OnReboot::Restart => "restart",
            OnReboot::Stop => "stop",
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Limits {
    pub memory_bytes: Option<u64>,
    pub cpus: Option<f64>,
    pub pids: Option<u64>,
}

/// A validated container configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct ContainerConfig {
    pub name: String,
    pub source: PathBuf,
    pub root: PathBuf,
    pub init: Vec<String>,
    pub hostname: String,
    pub stop_timeout: Duration,
    pub halt_signal: Option<RawSignal>,
    pub on_reboot: OnReboot,
    pub limits: Limits,
    /// The container's interfaces besides `lo`; none gives a private
    /// network namespace with only loopback.
    pub network: Vec<crate::network::Interface>,
    pub overlay: vroot_overlays::config::OverlayConfig,
    pub fence: FencePolicy,
    pub security: SecurityPolicy,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    root: PathBuf,
    #[serde(default = "default_init")]
    init: Vec<String>,
    hostname: Option<String>,
    #[serde(default = "default_stop_timeout")]
    stop_timeout: u64,
    halt_signal: Option<String>,
    #[serde(default)]
    on_reboot: OnReboot,
    #[serde(default)]
    limits: FileLimits,
    network: Option<toml::Table>,
    overlay: Option<vroot_overlays::config::FileOverlay>,
    #[serde(default)]
    fence: fence::FileFence,
    #[serde(default)]
    security: security::FileSecurity,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileLimits {
    memory: Option<SizeText>,
    cpus: Option<f64>,
    pids: Option<i64>,
}

fn default_init() -> Vec<String> {
    vec!["/sbin/init".to_string()]
}

fn default_stop_timeout() -> u64 {
    60
}

const MAX_STOP_TIMEOUT_SECS: u64 = 24 * 3600;

impl ContainerConfig {
    /// Loads `NAME.toml` from `config_dir`.
    pub fn load(config_dir: &Path, name: &str) -> Result<Self, ConfigError> {
        validate_name(name).map_err(|reason| ConfigError::BadName {
            name: name.to_string(),
            reason,
        })?;
        let path = config_dir.join(format!("{name}.toml"));
        let text = std::fs::read_to_string(&path).map_err(|source| {
            if source.kind() == std::io::ErrorKind::NotFound {
                ConfigError::NotFound {
                    name: name.to_string(),
                    path: path.clone(),
                }
            } else {
                ConfigError::Read {
                    path: path.clone(),
                    source,
                }
            }
        })?;
        Self::parse(name, &path, &text, &host_hostname())
    }

    /// Parses and validates a config text. `default_hostname` is used when the
    /// file names none (normally the host's own hostname).
    pub fn parse(
        name: &str,
        path: &Path,
        text: &str,
        default_hostname: &str,
    ) -> Result<Self, ConfigError> {
        validate_name(name).map_err(|reason| ConfigError::BadName {
            name: name.to_string(),
            reason,
        })?;
        let file: FileConfig =
            toml::from_str(text).map_err(|error| syntax_error(path, text, &error))?;
        let invalid = |field: &'static str, reason: String| ConfigError::Invalid {
            path: path.to_path_buf(),
            field,
            reason,
        };

        if !file.root.is_absolute() {
            return Err(invalid(
                "root",
                format!("must be an absolute path, not `{}`", file.root.display()),
            ));
        }
        match file.init.first() {
            None => {
                return Err(invalid(
                    "init",
                    "must name the init program, e.g. [\"/sbin/init\"]".into(),
                ))
            }
            Some(program) if !program.starts_with('/') => {
                return Err(invalid(
                    "init",
                    format!("program `{program}` must be an absolute path inside the root"),
                ))
            }
            Some(_) => {}
        }
        if file.init.iter().any(|arg| arg.contains('\0')) {
            return Err(invalid(
                "init",
                "arguments must not contain NUL bytes".into(),
            ));
        }
        let hostname = file
            .hostname
            .unwrap_or_else(|| default_hostname.to_string());
        validate_hostname(&hostname).map_err(|reason| invalid("hostname", reason))?;
        if file.stop_timeout > MAX_STOP_TIMEOUT_SECS {
            return Err(invalid(
                "stop_timeout",
                format!("must be at most {MAX_STOP_TIMEOUT_SECS} seconds"),
            ));
        }
        let halt_signal = file
            .halt_signal
            .as_deref()
            .map(RawSignal::parse)
            .transpose()
            .map_err(|error| invalid("halt_signal", error.to_string()))?;

        let memory_bytes = file
            .limits
            .memory
            .as_ref()
            .map(parse_size)
            .transpose()
            .map_err(|reason| invalid("limits.memory", reason))?;
        if let Some(cpus) = file.limits.cpus {
            if !(cpus.is_finite() && cpus >= 0.01) {
                return Err(invalid(
                    "limits.cpus",
                    format!("must be a number of CPUs of at least 0.01, not {cpus}"),
                ));
            }
        }
        let pids = match file.limits.pids {
            None => None,
            Some(count) if count >= 1 => Some(count as u64),
            Some(count) => {
                return Err(invalid(
                    "limits.pids",
                    format!("must be at least 1, not {count}"),
                ))
            }
        };

        let fence = file
            .fence
            .validate()
            .map_err(|(field, reason)| invalid(field, reason))?;

        let network = network::parse(file.network).map_err(|reason| invalid("network", reason))?;
        let security = file
            .security
            .validate()
            .map_err(|(field, reason)| invalid(field, reason))?;

        let config_dir = path.parent().unwrap_or(Path::new("/"));
        let overlay = file
            .overlay
            .unwrap_or_default()
            .validate(config_dir)
            .map_err(|source| ConfigError::Overlay {
                path: path.to_path_buf(),
                source,
            })?;

        Ok(ContainerConfig {
            name: name.to_string(),
            source: path.to_path_buf(),
            root: file.root,
            init: file.init,
            hostname,
            stop_timeout: Duration::from_secs(file.stop_timeout),
            halt_signal,
            on_reboot: file.on_reboot,
            limits: Limits {
                memory_bytes,
                cpus: file.limits.cpus,
                pids,
            },
            network,
            overlay,
            fence,
            security,
        })
    }
}

fn syntax_error(path: &Path, text: &str, error: &toml::de::Error) -> ConfigError {
    let (location, message) = one_line_diagnostic(text, error, "value");
    ConfigError::Syntax {
        path: path.to_path_buf(),
        location,
        message,
    }
}

/// Turns toml's multi-line diagnostics into one line: ` line N` and the
/// message, saying "unknown key" where serde says "unknown field" and
/// "unknown {variant_word}" where it says "unknown variant". Every TOML file
/// vroot reads reports its errors this way.
pub fn one_line_diagnostic(
    text: &str,
    error: &toml::de::Error,
    variant_word: &str,
) -> (String, String) {
    let location = error
        .span()
        .map(|span| {
            let line = text[..span.start.min(text.len())].matches('\n').count() + 1;
            format!(" line {line}")
        })
        .unwrap_or_default();
    let raw = error.message().replace('\n', " ");
    let message = match raw.strip_prefix("unknown field ") {
        Some(rest) => format!("unknown key {rest}"),
        None => match raw.strip_prefix("unknown variant ") {
            Some(rest) => format!("unknown {variant_word} {rest}"),
            None => raw,
        },
    };
    (location, message)
}

fn validate_hostname(hostname: &str) -> Result<(), String> {
    if hostname.is_empty() || hostname.len() > 64 {
        return Err("must be 1 to 64 characters".into());
    }
    let valid_label = |label: &str| {
        !label.is_empty()
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    };
    if !hostname.split('.').all(valid_label) {
        return Err(format!(
            "`{hostname}` is not a valid hostname (letters, digits, `-`, dot-separated)"
        ));
    }
    Ok(())
}

fn host_hostname() -> String {
    nix::unistd::gethostname()
        .ok()
        .and_then(|name| name.into_string().ok())
        .unwrap_or_else(|| "localhost".to_string())
}

#[cfg(test)]
mod tests;
