//! The host's shared storage at `/vz/private`: where every container root
//! lives, mounted from the cluster's shared filesystem (NFS, GlusterFS,
//! CephFS, CIFS, 9p, virtiofs, GFS2, OCFS2) or a plain local directory.
//!
//! Configured by `/etc/vroot/storage.toml` ([`StorageConfig`]). [`mount`],
//! [`umount`], [`status`] and [`check_root_ready`] never block on storage
//! that hangs: every call that touches the mounted filesystem runs in a
//! forked child with a deadline (see `child.rs`), and what is mounted where
//! is read from `/proc/self/mountinfo`, which never touches it.

mod attempt;
mod child;
mod config;
mod error;
mod fs_type;
mod identity;
mod mount;
mod mount_table;
mod plan;
mod probe;
mod ready;
mod source;
mod status;
mod target_dir;
mod umount;

pub use config::{StorageConfig, DEFAULT_TARGET};
pub use error::StorageError;
pub use fs_type::StorageType;
pub use mount::{mount, mount_reporting, MountOutcome, MountReport};
pub use ready::{check_root_ready, lexically_normal};
pub use status::{status, Health, StorageStatus};
pub use umount::umount;
