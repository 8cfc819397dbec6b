//! vroot's per-host layer: which files of the shared root differ per host
//! (machine-id, hostname, network config, ssh host keys, logs, …), how each
//! is provided, and lint checks of a shared root. Pure planning and reading,
//! testable without root.
//!
//! So far: the built-in manifest ([`manifest`]) and the shared-root lint
//! ([`lint`]). Applying the layer at start comes with the rest of the
//! overlay issue; until then the runtime binds a host-local `machine-id` and
//! `hostname` over the root's own (`vroot_runtime::spec::IDENTITY_FILES`).

pub mod lint;
pub mod manifest;
mod walk;
