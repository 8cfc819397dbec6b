//! The files of one per-host layer directory
//! (`/var/lib/vroot/hosts/NAME/` by default).
//!
//! - `root/` holds every per-host copy at its path in the container
//!   (`root/etc/hostname`, `root/var/log/…`). In `overlayfs` mode it is the
//!   root overlay's upper; in `bind` mode its directories are bound, or are
//!   the uppers of parent-directory overlays.
//! - `work/` holds overlayfs work directories; the container never sees it.
//! - `layer.json` records seeds and secrets; `lock` is held while a
//!   container runs on the layer.

use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerPaths {
    pub dir: PathBuf,
}

impl LayerPaths {
    pub fn new(dir: &Path) -> Self {
        LayerPaths {
            dir: dir.to_path_buf(),
        }
    }

    pub fn root(&self) -> PathBuf {
        self.dir.join("root")
    }

    pub fn work_dir(&self) -> PathBuf {
        self.dir.join("work")
    }

    pub fn work(&self, name: &str) -> PathBuf {
        self.work_dir().join(name)
    }

    pub fn lock(&self) -> PathBuf {
        self.dir.join("lock")
    }

    /// The host path of the per-host copy of `path` (an in-root path).
    pub fn copy_of(&self, path: &str) -> PathBuf {
        self.root().join(path.trim_start_matches('/'))
    }
}
