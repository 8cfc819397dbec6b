//! Writes the unit files: each to a temporary file in the same directory,
//! synced, then renamed over the old one, so that systemd (or a crash)
//! never sees half a unit.

use std::io::Write;
use std::path::{Path, PathBuf};

use super::UnitsError;

pub(crate) fn write_atomically(
    dir: &Path,
    name: &str,
    content: &str,
) -> Result<PathBuf, UnitsError> {
    let path = dir.join(name);
    let temporary = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let write_error = |source| UnitsError::Write {
        path: path.clone(),
        source,
    };
    let written = (|| {
        let mut file = std::fs::File::create(&temporary)?;
        file.write_all(content.as_bytes())?;
        file.sync_all()?;
        std::fs::rename(&temporary, &path)
    })();
    if let Err(source) = written {
        let _ = std::fs::remove_file(&temporary);
        return Err(write_error(source));
    }
    // The rename is durable once the directory is synced.
    std::fs::File::open(dir)
        .and_then(|directory| directory.sync_all())
        .map_err(write_error)?;
    Ok(path)
}
