//! The container's capability set: which capabilities it keeps (ANCHORS §2),
//! and applying a set to the current process before exec.

use std::collections::HashSet;

pub use oci_spec::runtime::Capabilities;
use oci_spec::runtime::Capability;

#[derive(Debug, thiserror::Error)]
pub enum CapabilityError {
    #[error("cannot drop {name} from the bounding set: {source}")]
    DropBounding { name: String, source: nix::Error },
    #[error("cannot set the capability sets: {0}")]
    Capset(nix::Error),
}

/// What a full OS container keeps, after systemd-nspawn's default set:
/// enough for systemd, mounting inside, rebooting itself and managing its own
/// network; no module loading, raw I/O, clock, audit, MAC or BPF.
/// CAP_DAC_READ_SEARCH is left out too: with it, `open_by_handle_at` opens
/// files outside the root, and root keeps CAP_DAC_OVERRIDE for everything else.
pub const CONTAINER_CAPABILITIES: &[Capability] = &[
    Capability::Chown,
    Capability::DacOverride,
    Capability::Fowner,
    Capability::Fsetid,
    Capability::IpcOwner,
    Capability::Kill,
    Capability::Lease,
    Capability::LinuxImmutable,
    Capability::Mknod,
    Capability::NetAdmin,
    Capability::NetBindService,
    Capability::NetBroadcast,
    Capability::NetRaw,
    Capability::Setfcap,
    Capability::Setgid,
    Capability::Setpcap,
    Capability::Setuid,
    Capability::SysAdmin,
    Capability::SysBoot,
    Capability::SysChroot,
    Capability::SysNice,
    Capability::SysPtrace,
    Capability::SysResource,
    Capability::SysTtyConfig,
];

pub fn container_default() -> HashSet<Capability> {
    CONTAINER_CAPABILITIES.iter().copied().collect()
}

/// The kernel's number for a capability (linux/capability.h).
pub fn number(capability: Capability) -> u32 {
    use Capability::*;
    match capability {
        Chown => 0,
        DacOverride => 1,
        DacReadSearch => 2,
        Fowner => 3,
        Fsetid => 4,
        Kill => 5,
        Setgid => 6,
        Setuid => 7,
        Setpcap => 8,
        LinuxImmutable => 9,
        NetBindService => 10,
        NetBroadcast => 11,
        NetAdmin => 12,
        NetRaw => 13,
        IpcLock => 14,
        IpcOwner => 15,
        SysModule => 16,
        SysRawio => 17,
        SysChroot => 18,
        SysPtrace => 19,
        SysPacct => 20,
        SysAdmin => 21,
        SysBoot => 22,
        SysNice => 23,
        SysResource => 24,
        SysTime => 25,
        SysTtyConfig => 26,
        Mknod => 27,
        Lease => 28,
        AuditWrite => 29,
        AuditControl => 30,
        Setfcap => 31,
        MacOverride => 32,
        MacAdmin => 33,
        Syslog => 34,
        WakeAlarm => 35,
        BlockSuspend => 36,
        AuditRead => 37,
        Perfmon => 38,
        Bpf => 39,
        CheckpointRestore => 40,
    }
}

/// Capabilities are numbered below 64 (two 32-bit words); the kernel
/// answers EINVAL for numbers it does not know. Nothing is read from `/proc`:
/// `vroot exec` calls this inside the container's mount namespace, whose
/// `/proc` the container controls.
const CAPABILITY_WORDS_BITS: u32 = 64;

#[repr(C)]
struct CapHeader {
    version: u32,
    pid: i32,
}

#[repr(C)]
#[derive(Default, Clone, Copy)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

const LINUX_CAPABILITY_VERSION_3: u32 = 0x2008_0522;

/// Limits the calling process (root) to `keep`: drops every other capability
/// from the bounding set, then sets effective and permitted to `keep` and
/// clears inheritable. After exec, root's capabilities are the bounding set.
pub fn restrict_to(keep: &HashSet<Capability>) -> Result<(), CapabilityError> {
    let kept: HashSet<u32> = keep.iter().map(|cap| number(*cap)).collect();
    for cap in 0..CAPABILITY_WORDS_BITS {
        if kept.contains(&cap) {
            continue;
        }
        // SAFETY: PR_CAPBSET_DROP takes a capability number and no pointers.
        let result = unsafe { libc::prctl(libc::PR_CAPBSET_DROP, cap as libc::c_ulong, 0, 0, 0) };
        if result != 0 {
            let error = nix::Error::last();
            // A capability this kernel does not know cannot be in the set.
            if error != nix::Error::EINVAL {
                return Err(CapabilityError::DropBounding {
                    name: format!("capability {cap}"),
                    source: error,
                });
            }
        }
    }
    // A capability the runtime itself lacks (some hosts withhold e.g.
    // CAP_SYS_RESOURCE) cannot be given to the container.
    let current = current_permitted()?;
    let mut data = [CapData::default(); 2];
    for cap in kept.into_iter().filter(|cap| current & (1u64 << cap) != 0) {
        let slot = &mut data[(cap / 32) as usize];
        slot.effective |= 1 << (cap % 32);
        slot.permitted |= 1 << (cap % 32);
    }
    let mut header = CapHeader {
        version: LINUX_CAPABILITY_VERSION_3,
        pid: 0,
    };
    // SAFETY: header and data are valid, correctly laid out (repr(C)) and
    // live across the call; version 3 takes exactly two CapData entries.
    let result = unsafe {
        libc::syscall(
            libc::SYS_capset,
            &mut header as *mut CapHeader,
            data.as_ptr(),
        )
    };
    if result != 0 {
        return Err(CapabilityError::Capset(nix::Error::last()));
    }
    Ok(())
}

fn current_permitted() -> Result<u64, CapabilityError> {
    let mut header = CapHeader {
        version: LINUX_CAPABILITY_VERSION_3,
        pid: 0,
    };
    let mut data = [CapData::default(); 2];
    // SAFETY: capget writes two CapData entries for version 3; both buffers
    // are valid and live across the call.
    let result = unsafe {
        libc::syscall(
            libc::SYS_capget,
            &mut header as *mut CapHeader,
            data.as_mut_ptr(),
        )
    };
    if result != 0 {
        return Err(CapabilityError::Capset(nix::Error::last()));
    }
    Ok(u64::from(data[0].permitted) | (u64::from(data[1].permitted) << 32))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_set_follows_the_anchors() {
        let set = container_default();
        for kept in [
            Capability::SysAdmin,
            Capability::Mknod,
            Capability::SysBoot,
            Capability::NetAdmin,
        ] {
            assert!(set.contains(&kept), "{kept:?} must be kept");
        }
        for dropped in [
            Capability::SysModule,
            Capability::SysRawio,
            Capability::SysTime,
            Capability::AuditWrite,
            Capability::AuditControl,
            Capability::MacAdmin,
            Capability::Bpf,
            Capability::DacReadSearch,
        ] {
            assert!(!set.contains(&dropped), "{dropped:?} must be dropped");
        }
    }

    #[test]
    fn every_capability_has_its_kernel_number() {
        use Capability::*;
        // linux/capability.h order, 0 to 40.
        let all = [
            Chown,
            DacOverride,
            DacReadSearch,
            Fowner,
            Fsetid,
            Kill,
            Setgid,
            Setuid,
            Setpcap,
            LinuxImmutable,
            NetBindService,
            NetBroadcast,
            NetAdmin,
            NetRaw,
            IpcLock,
            IpcOwner,
            SysModule,
            SysRawio,
            SysChroot,
            SysPtrace,
            SysPacct,
            SysAdmin,
            SysBoot,
            SysNice,
            SysResource,
            SysTime,
            SysTtyConfig,
            Mknod,
            Lease,
            AuditWrite,
            AuditControl,
            Setfcap,
            MacOverride,
            MacAdmin,
            Syslog,
            WakeAlarm,
            BlockSuspend,
            AuditRead,
            Perfmon,
            Bpf,
            CheckpointRestore,
        ];
        for (expected, capability) in all.iter().enumerate() {
            assert_eq!(number(*capability), expected as u32, "{capability:?}");
        }
    }
}
