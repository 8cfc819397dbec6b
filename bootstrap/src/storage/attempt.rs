//! One mount attempt: the plan's mount(2) call or helper command, run in a
//! child with a deadline, and its failure put into words with a hint.

use std::ffi::CString;
use std::path::Path;
use std::time::Duration;

use nix::errno::Errno;

use super::child::{self, ChildCall, ChildStatus, EXIT_EXEC_FAILED};
use super::config::StorageConfig;
use super::error::StorageError;
use super::fs_type::StorageType;
use super::plan::MountPlan;
use super::probe::{path_cstring, seconds};

/// The environment a helper runs with: a fixed PATH, nothing inherited.
const HELPER_PATH: &str = "PATH=/usr/sbin:/usr/bin:/sbin:/bin";

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum AttemptFailure {
    /// mount(2) failed with this errno.
    Syscall(Errno),
    /// The helper exited non-zero; `message` is the last line it printed.
    Helper {
        program: String,
        code: i32,
        message: String,
    },
    Killed {
        signal: i32,
    },
    /// Still running at the deadline; `left_behind` if SIGKILL did not end it.
    Overran {
        after: Duration,
        pid: i32,
        left_behind: bool,
    },
}

impl AttemptFailure {
    /// "mount: Connection timed out", "mount.nfs: access denied by server".
    pub(crate) fn describe(&self) -> String {
        match self {
            AttemptFailure::Syscall(errno) => format!("mount: {}", errno.desc()),
            AttemptFailure::Helper {
                program,
                code: EXIT_EXEC_FAILED,
                message,
            } if message.is_empty() => format!("{program} could not be run (exit status 127)"),
            AttemptFailure::Helper {
                program,
                code,
                message,
            } if message.is_empty() => format!("{program} exited with status {code}"),
            AttemptFailure::Helper { message, .. } => message.clone(),
            AttemptFailure::Killed { signal } => {
                format!("the mount process was killed by signal {signal}")
            }
            AttemptFailure::Overran {
                after,
                pid,
                left_behind,
            } => {
                let stuck = if *left_behind {
                    format!(" (process {pid} is stuck in the kernel and was left behind)")
                } else {
                    String::new()
                };
                format!("mount: no answer within {}{stuck}", seconds(*after))
            }
        }
    }

    /// Errors that another attempt cannot fix: stop retrying at once.
    pub(crate) fn is_permanent(&self) -> bool {
        matches!(
            self,
            AttemptFailure::Syscall(
                Errno::ENODEV
                    | Errno::EINVAL
                    | Errno::EPERM
                    | Errno::ENOTBLK
                    | Errno::ENOTDIR
                    | Errno::EOPNOTSUPP
            )
        )
    }

    /// What to do about it, for the end of the error line.
    pub(crate) fn hint(&self, config: &StorageConfig, plan: &MountPlan) -> String {
        let errno = match self {
            AttemptFailure::Syscall(errno) => *errno,
            AttemptFailure::Overran { .. } if config.storage_type.is_network() => {
                return "check that the server is reachable".into()
            }
            AttemptFailure::Overran { .. } => {
                return "check that the device answers, or raise `mount_timeout`".into()
            }
            AttemptFailure::Helper { .. } | AttemptFailure::Killed { .. } => {
                return "check `source`, `options` and `helper`".into()
            }
        };
        match errno {
            Errno::ETIMEDOUT
            | Errno::EHOSTUNREACH
            | Errno::ENETUNREACH
            | Errno::ECONNREFUSED
            | Errno::EHOSTDOWN => "check that the server is reachable".into(),
            Errno::ENODEV => match plan {
                MountPlan::Kernel { fs_type, .. } => format!(
                    "this kernel has no {fs_type} filesystem: load it (modprobe {}), or use a kernel that has it",
                    config.storage_type.kernel_module(fs_type)
                ),
                _ => "check `source`".into(),
            },
            Errno::ENOENT => match config.storage_type {
                StorageType::NineP | StorageType::Virtiofs => {
                    "check `source`: no virtio device offers that tag".into()
                }
                StorageType::Gfs2 | StorageType::Ocfs2 => {
                    "check `source`: the block device does not exist".into()
                }
                StorageType::Local => "check `source`: the directory does not exist".into(),
                _ => "check `source`: the server has no such export".into(),
            },
            Errno::EACCES => "check that the server exports it to this host".into(),
            Errno::EPERM => "run as root (mounting needs CAP_SYS_ADMIN)".into(),
            Errno::EINVAL => "check `options` and `source`".into(),
            Errno::ENOTBLK => "`source` must be a block device".into(),
            Errno::ENOTDIR => "`target` (or a bind `source`) is not a directory".into(),
            Errno::EBUSY => "the device or the target is in use".into(),
            _ => "check `source` and `options`".into(),
        }
    }
}

/// Mounts once, giving up at `deadline`.
pub(crate) fn attempt(
    config: &StorageConfig,
    plan: &MountPlan,
    deadline: Duration,
) -> Result<Result<(), AttemptFailure>, StorageError> {
    let call = child_call(config, plan)?;
    let end = child::run(&call, deadline)?;
    let program_name = || match plan {
        MountPlan::Helper { program, .. } => program
            .file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_else(|| program.display().to_string()),
        _ => "mount".to_string(),
    };
    Ok(match end.status {
        ChildStatus::Exited(0) => Ok(()),
        ChildStatus::Exited(code) if matches!(plan, MountPlan::Helper { .. }) => {
            Err(AttemptFailure::Helper {
                program: program_name(),
                code,
                message: last_line(&end.output),
            })
        }
        ChildStatus::Exited(code) => Err(AttemptFailure::Syscall(Errno::from_raw(code))),
        ChildStatus::Signalled(signal) => Err(AttemptFailure::Killed { signal }),
        ChildStatus::Overran { pid, left_behind } => Err(AttemptFailure::Overran {
            after: end.elapsed,
            pid,
            left_behind,
        }),
    })
}

/// A helper's last non-empty line, which is where mount helpers put the
/// reason ("mount.nfs: Connection timed out").
fn last_line(output: &[u8]) -> String {
    String::from_utf8_lossy(output)
        .lines()
        .map(str::trim)
        .rfind(|line| !line.is_empty())
        .unwrap_or("")
        .to_string()
}

fn child_call(config: &StorageConfig, plan: &MountPlan) -> Result<ChildCall, StorageError> {
    let target = path_cstring(&config.target)?;
    let text = |value: &str| {
        CString::new(value).map_err(|_| StorageError::Sys {
            what: "pass a mount argument containing a NUL byte",
            source: Errno::EINVAL,
        })
    };
    Ok(match plan {
        MountPlan::PlainDirectory => unreachable!("a plain directory is never mounted"),
        MountPlan::Bind { source } => ChildCall::Mount {
            source: text(source)?,
            target,
            fs_type: text("none")?,
            flags: libc::MS_BIND,
            data: None,
        },
        MountPlan::Kernel {
            source,
            fs_type,
            options,
        } => ChildCall::Mount {
            source: text(source)?,
            target,
            fs_type: text(fs_type)?,
            flags: 0,
            data: if options.is_empty() {
                None
            } else {
                Some(text(&options.join(","))?)
            },
        },
        MountPlan::Helper {
            program,
            source,
            options,
        } => {
            check_helper(config, program)?;
            let program = path_cstring(program)?;
            let mut argv = vec![program.clone(), text(source)?, target];
            if !options.is_empty() {
                argv.push(text("-o")?);
                argv.push(text(&options.join(","))?);
            }
            ChildCall::Exec {
                program,
                argv,
                env: vec![text(HELPER_PATH)?],
            }
        }
    })
}

/// The helper is a host-local program: checking it here is safe, and it
/// turns "exit status 127" into a message that names the file.
fn check_helper(config: &StorageConfig, program: &Path) -> Result<(), StorageError> {
    use std::os::unix::fs::PermissionsExt;
    let problem = match std::fs::metadata(program) {
        Ok(metadata) if metadata.is_file() && metadata.permissions().mode() & 0o111 != 0 => {
            return Ok(())
        }
        Ok(_) => "is not an executable file",
        Err(_) => "does not exist",
    };
    Err(StorageError::Helper {
        storage: config.describe(),
        reason: format!(
            "helper {} {problem}: install it, or fix `helper` in {}",
            program.display(),
            config.origin.display()
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_helpers_last_line_is_its_reason() {
        assert_eq!(
            last_line(b"mount.nfs: trying\nmount.nfs: Connection timed out\n\n"),
            "mount.nfs: Connection timed out"
        );
        assert_eq!(last_line(b""), "");
    }

    #[test]
    fn describes_failures() {
        assert_eq!(
            AttemptFailure::Syscall(Errno::ETIMEDOUT).describe(),
            "mount: Connection timed out"
        );
        assert!(AttemptFailure::Syscall(Errno::ENODEV).is_permanent());
        assert!(!AttemptFailure::Syscall(Errno::ETIMEDOUT).is_permanent());
    }
}
