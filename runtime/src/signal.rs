//! Signals as raw `c_int`: container inits need real-time signals
//! (systemd powers off on SIGRTMIN+4), which typed signal enums cannot express.

use std::fmt;

use libc::c_int;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SignalError {
    #[error("unknown signal `{0}` (use a name such as SIGTERM, SIGUSR2, SIGRTMIN+4, or a number)")]
    Unknown(String),
}

/// A signal number valid on this host, including real-time signals.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RawSignal(pub c_int);

const NAMED: &[(&str, c_int)] = &[
    ("HUP", libc::SIGHUP),
    ("INT", libc::SIGINT),
    ("QUIT", libc::SIGQUIT),
    ("ILL", libc::SIGILL),
    ("TRAP", libc::SIGTRAP),
    ("ABRT", libc::SIGABRT),
    ("BUS", libc::SIGBUS),
    ("FPE", libc::SIGFPE),
    ("KILL", libc::SIGKILL),
    ("USR1", libc::SIGUSR1),
    ("SEGV", libc::SIGSEGV),
    ("USR2", libc::SIGUSR2),
    ("PIPE", libc::SIGPIPE),
    ("ALRM", libc::SIGALRM),
    ("TERM", libc::SIGTERM),
    ("STKFLT", libc::SIGSTKFLT),
    ("CHLD", libc::SIGCHLD),
    ("CONT", libc::SIGCONT),
    ("STOP", libc::SIGSTOP),
    ("TSTP", libc::SIGTSTP),
    ("TTIN", libc::SIGTTIN),
    ("TTOU", libc::SIGTTOU),
    ("URG", libc::SIGURG),
    ("XCPU", libc::SIGXCPU),
    ("XFSZ", libc::SIGXFSZ),
    ("VTALRM", libc::SIGVTALRM),
    ("PROF", libc::SIGPROF),
    ("WINCH", libc::SIGWINCH),
    ("IO", libc::SIGIO),
    ("PWR", libc::SIGPWR),
    ("SYS", libc::SIGSYS),
];

/// The real-time range as the C library defines it (glibc reserves the first two).
pub fn rt_min() -> c_int {
    libc::SIGRTMIN()
}

pub fn rt_max() -> c_int {
    libc::SIGRTMAX()
}

impl RawSignal {
    pub const fn new(number: c_int) -> Self {
        RawSignal(number)
    }

    pub fn rt(offset: c_int) -> Self {
        RawSignal(rt_min() + offset)
    }

    pub fn number(self) -> c_int {
        self.0
    }

    /// Parses `SIGTERM`, `TERM`, `sigterm`, `SIGRTMIN+4`, `RTMAX-1` or `15`.
    pub fn parse(text: &str) -> Result<Self, SignalError> {
        let unknown = || SignalError::Unknown(text.to_string());
        let trimmed = text.trim();
        if let Ok(number) = trimmed.parse::<c_int>() {
            return if (1..=rt_max()).contains(&number) {
                Ok(RawSignal(number))
            } else {
                Err(unknown())
            };
        }
        let upper = trimmed.to_ascii_uppercase();
        let bare = upper.strip_prefix("SIG").unwrap_or(&upper);
        if let Some(rest) = bare.strip_prefix("RTMIN") {
            let offset = parse_offset(rest).ok_or_else(unknown)?;
            let number = rt_min() + offset;
            return (offset >= 0 && number <= rt_max())
                .then_some(RawSignal(number))
                .ok_or_else(unknown);
        }
        if let Some(rest) = bare.strip_prefix("RTMAX") {
            let offset = parse_offset(rest).ok_or_else(unknown)?;
            let number = rt_max() + offset;
            return (offset <= 0 && number >= rt_min())
                .then_some(RawSignal(number))
                .ok_or_else(unknown);
        }
        NAMED
            .iter()
            .find(|(name, _)| *name == bare)
            .map(|(_, number)| RawSignal(*number))
            .ok_or_else(unknown)
    }

    /// The conventional name, e.g. `SIGRTMIN+4`.
    pub fn name(self) -> String {
        if let Some((name, _)) = NAMED.iter().find(|(_, number)| *number == self.0) {
            return format!("SIG{name}");
        }
        if self.0 >= rt_min() && self.0 <= rt_max() {
            let offset = self.0 - rt_min();
            return if offset == 0 {
                "SIGRTMIN".to_string()
            } else {
                format!("SIGRTMIN+{offset}")
            };
        }
        format!("signal {}", self.0)
    }
}

/// Blocks `signals` in the calling (single-threaded) process and returns a
/// non-blocking, close-on-exec signalfd that delivers them instead.
pub fn blocked_signalfd(signals: &[c_int]) -> nix::Result<std::os::fd::OwnedFd> {
    use std::os::fd::FromRawFd;
    // SAFETY: a zeroed sigset_t emptied by sigemptyset is valid; every call
    // gets pointers to it that outlive the call.
    unsafe {
        let mut mask: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut mask);
        for signal in signals {
            libc::sigaddset(&mut mask, *signal);
        }
        if libc::sigprocmask(libc::SIG_BLOCK, &mask, std::ptr::null_mut()) != 0 {
            return Err(nix::Error::last());
        }
        let fd = libc::signalfd(-1, &mask, libc::SFD_NONBLOCK | libc::SFD_CLOEXEC);
        if fd < 0 {
            return Err(nix::Error::last());
        }
        Ok(std::os::fd::OwnedFd::from_raw_fd(fd))
    }
}

/// The next pending signal from a non-blocking signalfd, if any.
pub fn read_signalfd(fd: &std::os::fd::OwnedFd) -> Option<RawSignal> {
    use std::os::fd::AsRawFd;
    // SAFETY: signalfd_siginfo is plain data; read fills at most its size.
    let mut info: libc::signalfd_siginfo = unsafe { std::mem::zeroed() };
    let size = std::mem::size_of::<libc::signalfd_siginfo>();
    // SAFETY: the buffer is valid for `size` bytes and the fd is open.
    let read = unsafe {
        libc::read(
            fd.as_raw_fd(),
            (&mut info as *mut libc::signalfd_siginfo).cast(),
            size,
        )
    };
    (read == size as isize).then_some(RawSignal(info.ssi_signo as c_int))
}

fn parse_offset(rest: &str) -> Option<c_int> {
    if rest.is_empty() {
        return Some(0);
    }
    let (sign, digits) = rest.split_at(1);
    let magnitude: c_int = digits.parse().ok()?;
    match sign {
        "+" => Some(magnitude),
        "-" => Some(-magnitude),
        _ => None,
    }
}

impl fmt::Display for RawSignal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_names_numbers_and_realtime_offsets() {
        assert_eq!(RawSignal::parse("SIGTERM"), Ok(RawSignal(libc::SIGTERM)));
        assert_eq!(RawSignal::parse("usr2"), Ok(RawSignal(libc::SIGUSR2)));
        assert_eq!(RawSignal::parse("15"), Ok(RawSignal(15)));
        assert_eq!(
            RawSignal::parse("SIGRTMIN+4"),
            Ok(RawSignal(libc::SIGRTMIN() + 4))
        );
        assert_eq!(
            RawSignal::parse("RTMAX-1"),
            Ok(RawSignal(libc::SIGRTMAX() - 1))
        );
    }

    #[test]
    fn rejects_out_of_range_and_garbage() {
        assert!(RawSignal::parse("SIGFOO").is_err());
        assert!(RawSignal::parse("0").is_err());
        assert!(RawSignal::parse("SIGRTMIN+99").is_err());
        assert!(RawSignal::parse("SIGRTMIN*2").is_err());
    }

    #[test]
    fn names_round_trip() {
        for text in ["SIGHUP", "SIGPWR", "SIGRTMIN+4", "SIGRTMIN"] {
            assert_eq!(RawSignal::parse(text).unwrap().name(), text);
        }
    }
}
