//! What a long command tells its user while it works: each step it took and
//! how long, and, while it waits, what for, how long so far and until when.
//! The library reports; the binary decides what to print (`--verbose`).

use std::time::Duration;

pub trait Progress {
    /// A step is done.
    fn step(&mut self, _what: &str, _took: Duration) {}
    /// Still waiting for `what`, `elapsed` of at most `limit`.
    fn waiting(&mut self, _what: &str, _elapsed: Duration, _limit: Duration) {}
}

/// Reports nothing.
pub struct Quiet;

impl Progress for Quiet {}

/// How often a wait is reported.
pub const WAIT_REPORT_INTERVAL: Duration = Duration::from_secs(2);

/// A step's report line on the report pipe (supervisor → `vroot start`):
/// `STEP <micros> <what>`.
pub fn encode_step(what: &str, took: Duration) -> String {
    format!("STEP {} {}\n", took.as_micros(), what.replace('\n', " "))
}

/// The step in a report line, if it is one.
pub fn decode_step(line: &str) -> Option<(String, Duration)> {
    let rest = line.strip_prefix("STEP ")?;
    let (micros, what) = rest.split_once(' ')?;
    Some((
        what.to_string(),
        Duration::from_micros(micros.parse().ok()?),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_cross_the_report_pipe_intact() {
        let line = encode_step("cgroup created", Duration::from_micros(1234));
        assert_eq!(line, "STEP 1234 cgroup created\n");
        assert_eq!(
            decode_step(line.trim_end()),
            Some(("cgroup created".to_string(), Duration::from_micros(1234)))
        );
        assert_eq!(decode_step("OK 42"), None);
    }
}
