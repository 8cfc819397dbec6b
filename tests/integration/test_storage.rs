//! The project's FUSE test storage (`testfs/`), run as a separate process:
//! it serves a directory and can be made to hang, like a dead network
//! filesystem, and later released.

use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::harness::*;

fn testfs_binary() -> PathBuf {
    let binary = Path::new(VROOT).with_file_name("vroot-testfs");
    assert!(
        binary.exists(),
        "{} is missing: build it with `cargo build -p vroot-testfs` (cargo test --workspace does)",
        binary.display()
    );
    binary
}

pub struct TestStorage {
    pub mountpoint: PathBuf,
    control: PathBuf,
    daemon: Child,
}

impl TestStorage {
    /// Serves `source` at `mountpoint` through FUSE.
    pub fn serve(source: &Path, mountpoint: &Path) -> Self {
        fs::create_dir_all(mountpoint).unwrap();
        let dir = mountpoint.parent().unwrap();
        let stem = mountpoint.file_name().unwrap().to_string_lossy();
        let control = dir.join(format!("{stem}.control"));
        let ready = dir.join(format!("{stem}.ready"));
        let _ = fs::remove_file(&ready);
        let daemon = Command::new(testfs_binary())
            .arg("--source")
            .arg(source)
            .arg("--mountpoint")
            .arg(mountpoint)
            .arg("--control")
            .arg(&control)
            .arg("--ready-file")
            .arg(&ready)
            .stdin(Stdio::null())
            .spawn()
            .expect("start vroot-testfs");
        let storage = TestStorage {
            mountpoint: mountpoint.to_path_buf(),
            control,
            daemon,
        };
        wait_until(Duration::from_secs(10), "the test storage to mount", || {
            ready.exists()
        });
        storage
    }

    /// Sends one control command; returns the reply line.
    pub fn command(&self, command: &str) -> String {
        let mut stream = UnixStream::connect(&self.control).expect("reach the test storage");
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        stream.write_all(format!("{command}\n").as_bytes()).unwrap();
        let mut line = String::new();
        BufReader::new(&stream).read_line(&mut line).unwrap();
        assert!(line.starts_with("ok"), "test storage `{command}`: {line}");
        line.trim().to_string()
    }

    /// Every request read from now on is parked unanswered: the processes
    /// that made them sleep uninterruptibly in the kernel.
    pub fn hang(&self) {
        self.command("hang");
    }

    /// Answers what was parked and serves again; after an abort, mounts the
    /// storage afresh at the same place.
    pub fn release(&self) {
        self.command("release");
    }

    pub fn state(&self) -> String {
        self.command("status")
    }

    /// Requests read and left unanswered.
    pub fn parked(&self) -> usize {
        self.state()
            .split_whitespace()
            .find_map(|word| word.strip_prefix("parked="))
            .and_then(|count| count.parse().ok())
            .unwrap_or(0)
    }
}

impl Drop for TestStorage {
    fn drop(&mut self) {
        // Never leave hung storage behind: release it, then let it go.
        if let Ok(mut stream) = UnixStream::connect(&self.control) {
            let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
            let _ = stream.write_all(b"release\n");
            let _ = BufReader::new(&stream).read_line(&mut String::new());
        }
        // SAFETY: kill(2) on our own child.
        unsafe { libc::kill(self.daemon.id() as i32, libc::SIGTERM) };
        let _ = self.daemon.wait();
        let _ = nix::mount::umount2(&self.mountpoint, nix::mount::MntFlags::MNT_DETACH);
    }
}
