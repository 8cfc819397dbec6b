//! How a mounted filesystem identifies itself, twice: the statfs `f_type`
//! magic (what the kernel really mounted) and the `/proc/self/mountinfo`
//! type name (what was asked for). Verification wants both to match.

use super::fs_type::StorageType;

const NFS_MAGIC: u64 = 0x6969;
const FUSE_MAGIC: u64 = 0x6573_5546;
const CEPH_MAGIC: u64 = 0x00c3_6400;
const CIFS_MAGIC: u64 = 0xff53_4d42;
const SMB2_MAGIC: u64 = 0xfe53_4d42;
const V9FS_MAGIC: u64 = 0x0102_1997;
const GFS2_MAGIC: u64 = 0x0116_1970;
const OCFS2_MAGIC: u64 = 0x7461_636f;

/// Magics worth naming when something unexpected is mounted.
const KNOWN_MAGICS: &[(u64, &str)] = &[
    (NFS_MAGIC, "nfs"),
    (FUSE_MAGIC, "fuse"),
    (CEPH_MAGIC, "ceph"),
    (CIFS_MAGIC, "cifs"),
    (SMB2_MAGIC, "smb2"),
    (V9FS_MAGIC, "9p"),
    (GFS2_MAGIC, "gfs2"),
    (OCFS2_MAGIC, "ocfs2"),
    (0xef53, "ext4"),
    (0x5846_5342, "xfs"),
    (0x9123_683e, "btrfs"),
    (0x0102_1994, "tmpfs"),
    (0x794c_7630, "overlayfs"),
    (0x2fc1_2fc1, "zfs"),
    (0x9fa0, "proc"),
];

/// The statfs magics a storage type may show; empty means "any" (`local`).
pub(crate) fn expected_magics(storage_type: StorageType) -> &'static [u64] {
    match storage_type {
        StorageType::Nfs => &[NFS_MAGIC],
        StorageType::Glusterfs | StorageType::Virtiofs => &[FUSE_MAGIC],
        StorageType::Cephfs => &[CEPH_MAGIC],
        StorageType::Cifs => &[CIFS_MAGIC, SMB2_MAGIC],
        StorageType::NineP => &[V9FS_MAGIC],
        StorageType::Gfs2 => &[GFS2_MAGIC],
        StorageType::Ocfs2 => &[OCFS2_MAGIC],
        StorageType::Local => &[],
    }
}

/// The mountinfo type names a storage type may show; empty means "any".
pub(crate) fn expected_mountinfo_types(storage_type: StorageType) -> &'static [&'static str] {
    match storage_type {
        StorageType::Nfs => &["nfs", "nfs4"],
        StorageType::Glusterfs => &["fuse.glusterfs"],
        StorageType::Virtiofs => &["virtiofs"],
        StorageType::Cephfs => &["ceph"],
        StorageType::Cifs => &["cifs", "smb3"],
        StorageType::NineP => &["9p"],
        StorageType::Gfs2 => &["gfs2"],
        StorageType::Ocfs2 => &["ocfs2"],
        StorageType::Local => &[],
    }
}

pub(crate) fn magic_matches(storage_type: StorageType, magic: u64) -> bool {
    let expected = expected_magics(storage_type);
    expected.is_empty() || expected.contains(&(magic & 0xffff_ffff))
}

pub(crate) fn mountinfo_type_matches(storage_type: StorageType, fs_type: &str) -> bool {
    let expected = expected_mountinfo_types(storage_type);
    expected.is_empty() || expected.contains(&fs_type)
}

/// "ext4 (0xef53)", or just the number for a magic we do not know.
pub(crate) fn describe_magic(magic: u64) -> String {
    let magic = magic & 0xffff_ffff;
    match KNOWN_MAGICS.iter().find(|(known, _)| *known == magic) {
        Some((_, name)) => format!("{name} ({magic:#x})"),
        None => format!("an unknown filesystem ({magic:#x})"),
    }
}

/// "nfs (0x6969)", "cifs (0xff534d42 or 0xfe534d42)".
pub(crate) fn describe_expected_magic(storage_type: StorageType) -> String {
    let magics: Vec<String> = expected_magics(storage_type)
        .iter()
        .map(|magic| format!("{magic:#x}"))
        .collect();
    format!("{storage_type} ({})", magics.join(" or "))
}

/// "nfs or nfs4".
pub(crate) fn describe_expected_mountinfo_types(storage_type: StorageType) -> String {
    expected_mountinfo_types(storage_type).join(" or ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_known_and_unknown_magics() {
        assert_eq!(describe_magic(0xef53), "ext4 (0xef53)");
        assert_eq!(describe_magic(0x1234), "an unknown filesystem (0x1234)");
        assert_eq!(
            describe_expected_magic(StorageType::Cifs),
            "cifs (0xff534d42 or 0xfe534d42)"
        );
        assert_eq!(describe_expected_magic(StorageType::Nfs), "nfs (0x6969)");
    }

    #[test]
    fn sign_extended_magics_still_match() {
        // f_type is a signed long: CIFS's magic may come back sign-extended.
        assert!(magic_matches(StorageType::Cifs, 0xffff_ffff_ff53_4d42));
        assert!(!magic_matches(StorageType::Nfs, 0xef53));
        assert!(magic_matches(StorageType::Local, 0xef53));
    }
}
