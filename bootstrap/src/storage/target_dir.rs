//! Creates the mount point. The target is on the host's own disk, but its
//! parent could itself be some other mount that hangs, so the mkdir calls
//! run in a child with a deadline like everything else near the storage.

use std::ffi::CString;
use std::path::{Path, PathBuf};

use nix::errno::Errno;

use super::child::{self, ChildCall, ChildStatus};
use super::config::StorageConfig;
use super::error::StorageError;
use super::probe::{path_cstring, seconds};

/// `mkdir -p` of the target, within the probe timeout.
pub(crate) fn create(config: &StorageConfig) -> Result<(), StorageError> {
    let mut ancestors: Vec<PathBuf> = config
        .target
        .ancestors()
        .filter(|path| path.parent().is_some())
        .map(Path::to_path_buf)
        .collect();
    ancestors.reverse();
    let paths = ancestors
        .iter()
        .map(|path| path_cstring(path))
        .collect::<Result<Vec<CString>, _>>()?;
    let deadline = config.probe_timeout;
    let end = child::run(&ChildCall::MakeDirs { paths }, deadline)?;
    let problem = match end.status {
        ChildStatus::Exited(0) => return Ok(()),
        ChildStatus::Exited(code) => format!(
            "cannot be created: {}; create it, or fix `target`",
            Errno::from_raw(code).desc()
        ),
        ChildStatus::Signalled(signal) => {
            format!("cannot be created: mkdir was killed by signal {signal}")
        }
        ChildStatus::Overran { .. } => format!(
            "cannot be created: mkdir did not finish within {}; is a parent directory on storage that hangs?",
            seconds(deadline)
        ),
    };
    Err(StorageError::Target {
        storage: config.describe(),
        target: config.target.clone(),
        problem,
    })
}
