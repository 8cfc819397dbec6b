//! Which init runs as the container's PID 1, told from its signal masks
//! (`/proc/PID/status`), and how to ask each one to power off.
//!
//! A container's PID 1 only receives, from outside its PID namespace, the
//! signals it catches or blocks; every other signal is dropped by the kernel.
//! So the masks say both *which* init this is and *whether* a signal can work.

use std::fmt;

use libc::c_int;

use crate::signal::RawSignal;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InitFlavour {
    Systemd,
    Sysvinit,
    Busybox,
    Openrc,
    Unknown,
}

impl fmt::Display for InitFlavour {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            InitFlavour::Systemd => "systemd",
            InitFlavour::Sysvinit => "sysvinit",
            InitFlavour::Busybox => "busybox",
            InitFlavour::Openrc => "openrc",
            InitFlavour::Unknown => "unknown",
        })
    }
}

/// How to ask an init to power off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HaltMethod {
    Signal(RawSignal),
    /// SysVinit before 3.10 powers off only through its control FIFO
    /// (`telinit 0`): a runlevel-0 request written to `/run/initctl`.
    InitctlRunlevelZero,
    /// The init reacts to no signal we can send: go straight to killing.
    None,
}

/// The signal masks of one process, as hex in `/proc/PID/status`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SignalMasks {
    pub blocked: u64,
    pub ignored: u64,
    pub caught: u64,
    /// Asleep in `sigtimedwait`: the kernel then shows the blocked set minus
    /// the awaited signals (busybox init waits this way), yet those signals
    /// are still delivered. `blocked` under-reports while this is true.
    pub in_sigtimedwait: bool,
}

impl SignalMasks {
    pub fn parse_status(status: &str) -> Option<Self> {
        let field = |key: &str| {
            status
                .lines()
                .find_map(|line| line.strip_prefix(key))
                .and_then(|value| u64::from_str_radix(value.trim(), 16).ok())
        };
        Some(SignalMasks {
            blocked: field("SigBlk:")?,
            ignored: field("SigIgn:")?,
            caught: field("SigCgt:")?,
            in_sigtimedwait: false,
        })
    }

    pub fn read(pid: i32) -> std::io::Result<Self> {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
        let mut masks = Self::parse_status(&status).ok_or_else(|| {
            std::io::Error::new(std::io::ErrorKind::InvalidData, "no signal masks in status")
        })?;
        let wchan = std::fs::read_to_string(format!("/proc/{pid}/wchan")).unwrap_or_default();
        masks.in_sigtimedwait = wchan.contains("sigtimedwait");
        Ok(masks)
    }

    pub fn catches(&self, signal: c_int) -> bool {
        self.caught & bit(signal) != 0
    }

    pub fn blocks(&self, signal: c_int) -> bool {
        self.blocked & bit(signal) != 0
    }

    /// Whether a signal sent from the host reaches this PID-namespace init.
    pub fn receives(&self, signal: c_int) -> bool {
        self.catches(signal) || self.blocks(signal) || self.in_sigtimedwait
    }
}

fn bit(signal: c_int) -> u64 {
    if (1..=64).contains(&signal) {
        1u64 << (signal - 1)
    } else {
        0
    }
}

/// Tells the init apart by the signals it handles (facts from each init's source):
/// - sysvinit catches USR1, USR2, WINCH and PWR (and SIGRTMIN+4 from 3.10 on);
/// - openrc-init catches INT and CHLD and blocks almost everything else;
/// - busybox ≥ 1.32 blocks its action signals and catches only TSTP; older
///   busybox catches USR1, USR2 and TERM;
/// - systemd blocks SIGRTMIN+4 and reads it through a signalfd.
pub fn detect(masks: &SignalMasks) -> InitFlavour {
    use libc::{SIGCHLD, SIGCONT, SIGINT, SIGPWR, SIGTERM, SIGTSTP, SIGUSR1, SIGUSR2, SIGWINCH};
    let caught_all = |signals: &[c_int]| signals.iter().all(|s| masks.catches(*s));
    let caught_any = |signals: &[c_int]| signals.iter().any(|s| masks.catches(*s));
    let blocked_all = |signals: &[c_int]| signals.iter().all(|s| masks.blocks(*s));

    if caught_all(&[SIGUSR1, SIGUSR2, SIGWINCH, SIGPWR]) {
        InitFlavour::Sysvinit
    } else if caught_all(&[SIGINT, SIGCHLD]) && !caught_any(&[SIGUSR1, SIGUSR2, SIGTSTP, SIGCONT]) {
        InitFlavour::Openrc
    } else if (masks.catches(SIGTSTP)
        && (masks.in_sigtimedwait || blocked_all(&[SIGTERM, SIGUSR1, SIGUSR2])))
        || caught_all(&[SIGUSR1, SIGUSR2, SIGTERM])
    {
        InitFlavour::Busybox
    } else if masks.receives(RawSignal::rt(4).number()) {
        InitFlavour::Systemd
    } else {
        InitFlavour::Unknown
    }
}

/// The poweroff request for an init, honouring a configured signal first.
pub fn halt_method(
    flavour: InitFlavour,
    masks: &SignalMasks,
    configured: Option<RawSignal>,
) -> HaltMethod {
    let reachable = |signal: RawSignal| masks.receives(signal.number());
    if let Some(signal) = configured {
        return HaltMethod::Signal(signal);
    }
    let preferred = match flavour {
        InitFlavour::Systemd => RawSignal::rt(4),
        InitFlavour::Sysvinit => {
            let rtmin4 = RawSignal::rt(4);
            return if reachable(rtmin4) {
                HaltMethod::Signal(rtmin4)
            } else {
                HaltMethod::InitctlRunlevelZero
            };
        }
        InitFlavour::Busybox => RawSignal(libc::SIGUSR2),
        InitFlavour::Openrc | InitFlavour::Unknown => RawSignal(libc::SIGTERM),
    };
    if reachable(preferred) {
        HaltMethod::Signal(preferred)
    } else {
        HaltMethod::None
    }
}

/// The 384-byte `struct init_request` that `telinit 0` writes to `/run/initctl`.
pub fn initctl_runlevel_request(runlevel: u8) -> [u8; 384] {
    const INIT_MAGIC: i32 = 0x0309_1969;
    const INIT_CMD_RUNLVL: i32 = 1;
    const DEFAULT_SLEEPTIME: i32 = 3;
    let mut request = [0u8; 384];
    request[0..4].copy_from_slice(&INIT_MAGIC.to_ne_bytes());
    request[4..8].copy_from_slice(&INIT_CMD_RUNLVL.to_ne_bytes());
    request[8..12].copy_from_slice(&i32::from(runlevel).to_ne_bytes());
    request[12..16].copy_from_slice(&DEFAULT_SLEEPTIME.to_ne_bytes());
    request
}

#[cfg(test)]
mod tests {
    use super::*;

    fn masks(blocked: u64, caught: u64) -> SignalMasks {
        SignalMasks {
            blocked,
            ignored: 0,
            caught,
            in_sigtimedwait: false,
        }
    }

    #[test]
    fn parses_proc_status() {
        let status = "Name:\tinit\nSigQ:\t0/1\nSigPnd:\t0\nShdPnd:\t0\nSigBlk:\t0000000020014a07\nSigIgn:\t0000000000000000\nSigCgt:\t0000000000080000\n";
        let parsed = SignalMasks::parse_status(status).unwrap();
        assert_eq!(parsed.blocked, 0x2001_4a07);
        assert_eq!(parsed.caught, 0x8_0000);
        assert!(SignalMasks::parse_status("Name:\tx\n").is_none());
    }

    #[test]
    fn busybox_new_blocks_its_action_signals() {
        let busybox = masks(0x2001_4a07, 0x8_0000);
        assert_eq!(detect(&busybox), InitFlavour::Busybox);
        assert_eq!(
            halt_method(InitFlavour::Busybox, &busybox, None),
            HaltMethod::Signal(RawSignal(libc::SIGUSR2))
        );
    }

    #[test]
    fn busybox_asleep_in_sigtimedwait_shows_nothing_blocked() {
        let asleep = SignalMasks {
            in_sigtimedwait: true,
            ..masks(0, 0x8_0000)
        };
        assert_eq!(detect(&asleep), InitFlavour::Busybox);
        assert_eq!(
            halt_method(InitFlavour::Busybox, &asleep, None),
            HaltMethod::Signal(RawSignal(libc::SIGUSR2))
        );
    }

    #[test]
    fn busybox_old_catches_its_action_signals() {
        let caught = bit(libc::SIGUSR1)
            | bit(libc::SIGUSR2)
            | bit(libc::SIGTERM)
            | bit(libc::SIGINT)
            | bit(libc::SIGQUIT)
            | bit(libc::SIGHUP)
            | bit(libc::SIGPWR);
        assert_eq!(detect(&masks(0, caught)), InitFlavour::Busybox);
    }

    #[test]
    fn sysvinit_before_and_after_3_10() {
        let old = masks(0, 0x2028_0b2e03 & !bit(libc::SIGRTMIN() + 4));
        assert_eq!(detect(&old), InitFlavour::Sysvinit);
        assert_eq!(
            halt_method(InitFlavour::Sysvinit, &old, None),
            HaltMethod::InitctlRunlevelZero
        );
        let new = masks(0, 0x2028_0b2e03);
        assert_eq!(detect(&new), InitFlavour::Sysvinit);
        assert_eq!(
            halt_method(InitFlavour::Sysvinit, &new, None),
            HaltMethod::Signal(RawSignal::rt(4))
        );
    }

    #[test]
    fn openrc_is_not_mistaken_for_systemd() {
        let openrc = masks(0xffff_fffe_5ffa_befd, 0x2001_4002);
        assert_eq!(detect(&openrc), InitFlavour::Openrc);
        assert_eq!(
            halt_method(InitFlavour::Openrc, &openrc, None),
            HaltMethod::Signal(RawSignal(libc::SIGTERM))
        );
    }

    #[test]
    fn systemd_blocks_rtmin_plus_4() {
        let rt = |n: i32| bit(libc::SIGRTMIN() + n);
        let blocked = bit(libc::SIGCHLD)
            | bit(libc::SIGTERM)
            | bit(libc::SIGHUP)
            | bit(libc::SIGUSR1)
            | bit(libc::SIGUSR2)
            | bit(libc::SIGINT)
            | bit(libc::SIGPWR)
            | (0..=24).map(rt).fold(0, |a, b| a | b);
        let caught = bit(libc::SIGSEGV)
            | bit(libc::SIGABRT)
            | bit(libc::SIGBUS)
            | bit(libc::SIGILL)
            | bit(libc::SIGFPE)
            | bit(libc::SIGQUIT);
        let systemd = masks(blocked, caught);
        assert_eq!(detect(&systemd), InitFlavour::Systemd);
        assert_eq!(
            halt_method(InitFlavour::Systemd, &systemd, None),
            HaltMethod::Signal(RawSignal::rt(4))
        );
    }

    #[test]
    fn an_init_that_handles_nothing_gets_no_signal() {
        let shell = masks(0, bit(libc::SIGCHLD));
        assert_eq!(detect(&shell), InitFlavour::Unknown);
        assert_eq!(
            halt_method(InitFlavour::Unknown, &shell, None),
            HaltMethod::None
        );
    }

    #[test]
    fn configured_signal_wins() {
        let shell = masks(0, 0);
        let configured = RawSignal(libc::SIGPWR);
        assert_eq!(
            halt_method(InitFlavour::Unknown, &shell, Some(configured)),
            HaltMethod::Signal(configured)
        );
    }

    #[test]
    fn initctl_request_layout() {
        let request = initctl_runlevel_request(b'0');
        assert_eq!(request.len(), 384);
        assert_eq!(
            i32::from_ne_bytes(request[0..4].try_into().unwrap()),
            0x0309_1969
        );
        assert_eq!(i32::from_ne_bytes(request[4..8].try_into().unwrap()), 1);
        assert_eq!(
            i32::from_ne_bytes(request[8..12].try_into().unwrap()),
            i32::from(b'0')
        );
        assert!(request[16..].iter().all(|byte| *byte == 0));
    }
}
