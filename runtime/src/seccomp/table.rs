//! The system calls a container's filter can name, with their numbers on
//! x86_64 and in the i386 compat table (from the kernel's unistd_64.h and
//! unistd_32.h). A 64-bit process can still make i386 calls through
//! `int 0x80`, so both tables are filtered.

/// Only some calls of a name are denied, by one argument (its low 32 bits).
pub enum ArgumentMatch {
    /// The argument at `index` equals one of `values`.
    OneOf { index: u8, values: &'static [u32] },
    /// The argument at `index` has the bit `set` and not the bit `clear`.
    BitWithout { index: u8, set: u32, clear: u32 },
}

pub struct Syscall {
    pub name: &'static str,
    pub x86_64: Option<u32>,
    pub i386: &'static [u32],
    /// `None`: every call is denied.
    pub only: Option<ArgumentMatch>,
    /// What a denied call returns: EPERM, or ENOSYS where the caller
    /// should fall back to an older call the filter can judge better.
    pub errno: i32,
    /// What the denial keeps out, for the docs and error messages.
    pub why: &'static str,
}

const LINUX_REBOOT_CMD_KEXEC: u32 = 0x4558_4543;
const LINUX_REBOOT_CMD_SW_SUSPEND: u32 = 0xD000_FCE2;
const MS_REMOUNT: u32 = 0x20;
const MS_BIND: u32 = 0x1000;

pub const SYSCALLS: &[Syscall] = &[
    Syscall {
        name: "kexec_load",
        x86_64: Some(246),
        i386: &[283],
        only: None,
        errno: libc::EPERM,
        why: "booting another kernel",
    },
    Syscall {
        name: "kexec_file_load",
        x86_64: Some(320),
        i386: &[],
        only: None,
        errno: libc::EPERM,
        why: "booting another kernel",
    },
    Syscall {
        name: "init_module",
        x86_64: Some(175),
        i386: &[128],
        only: None,
        errno: libc::EPERM,
        why: "loading kernel modules",
    },
    Syscall {
        name: "finit_module",
        x86_64: Some(313),
        i386: &[350],
        only: None,
        errno: libc::EPERM,
        why: "loading kernel modules",
    },
    Syscall {
        name: "delete_module",
        x86_64: Some(176),
        i386: &[129],
        only: None,
        errno: libc::EPERM,
        why: "unloading kernel modules",
    },
    Syscall {
        name: "open_by_handle_at",
        x86_64: Some(304),
        i386: &[342],
        only: None,
        errno: libc::EPERM,
        why: "opening host files by handle, past the root (the shocker escape)",
    },
    Syscall {
        name: "perf_event_open",
        x86_64: Some(298),
        i386: &[336],
        only: None,
        errno: libc::EPERM,
        why: "observing the host's kernel and processes",
    },
    Syscall {
        name: "swapon",
        x86_64: Some(167),
        i386: &[87],
        only: None,
        errno: libc::EPERM,
        why: "changing the host's swap",
    },
    Syscall {
        name: "swapoff",
        x86_64: Some(168),
        i386: &[115],
        only: None,
        errno: libc::EPERM,
        why: "changing the host's swap",
    },
    Syscall {
        name: "clock_settime",
        x86_64: Some(227),
        i386: &[264, 404],
        only: None,
        errno: libc::EPERM,
        why: "setting the host's clock",
    },
    Syscall {
        name: "settimeofday",
        x86_64: Some(164),
        i386: &[79],
        only: None,
        errno: libc::EPERM,
        why: "setting the host's clock",
    },
    Syscall {
        name: "stime",
        x86_64: None,
        i386: &[25],
        only: None,
        errno: libc::EPERM,
        why: "setting the host's clock",
    },
    Syscall {
        name: "clock_adjtime",
        x86_64: Some(305),
        i386: &[343, 405],
        only: None,
        errno: libc::EPERM,
        why: "adjusting the host's clock",
    },
    Syscall {
        name: "adjtimex",
        x86_64: Some(159),
        i386: &[124],
        only: None,
        errno: libc::EPERM,
        why: "adjusting the host's clock",
    },
    Syscall {
        name: "bpf",
        x86_64: Some(321),
        i386: &[357],
        only: None,
        errno: libc::EPERM,
        why: "loading BPF programs into the host's kernel",
    },
    Syscall {
        name: "quotactl",
        x86_64: Some(179),
        i386: &[131],
        only: None,
        errno: libc::EPERM,
        why: "changing quotas of the shared filesystem",
    },
    Syscall {
        name: "quotactl_fd",
        x86_64: Some(443),
        i386: &[443],
        only: None,
        errno: libc::EPERM,
        why: "changing quotas of the shared filesystem",
    },
    Syscall {
        name: "add_key",
        x86_64: Some(248),
        i386: &[286],
        only: None,
        errno: libc::EPERM,
        why: "the kernel keyrings, which are not per container",
    },
    Syscall {
        name: "request_key",
        x86_64: Some(249),
        i386: &[287],
        only: None,
        errno: libc::EPERM,
        why: "the kernel keyrings, which are not per container",
    },
    Syscall {
        name: "keyctl",
        x86_64: Some(250),
        i386: &[288],
        only: None,
        errno: libc::EPERM,
        why: "the kernel keyrings, which are not per container",
    },
    Syscall {
        name: "lookup_dcookie",
        x86_64: Some(212),
        i386: &[253],
        only: None,
        errno: libc::EPERM,
        why: "kernel profiling internals",
    },
    Syscall {
        name: "acct",
        x86_64: Some(163),
        i386: &[51],
        only: None,
        errno: libc::EPERM,
        why: "process accounting for the whole host",
    },
    Syscall {
        name: "reboot",
        x86_64: Some(169),
        i386: &[88],
        only: Some(ArgumentMatch::OneOf {
            index: 2,
            values: &[LINUX_REBOOT_CMD_KEXEC, LINUX_REBOOT_CMD_SW_SUSPEND],
        }),
        errno: libc::EPERM,
        why: "kexec and suspend of the host (the container's own reboot and poweroff stay)",
    },
    // A remount without MS_BIND changes the superblock: the options of the
    // filesystem itself, for every mount of it on the host. The container's
    // root and per-host files are mounts of the host's (or the shared)
    // filesystems, so `mount -o remount,ro /` inside would make them
    // read-only for the host and every other container. A bind remount
    // (`mount -o remount,bind,ro /`) changes only the container's mount and
    // stays allowed.
    Syscall {
        name: "remount",
        x86_64: Some(165),
        i386: &[21],
        only: Some(ArgumentMatch::BitWithout {
            index: 3,
            set: MS_REMOUNT,
            clear: MS_BIND,
        }),
        errno: libc::EPERM,
        why: "changing the options of a filesystem the host shares (mount -o remount without bind)",
    },
    // fspick + fsconfig(FSCONFIG_CMD_RECONFIGURE) is the new mount API's
    // superblock remount. ENOSYS makes libmount fall back to mount(2),
    // where the rule above judges the flags.
    Syscall {
        name: "fspick",
        x86_64: Some(433),
        i386: &[433],
        only: None,
        errno: libc::ENOSYS,
        why: "changing the options of a filesystem the host shares (the new mount API)",
    },
];

/// Allowing the first name allows the second too: they are one operation
/// through two interfaces.
pub const ALLOWED_TOGETHER: &[(&str, &str)] = &[("remount", "fspick")];

/// What a container's filter denies unless its config says otherwise.
/// `adjtimex` and `clock_adjtime` are left to the missing CAP_SYS_TIME:
/// their read-only use (`ntp_gettime`, chrony's status) must keep working.
pub const DEFAULT_DENIED: &[&str] = &[
    "kexec_load",
    "kexec_file_load",
    "init_module",
    "finit_module",
    "delete_module",
    "open_by_handle_at",
    "perf_event_open",
    "swapon",
    "swapoff",
    "clock_settime",
    "settimeofday",
    "stime",
    "bpf",
    "quotactl",
    "quotactl_fd",
    "add_key",
    "request_key",
    "keyctl",
    "lookup_dcookie",
    "acct",
    "reboot",
    "remount",
    "fspick",
];

pub fn find(name: &str) -> Option<&'static Syscall> {
    SYSCALLS.iter().find(|syscall| syscall.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_x86_64_numbers_are_the_c_library_s() {
        #[cfg(target_arch = "x86_64")]
        for (name, number) in [
            ("kexec_load", libc::SYS_kexec_load),
            ("init_module", libc::SYS_init_module),
            ("finit_module", libc::SYS_finit_module),
            ("open_by_handle_at", libc::SYS_open_by_handle_at),
            ("perf_event_open", libc::SYS_perf_event_open),
            ("swapon", libc::SYS_swapon),
            ("clock_settime", libc::SYS_clock_settime),
            ("settimeofday", libc::SYS_settimeofday),
            ("bpf", libc::SYS_bpf),
            ("keyctl", libc::SYS_keyctl),
            ("reboot", libc::SYS_reboot),
            ("remount", libc::SYS_mount),
            ("fspick", libc::SYS_fspick),
        ] {
            assert_eq!(find(name).unwrap().x86_64, Some(number as u32), "{name}");
        }
    }

    #[test]
    fn every_default_is_in_the_table() {
        for name in DEFAULT_DENIED {
            assert!(find(name).is_some(), "{name}");
        }
    }
}
