//! systemd-journald's native protocol: one datagram per entry on
//! `/run/systemd/journal/socket`, each field `NAME=value\n`, or, for a value
//! with a newline, `NAME\n`, its length (64-bit little-endian), the value and
//! `\n`. Fields are kept as structure: `VROOT_CONTAINER` can be filtered with
//! `journalctl VROOT_CONTAINER=web`.

use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};

/// Where journald listens, on every systemd host.
pub const JOURNAL_SOCKET: &str = "/run/systemd/journal/socket";

/// Appends one field to a datagram.
pub fn encode_field(datagram: &mut Vec<u8>, name: &str, value: &str) {
    if value.contains('\n') {
        datagram.extend_from_slice(name.as_bytes());
        datagram.push(b'\n');
        datagram.extend_from_slice(&(value.len() as u64).to_le_bytes());
        datagram.extend_from_slice(value.as_bytes());
        datagram.push(b'\n');
    } else {
        datagram.extend_from_slice(name.as_bytes());
        datagram.push(b'=');
        datagram.extend_from_slice(value.as_bytes());
        datagram.push(b'\n');
    }
}

/// An unbound datagram socket aimed at journald.
pub struct Journal {
    socket: UnixDatagram,
    path: PathBuf,
}

impl Journal {
    pub fn connect(path: &Path) -> std::io::Result<Self> {
        Ok(Journal {
            socket: UnixDatagram::unbound()?,
            path: path.to_path_buf(),
        })
    }

    /// Sends one entry. A full or absent journal loses it: logging must
    /// never block or fail the supervisor.
    pub fn send(&self, fields: &[(&str, &str)]) {
        let mut datagram = Vec::new();
        for (name, value) in fields {
            encode_field(&mut datagram, name, value);
        }
        let _ = self.socket.send_to(&datagram, &self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_and_multiline_values_are_framed_as_journald_reads_them() {
        let mut datagram = Vec::new();
        encode_field(&mut datagram, "MESSAGE", "started");
        encode_field(&mut datagram, "MESSAGE", "a\nb");
        let mut expected = b"MESSAGE=started\nMESSAGE\n".to_vec();
        expected.extend_from_slice(&3u64.to_le_bytes());
        expected.extend_from_slice(b"a\nb\n");
        assert_eq!(datagram, expected);
    }

    #[test]
    fn entries_arrive_as_one_datagram_each() {
        let dir = std::env::temp_dir().join(format!("vroot-journal-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("socket");
        let listener = UnixDatagram::bind(&path).unwrap();
        let journal = Journal::connect(&path).unwrap();
        journal.send(&[("MESSAGE", "hello"), ("PRIORITY", "6")]);
        let mut buffer = [0u8; 256];
        let length = listener.recv(&mut buffer).unwrap();
        assert_eq!(&buffer[..length], b"MESSAGE=hello\nPRIORITY=6\n");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
