//! The container's system-call filter: a short deny list (module loading,
//! kexec, the clock, swap, BPF, perf, the keyrings, handle-based opens,
//! superblock remounts…), denied with EPERM for the container's init and
//! everything it starts,
//! and for `vroot exec`. It is installed with CAP_SYS_ADMIN held, not with
//! no_new_privs, so setuid programs inside keep working.

pub mod bpf;
pub mod table;

pub use table::{DEFAULT_DENIED, SYSCALLS};

#[derive(Debug, thiserror::Error)]
pub enum SeccompError {
    #[error("unknown system call `{0}` (vroot filters: {known})", known = known_names())]
    Unknown(String),
    #[error("the system-call filter is only built for x86_64 so far; set [security] seccomp = false on this machine")]
    Architecture,
    #[error("cannot install the system-call filter: {0}")]
    Install(nix::Error),
}

fn known_names() -> String {
    SYSCALLS
        .iter()
        .map(|s| s.name)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The default list with `allow` taken out and `deny` added. Every name
/// must be one the filter knows.
pub fn denied_names(allow: &[String], deny: &[String]) -> Result<Vec<String>, SeccompError> {
    for name in allow.iter().chain(deny) {
        if table::find(name).is_none() {
            return Err(SeccompError::Unknown(name.clone()));
        }
    }
    let allowed = |name: &str| {
        allow.iter().any(|a| a == name)
            || table::ALLOWED_TOGETHER
                .iter()
                .any(|(first, second)| *second == name && allow.iter().any(|a| a == first))
    };
    let mut names: Vec<String> = DEFAULT_DENIED
        .iter()
        .filter(|name| !allowed(name))
        .map(|name| name.to_string())
        .collect();
    for name in deny {
        if !names.contains(name) {
            names.push(name.clone());
        }
    }
    Ok(names)
}

/// The filter for `names`, ready to install.
pub fn compile(names: &[String]) -> Result<Vec<libc::sock_filter>, SeccompError> {
    if !cfg!(target_arch = "x86_64") {
        return Err(SeccompError::Architecture);
    }
    let denied = names
        .iter()
        .map(|name| table::find(name).ok_or_else(|| SeccompError::Unknown(name.clone())))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(bpf::program(&denied))
}

/// Installs `program` on the calling thread; it stays across exec and is
/// inherited by every child. Needs CAP_SYS_ADMIN (no no_new_privs is set).
pub fn install(program: &[libc::sock_filter]) -> Result<(), SeccompError> {
    let prog = libc::sock_fprog {
        len: program.len() as u16,
        filter: program.as_ptr() as *mut libc::sock_filter,
    };
    // SAFETY: seccomp(SECCOMP_SET_MODE_FILTER) reads the sock_fprog we pass,
    // which points at `program`, alive for the call.
    let result = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_SET_MODE_FILTER,
            0,
            &prog as *const libc::sock_fprog,
        )
    };
    if result != 0 {
        return Err(SeccompError::Install(nix::Error::last()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allow_and_deny_adjust_the_default_list() {
        let names = denied_names(&["swapon".into()], &["adjtimex".into()]).unwrap();
        assert!(!names.contains(&"swapon".to_string()));
        assert!(names.contains(&"swapoff".to_string()));
        assert!(names.contains(&"adjtimex".to_string()));
        // One operation, two interfaces: allowing the remount allows fspick.
        let names = denied_names(&["remount".into()], &[]).unwrap();
        assert!(!names.iter().any(|n| n == "remount" || n == "fspick"));
        assert!(matches!(
            denied_names(&["fork".into()], &[]),
            Err(SeccompError::Unknown(name)) if name == "fork"
        ));
    }

    /// Runs `check` in a child with the default filter installed; the
    /// child exits 0 when every check holds. Only raw system calls happen
    /// in the child, so forking from the test harness's threads is safe.
    #[cfg(target_arch = "x86_64")]
    fn in_filtered_child(check: fn() -> bool) -> bool {
        let program = compile(&denied_names(&[], &[]).unwrap()).unwrap();
        // SAFETY: the child only makes system calls and _exits.
        match unsafe { libc::fork() } {
            0 => {
                let ok = install(&program).is_ok() && check();
                // SAFETY: leave the child at once.
                unsafe { libc::_exit(if ok { 0 } else { 1 }) }
            }
            pid => {
                let mut status = 0;
                // SAFETY: waitpid on our own child.
                unsafe { libc::waitpid(pid, &mut status, 0) };
                libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0
            }
        }
    }

    #[cfg(target_arch = "x86_64")]
    fn errno_of(result: libc::c_long) -> i32 {
        if result == -1 {
            // SAFETY: reading errno right after the call.
            unsafe { *libc::__errno_location() }
        } else {
            0
        }
    }

    #[test]
    #[cfg(target_arch = "x86_64")]
    fn denied_calls_fail_with_eperm_and_others_pass() {
        if unsafe { libc::geteuid() } != 0 {
            return;
        }
        assert!(in_filtered_child(|| {
            // SAFETY: each call is refused by the filter before the kernel
            // acts on its (null) arguments; getpid has none.
            unsafe {
                errno_of(libc::syscall(libc::SYS_kexec_load, 0, 0, 0, 0)) == libc::EPERM
                    && errno_of(libc::syscall(libc::SYS_init_module, 0, 0, 0)) == libc::EPERM
                    && errno_of(libc::syscall(libc::SYS_swapon, 0, 0)) == libc::EPERM
                    && errno_of(libc::syscall(libc::SYS_clock_settime, 0, 0)) == libc::EPERM
                    // reboot is denied only for kexec and suspend.
                    && errno_of(libc::syscall(libc::SYS_reboot, 0xfee1_deadu32, 672274793, 0x4558_4543u32, 0))
                        == libc::EPERM
                    && errno_of(libc::syscall(libc::SYS_reboot, 0xfee1_deadu32, 672274793, 0xD000_FCE2u32, 0))
                        == libc::EPERM
                    // A superblock remount is refused, a bind remount is not
                    // (the kernel answers it: ENOENT for the missing path).
                    && errno_of(libc::syscall(libc::SYS_mount, 0, c"/nonexistent-vroot".as_ptr(), 0, libc::MS_REMOUNT | libc::MS_RDONLY, 0))
                        == libc::EPERM
                    && errno_of(libc::syscall(libc::SYS_mount, 0, c"/nonexistent-vroot".as_ptr(), 0, libc::MS_REMOUNT | libc::MS_BIND | libc::MS_RDONLY, 0))
                        == libc::ENOENT
                    && errno_of(libc::syscall(libc::SYS_mount, 0, c"/nonexistent-vroot".as_ptr(), 0, libc::MS_BIND, 0))
                        == libc::ENOENT
                    && errno_of(libc::syscall(libc::SYS_fspick, libc::AT_FDCWD, c"/".as_ptr(), 0)) == libc::ENOSYS
                    // x32 calls never get through.
                    && errno_of(libc::syscall(libc::SYS_getpid | 0x4000_0000)) == libc::ENOSYS
                    && libc::syscall(libc::SYS_getpid) > 0
            }
        }));
    }

    #[test]
    #[cfg(target_arch = "x86_64")]
    fn the_i386_table_is_filtered_too() {
        if unsafe { libc::geteuid() } != 0 {
            return;
        }
        assert!(in_filtered_child(|| {
            // swapoff(NULL) through int 0x80 (i386 number 115): refused by
            // the filter with EPERM; unfiltered, the kernel would answer
            // EFAULT for the null path. getpid (i386 20) passes.
            let swapoff: i64;
            let getpid: i64;
            // SAFETY: int 0x80 with register arguments only; no memory is
            // passed (null pointers), and the filter refuses the call.
            unsafe {
                // rbx is LLVM's: saved around the call, zeroed for it.
                std::arch::asm!(
                    "mov {save}, rbx",
                    "xor ebx, ebx",
                    "int 0x80",
                    "mov rbx, {save}",
                    save = out(reg) _,
                    inlateout("rax") 115i64 => swapoff,
                    in("rcx") 0, in("rdx") 0, in("rsi") 0,
                );
                std::arch::asm!("int 0x80", inlateout("rax") 20i64 => getpid);
            }
            let native = unsafe { libc::getpid() } as i64;
            swapoff == -(libc::EPERM as i64) && getpid == native
        }));
    }
}
