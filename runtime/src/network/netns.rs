//! Handles on network namespaces. A handle keeps its namespace alive after
//! the last process in it has gone, which is how a device moved into a
//! container is still there to be given back once the init has ended.

use std::fs::File;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};

use super::netlink::{NetlinkError, RouteSocket};

#[derive(Debug, thiserror::Error)]
pub enum NetnsError {
    #[error("cannot open the network namespace {path}: {source}")]
    Open {
        path: String,
        source: std::io::Error,
    },
    #[error("cannot enter the container's network namespace: {0}")]
    Enter(std::io::Error),
    #[error(transparent)]
    Netlink(#[from] NetlinkError),
}

#[derive(Debug)]
pub struct Netns(OwnedFd);

impl Netns {
    fn open(path: String) -> Result<Self, NetnsError> {
        File::open(&path)
            .map(|file| Netns(file.into()))
            .map_err(|source| NetnsError::Open { path, source })
    }

    /// The calling thread's namespace.
    pub fn current() -> Result<Self, NetnsError> {
        Self::open("/proc/thread-self/ns/net".into())
    }

    /// The namespace of a process (procfs only: never the container's storage).
    pub fn of_process(pid: i32) -> Result<Self, NetnsError> {
        Self::open(format!("/proc/{pid}/ns/net"))
    }

    pub fn fd(&self) -> BorrowedFd<'_> {
        self.0.as_fd()
    }

    /// The namespace's identity, to tell two handles apart.
    pub fn inode(&self) -> Option<u64> {
        nix::sys::stat::fstat(self.0.as_raw_fd())
            .ok()
            .map(|stat| stat.st_ino)
    }

    /// Opens a netlink socket inside this namespace: the thread enters it,
    /// opens the socket (which stays bound to it) and returns at once.
    pub fn route_socket(&self) -> Result<RouteSocket, NetnsError> {
        let home = Netns::current()?;
        enter(&self.0).map_err(NetnsError::Enter)?;
        let socket = RouteSocket::open();
        if let Err(error) = enter(&home.0) {
            // Every later host-side request would act inside a namespace
            // that a hostile container controls: stop rather than go on.
            eprintln!("vroot: cannot return to the host's network namespace: {error}");
            std::process::abort();
        }
        Ok(socket?)
    }
}

fn enter(fd: &OwnedFd) -> std::io::Result<()> {
    // SAFETY: setns with an nsfs fd we own; it changes only the calling
    // thread's network namespace.
    if unsafe { libc::setns(fd.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}
