//! fence_vroot: the fence-agents protocol over [`ContainerControl`].
//!
//! Every failure exits 1; `status` exits 2 for a container that is off.
//! Messages follow the real agents ("Success: Powered OFF", "Success:
//! Already OFF", "Status: ON"), because operators and tests grep for them.

use std::io::{BufRead, Write};

use vroot_runtime::config::validate_name;

use super::control::{ContainerControl, ControlFailure, FailureKind, Power};
use super::fence_action::FenceAction;
use super::fence_args::{parse_command_line, parse_stdin, FenceArgsError, FenceRequest};
use super::fence_help::fence_usage;
use super::fence_metadata::{fence_metadata, FENCE_AGENT_NAME};

const EXIT_SUCCESS: i32 = 0;
const EXIT_FAILURE: i32 = 1;
/// `status` on a container that is off: the fence-agents API's "reachable
/// but in the off state".
const EXIT_STATUS_OFF: i32 = 2;

/// Which way a power change went, as the messages spell it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Off,
    On,
}

impl std::fmt::Display for Direction {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(match self {
            Direction::Off => "OFF",
            Direction::On => "ON",
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum FenceError {
    #[error(transparent)]
    Args(#[from] FenceArgsError),
    #[error("Failed: You have to enter plug number or machine identification")]
    MissingTarget,
    #[error("Failed: Unable to obtain correct plug status or plug is not available: invalid container name '{name}': {reason}")]
    InvalidName { name: String, reason: String },
    #[error("Failed: Unable to obtain correct plug status or plug is not available: {0}")]
    Status(ControlFailure),
    #[error("Failed: Timed out waiting to power {direction}: {failure}")]
    TimedOut {
        direction: Direction,
        failure: ControlFailure,
    },
    #[error("Failed: Unable to power {direction}: {failure}")]
    PowerFailed {
        direction: Direction,
        failure: ControlFailure,
    },
    #[error(
        "Failed: Timed out waiting to power {direction}: container '{name}' is {state} afterwards"
    )]
    NotVerified {
        direction: Direction,
        name: String,
        state: &'static str,
    },
    #[error("Failed: Unable to list the containers: {0}")]
    List(ControlFailure),
    #[error("Failed: This host cannot fence: {0}")]
    Monitor(ControlFailure),
    #[error("Failed: validate-all failed: {0}")]
    Validate(ControlFailure),
    #[error("Failed: Unable to write the output: {0}")]
    Output(#[source] std::io::Error),
}

/// Runs the fence agent. `args` excludes argv\[0\]; with none, the options
/// are read as `key=value` lines from `stdin`. Returns the exit code.
pub fn run_fence_agent(
    args: &[String],
    stdin: &mut dyn BufRead,
    control: &dyn ContainerControl,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> i32 {
    let parsed = if args.is_empty() {
        parse_stdin(stdin)
    } else {
        parse_command_line(args)
    };
    let parsed = match parsed {
        Ok(parsed) => parsed,
        Err(error) => {
            // Messages to stderr are best effort: the exit code is the answer.
            let _ = writeln!(err, "{error}");
            let _ = writeln!(err, "Please use '-h' for usage");
            return EXIT_FAILURE;
        }
    };
    for warning in &parsed.warnings {
        let _ = writeln!(err, "{warning}");
    }
    let mut session = Session {
        request: &parsed.request,
        control,
        out,
        err,
    };
    match session.run() {
        Ok(code) => code,
        Err(error) => {
            let _ = writeln!(session.err, "{error}");
            EXIT_FAILURE
        }
    }
}

/// One run of the agent: the request, the containers and the two streams.
struct Session<'a> {
    request: &'a FenceRequest,
    control: &'a dyn ContainerControl,
    out: &'a mut dyn Write,
    err: &'a mut dyn Write,
}

impl<'a> Session<'a> {
    fn run(&mut self) -> Result<i32, FenceError> {
        if self.request.help {
            self.emit(&fence_usage())?;
            return Ok(EXIT_SUCCESS);
        }
        if self.request.version {
            self.emit(&format!(
                "{FENCE_AGENT_NAME} {}\n",
                env!("CARGO_PKG_VERSION")
            ))?;
            return Ok(EXIT_SUCCESS);
        }
        match self.request.action {
            // fence-agents answers `manpage` with the metadata too: its man
            // pages are generated from that XML.
            FenceAction::Metadata | FenceAction::Manpage => {
                self.emit(&fence_metadata())?;
                Ok(EXIT_SUCCESS)
            }
            FenceAction::List => self.list(false),
            FenceAction::ListStatus => self.list(true),
            FenceAction::Monitor => {
                self.control.monitor().map_err(FenceError::Monitor)?;
                Ok(EXIT_SUCCESS)
            }
            FenceAction::ValidateAll => self.validate_all(),
            FenceAction::Status => self.status(),
            FenceAction::Off => self.off(),
            FenceAction::On => self.on(),
            FenceAction::Reboot => self.reboot(),
        }
    }

    /// `list`: `name,` per container (containers have no alias, and an
    /// empty one is what fence-agents prints then); `list-status` adds
    /// `,ON` or `,OFF`. Sorted, so the output does not depend on the host.
    fn list(&mut self, with_status: bool) -> Result<i32, FenceError> {
        let mut containers = self.control.list().map_err(FenceError::List)?;
        containers.sort_by(|left, right| left.0.cmp(&right.0));
        let separator = &self.request.separator;
        let mut text = String::new();
        for (name, power) in &containers {
            text.push_str(name);
            text.push_str(separator);
            if with_status {
                text.push_str(separator);
                text.push_str(power_word(*power));
            }
            text.push('\n');
        }
        self.emit(&text)?;
        Ok(EXIT_SUCCESS)
    }

    /// Checks the options (already done by parsing) and, when a container
    /// is named, that this host configures it. Touches nothing.
    fn validate_all(&mut self) -> Result<i32, FenceError> {
        if self.request.target().is_some() {
            let name = self.target()?;
            self.control.validate(name).map_err(FenceError::Validate)?;
        }
        Ok(EXIT_SUCCESS)
    }

    fn status(&mut self) -> Result<i32, FenceError> {
        let name = self.target()?;
        let power = self.read_power(name)?;
        self.say(&format!("Status: {}", power_word(power)));
        Ok(if power == Power::On {
            EXIT_SUCCESS
        } else {
            EXIT_STATUS_OFF
        })
    }

    /// Fences the container. A cleanly stopped container is fenced too, so
    /// that once `off` succeeds nothing can start it behind the cluster's
    /// back; only an already fenced one is "Already OFF".
    fn off(&mut self) -> Result<i32, FenceError> {
        let name = self.target()?;
        self.wait_delay();
        if self.read_power(name)? == Power::Fenced {
            self.say("Success: Already OFF");
            return Ok(EXIT_SUCCESS);
        }
        self.fence_off_verified(name)?;
        self.say("Success: Powered OFF");
        Ok(EXIT_SUCCESS)
    }

    fn on(&mut self) -> Result<i32, FenceError> {
        let name = self.target()?;
        if self.read_power(name)? == Power::On {
            self.say("Success: Already ON");
            return Ok(EXIT_SUCCESS);
        }
        self.power_on_verified(name)?;
        self.say("Success: Powered ON");
        Ok(EXIT_SUCCESS)
    }

    /// Off, then on. As the fence-agents API says, only the off half
    /// decides the outcome: once the container is verified fenced the
    /// cluster can recover safely, so a failing on is a warning, not a
    /// failed fence that would block recovery.
    fn reboot(&mut self) -> Result<i32, FenceError> {
        let name = self.target()?;
        self.wait_delay();
        if self.read_power(name)? == Power::On {
            self.fence_off_verified(name)?;
        }
        if let Err(error) = self.power_on_verified(name) {
            let _ = writeln!(
                self.err,
                "Warning: '{name}' is off but did not come back on: {error}"
            );
        }
        self.say("Success: Rebooted");
        Ok(EXIT_SUCCESS)
    }

    fn fence_off_verified(&mut self, name: &str) -> Result<(), FenceError> {
        let timeout = self.request.power_timeout;
        self.log(&format!("fencing '{name}' (timeout {timeout:?})"));
        self.control
            .fence_off(name, timeout)
            .map_err(|failure| power_failure(Direction::Off, failure))?;
        match self.read_power(name)? {
            Power::Fenced => Ok(()),
            other => Err(FenceError::NotVerified {
                direction: Direction::Off,
                name: name.to_string(),
                state: state_description(other),
            }),
        }
    }

    fn power_on_verified(&mut self, name: &str) -> Result<(), FenceError> {
        let timeout = self.request.power_timeout;
        self.log(&format!(
            "unfencing and starting '{name}' (timeout {timeout:?})"
        ));
        self.control
            .power_on(name, timeout)
            .map_err(|failure| power_failure(Direction::On, failure))?;
        match self.read_power(name)? {
            Power::On => Ok(()),
            other => Err(FenceError::NotVerified {
                direction: Direction::On,
                name: name.to_string(),
                state: state_description(other),
            }),
        }
    }

    /// The container to act on, checked against vroot's naming rules before
    /// any operation sees it.
    fn target(&self) -> Result<&'a str, FenceError> {
        let request: &'a FenceRequest = self.request;
        let name = request.target().ok_or(FenceError::MissingTarget)?;
        validate_name(name).map_err(|reason| FenceError::InvalidName {
            name: name.to_string(),
            reason,
        })?;
        Ok(name)
    }

    fn read_power(&mut self, name: &str) -> Result<Power, FenceError> {
        let power = self.control.power(name).map_err(FenceError::Status)?;
        self.log(&format!("'{name}' is {}", state_description(power)));
        Ok(power)
    }

    fn wait_delay(&mut self) {
        let delay = self.request.delay;
        if !delay.is_zero() {
            self.log(&format!("waiting {delay:?} before fencing"));
            self.control.pause(delay);
        }
    }

    /// Writes data the caller asked for (metadata, lists, help): if it
    /// cannot be written the action failed.
    fn emit(&mut self, text: &str) -> Result<(), FenceError> {
        self.out
            .write_all(text.as_bytes())
            .and_then(|()| self.out.flush())
            .map_err(FenceError::Output)
    }

    /// Reports an outcome. Best effort: a container that was fenced stays
    /// fenced, and the exit code must say so even if stdout is gone.
    fn say(&mut self, line: &str) {
        let _ = writeln!(self.out, "{line}");
    }

    fn log(&mut self, line: &str) {
        if self.request.verbose {
            let _ = writeln!(self.err, "{FENCE_AGENT_NAME}: {line}");
        }
    }
}

fn power_failure(direction: Direction, failure: ControlFailure) -> FenceError {
    if failure.kind == FailureKind::Timeout {
        FenceError::TimedOut { direction, failure }
    } else {
        FenceError::PowerFailed { direction, failure }
    }
}

/// The state word of `status` and `list-status`: fenced is off.
fn power_word(power: Power) -> &'static str {
    match power {
        Power::On => "ON",
        Power::Off | Power::Fenced => "OFF",
    }
}

fn state_description(power: Power) -> &'static str {
    match power {
        Power::On => "running",
        Power::Off => "stopped",
        Power::Fenced => "fenced",
    }
}
