//! The user's terminal: raw mode while attached, and a byte relay between it
//! and a container-side fd (a pty master, or the console stream).

use std::os::fd::{AsRawFd, BorrowedFd, RawFd};

use nix::sys::termios::{cfmakeraw, tcgetattr, tcsetattr, SetArg, Termios};

/// Puts stdin in raw mode while alive, if stdin is a terminal.
pub struct RawMode {
    saved: Option<Termios>,
}

impl RawMode {
    pub fn enter() -> Self {
        // SAFETY: fd 0 stays open for the life of the process.
        let stdin = unsafe { BorrowedFd::borrow_raw(0) };
        let saved = tcgetattr(stdin).ok();
        if let Some(saved) = &saved {
            let mut raw = saved.clone();
            cfmakeraw(&mut raw);
            let _ = tcsetattr(stdin, SetArg::TCSANOW, &raw);
        }
        RawMode { saved }
    }

    pub fn is_terminal(&self) -> bool {
        self.saved.is_some()
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        if let Some(saved) = &self.saved {
            // SAFETY: as in `enter`.
            let stdin = unsafe { BorrowedFd::borrow_raw(0) };
            let _ = tcsetattr(stdin, SetArg::TCSANOW, saved);
        }
    }
}

/// Copies the window size of stdin's terminal to `target` (a pty master).
pub fn copy_window_size(target: RawFd) {
    // SAFETY: TIOCGWINSZ/TIOCSWINSZ read and write a winsize we own.
    unsafe {
        let mut size: libc::winsize = std::mem::zeroed();
        if libc::ioctl(0, libc::TIOCGWINSZ, &mut size) == 0 {
            libc::ioctl(target, libc::TIOCSWINSZ, &size);
        }
    }
}

/// Why a relay ended.
#[derive(Debug, PartialEq, Eq)]
pub enum RelayEnd {
    PeerClosed,
    Escaped,
}

/// Relays stdin → `peer` and `peer` → stdout until the peer closes or the
/// user types `escape`. End of stdin stops reading it but not the relay, so
/// piped input works (`echo cmd | vroot enter`).
pub fn relay(peer: RawFd, escape: Option<u8>) -> RelayEnd {
    let mut stdin_open = true;
    let mut buffer = [0u8; 8192];
    loop {
        let mut fds = vec![libc::pollfd {
            fd: peer,
            events: libc::POLLIN,
            revents: 0,
        }];
        if stdin_open {
            fds.push(libc::pollfd {
                fd: 0,
                events: libc::POLLIN,
                revents: 0,
            });
        }
        // SAFETY: `fds` is valid for its length.
        if unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, -1) } < 0 {
            if nix::Error::last() == nix::Error::EINTR {
                continue;
            }
            return RelayEnd::PeerClosed;
        }
        if fds[0].revents != 0 {
            match nix::unistd::read(peer, &mut buffer) {
                Ok(0) | Err(_) => return RelayEnd::PeerClosed,
                Ok(length) => write_all(1, &buffer[..length]),
            }
        }
        if stdin_open && fds[1].revents != 0 {
            match nix::unistd::read(0, &mut buffer) {
                Ok(0) | Err(_) => stdin_open = false,
                Ok(length) => {
                    let input = &buffer[..length];
                    if let Some(position) =
                        escape.and_then(|key| input.iter().position(|byte| *byte == key))
                    {
                        write_all(peer, &input[..position]);
                        return RelayEnd::Escaped;
                    }
                    write_all(peer, input);
                }
            }
        }
    }
}

fn write_all(fd: RawFd, mut bytes: &[u8]) {
    // SAFETY: the fd is open for the duration of the relay.
    let target = unsafe { BorrowedFd::borrow_raw(fd) };
    while !bytes.is_empty() {
        match nix::unistd::write(target, bytes) {
            Ok(written) => bytes = &bytes[written..],
            Err(nix::Error::EINTR) | Err(nix::Error::EAGAIN) => continue,
            Err(_) => return,
        }
    }
    let _ = target.as_raw_fd();
}
