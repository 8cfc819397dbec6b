//! vroot-testfs: a FUSE passthrough of a directory, used by vroot's
//! integration tests as a container's root filesystem, which can be made to
//! hang like a dead network filesystem and then come back.
//!
//! `vroot-testfs --source DIR --mountpoint MNT --control SOCKET
//! [--ready-file PATH]` mounts DIR at MNT and takes commands on SOCKET; see
//! [`control`] for the protocol.

mod args;
mod control;
mod daemon;
mod fs;
mod gate;
mod inodes;
mod mount;
mod passthrough;

use anyhow::Context;

use crate::args::Invocation;

fn main() -> anyhow::Result<()> {
    let config = match args::parse(std::env::args().skip(1)) {
        Ok(Invocation::Help) => {
            println!("{}", args::USAGE);
            return Ok(());
        }
        Ok(Invocation::Serve(config)) => config,
        Err(err) => {
            eprintln!("vroot-testfs: {err}\n{}", args::USAGE);
            std::process::exit(2);
        }
    };
    let config = daemon::Config {
        source: config
            .source
            .canonicalize()
            .with_context(|| format!("source directory {}", config.source.display()))?,
        mountpoint: config
            .mountpoint
            .canonicalize()
            .with_context(|| format!("mountpoint {}", config.mountpoint.display()))?,
        ..config
    };
    daemon::run(config)?;
    Ok(())
}
