//! vroot's per-host layer: which files of the shared root differ per host
//! (machine-id, hostname, network config, ssh host keys, logs, …), how each
//! is provided, and lint checks of a shared root.
//!
//! - [`manifest`]: the built-in per-host paths and their modes;
//! - [`config`]: the `[overlay]` table, validated into the entries that apply;
//! - [`plan`]: where each entry goes and which mounts realise it;
//! - [`prepare`]: filling the layer (templates, secrets, seeds, skel);
//! - [`status`] and [`diff`]: reading a layer back;
//! - [`lint`]: host-unique content left in a shared root.
//!
//! Nothing here mounts: the runtime makes the plan's mounts inside the
//! container's mount namespace.

pub mod config;
pub mod diff;
pub mod layout;
pub mod lint;
pub mod location;
pub mod manifest;
pub mod plan;
pub mod prepare;
pub mod record;
pub mod secret;
pub mod status;
pub mod template;
pub mod tree;
mod walk;
