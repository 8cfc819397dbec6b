//! The storage types `storage.toml` accepts, and what each one means to the
//! kernel: its filesystem type name, its default mount options and whether
//! it lives on the network.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StorageType {
    Nfs,
    Glusterfs,
    Cephfs,
    Cifs,
    #[serde(rename = "9p")]
    NineP,
    Virtiofs,
    Gfs2,
    Ocfs2,
    /// A directory on the host: nothing to mount, or a bind mount of `source`.
    Local,
}

impl StorageType {
    pub fn as_str(self) -> &'static str {
        match self {
            StorageType::Nfs => "nfs",
            StorageType::Glusterfs => "glusterfs",
            StorageType::Cephfs => "cephfs",
            StorageType::Cifs => "cifs",
            StorageType::NineP => "9p",
            StorageType::Virtiofs => "virtiofs",
            StorageType::Gfs2 => "gfs2",
            StorageType::Ocfs2 => "ocfs2",
            StorageType::Local => "local",
        }
    }

    /// Storage that needs the network (and, for the cluster filesystems, the
    /// cluster stack that runs over it) before it can be mounted.
    pub fn is_network(self) -> bool {
        match self {
            StorageType::Nfs
            | StorageType::Glusterfs
            | StorageType::Cephfs
            | StorageType::Cifs
            | StorageType::Gfs2
            | StorageType::Ocfs2 => true,
            StorageType::NineP | StorageType::Virtiofs | StorageType::Local => false,
        }
    }

    /// Options every mount of this type gets before the configured ones
    /// (the kernel lets a later option override an earlier one).
    pub fn default_options(self) -> &'static [&'static str] {
        match self {
            // hard: a server outage stalls I/O instead of corrupting it with
            // errors; nosharecache: this mount's options are its own even if
            // the host mounts the same server elsewhere.
            StorageType::Nfs => &["hard", "nosharecache"],
            StorageType::NineP => &["trans=virtio", "version=9p2000.L"],
            _ => &[],
        }
    }

    /// The filesystem type to pass to mount(2), given the assembled options
    /// (NFS picks `nfs4` for `vers=4.x`). `None` for types mount(2) cannot
    /// mount by itself (glusterfs needs its FUSE helper) and for `local`.
    pub fn kernel_type(self, options: &[String]) -> Option<&'static str> {
        match self {
            StorageType::Nfs => Some(if nfs_version_is_4(options) {
                "nfs4"
            } else {
                "nfs"
            }),
            StorageType::Cephfs => Some("ceph"),
            StorageType::Cifs => Some("cifs"),
            StorageType::NineP => Some("9p"),
            StorageType::Virtiofs => Some("virtiofs"),
            StorageType::Gfs2 => Some("gfs2"),
            StorageType::Ocfs2 => Some("ocfs2"),
            StorageType::Glusterfs | StorageType::Local => None,
        }
    }

    /// The kernel module that provides a filesystem type, for the hint when
    /// the kernel does not know the type.
    pub fn kernel_module(self, kernel_type: &str) -> &'static str {
        match (self, kernel_type) {
            (StorageType::Nfs, "nfs4") => "nfsv4",
            (StorageType::Nfs, _) => "nfs",
            (StorageType::Cephfs, _) => "ceph",
            (StorageType::Cifs, _) => "cifs",
            (StorageType::NineP, _) => "9pnet_virtio",
            (StorageType::Virtiofs, _) => "virtiofs",
            (StorageType::Gfs2, _) => "gfs2",
            (StorageType::Ocfs2, _) => "ocfs2",
            (StorageType::Glusterfs, _) => "fuse",
            (StorageType::Local, _) => "",
        }
    }
}

impl std::fmt::Display for StorageType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The last `vers=`/`nfsvers=` option wins, as in the kernel.
fn nfs_version_is_4(options: &[String]) -> bool {
    options
        .iter()
        .rev()
        .find_map(|option| {
            option
                .strip_prefix("vers=")
                .or_else(|| option.strip_prefix("nfsvers="))
        })
        .is_some_and(|version| version == "4" || version.starts_with("4."))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(options: &[&str]) -> Vec<String> {
        options.iter().map(|option| option.to_string()).collect()
    }

    #[test]
    fn nfs_version_4_selects_the_nfs4_type() {
        let kernel_type = |options: &[&str]| StorageType::Nfs.kernel_type(&strings(options));
        assert_eq!(kernel_type(&["hard"]), Some("nfs"));
        assert_eq!(kernel_type(&["vers=4.2"]), Some("nfs4"));
        assert_eq!(kernel_type(&["nfsvers=4"]), Some("nfs4"));
        assert_eq!(kernel_type(&["vers=4.1", "vers=3"]), Some("nfs"));
        assert_eq!(kernel_type(&["vers=42"]), Some("nfs"));
    }
}
