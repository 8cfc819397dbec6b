//! The supervisor's log, through `tracing`: to the journal when the host
//! runs systemd (with the container as the field `VROOT_CONTAINER`), and
//! otherwise to `/var/log/vroot/NAME.log`, bounded in size so that nothing
//! a container does can fill the host's disk. A supervisor in the
//! foreground of a host without systemd logs to its stderr.

pub mod bounded_file;
pub mod journal;

use std::fmt::Write as _;
use std::path::Path;
use std::sync::Mutex;

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};

use bounded_file::BoundedFile;
use journal::{Journal, JOURNAL_SOCKET};

use crate::paths::HostPaths;

/// Past this size `NAME.log` becomes `NAME.log.1`.
pub const LOG_FILE_LIMIT: u64 = 8 << 20;

/// Where log entries go.
pub enum Sink {
    Journal(Journal),
    File(Mutex<BoundedFile>),
    Stderr,
}

/// Whether the host was booted with systemd (as `sd_booted()` decides) and
/// its journal listens.
pub fn host_runs_systemd() -> bool {
    Path::new("/run/systemd/system").is_dir() && Path::new(JOURNAL_SOCKET).exists()
}

/// The sink of a container's supervisor.
pub fn supervisor_sink(paths: &HostPaths, name: &str, foreground: bool) -> Sink {
    if host_runs_systemd() {
        if let Ok(journal) = Journal::connect(Path::new(JOURNAL_SOCKET)) {
            return Sink::Journal(journal);
        }
    }
    if foreground {
        return Sink::Stderr;
    }
    match BoundedFile::open(&paths.supervisor_log(name), LOG_FILE_LIMIT, true) {
        Ok(file) => Sink::File(Mutex::new(file)),
        Err(_) => Sink::Stderr,
    }
}

/// Where a container's supervisor logs, for messages that send the admin
/// there.
pub fn where_logged(paths: &HostPaths, name: &str) -> String {
    if host_runs_systemd() {
        format!("journalctl VROOT_CONTAINER={name}")
    } else {
        paths.supervisor_log(name).display().to_string()
    }
}

/// Sends this process's events to `sink`, as container `container`. The
/// first call wins; later ones (a restart in the same process) keep it.
pub fn init(sink: Sink, container: &str) {
    let layer = VrootLayer {
        sink,
        container: container.to_string(),
    };
    let _ = tracing::subscriber::set_global_default(tracing_subscriber::registry().with(layer));
}

/// journald's priorities (syslog's).
fn priority(level: Level) -> &'static str {
    match level {
        Level::ERROR => "3",
        Level::WARN => "4",
        Level::INFO => "6",
        Level::DEBUG | Level::TRACE => "7",
    }
}

/// The text of a line in the file (and on stderr): the message, then any
/// other fields as `key=value`.
#[derive(Default)]
struct Collected {
    message: String,
    fields: Vec<(String, String)>,
}

impl Visit for Collected {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message = value.to_string();
        } else {
            self.fields
                .push((field.name().to_string(), value.to_string()));
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            self.message = format!("{value:?}");
        } else {
            self.fields
                .push((field.name().to_string(), format!("{value:?}")));
        }
    }
}

impl Collected {
    fn line(&self, level: Level) -> String {
        let mut line = match level {
            Level::ERROR => format!("error: {}", self.message),
            Level::WARN => format!("warning: {}", self.message),
            _ => self.message.clone(),
        };
        for (key, value) in &self.fields {
            let _ = write!(line, " {key}={value}");
        }
        line
    }
}

struct VrootLayer {
    sink: Sink,
    container: String,
}

impl<S: Subscriber> Layer<S> for VrootLayer {
    fn on_event(&self, event: &Event<'_>, _context: Context<'_, S>) {
        let mut collected = Collected::default();
        event.record(&mut collected);
        let level = *event.metadata().level();
        match &self.sink {
            Sink::Journal(journal) => {
                let extra: Vec<(String, String)> = collected
                    .fields
                    .iter()
                    .map(|(key, value)| (format!("VROOT_{}", key.to_uppercase()), value.clone()))
                    .collect();
                let mut fields = vec![
                    ("MESSAGE", collected.message.as_str()),
                    ("PRIORITY", priority(level)),
                    ("SYSLOG_IDENTIFIER", "vroot"),
                    ("VROOT_CONTAINER", self.container.as_str()),
                ];
                fields.extend(extra.iter().map(|(k, v)| (k.as_str(), v.as_str())));
                journal.send(&fields);
            }
            Sink::File(file) => {
                let line = format!(
                    "{} vroot[{}]: {}\n",
                    crate::state::now_rfc3339(),
                    self.container,
                    collected.line(level)
                );
                if let Ok(mut file) = file.lock() {
                    file.write_line(&line);
                }
            }
            Sink::Stderr => eprintln!(
                "{} vroot[{}]: {}",
                crate::state::now_rfc3339(),
                self.container,
                collected.line(level)
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_carries_the_level_and_the_fields() {
        let collected = Collected {
            message: "fence incomplete".into(),
            fields: vec![("tasks".into(), "3".into())],
        };
        assert_eq!(
            collected.line(Level::WARN),
            "warning: fence incomplete tasks=3"
        );
        assert_eq!(collected.line(Level::INFO), "fence incomplete tasks=3");
    }
}
