//! How a command's progress reaches the terminal: every step and its time
//! with `--verbose`; waits always (a long wait must say what it is for).
//! On stderr, so that stdout keeps only the results.

use std::time::Duration;

use vroot_runtime::progress::Progress;

pub struct Terminal {
    pub name: String,
    pub verbose: bool,
}

/// `1.2 ms`, `340 ms`, `2.5 s`.
pub fn duration(took: Duration) -> String {
    let millis = took.as_secs_f64() * 1000.0;
    if millis < 10.0 {
        format!("{millis:.1} ms")
    } else if millis < 1000.0 {
        format!("{millis:.0} ms")
    } else {
        format!("{:.1} s", took.as_secs_f64())
    }
}

impl Progress for Terminal {
    fn step(&mut self, what: &str, took: Duration) {
        if self.verbose {
            eprintln!("{}: {what} ({})", self.name, duration(took));
        }
    }

    fn waiting(&mut self, what: &str, elapsed: Duration, limit: Duration) {
        eprintln!(
            "{}: waiting for {what}: {} of {}",
            self.name,
            duration(elapsed),
            duration(limit)
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_naturally() {
        assert_eq!(duration(Duration::from_micros(1234)), "1.2 ms");
        assert_eq!(duration(Duration::from_millis(340)), "340 ms");
        assert_eq!(duration(Duration::from_millis(2500)), "2.5 s");
    }
}
