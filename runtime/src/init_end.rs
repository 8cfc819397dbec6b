//! What the end of a container's init means, by the kernel's rule for
//! `reboot(2)` in a PID namespace: a reboot kills the init with SIGHUP,
//! a halt or poweroff kills it with SIGINT.

use std::fmt;

use crate::config::OnReboot;
use crate::signal::RawSignal;

/// How the init process ended, from its wait status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InitEnd {
    Reboot,
    Poweroff,
    Exited(i32),
    Crashed(RawSignal),
}

/// What the supervisor does next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NextStep {
    BootAgain,
    Stop { exit_code: i32 },
}

impl InitEnd {
    pub fn from_wait(exited_with: Option<i32>, killed_by: Option<RawSignal>) -> Self {
        match (exited_with, killed_by) {
            (Some(code), _) => InitEnd::Exited(code),
            (None, Some(RawSignal(libc::SIGHUP))) => InitEnd::Reboot,
            (None, Some(RawSignal(libc::SIGINT))) => InitEnd::Poweroff,
            (None, Some(signal)) => InitEnd::Crashed(signal),
            (None, None) => InitEnd::Exited(0),
        }
    }

    /// `stop_requested`: the host asked for this end, so it never reboots and
    /// is never a crash: an init killed after the stop timeout was stopped.
    pub fn next_step(self, on_reboot: OnReboot, stop_requested: bool) -> NextStep {
        if stop_requested {
            return NextStep::Stop { exit_code: 0 };
        }
        match self {
            InitEnd::Reboot if on_reboot == OnReboot::Restart => NextStep::BootAgain,
            InitEnd::Reboot | InitEnd::Poweroff => NextStep::Stop { exit_code: 0 },
            InitEnd::Exited(code) => NextStep::Stop { exit_code: code },
            InitEnd::Crashed(signal) => NextStep::Stop {
                exit_code: 128 + signal.number(),
            },
        }
    }

    pub fn is_crash(self) -> bool {
        matches!(self, InitEnd::Crashed(_))
    }
}

impl fmt::Display for InitEnd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InitEnd::Reboot => f.write_str("reboot requested inside"),
            InitEnd::Poweroff => f.write_str("poweroff requested inside"),
            InitEnd::Exited(code) => write!(f, "init exited with code {code}"),
            InitEnd::Crashed(signal) => write!(f, "init crashed: killed by {signal}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_reboot_signals_are_classified() {
        assert_eq!(
            InitEnd::from_wait(None, Some(RawSignal(libc::SIGHUP))),
            InitEnd::Reboot
        );
        assert_eq!(
            InitEnd::from_wait(None, Some(RawSignal(libc::SIGINT))),
            InitEnd::Poweroff
        );
        assert_eq!(InitEnd::from_wait(Some(3), None), InitEnd::Exited(3));
        assert_eq!(
            InitEnd::from_wait(None, Some(RawSignal(libc::SIGSEGV))),
            InitEnd::Crashed(RawSignal(libc::SIGSEGV))
        );
    }

    #[test]
    fn reboot_follows_policy() {
        assert_eq!(
            InitEnd::Reboot.next_step(OnReboot::Restart, false),
            NextStep::BootAgain
        );
        assert_eq!(
            InitEnd::Reboot.next_step(OnReboot::Stop, false),
            NextStep::Stop { exit_code: 0 }
        );
    }

    #[test]
    fn exit_codes_follow_the_runc_convention() {
        assert_eq!(
            InitEnd::Poweroff.next_step(OnReboot::Restart, false),
            NextStep::Stop { exit_code: 0 }
        );
        assert_eq!(
            InitEnd::Exited(7).next_step(OnReboot::Restart, false),
            NextStep::Stop { exit_code: 7 }
        );
        assert_eq!(
            InitEnd::Crashed(RawSignal(libc::SIGKILL)).next_step(OnReboot::Restart, false),
            NextStep::Stop { exit_code: 137 }
        );
    }

    #[test]
    fn a_requested_stop_is_never_a_reboot_or_crash() {
        assert_eq!(
            InitEnd::Reboot.next_step(OnReboot::Restart, true),
            NextStep::Stop { exit_code: 0 }
        );
        assert_eq!(
            InitEnd::Crashed(RawSignal(libc::SIGKILL)).next_step(OnReboot::Restart, true),
            NextStep::Stop { exit_code: 0 }
        );
    }
}
