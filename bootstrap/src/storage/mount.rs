//! `vroot storage mount`: mounts the configured storage at the target,
//! retrying until `mount_timeout`, then verifies that what got mounted is
//! what was configured. Idempotent: a correct mount already there is fine.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde::Serialize;

use super::attempt::{attempt, AttemptFailure};
use super::config::StorageConfig;
use super::error::{attempts_phrase, StorageError};
use super::identity;
use super::mount_table::{self, describe_mount, judge, top_mount_at, Judgement};
use super::plan::{self, MountPlan};
use super::probe::{describe_hang, probe, seconds, Probe};
use super::target_dir;
use super::umount::undo_wrong_mount;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MountOutcome {
    /// This call mounted the storage.
    Mounted,
    /// The configured storage was mounted already; nothing was done.
    AlreadyMounted,
    /// `local` without a source: the target is a directory, nothing to mount.
    PlainDirectory,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MountReport {
    pub outcome: MountOutcome,
    pub target: PathBuf,
    /// Mount attempts made (0 when nothing needed mounting).
    pub attempts: u32,
    pub elapsed_ms: u64,
    /// One line for people: "storage nfs ... at /vz/private: mounted after 1 attempt in 0.2s".
    pub message: String,
}

impl std::fmt::Display for MountReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// Mounts `config`'s storage at its target (see the module comment). To
/// change a timeout for one call, clone the config and set the field.
pub fn mount(config: &StorageConfig) -> Result<MountReport, StorageError> {
    mount_reporting(config, &mut vroot_runtime::progress::Quiet)
}

/// [`mount`], saying after each failed attempt what it waits for.
pub fn mount_reporting(
    config: &StorageConfig,
    progress: &mut dyn vroot_runtime::progress::Progress,
) -> Result<MountReport, StorageError> {
    let started = Instant::now();
    let report = |outcome, attempts, message: String| MountReport {
        outcome,
        target: config.target.clone(),
        attempts,
        elapsed_ms: started.elapsed().as_millis() as u64,
        message: format!("{}: {message}", config.describe()),
    };
    if config.is_plain_directory() {
        check_plain_directory(config)?;
        return Ok(report(
            MountOutcome::PlainDirectory,
            0,
            "a directory on this host, nothing to mount".into(),
        ));
    }

    let table = mount_table::read()?;
    if let Some(entry) = top_mount_at(&table, &config.target) {
        return match judge(config, &table, entry) {
            Judgement::Configured => {
                verify_answers(config, false)?;
                Ok(report(
                    MountOutcome::AlreadyMounted,
                    0,
                    format!("already mounted ({})", describe_mount(entry)),
                ))
            }
            Judgement::Other(found) => Err(StorageError::Occupied {
                storage: config.describe(),
                target: config.target.clone(),
                found,
            }),
        };
    }

    // Planned only now: an existing mount needs no helper.
    let plan = plan::plan(config)?;
    target_dir::create(config)?;
    let attempts = attempt_until_deadline(config, &plan, started, progress)?;
    verify_new_mount(config)?;
    Ok(report(
        MountOutcome::Mounted,
        attempts,
        format!(
            "mounted after {} in {}",
            attempts_phrase(&attempts),
            seconds(started.elapsed())
        ),
    ))
}

/// Attempts every `retry_interval` until one succeeds or `mount_timeout`
/// (counted from `started`) runs out; each attempt may use all the time
/// that is left. Returns the number of attempts.
fn attempt_until_deadline(
    config: &StorageConfig,
    plan: &MountPlan,
    started: Instant,
    progress: &mut dyn vroot_runtime::progress::Progress,
) -> Result<u32, StorageError> {
    let deadline = started + config.mount_timeout;
    let mut attempts = 0;
    loop {
        attempts += 1;
        let left = deadline
            .saturating_duration_since(Instant::now())
            .max(Duration::from_millis(100));
        let failure = match attempt(config, plan, left)? {
            Ok(()) => return Ok(attempts),
            Err(failure) => failure,
        };
        // A mount that completed just as its process was killed counts.
        if matches!(failure, AttemptFailure::Overran { .. }) && is_mounted_as_configured(config)? {
            return Ok(attempts);
        }
        let out_of_time = Instant::now() + config.retry_interval >= deadline;
        if failure.is_permanent()
            || matches!(failure, AttemptFailure::Overran { .. })
            || out_of_time
        {
            return Err(StorageError::MountFailed {
                storage: config.describe(),
                attempts,
                elapsed: seconds(started.elapsed()),
                reason: format!("{}; {}", failure.describe(), failure.hint(config, plan)),
            });
        }
        progress.waiting(
            &format!(
                "the storage (attempt {attempts} failed: {})",
                failure.describe()
            ),
            started.elapsed(),
            config.mount_timeout,
        );
        std::thread::sleep(config.retry_interval);
    }
}

fn is_mounted_as_configured(config: &StorageConfig) -> Result<bool, StorageError> {
    let table = mount_table::read()?;
    Ok(top_mount_at(&table, &config.target)
        .is_some_and(|entry| judge(config, &table, entry) == Judgement::Configured))
}

/// After mounting: the target is a mount point of the right type (by
/// mountinfo and by statfs); a wrong filesystem is unmounted again.
fn verify_new_mount(config: &StorageConfig) -> Result<(), StorageError> {
    let table = mount_table::read()?;
    let Some(entry) = top_mount_at(&table, &config.target) else {
        return Err(StorageError::Target {
            storage: config.describe(),
            target: config.target.clone(),
            problem: "is not a mount point after mounting: if a component of `target` is a symlink, write the real path".into(),
        });
    };
    if let Judgement::Other(found) = judge(config, &table, entry) {
        return Err(StorageError::WrongFilesystem {
            storage: config.describe(),
            expected: format!(
                "{} in /proc/self/mountinfo",
                identity::describe_expected_mountinfo_types(config.storage_type)
            ),
            found,
            aftermath: undo_wrong_mount(config),
        });
    }
    verify_answers(config, true)
}

/// The statfs probe answers in time with the configured type's magic.
fn verify_answers(config: &StorageConfig, unmount_if_wrong: bool) -> Result<(), StorageError> {
    let unhealthy = |problem: String| StorageError::Unhealthy {
        storage: config.describe(),
        problem,
    };
    match probe(&config.target, config.probe_timeout)? {
        Probe::Answered { magic, .. } if identity::magic_matches(config.storage_type, magic) => {
            Ok(())
        }
        Probe::Answered { magic, .. } => Err(StorageError::WrongFilesystem {
            storage: config.describe(),
            expected: identity::describe_expected_magic(config.storage_type),
            found: identity::describe_magic(magic),
            aftermath: if unmount_if_wrong {
                undo_wrong_mount(config)
            } else {
                "left it mounted"
            },
        }),
        Probe::Failed { errno, .. } => Err(unhealthy(format!(
            "statfs fails: {}; check the server, then `vroot storage status`",
            errno.desc()
        ))),
        Probe::Hung { left_behind, .. } => Err(unhealthy(format!(
            "{}: check the server; `vroot storage umount --lazy` detaches it",
            describe_hang(config.probe_timeout, left_behind)
        ))),
    }
}

/// `local` without a source: the target must already be a directory. It is
/// not created: a missing directory usually means the disk that should
/// hold it is not mounted.
fn check_plain_directory(config: &StorageConfig) -> Result<(), StorageError> {
    let problem = match probe(&config.target, config.probe_timeout)? {
        Probe::Answered { .. } => return Ok(()),
        Probe::Failed { errno, .. } => format!(
            "is not a usable directory ({}): create it, or configure the storage in {}",
            errno.desc(),
            config.origin.display()
        ),
        Probe::Hung { left_behind, .. } => describe_hang(config.probe_timeout, left_behind),
    };
    Err(StorageError::Target {
        storage: config.describe(),
        target: config.target.clone(),
        problem,
    })
}
