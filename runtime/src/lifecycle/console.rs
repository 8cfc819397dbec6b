//! `vroot console`: attach the user's terminal to the container's console
//! through the supervisor. Ctrl-] detaches.

use std::os::fd::AsRawFd;
use std::time::Duration;

use super::inspect::{check_name, find};
use super::terminal::{relay, RawMode, RelayEnd};
use super::LifecycleError;
use crate::supervisor::control::{self, Request};

/// The detach key: Ctrl-], as in telnet and virsh.
pub const ESCAPE_KEY: u8 = 0x1d;

pub fn attach(paths: &crate::paths::HostPaths, name: &str) -> Result<RelayEnd, LifecycleError> {
    check_name(name)?;
    let not_running = || LifecycleError::NotRunning {
        name: name.to_string(),
    };
    let Some(found) = find(paths, name)? else {
        super::inspect::require_config(paths, name)?;
        return Err(not_running());
    };
    if !found.owner_alive {
        return Err(not_running());
    }
    let (reply, stream) = control::call(
        &found.files.control_socket(),
        &Request::Attach,
        Duration::from_secs(5),
    )
    .map_err(|source| LifecycleError::Control {
        name: name.to_string(),
        source,
    })?;
    if !reply.ok {
        return Err(LifecycleError::Supervisor(reply.error.unwrap_or_default()));
    }
    eprintln!("Connected to the console of {name}. Press Ctrl-] to detach.\r");
    let raw = RawMode::enter();
    let escape = raw.is_terminal().then_some(ESCAPE_KEY);
    let end = relay(stream.as_raw_fd(), escape.or(Some(ESCAPE_KEY)));
    drop(raw);
    eprintln!("\r\nDetached from the console of {name}.");
    Ok(end)
}
