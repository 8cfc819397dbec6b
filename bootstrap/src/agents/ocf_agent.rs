//! The OCF resource agent that lets Pacemaker run a container as a
//! resource: start, stop, monitor, meta-data, validate-all.
//!
//! Pacemaker acts on the exit codes alone, so each one is chosen for the
//! recovery it causes: 7 only when nothing of the container is left, 5 for
//! "not on this host" (Pacemaker bans the host), 6 for a configuration that
//! is wrong everywhere (Pacemaker stops trying anywhere).

use std::collections::BTreeMap;
use std::io::Write;

use super::control::{ContainerControl, ControlFailure, FailureKind, Power};
use super::ocf_metadata::{ocf_metadata, OCF_AGENT_NAME};
use super::ocf_params::{
    container_name, operation_budget, OcfParamError, DEFAULT_START_TIMEOUT, DEFAULT_STOP_TIMEOUT,
};

/// The OCF exit codes this agent uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OcfExit {
    Success = 0,
    ErrGeneric = 1,
    ErrArgs = 2,
    Unimplemented = 3,
    ErrPerm = 4,
    ErrInstalled = 5,
    ErrConfigured = 6,
    NotRunning = 7,
}

impl OcfExit {
    pub fn code(self) -> i32 {
        self as i32
    }
}

#[derive(Debug, thiserror::Error)]
pub enum OcfError {
    #[error(transparent)]
    Param(#[from] OcfParamError),
    #[error("{operation} of container '{name}' failed: {failure}")]
    Control {
        operation: &'static str,
        name: String,
        failure: ControlFailure,
    },
    #[error("container '{name}' is fenced: only the fence agent's 'on' action (unfencing) lets it start again")]
    Fenced { name: String },
    #[error("container '{name}' is {state} after {operation}")]
    NotVerified {
        operation: &'static str,
        name: String,
        state: &'static str,
    },
    #[error("cannot write the output: {0}")]
    Output(#[source] std::io::Error),
}

impl OcfError {
    fn exit(&self) -> OcfExit {
        match self {
            OcfError::Param(_) => OcfExit::ErrConfigured,
            OcfError::Control { failure, .. } => match failure.kind {
                FailureKind::UnknownContainer => OcfExit::ErrInstalled,
                FailureKind::NotConfigured => OcfExit::ErrConfigured,
                FailureKind::Permission => OcfExit::ErrPerm,
                FailureKind::Timeout | FailureKind::Failed => OcfExit::ErrGeneric,
            },
            OcfError::Fenced { .. } | OcfError::NotVerified { .. } | OcfError::Output(_) => {
                OcfExit::ErrGeneric
            }
        }
    }
}

/// Runs the OCF agent. `args` excludes argv\[0\] and must be the one action;
/// `env` is the process environment. Returns the exit code.
pub fn run_ocf_agent(
    args: &[String],
    env: &BTreeMap<String, String>,
    control: &dyn ContainerControl,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> i32 {
    let [action] = args else {
        let _ = err.write_all(usage().as_bytes());
        return OcfExit::ErrArgs.code();
    };
    let agent = OcfAgent { env, control };
    let outcome = match action.as_str() {
        "meta-data" => write_all(out, &ocf_metadata()),
        "usage" | "help" => write_all(out, &usage()),
        "start" => agent.start(),
        "stop" => agent.stop(),
        "monitor" => agent.monitor(err),
        "validate-all" => agent.validate_all(),
        other => {
            let _ = writeln!(
                err,
                "ocf-exit-reason:action '{other}' is not implemented by {OCF_AGENT_NAME}"
            );
            Ok(OcfExit::Unimplemented)
        }
    };
    match outcome {
        Ok(exit) => exit.code(),
        Err(error) => {
            // Pacemaker shows lines with this prefix as the failure's reason.
            let _ = writeln!(err, "ocf-exit-reason:{error}");
            error.exit().code()
        }
    }
}

struct OcfAgent<'a> {
    env: &'a BTreeMap<String, String>,
    control: &'a dyn ContainerControl,
}

impl OcfAgent<'_> {
    /// Idempotent: a running container is left alone. A fenced one is
    /// refused, since only an explicit unfence may bring it back.
    fn start(&self) -> Result<OcfExit, OcfError> {
        let name = container_name(self.env)?;
        self.control
            .validate(name)
            .map_err(|failure| control_error("validation", name, failure))?;
        match self.power("start", name)? {
            Power::On => return Ok(OcfExit::Success),
            Power::Fenced => {
                return Err(OcfError::Fenced {
                    name: name.to_string(),
                })
            }
            Power::Off => {}
        }
        let budget = operation_budget(self.env, DEFAULT_START_TIMEOUT);
        self.control
            .start(name, budget)
            .map_err(|failure| control_error("start", name, failure))?;
        match self.power("start", name)? {
            Power::On => Ok(OcfExit::Success),
            other => Err(not_verified("start", name, other)),
        }
    }

    /// Idempotent: a container that is stopped, fenced or unknown here has
    /// nothing left to stop. Succeeds only once nothing is left, because
    /// Pacemaker takes a successful stop as leave to run it elsewhere.
    fn stop(&self) -> Result<OcfExit, OcfError> {
        let name = container_name(self.env)?;
        match self.control.power(name) {
            Ok(Power::On) => {}
            Ok(Power::Off | Power::Fenced) => return Ok(OcfExit::Success),
            Err(failure) if failure.kind == FailureKind::UnknownContainer => {
                return Ok(OcfExit::Success)
            }
            Err(failure) => return Err(control_error("stop", name, failure)),
        }
        let budget = operation_budget(self.env, DEFAULT_STOP_TIMEOUT);
        self.control
            .stop(name, budget)
            .map_err(|failure| control_error("stop", name, failure))?;
        match self.control.power(name) {
            Ok(Power::On) => Err(not_verified("stop", name, Power::On)),
            Ok(Power::Off | Power::Fenced) => Ok(OcfExit::Success),
            Err(failure) if failure.kind == FailureKind::UnknownContainer => Ok(OcfExit::Success),
            Err(failure) => Err(control_error("stop", name, failure)),
        }
    }

    /// 0 running, 7 not running. A fenced container is "not running" too:
    /// fencing verified that nothing of it is left, so there is nothing
    /// for Pacemaker to clean up (a failure code would only make it run a
    /// pointless stop), and its start is refused until it is unfenced. A
    /// container this host does not know is not running here either: that
    /// is what a probe on a host without its configuration must answer.
    fn monitor(&self, err: &mut dyn Write) -> Result<OcfExit, OcfError> {
        let name = container_name(self.env)?;
        match self.control.power(name) {
            // Running on storage that does not answer is a failure the
            // cluster must hear of: its recovery (a stop that fails, then
            // fence_vroot) is what frees the node.
            Ok(Power::On) => match self.control.trouble(name) {
                None => Ok(OcfExit::Success),
                Some(trouble) => {
                    let _ = writeln!(err, "ocf-exit-reason:container '{name}': {trouble}");
                    Ok(OcfExit::ErrGeneric)
                }
            },
            Ok(Power::Off) => Ok(OcfExit::NotRunning),
            Ok(Power::Fenced) => {
                let _ = writeln!(err, "ocf-exit-reason:container '{name}' is fenced");
                Ok(OcfExit::NotRunning)
            }
            Err(failure) if failure.kind == FailureKind::UnknownContainer => {
                Ok(OcfExit::NotRunning)
            }
            Err(failure) => Err(control_error("monitor", name, failure)),
        }
    }

    fn validate_all(&self) -> Result<OcfExit, OcfError> {
        let name = container_name(self.env)?;
        self.control
            .validate(name)
            .map_err(|failure| control_error("validation", name, failure))?;
        Ok(OcfExit::Success)
    }

    fn power(&self, operation: &'static str, name: &str) -> Result<Power, OcfError> {
        self.control
            .power(name)
            .map_err(|failure| control_error(operation, name, failure))
    }
}

fn control_error(operation: &'static str, name: &str, failure: ControlFailure) -> OcfError {
    OcfError::Control {
        operation,
        name: name.to_string(),
        failure,
    }
}

fn not_verified(operation: &'static str, name: &str, power: Power) -> OcfError {
    OcfError::NotVerified {
        operation,
        name: name.to_string(),
        state: match power {
            Power::On => "still running",
            Power::Off => "stopped",
            Power::Fenced => "fenced",
        },
    }
}

fn write_all(out: &mut dyn Write, text: &str) -> Result<OcfExit, OcfError> {
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .map_err(OcfError::Output)?;
    Ok(OcfExit::Success)
}

fn usage() -> String {
    format!(
        "usage: {OCF_AGENT_NAME} {{start|stop|monitor|validate-all|meta-data}}\n\
         The container is named by OCF_RESKEY_name; start and stop take their time limit \
         from OCF_RESKEY_CRM_meta_timeout (milliseconds, default {}s and {}s).\n",
        DEFAULT_START_TIMEOUT.as_secs(),
        DEFAULT_STOP_TIMEOUT.as_secs()
    )
}
