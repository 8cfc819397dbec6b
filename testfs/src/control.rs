//! The control protocol: one command line per connection, one reply line.
//!
//! Commands: `hang`, `stall`, `release`, `status`, `exit`. Replies start with
//! `ok` or `error`; `status` replies `ok serving|hung|stalled|aborted parked=N`.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    /// Park every request read from now on, unanswered.
    Hang,
    /// Stop reading requests: they stay queued in the kernel.
    Stall,
    /// Answer the parked requests, read again; remount if the connection died.
    Release,
    Status,
    Exit,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ParseError {
    #[error("empty command")]
    Empty,
    #[error("unknown command {0:?} (expected hang, stall, release, status or exit)")]
    Unknown(String),
}

impl Command {
    pub fn parse(line: &str) -> Result<Command, ParseError> {
        match line.trim() {
            "" => Err(ParseError::Empty),
            "hang" => Ok(Command::Hang),
            "stall" => Ok(Command::Stall),
            "release" => Ok(Command::Release),
            "status" => Ok(Command::Status),
            "exit" => Ok(Command::Exit),
            other => Err(ParseError::Unknown(other.to_owned())),
        }
    }
}

/// What the storage is doing, as `status` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Serving,
    Hung,
    Stalled,
    /// The kernel connection is gone (aborted through fusectl, or unmounted
    /// behind the daemon's back); `release` mounts a fresh one.
    Aborted,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Status {
    pub state: State,
    pub parked: usize,
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match self.state {
            State::Serving => "serving",
            State::Hung => "hung",
            State::Stalled => "stalled",
            State::Aborted => "aborted",
        };
        write!(f, "{state} parked={}", self.parked)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_commands() {
        assert_eq!(Command::parse("hang\n"), Ok(Command::Hang));
        assert_eq!(Command::parse("  stall "), Ok(Command::Stall));
        assert_eq!(Command::parse("release"), Ok(Command::Release));
        assert_eq!(Command::parse("status\r\n"), Ok(Command::Status));
        assert_eq!(Command::parse("exit"), Ok(Command::Exit));
    }

    #[test]
    fn rejects_others() {
        assert_eq!(Command::parse(" \n"), Err(ParseError::Empty));
        assert_eq!(
            Command::parse("HANG"),
            Err(ParseError::Unknown("HANG".into()))
        );
        assert_eq!(
            Command::parse("hang now"),
            Err(ParseError::Unknown("hang now".into()))
        );
    }

    #[test]
    fn formats_status() {
        let status = Status {
            state: State::Hung,
            parked: 3,
        };
        assert_eq!(status.to_string(), "hung parked=3");
        let status = Status {
            state: State::Aborted,
            parked: 0,
        };
        assert_eq!(status.to_string(), "aborted parked=0");
    }
}
