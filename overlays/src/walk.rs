//! Reading a shared root from the host without following its symlinks: the
//! root is written by every node, and lint runs as host root, so a symlink
//! planted there must not make it read (and report) host files.

use std::fs::Metadata;
use std::io::Read;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// `root` joined with an absolute in-root path like `/etc/machine-id`.
pub fn host_path(root: &Path, path: &str) -> PathBuf {
    root.join(path.trim_start_matches('/'))
}

/// Metadata of `path` inside `root`, never through a symlink: `None` when it
/// is missing or when any component, the last included, is a symlink.
pub fn lstat(root: &Path, path: &str) -> Option<Metadata> {
    let mut current = root.to_path_buf();
    let mut metadata = None;
    for component in path
        .trim_start_matches('/')
        .split('/')
        .filter(|c| !c.is_empty())
    {
        current.push(component);
        let found = std::fs::symlink_metadata(&current).ok()?;
        if found.file_type().is_symlink() {
            return None;
        }
        metadata = Some(found);
    }
    metadata
}

/// The first `limit` bytes of a regular file inside `root`, not through symlinks.
pub fn read_prefix(root: &Path, path: &str, limit: u64) -> Option<Vec<u8>> {
    if !lstat(root, path)?.is_file() {
        return None;
    }
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc_o_nofollow())
        .open(host_path(root, path))
        .ok()?;
    let mut bytes = Vec::new();
    file.take(limit).read_to_end(&mut bytes).ok()?;
    Some(bytes)
}

const fn libc_o_nofollow() -> i32 {
    // O_NOFOLLOW on Linux; spelled out to keep this crate free of libc.
    0o400000
}

/// Regular files below `dir` inside `root` (in-root paths), depth first,
/// without entering symlinked directories; at most `limit` of them.
pub fn files_below(root: &Path, dir: &str, limit: usize) -> Vec<String> {
    let mut found = Vec::new();
    let mut pending = vec![dir.trim_end_matches('/').to_string()];
    while let Some(current) = pending.pop() {
        if lstat(root, &current).is_none_or(|m| !m.is_dir()) {
            continue;
        }
        let Ok(entries) = std::fs::read_dir(host_path(root, &current)) else {
            continue;
        };
        let mut names: Vec<_> = entries.flatten().collect();
        names.sort_by_key(|entry| entry.file_name());
        for entry in names {
            let Some(name) = entry.file_name().to_str().map(str::to_string) else {
                continue;
            };
            let path = format!("{current}/{name}");
            match entry.file_type() {
                Ok(kind) if kind.is_dir() => pending.push(path),
                Ok(kind) if kind.is_file() => {
                    found.push(path);
                    if found.len() >= limit {
                        return found;
                    }
                }
                _ => {}
            }
        }
    }
    found
}
