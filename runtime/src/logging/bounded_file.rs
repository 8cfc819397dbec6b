//! A log file that cannot fill the host's disk: past its limit it is
//! renamed to `NAME.1` (replacing the previous one) and started afresh, so
//! at most twice the limit is kept. The size is read from the file itself
//! before every write, so that stray writes to the same file (the
//! supervisor's stderr points there too) count.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

pub struct BoundedFile {
    path: PathBuf,
    file: Option<File>,
    limit: u64,
    /// Also point this process's stderr at the file after a rotation.
    follow_stderr: bool,
}

impl BoundedFile {
    pub fn open(path: &Path, limit: u64, follow_stderr: bool) -> std::io::Result<Self> {
        let mut bounded = BoundedFile {
            path: path.to_path_buf(),
            file: None,
            limit,
            follow_stderr,
        };
        bounded.reopen()?;
        Ok(bounded)
    }

    fn reopen(&mut self) -> std::io::Result<()> {
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)?;
        if self.follow_stderr {
            let _ = nix::unistd::dup2(file.as_raw_fd(), 2);
        }
        self.file = Some(file);
        Ok(())
    }

    fn rotated_path(&self) -> PathBuf {
        let mut name = self.path.file_name().unwrap_or_default().to_os_string();
        name.push(".1");
        self.path.with_file_name(name)
    }

    /// Appends `line`; errors are swallowed (logging never fails the caller).
    pub fn write_line(&mut self, line: &str) {
        let size = self
            .file
            .as_ref()
            .and_then(|file| file.metadata().ok())
            .map_or(0, |metadata| metadata.len());
        if size + line.len() as u64 > self.limit && size > 0 {
            let _ = std::fs::rename(&self.path, self.rotated_path());
            let _ = self.reopen();
        }
        if let Some(file) = self.file.as_mut() {
            let _ = file.write_all(line.as_bytes());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_file_rotates_at_its_limit_and_keeps_one_old_copy() {
        let dir = std::env::temp_dir().join(format!("vroot-boundedlog-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("web.log");
        let mut log = BoundedFile::open(&path, 100, false).unwrap();
        for index in 0..50 {
            log.write_line(&format!("line {index:04}\n"));
        }
        // 10 bytes a line: every file stays within the limit, and the
        // newest lines are in the current file.
        let current = std::fs::read_to_string(&path).unwrap();
        let old = std::fs::read_to_string(dir.join("web.log.1")).unwrap();
        assert!(current.len() <= 100 && old.len() <= 100);
        assert!(current.ends_with("line 0049\n"), "{current}");
        assert!(old.ends_with(&format!("line {:04}\n", 49 - current.lines().count())));
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 2);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
