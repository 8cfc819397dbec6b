//! The cluster agents: `fence_vroot`, a fence agent in the fence-agents
//! style that Pacemaker calls to fence a container, and an OCF resource
//! agent that lets Pacemaker run a container as a resource.
//!
//! Both are pure protocol logic (argument parsing, messages, exit codes,
//! metadata) over the [`ContainerControl`] trait; the binary supplies the
//! real container operations.

mod control;
mod fence_action;
mod fence_agent;
mod fence_args;
mod fence_help;
mod fence_metadata;
mod fence_options;
mod local;
mod ocf_agent;
mod ocf_metadata;
mod ocf_params;
mod xml;

pub use control::{ContainerControl, ControlFailure, FailureKind, Power};
pub use fence_agent::{run_fence_agent, Direction, FenceError};
pub use fence_args::FenceArgsError;
pub use fence_metadata::{fence_metadata, FENCE_AGENT_NAME};
pub use local::LocalContainers;
pub use ocf_agent::{run_ocf_agent, OcfError, OcfExit};
pub use ocf_metadata::{ocf_metadata, OCF_AGENT_NAME};
pub use ocf_params::OcfParamError;
