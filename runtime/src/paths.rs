//! Where vroot keeps its files on the host. Every path here is host-local:
//! nothing on the stop, status or fence paths may live on the shared root.

use std::path::{Path, PathBuf};

const DEFAULT_CONFIG_DIR: &str = "/etc/vroot";
const DEFAULT_STATE_DIR: &str = "/run/vroot";
const DEFAULT_LOG_DIR: &str = "/var/log/vroot";
const DEFAULT_LIB_DIR: &str = "/var/lib/vroot";

/// The host-local directories one vroot invocation works with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostPaths {
    pub config_dir: PathBuf,
    pub state_dir: PathBuf,
    pub log_dir: PathBuf,
    /// Persistent host-local data, e.g. each container's per-host files.
    pub lib_dir: PathBuf,
}

impl HostPaths {
    /// The defaults, overridden by `VROOT_CONFIG_DIR`, `VROOT_STATE_DIR`,
    /// `VROOT_LOG_DIR` and `VROOT_LIB_DIR` (tests and multi-instance hosts use these).
    pub fn from_env() -> Self {
        let pick = |var: &str, default: &str| {
            std::env::var_os(var)
                .filter(|value| !value.is_empty())
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from(default))
        };
        HostPaths {
            config_dir: pick("VROOT_CONFIG_DIR", DEFAULT_CONFIG_DIR),
            state_dir: pick("VROOT_STATE_DIR", DEFAULT_STATE_DIR),
            log_dir: pick("VROOT_LOG_DIR", DEFAULT_LOG_DIR),
            lib_dir: pick("VROOT_LIB_DIR", DEFAULT_LIB_DIR),
        }
    }

    pub fn config_file(&self, name: &str) -> PathBuf {
        self.config_dir.join(format!("{name}.toml"))
    }

    pub fn container_state_dir(&self, name: &str) -> PathBuf {
        self.state_dir.join(name)
    }

    pub fn console_log(&self, name: &str) -> PathBuf {
        self.log_dir.join(format!("{name}.console"))
    }

    /// The container's per-host layer on this host.
    pub fn host_layer_dir(&self, name: &str) -> PathBuf {
        self.lib_dir.join("hosts").join(name)
    }

    pub fn supervisor_log(&self, name: &str) -> PathBuf {
        self.log_dir.join(format!("{name}.log"))
    }
}

/// Files inside one container's state directory.
#[derive(Debug, Clone)]
pub struct StateFiles {
    pub dir: PathBuf,
}

impl StateFiles {
    pub fn new(dir: &Path) -> Self {
        StateFiles {
            dir: dir.to_path_buf(),
        }
    }
    pub fn state_json(&self) -> PathBuf {
        self.dir.join("state.json")
    }
    pub fn spec_json(&self) -> PathBuf {
        self.dir.join("config.json")
    }
    pub fn owner_lock(&self) -> PathBuf {
        self.dir.join("owner.lock")
    }
    pub fn control_socket(&self) -> PathBuf {
        self.dir.join("control.sock")
    }
    /// What the current boot attached: see [`crate::network::NetworkRecord`].
    pub fn network_json(&self) -> PathBuf {
        self.dir.join("network.json")
    }
}
