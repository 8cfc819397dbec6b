//! vroot's runtime: a cluster's shared root run as a system container.
//!
//! The one input is an OCI runtime spec rendered from `/etc/vroot/NAME.toml`
//! ([`spec::render`]). A per-container supervisor ([`supervisor`]) creates the
//! init in new namespaces ([`container`]), keeps its console, classifies its
//! end ([`init_end`]) and answers a control socket; [`lifecycle`] holds the
//! operations the command line offers.

pub mod capabilities;
pub mod cgroups;
pub mod config;
pub mod container;
pub mod deadline_child;
pub mod fence;
pub mod flavour;
pub mod host_facts;
pub mod host_layer;
pub mod id_shift;
pub mod init_end;
pub mod lifecycle;
pub mod lock;
pub mod logging;
pub mod mountinfo;
pub mod network;
pub mod paths;
pub mod process;
pub mod progress;
pub mod seccomp;
pub mod signal;
pub mod spec;
pub mod state;
pub mod supervisor;
