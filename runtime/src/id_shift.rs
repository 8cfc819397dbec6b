//! Moving a tree's owners into (or back out of) a user namespace's range,
//! so that a container whose ids 0.. are the host's BASE.. owns its files.
//! Needed where the kernel cannot map ids on the mount (NFS has no idmapped
//! mounts), and for the per-host layer vroot writes as the host's root.
//!
//! Besides the owner, a chown touches what the kernel ties to it: it clears
//! setuid and setgid bits and drops file capabilities. Both are put back,
//! capabilities as version 3 with the namespace's root as their owner (a
//! version 2 capability is ignored inside a user namespace). POSIX ACL
//! entries naming users or groups are shifted too. The walk stays on the
//! tree's own filesystem and never follows a symlink.

use std::ffi::{CStr, CString};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::config::IdRange;

#[derive(Debug, thiserror::Error)]
pub enum ShiftError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: owner {id} is in neither the host's ids 0..{size} nor the range {base}..{end}; chown it first", end = .base + .size)]
    Unmappable {
        path: PathBuf,
        id: u32,
        base: u32,
        size: u32,
    },
}

/// Which way ids move.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Host ids 0..size become base..base+size.
    Into,
    /// base..base+size become 0..size again.
    OutOf,
}

/// What a shift did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ShiftReport {
    pub changed: u64,
    pub unchanged: u64,
    /// Mount points below the tree that were left alone.
    pub other_filesystems: Vec<PathBuf>,
}

/// Where `id` goes; `None` when it is already there. Ids in neither range
/// are an error: they would be nobody inside.
fn moved(id: u32, range: IdRange, direction: Direction) -> Result<Option<u32>, u32> {
    let inside = range.to_inside(id);
    match direction {
        Direction::Into if inside.is_some() => Ok(None),
        Direction::Into => range.to_host(id).map(Some).ok_or(id),
        Direction::OutOf if id < range.size && inside.is_none() => Ok(None),
        Direction::OutOf => inside.map(Some).ok_or(id),
    }
}

const CAPABILITY_XATTR: &CStr = c"security.capability";
const ACL_XATTRS: [&CStr; 2] = [c"system.posix_acl_access", c"system.posix_acl_default"];

const VFS_CAP_REVISION_2: u32 = 0x0200_0000;
const VFS_CAP_REVISION_3: u32 = 0x0300_0000;
const VFS_CAP_REVISION_MASK: u32 = 0xff00_0000;

const ACL_USER: u16 = 0x02;
const ACL_GROUP: u16 = 0x08;

/// A file capability as it must be written after the chown: version 3,
/// its root id the namespace's root (`Into`) or dropped back to version 2
/// (`OutOf`). Unknown layouts are left as they were.
fn shifted_capability(value: &[u8], range: IdRange, direction: Direction) -> Vec<u8> {
    if value.len() < 20 {
        return value.to_vec();
    }
    let magic = u32::from_le_bytes(value[0..4].try_into().unwrap());
    let flags = magic & !VFS_CAP_REVISION_MASK;
    let revision = magic & VFS_CAP_REVISION_MASK;
    if revision != VFS_CAP_REVISION_2 && revision != VFS_CAP_REVISION_3 {
        return value.to_vec();
    }
    let body = &value[4..20];
    match direction {
        Direction::Into => {
            let mut shifted = (VFS_CAP_REVISION_3 | flags).to_le_bytes().to_vec();
            shifted.extend_from_slice(body);
            shifted.extend_from_slice(&range.base.to_le_bytes());
            shifted
        }
        Direction::OutOf => {
            let mut shifted = (VFS_CAP_REVISION_2 | flags).to_le_bytes().to_vec();
            shifted.extend_from_slice(body);
            shifted
        }
    }
}

/// A POSIX ACL xattr with its named users and groups moved.
fn shifted_acl(value: &[u8], range: IdRange, direction: Direction) -> Vec<u8> {
    let mut shifted = value.to_vec();
    // A 4-byte version, then 8-byte entries: tag (u16), perm (u16), id (u32).
    for entry in shifted[4.min(value.len())..].chunks_exact_mut(8) {
        let tag = u16::from_le_bytes([entry[0], entry[1]]);
        if tag == ACL_USER || tag == ACL_GROUP {
            let id = u32::from_le_bytes(entry[4..8].try_into().unwrap());
            if let Ok(Some(new)) = moved(id, range, direction) {
                entry[4..8].copy_from_slice(&new.to_le_bytes());
            }
        }
    }
    shifted
}

fn c_path(path: &Path) -> CString {
    CString::new(path.as_os_str().as_bytes()).expect("paths from the filesystem have no NUL")
}

fn get_xattr(path: &CStr, name: &CStr) -> Option<Vec<u8>> {
    let mut buffer = vec![0u8; 512];
    // SAFETY: lgetxattr writes at most buffer.len() bytes into buffer; both
    // strings are NUL-terminated.
    let length = unsafe {
        libc::lgetxattr(
            path.as_ptr(),
            name.as_ptr(),
            buffer.as_mut_ptr().cast(),
            buffer.len(),
        )
    };
    (length >= 0).then(|| {
        buffer.truncate(length as usize);
        buffer
    })
}

fn set_xattr(path: &Path, name: &CStr, value: &[u8]) -> Result<(), ShiftError> {
    let c = c_path(path);
    // SAFETY: lsetxattr reads value.len() bytes of value; the strings are
    // NUL-terminated.
    let result = unsafe {
        libc::lsetxattr(
            c.as_ptr(),
            name.as_ptr(),
            value.as_ptr().cast(),
            value.len(),
            0,
        )
    };
    if result != 0 {
        return Err(ShiftError::Io {
            path: path.to_path_buf(),
            source: std::io::Error::last_os_error(),
        });
    }
    Ok(())
}

fn shift_entry(
    path: &Path,
    metadata: &std::fs::Metadata,
    range: IdRange,
    direction: Direction,
    report: &mut ShiftReport,
) -> Result<(), ShiftError> {
    let unmappable = |id| ShiftError::Unmappable {
        path: path.to_path_buf(),
        id,
        base: range.base,
        size: range.size,
    };
    let uid = moved(metadata.uid(), range, direction).map_err(unmappable)?;
    let gid = moved(metadata.gid(), range, direction).map_err(unmappable)?;
    let c = c_path(path);
    let capability = get_xattr(&c, CAPABILITY_XATTR);
    let acls: Vec<(&CStr, Vec<u8>)> = ACL_XATTRS
        .iter()
        .filter_map(|name| get_xattr(&c, name).map(|value| (*name, value)))
        .collect();
    if uid.is_none() && gid.is_none() && capability.is_none() && acls.is_empty() {
        report.unchanged += 1;
        return Ok(());
    }
    let io = |source| ShiftError::Io {
        path: path.to_path_buf(),
        source,
    };
    std::os::unix::fs::lchown(path, uid, gid).map_err(io)?;
    let is_symlink = metadata.file_type().is_symlink();
    if !is_symlink && metadata.mode() & 0o6000 != 0 {
        // The chown cleared setuid/setgid.
        std::fs::set_permissions(
            path,
            std::os::unix::fs::PermissionsExt::from_mode(metadata.mode() & 0o7777),
        )
        .map_err(io)?;
    }
    if let Some(value) = capability {
        set_xattr(
            path,
            CAPABILITY_XATTR,
            &shifted_capability(&value, range, direction),
        )?;
    }
    for (name, value) in acls {
        set_xattr(path, name, &shifted_acl(&value, range, direction))?;
    }
    report.changed += 1;
    Ok(())
}

/// Shifts every entry of `dir` (itself included) on its filesystem.
pub fn shift_tree(
    dir: &Path,
    range: IdRange,
    direction: Direction,
) -> Result<ShiftReport, ShiftError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| ShiftError::Io { path, source }
    };
    let top = std::fs::symlink_metadata(dir).map_err(io(dir))?;
    let device = top.dev();
    let mut report = ShiftReport::default();
    shift_entry(dir, &top, range, direction, &mut report)?;
    let mut pending = vec![dir.to_path_buf()];
    while let Some(current) = pending.pop() {
        for entry in std::fs::read_dir(&current).map_err(io(&current))? {
            let entry = entry.map_err(io(&current))?;
            let path = entry.path();
            let metadata = std::fs::symlink_metadata(&path).map_err(io(&path))?;
            if metadata.dev() != device {
                report.other_filesystems.push(path);
                continue;
            }
            shift_entry(&path, &metadata, range, direction, &mut report)?;
            if metadata.is_dir() {
                pending.push(path);
            }
        }
    }
    Ok(report)
}

/// Whether `dir`'s owner lies in the range: a shifted tree.
pub fn is_shifted(dir: &Path, range: IdRange) -> std::io::Result<bool> {
    let metadata = std::fs::symlink_metadata(dir)?;
    Ok(range.to_inside(metadata.uid()).is_some())
}

/// A name for messages.
pub fn describe(range: IdRange) -> String {
    let last = u64::from(range.base) + u64::from(range.size) - 1;
    format!("{}..={last}", range.base)
}

#[cfg(test)]
mod tests {
    use super::*;

    const RANGE: IdRange = IdRange {
        base: 100_000,
        size: 65_536,
    };

    #[test]
    fn ids_move_into_the_range_and_back() {
        assert_eq!(moved(0, RANGE, Direction::Into), Ok(Some(100_000)));
        assert_eq!(moved(1000, RANGE, Direction::Into), Ok(Some(101_000)));
        assert_eq!(moved(100_007, RANGE, Direction::Into), Ok(None));
        assert_eq!(moved(70_000, RANGE, Direction::Into), Err(70_000));
        assert_eq!(moved(100_007, RANGE, Direction::OutOf), Ok(Some(7)));
        assert_eq!(moved(7, RANGE, Direction::OutOf), Ok(None));
        assert_eq!(moved(200_000, RANGE, Direction::OutOf), Err(200_000));
    }

    #[test]
    fn a_version_2_capability_becomes_version_3_owned_by_the_namespace_root() {
        // cap_net_raw+ep as setcap writes it: effective flag, permitted bit 13.
        let mut v2 = (VFS_CAP_REVISION_2 | 1).to_le_bytes().to_vec();
        v2.extend_from_slice(&(1u32 << 13).to_le_bytes());
        v2.extend_from_slice(&[0; 12]);
        let v3 = shifted_capability(&v2, RANGE, Direction::Into);
        assert_eq!(v3.len(), 24);
        assert_eq!(&v3[0..4], &(VFS_CAP_REVISION_3 | 1).to_le_bytes());
        assert_eq!(&v3[4..20], &v2[4..20]);
        assert_eq!(&v3[20..24], &100_000u32.to_le_bytes());
        assert_eq!(shifted_capability(&v3, RANGE, Direction::OutOf), v2);
    }

    #[test]
    fn acl_entries_naming_users_and_groups_move() {
        let mut acl = 2u32.to_le_bytes().to_vec();
        for (tag, id) in [
            (0x01u16, u32::MAX),
            (ACL_USER, 1000),
            (ACL_GROUP, 50),
            (0x20, u32::MAX),
        ] {
            acl.extend_from_slice(&tag.to_le_bytes());
            acl.extend_from_slice(&7u16.to_le_bytes());
            acl.extend_from_slice(&id.to_le_bytes());
        }
        let shifted = shifted_acl(&acl, RANGE, Direction::Into);
        let id_at = |bytes: &[u8], entry: usize| {
            u32::from_le_bytes(
                bytes[4 + 8 * entry + 4..4 + 8 * entry + 8]
                    .try_into()
                    .unwrap(),
            )
        };
        assert_eq!(id_at(&shifted, 0), u32::MAX);
        assert_eq!(id_at(&shifted, 1), 101_000);
        assert_eq!(id_at(&shifted, 2), 100_050);
        assert_eq!(shifted_acl(&shifted, RANGE, Direction::OutOf), acl);
    }

    #[test]
    fn a_tree_shifts_with_its_setuid_bits_and_back() {
        if unsafe { libc::geteuid() } != 0 {
            return;
        }
        let dir = std::env::temp_dir().join(format!("vroot-idshift-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("sub")).unwrap();
        let tool = dir.join("sub/tool");
        std::fs::write(&tool, b"x").unwrap();
        std::os::unix::fs::chown(&tool, Some(1000), Some(50)).unwrap();
        std::fs::set_permissions(&tool, std::os::unix::fs::PermissionsExt::from_mode(0o4755))
            .unwrap();
        std::os::unix::fs::symlink("sub/tool", dir.join("link")).unwrap();

        let report = shift_tree(&dir, RANGE, Direction::Into).unwrap();
        assert_eq!(report.changed, 4);
        let meta = std::fs::metadata(&tool).unwrap();
        assert_eq!((meta.uid(), meta.gid()), (101_000, 100_050));
        assert_eq!(meta.mode() & 0o7777, 0o4755);
        assert_eq!(
            std::fs::symlink_metadata(dir.join("link")).unwrap().uid(),
            100_000
        );
        assert!(is_shifted(&dir, RANGE).unwrap());
        // Twice is the same as once.
        assert_eq!(shift_tree(&dir, RANGE, Direction::Into).unwrap().changed, 0);

        shift_tree(&dir, RANGE, Direction::OutOf).unwrap();
        let meta = std::fs::metadata(&tool).unwrap();
        assert_eq!(
            (meta.uid(), meta.gid(), meta.mode() & 0o7777),
            (1000, 50, 0o4755)
        );
        assert!(!is_shifted(&dir, RANGE).unwrap());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
