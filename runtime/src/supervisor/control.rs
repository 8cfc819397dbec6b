//! The supervisor's control socket, `/run/vroot/NAME/control.sock`: one JSON
//! request line per connection, one JSON reply line. `attach` then turns the
//! connection into a raw console stream.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};

#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    #[error("cannot reach the supervisor at {path}: {source}")]
    Connect {
        path: String,
        source: std::io::Error,
    },
    #[error("the supervisor did not answer: {0}")]
    Io(#[from] std::io::Error),
    #[error("the supervisor sent a bad reply: {0}")]
    Protocol(String),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Request {
    /// Power the container off; `kill` skips the graceful request.
    Stop { timeout_secs: u64, kill: bool },
    /// Attach to the console.
    Attach,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reply {
    pub ok: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// For `stop`: the init did not end in time and was killed.
    #[serde(default)]
    pub escalated: bool,
}

pub fn encode<T: Serialize>(message: &T) -> Vec<u8> {
    let mut line = serde_json::to_vec(message).expect("control messages serialise");
    line.push(b'\n');
    line
}

/// Sends one request and waits up to `timeout` for the reply; returns the
/// stream too, for `attach`.
pub fn call(
    socket: &Path,
    request: &Request,
    timeout: Duration,
) -> Result<(Reply, UnixStream), ControlError> {
    call_reporting(socket, request, timeout, &mut |_| {})
}

/// [`call`], telling `waiting` how long it has waited, every
/// [`crate::progress::WAIT_REPORT_INTERVAL`], until the reply comes.
pub fn call_reporting(
    socket: &Path,
    request: &Request,
    timeout: Duration,
    waiting: &mut dyn FnMut(Duration),
) -> Result<(Reply, UnixStream), ControlError> {
    let stream = UnixStream::connect(socket).map_err(|source| ControlError::Connect {
        path: socket.display().to_string(),
        source,
    })?;
    stream.set_read_timeout(Some(timeout))?;
    (&stream).write_all(&encode(request))?;
    let began = std::time::Instant::now();
    loop {
        let left = timeout.saturating_sub(began.elapsed());
        let slice = left.min(crate::progress::WAIT_REPORT_INTERVAL);
        let mut fds = [nix::poll::PollFd::new(
            std::os::fd::AsFd::as_fd(&stream),
            nix::poll::PollFlags::POLLIN,
        )];
        let millis = u16::try_from(slice.as_millis()).unwrap_or(u16::MAX);
        match nix::poll::poll(&mut fds, nix::poll::PollTimeout::from(millis)) {
            Ok(0) if !left.is_zero() => waiting(began.elapsed()),
            // Readable, an error to read, or out of time: the read decides.
            _ => break,
        }
    }
    let mut line = String::new();
    let mut reader = BufReader::new(&stream);
    reader.read_line(&mut line)?;
    if line.is_empty() {
        return Err(ControlError::Protocol("connection closed".into()));
    }
    let reply: Reply =
        serde_json::from_str(&line).map_err(|error| ControlError::Protocol(error.to_string()))?;
    stream.set_read_timeout(None)?;
    Ok((reply, stream))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_one_json_line() {
        let line = encode(&Request::Stop {
            timeout_secs: 5,
            kill: false,
        });
        assert_eq!(line.last(), Some(&b'\n'));
        let parsed: Request = serde_json::from_slice(&line).unwrap();
        assert_eq!(
            parsed,
            Request::Stop {
                timeout_secs: 5,
                kill: false
            }
        );
        let attach: Request = serde_json::from_str(r#"{"op":"attach"}"#).unwrap();
        assert_eq!(attach, Request::Attach);
    }
}
