//! The per-host layer must be host-local: not inside the shared root, not on
//! the filesystem that holds it, not on any network or cluster filesystem.
//! A layer there would be shared with (or reachable by) every other node,
//! and the host would depend on the shared storage for its own identity.

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum LocationError {
    #[error("the per-host layer {layer} is inside the shared root {root}; set [overlay] dir to a host-local directory such as /var/lib/vroot/hosts/NAME")]
    InsideRoot { layer: PathBuf, root: PathBuf },
    #[error("the per-host layer {layer} contains the shared root {root}; set [overlay] dir to a directory of its own")]
    ContainsRoot { layer: PathBuf, root: PathBuf },
    #[error("the per-host layer {layer} is on a {fs} filesystem, which is not host-local; set [overlay] dir to local storage such as /var/lib/vroot/hosts/NAME")]
    NetworkFilesystem { layer: PathBuf, fs: &'static str },
    #[error("cannot check where the per-host layer {path} lies: {source}")]
    Inspect {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Filesystems that are shared between hosts by nature (statfs f_type).
const SHARED_TYPES: &[(i64, &str)] = &[
    (0x6969, "nfs"),
    (0xff53_4d42, "cifs"),
    (0xfe53_4d42, "smb2"),
    (0x517b, "smb"),
    (0x00c3_6400, "ceph"),
    (0x0116_1970, "gfs2"),
    (0x7461_636f, "ocfs2"),
    (0x0102_1997, "9p"),
    (0x6573_5546, "fuse (glusterfs, virtiofs, …)"),
    (0x5346_414f, "afs"),
    (0x0bd0_0bd0, "lustre"),
];

/// The nearest existing ancestor of `path` (the path itself if it exists):
/// the layer may not exist yet, and then it will be created there.
fn existing_ancestor(path: &Path) -> PathBuf {
    let mut current = path.to_path_buf();
    while !current.exists() {
        if !current.pop() {
            return PathBuf::from("/");
        }
    }
    current
}

struct Where {
    fs_type: i64,
}

fn inspect(path: &Path) -> Result<Where, LocationError> {
    let error = |source| LocationError::Inspect {
        path: path.to_path_buf(),
        source,
    };
    let c_path = CString::new(path.as_os_str().as_bytes())
        .map_err(|_| error(std::io::Error::from_raw_os_error(libc::EINVAL)))?;
    // SAFETY: statfs only writes the struct we pass, which lives across
    // the call; the path is NUL-terminated.
    let statfs = unsafe {
        let mut statfs: libc::statfs = std::mem::zeroed();
        if libc::statfs(c_path.as_ptr(), &mut statfs) < 0 {
            return Err(error(std::io::Error::last_os_error()));
        }
        statfs
    };
    Ok(Where {
        #[allow(clippy::unnecessary_cast)]
        fs_type: statfs.f_type as i64,
    })
}

/// Refuses a layer directory that is not host-local for the shared `root`.
/// A root on local storage (a plain directory) may share its filesystem
/// with the layers: that filesystem is not shared with other hosts.
pub fn check_host_local(layer: &Path, root: &Path) -> Result<(), LocationError> {
    let canonical_root = root
        .canonicalize()
        .map_err(|source| LocationError::Inspect {
            path: root.to_path_buf(),
            source,
        })?;
    let ancestor = existing_ancestor(layer);
    let canonical_ancestor = ancestor
        .canonicalize()
        .map_err(|source| LocationError::Inspect {
            path: ancestor.clone(),
            source,
        })?;
    let canonical_layer =
        canonical_ancestor.join(layer.strip_prefix(&ancestor).unwrap_or(Path::new("")));
    if canonical_layer.starts_with(&canonical_root) {
        return Err(LocationError::InsideRoot {
            layer: layer.to_path_buf(),
            root: root.to_path_buf(),
        });
    }
    if canonical_root.starts_with(&canonical_layer) {
        return Err(LocationError::ContainsRoot {
            layer: layer.to_path_buf(),
            root: root.to_path_buf(),
        });
    }
    let layer_where = inspect(&canonical_ancestor)?;
    if let Some((_, fs)) = SHARED_TYPES
        .iter()
        .find(|(magic, _)| *magic == layer_where.fs_type)
    {
        return Err(LocationError::NetworkFilesystem {
            layer: layer.to_path_buf(),
            fs,
        });
    }
    Ok(())
}
