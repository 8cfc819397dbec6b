//! `vroot storage status`: is the storage mounted, is it the right one, and
//! does it answer? Answers within the probe timeout (plus a few tens of
//! milliseconds) even when the storage hangs: mountinfo is read directly,
//! and the one call that touches the storage runs in a probe child.

use std::path::PathBuf;

use serde::Serialize;

use super::config::StorageConfig;
use super::fs_type::StorageType;
use super::identity;
use super::mount_table::{self, judge, mount_holding, top_mount_at, Judgement};
use super::probe::{describe_hang, probe, seconds, Probe, SLOW_PROBE};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Health {
    Healthy,
    /// Answers, but statfs took longer than a second.
    Slow,
    /// statfs did not answer within `probe_timeout` (or failed).
    Hung,
    NotMounted,
    /// Something other than the configured storage is mounted there.
    WrongType,
}

impl Health {
    pub fn as_str(self) -> &'static str {
        match self {
            Health::Healthy => "healthy",
            Health::Slow => "slow",
            Health::Hung => "hung",
            Health::NotMounted => "not_mounted",
            Health::WrongType => "wrong_type",
        }
    }

    /// Containers may start on it (slow storage still works).
    pub fn is_usable(self) -> bool {
        matches!(self, Health::Healthy | Health::Slow)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StorageStatus {
    #[serde(rename = "type")]
    pub storage_type: StorageType,
    pub source: Option<String>,
    pub target: PathBuf,
    /// For `local` without a source: the target directory exists.
    pub mounted: bool,
    /// The mountinfo type at the target (for a plain directory: of the
    /// mount that holds it).
    pub mounted_type: Option<String>,
    pub mounted_source: Option<String>,
    pub health: Health,
    pub probe_ms: Option<u64>,
    /// One line for people, with the fix when there is one.
    pub message: String,
}

/// Looks at the storage without changing anything.
pub fn status(config: &StorageConfig) -> StorageStatus {
    let mut status = StorageStatus {
        storage_type: config.storage_type,
        source: config.source.clone(),
        target: config.target.clone(),
        mounted: false,
        mounted_type: None,
        mounted_source: None,
        health: Health::NotMounted,
        probe_ms: None,
        message: String::new(),
    };
    let table = match mount_table::read() {
        Ok(table) => table,
        Err(error) => {
            status.message = error.to_string();
            return status;
        }
    };
    let found = if config.is_plain_directory() {
        mount_holding(&table, &config.target)
    } else {
        top_mount_at(&table, &config.target)
    };
    if let Some(entry) = found {
        status.mounted_type = Some(entry.fs_type.clone());
        status.mounted_source = Some(entry.source.clone());
    }
    let entry = match found {
        Some(entry) => entry,
        None if config.is_plain_directory() => {
            status.message = format!("cannot tell which mount holds {}", config.target.display());
            return status;
        }
        None => {
            status.message = format!(
                "nothing is mounted at {}: run `vroot storage mount`",
                config.target.display()
            );
            return status;
        }
    };
    if !config.is_plain_directory() {
        status.mounted = true;
        if let Judgement::Other(found) = judge(config, &table, entry) {
            status.health = Health::WrongType;
            status.message = format!(
                "{found} is mounted there instead: unmount it, then run `vroot storage mount`"
            );
            return status;
        }
    }

    let probed = match probe(&config.target, config.probe_timeout) {
        Ok(probed) => probed,
        Err(error) => {
            status.health = Health::Hung;
            status.message = format!("cannot probe: {error}");
            return status;
        }
    };
    status.probe_ms = Some(probed.elapsed().as_millis() as u64);
    let (health, message) = judge_probe(config, &probed);
    if config.is_plain_directory() {
        status.mounted = !matches!(probed, Probe::Failed { .. });
    }
    status.health = health;
    status.message = message;
    status
}

fn judge_probe(config: &StorageConfig, probed: &Probe) -> (Health, String) {
    match *probed {
        Probe::Answered { magic, .. } if !identity::magic_matches(config.storage_type, magic) => (
            Health::WrongType,
            format!(
                "expected {}, found {}: unmount it, then run `vroot storage mount`",
                identity::describe_expected_magic(config.storage_type),
                identity::describe_magic(magic)
            ),
        ),
        Probe::Answered { elapsed, .. } if elapsed > SLOW_PROBE => (
            Health::Slow,
            format!("answers, but slowly: statfs took {}", seconds(elapsed)),
        ),
        Probe::Answered { elapsed, .. } => (
            Health::Healthy,
            format!("answers (statfs took {} ms)", elapsed.as_millis()),
        ),
        Probe::Failed { errno, .. } if config.is_plain_directory() => (
            Health::NotMounted,
            format!(
                "{} is not a usable directory ({}): create it",
                config.target.display(),
                errno.desc()
            ),
        ),
        Probe::Failed { errno, .. } => (
            Health::Hung,
            format!("statfs fails: {}: check the server", errno.desc()),
        ),
        Probe::Hung { left_behind, .. } => (
            Health::Hung,
            format!(
                "{}: check the server",
                describe_hang(config.probe_timeout, left_behind)
            ),
        ),
    }
}
