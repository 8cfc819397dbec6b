//! vroot's per-host layer: which files of the shared root differ per host
//! (machine-id, hostname, network config, ssh host keys, logs, …), how each
//! is provided (generated, secret, seeded, empty, tmpfs, shared), and lint
//! checks of a shared root. Pure planning, testable without root.
//!
//! Nothing is here yet: the per-host overlay issue fills it. Until then the
//! runtime itself binds a host-local `machine-id` and `hostname` over the
//! root's own (see `vroot_runtime::spec::IDENTITY_FILES`).
