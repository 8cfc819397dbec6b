//! The container's console: a pty whose master the supervisor keeps open
//! (systemd needs `/dev/console` to stay connected), copied to a host-local
//! log with a size bound, and relayed to attached `vroot console` clients.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

/// Past this size the log is rotated to `NAME.console.1`, so a chatty
/// console cannot fill the host's disk.
pub const CONSOLE_LOG_LIMIT: u64 = 8 << 20;

pub struct ConsolePty {
    pub master: OwnedFd,
    pub slave: OwnedFd,
}

/// A new pty pair from the host's devpts, both ends close-on-exec.
pub fn open_pty() -> nix::Result<ConsolePty> {
    use nix::fcntl::{fcntl, FcntlArg, FdFlag, OFlag};
    let pty = nix::pty::openpty(None, None)?;
    for fd in [&pty.master, &pty.slave] {
        fcntl(
            std::os::fd::AsRawFd::as_raw_fd(fd),
            FcntlArg::F_SETFD(FdFlag::FD_CLOEXEC),
        )?;
    }
    let flags = OFlag::from_bits_truncate(fcntl(
        std::os::fd::AsRawFd::as_raw_fd(&pty.master),
        FcntlArg::F_GETFL,
    )?);
    fcntl(
        std::os::fd::AsRawFd::as_raw_fd(&pty.master),
        FcntlArg::F_SETFL(flags | OFlag::O_NONBLOCK),
    )?;
    Ok(ConsolePty {
        master: pty.master,
        slave: pty.slave,
    })
}

pub struct ConsoleLog {
    path: PathBuf,
    file: Option<File>,
    written: u64,
}

impl ConsoleLog {
    pub fn open(path: &Path) -> std::io::Result<Self> {
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        let written = file.metadata().map(|m| m.len()).unwrap_or(0);
        Ok(ConsoleLog {
            path: path.to_path_buf(),
            file: Some(file),
            written,
        })
    }

    pub fn write(&mut self, bytes: &[u8]) {
        if self.written + bytes.len() as u64 > CONSOLE_LOG_LIMIT {
            self.rotate();
        }
        if let Some(file) = self.file.as_mut() {
            if file.write_all(bytes).is_ok() {
                self.written += bytes.len() as u64;
            }
        }
    }

    fn rotate(&mut self) {
        self.file = None;
        let mut rotated = self.path.clone().into_os_string();
        rotated.push(".1");
        let _ = std::fs::rename(&self.path, rotated);
        self.file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
            .ok();
        self.written = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_rotates_at_its_limit() {
        let dir = std::env::temp_dir().join(format!("vroot-console-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("c.console");
        let mut log = ConsoleLog::open(&path).unwrap();
        let chunk = vec![b'x'; 1 << 20];
        for _ in 0..10 {
            log.write(&chunk);
        }
        let current = std::fs::metadata(&path).unwrap().len();
        let previous = std::fs::metadata(dir.join("c.console.1")).unwrap().len();
        assert!(current <= CONSOLE_LOG_LIMIT && previous <= CONSOLE_LOG_LIMIT);
        assert_eq!(current + previous, 10 << 20);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
