//! The devices allowlist as an eBPF program of type `BPF_PROG_TYPE_CGROUP_DEVICE`,
//! for cgroup v2, which has no devices controller: the kernel runs the program
//! attached to a task's cgroup (and its ancestors') on every open and mknod of
//! a device node, and refuses the access unless it returns 1.
//!
//! The program is small enough to write out by hand, like the seccomp filter:
//! load the request into registers, then one block per rule, last rule first,
//! each jumping to the next block unless the request matches, and returning
//! the rule's verdict if it does. A request no rule matches is denied. This
//! is the rule semantics of the OCI runtimes (runc, crun) and of the v1
//! controller's list: the last matching rule decides.

use std::ffi::c_long;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use oci_spec::runtime::{LinuxDeviceCgroup, LinuxDeviceType};

#[derive(Debug, thiserror::Error)]
pub enum DeviceProgramError {
    #[error("device rule {index} (`{rule}`) cannot be enforced: {reason}")]
    InvalidRule {
        index: usize,
        rule: String,
        reason: &'static str,
    },
    #[error("the kernel refused the device program: {source}{}", verifier_suffix(.verifier_log))]
    Load {
        source: std::io::Error,
        /// The verifier's last lines, when it got as far as the verifier.
        verifier_log: String,
    },
    #[error("cannot open cgroup {path}: {source}")]
    OpenCgroup {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot attach the device program to cgroup {path}: {source}")]
    Attach {
        path: PathBuf,
        source: std::io::Error,
    },
}

fn verifier_suffix(log: &str) -> String {
    if log.is_empty() {
        String::new()
    } else {
        format!(" (verifier: {log})")
    }
}

impl DeviceProgramError {
    /// What the operator can do about it, for a one-line message.
    pub fn fix(&self) -> &'static str {
        let errno = match self {
            DeviceProgramError::InvalidRule { .. } => {
                return "correct the rule (types a, b, c; numbers 0 to 2147483647; access of r, w, m)"
            }
            DeviceProgramError::OpenCgroup { .. } => {
                return "check that the cgroup2 hierarchy is mounted and writable"
            }
            DeviceProgramError::Load { verifier_log, .. } if !verifier_log.is_empty() => {
                return "the kernel's verifier rejected vroot's program: report this message"
            }
            DeviceProgramError::Load { source, .. } | DeviceProgramError::Attach { source, .. } => {
                source.raw_os_error()
            }
        };
        match errno {
            // No bpf(2) at all, or (for the load, before the verifier runs,
            // and for the attach) no cgroup BPF: an unknown program type and
            // the attach stub both answer EINVAL.
            Some(libc::ENOSYS) => {
                "this kernel has no bpf(2): it needs CONFIG_BPF_SYSCALL and CONFIG_CGROUP_BPF to keep devices out of reach on cgroup v2"
            }
            Some(libc::EINVAL) => {
                "this kernel lacks cgroup BPF device programs: it needs CONFIG_CGROUP_BPF to keep devices out of reach on cgroup v2"
            }
            Some(libc::EPERM) | Some(libc::EACCES) => {
                "vroot needs CAP_SYS_ADMIN (or CAP_BPF), and no LSM or seccomp policy refusing bpf(2)"
            }
            _ => "see the kernel's answer",
        }
    }
}

/// One eBPF instruction, as the kernel reads it (struct bpf_insn).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Insn {
    pub code: u8,
    /// dst_reg in the low four bits, src_reg in the high four (on a
    /// little-endian machine; the C bitfields swap on a big-endian one).
    pub regs: u8,
    pub off: i16,
    pub imm: i32,
}

const _: () = assert!(std::mem::size_of::<Insn>() == 8);

impl Insn {
    fn new(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> Self {
        #[cfg(target_endian = "little")]
        let regs = (src << 4) | (dst & 0x0f);
        #[cfg(target_endian = "big")]
        let regs = (dst << 4) | (src & 0x0f);
        Insn {
            code,
            regs,
            off,
            imm,
        }
    }

    pub fn dst(&self) -> u8 {
        #[cfg(target_endian = "little")]
        return self.regs & 0x0f;
        #[cfg(target_endian = "big")]
        return self.regs >> 4;
    }

    pub fn src(&self) -> u8 {
        #[cfg(target_endian = "little")]
        return self.regs >> 4;
        #[cfg(target_endian = "big")]
        return self.regs & 0x0f;
    }
}

// Opcodes (linux/bpf.h, linux/bpf_common.h): class | operation | source.
/// `dst = *(u32 *)(src + off)`: BPF_LDX | BPF_MEM | BPF_W.
pub const LDX_MEM_W: u8 = 0x61;
/// `dst32 &= imm`: BPF_ALU | BPF_AND | BPF_K.
pub const ALU32_AND_K: u8 = 0x54;
/// `dst32 >>= imm`: BPF_ALU | BPF_RSH | BPF_K.
pub const ALU32_RSH_K: u8 = 0x74;
/// `dst32 = src32`: BPF_ALU | BPF_MOV | BPF_X.
pub const ALU32_MOV_X: u8 = 0xbc;
/// `dst = imm`: BPF_ALU64 | BPF_MOV | BPF_K.
pub const ALU64_MOV_K: u8 = 0xb7;
/// `if dst == imm goto +off`: BPF_JMP | BPF_JEQ | BPF_K.
pub const JEQ_K: u8 = 0x15;
/// `if dst != imm goto +off`: BPF_JMP | BPF_JNE | BPF_K.
pub const JNE_K: u8 = 0x55;
/// `if dst != src goto +off`: BPF_JMP | BPF_JNE | BPF_X.
pub const JNE_X: u8 = 0x5d;
/// `return r0`: BPF_JMP | BPF_EXIT.
pub const EXIT: u8 = 0x95;

// Registers: r0 the return value, r1 the context on entry (then scratch),
// r2..r5 the request once loaded.
const R0: u8 = 0;
const R1: u8 = 1;
const TYPE: u8 = 2;
const ACCESS: u8 = 3;
const MAJOR: u8 = 4;
const MINOR: u8 = 5;

// struct bpf_cgroup_dev_ctx { u32 access_type; u32 major; u32 minor; }
const ACCESS_TYPE_OFFSET: i16 = 0;
const MAJOR_OFFSET: i16 = 4;
const MINOR_OFFSET: i16 = 8;

pub const DEV_BLOCK: u32 = 1;
pub const DEV_CHAR: u32 = 2;
pub const ACC_MKNOD: u32 = 1;
pub const ACC_READ: u32 = 2;
pub const ACC_WRITE: u32 = 4;
const ACC_ALL: u32 = ACC_MKNOD | ACC_READ | ACC_WRITE;

const BPF_PROG_LOAD: c_long = 5;
const BPF_PROG_ATTACH: c_long = 8;
const BPF_PROG_TYPE_CGROUP_DEVICE: u32 = 15;
const BPF_CGROUP_DEVICE: u32 = 6;
/// Programs attached below ours run as well, and every one must allow:
/// nothing attached below can override our verdict, and attaching there is
/// not refused (systemd inside would attach its own to its units, were
/// `bpf` not in the container's system-call filter).
const BPF_F_ALLOW_MULTI: u32 = 2;

/// A rule as the program checks it: `None` is "any".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Rule {
    allow: bool,
    typ: Option<u32>,
    major: Option<u32>,
    minor: Option<u32>,
    access: u32,
}

fn parse_rule(index: usize, rule: &LinuxDeviceCgroup) -> Result<Rule, DeviceProgramError> {
    let invalid = |reason| DeviceProgramError::InvalidRule {
        index,
        rule: super::v1_device_rule(rule),
        reason,
    };
    let typ = match rule.typ().unwrap_or_default() {
        LinuxDeviceType::A => None,
        LinuxDeviceType::B => Some(DEV_BLOCK),
        // An unbuffered character device is a character device to the kernel.
        LinuxDeviceType::C | LinuxDeviceType::U => Some(DEV_CHAR),
        LinuxDeviceType::P => return Err(invalid("a FIFO is not a device the kernel checks")),
    };
    // The numbers become 32-bit immediates compared with the zero-extended
    // context fields: a number above i32::MAX would be sign-extended and
    // never match. No real device has one (majors have 12 bits, minors 20).
    let number = |n: Option<i64>| -> Result<Option<u32>, DeviceProgramError> {
        match n {
            None => Ok(None),
            Some(n) if (0..=i64::from(i32::MAX)).contains(&n) => Ok(Some(n as u32)),
            Some(_) => Err(invalid("a device number out of range")),
        }
    };
    let mut access = 0;
    for letter in rule.access().as_deref().unwrap_or("rwm").chars() {
        access |= match letter {
            'r' => ACC_READ,
            'w' => ACC_WRITE,
            'm' => ACC_MKNOD,
            _ => return Err(invalid("an access other than r, w and m")),
        };
    }
    Ok(Rule {
        allow: rule.allow(),
        typ,
        major: number(rule.major())?,
        minor: number(rule.minor())?,
        access,
    })
}

/// The code of one rule: a jump past the block for each check the request
/// fails, then the verdict. `None` for a rule no request can match. The
/// second value says whether the block matches every request (no checks),
/// which makes everything after it unreachable.
fn rule_block(rule: &Rule) -> Option<(Vec<Insn>, bool)> {
    // The kernel asks for a non-empty subset of rwm. A rule with no access
    // matches none; one with all of rwm matches any, allow or deny, so its
    // access check is left out.
    if rule.access == 0 {
        return None;
    }
    let mut block = Vec::new();
    // Indexes of the jumps to patch with the distance to the block's end.
    let mut skips = Vec::new();
    if let Some(typ) = rule.typ {
        skips.push(block.len());
        block.push(Insn::new(JNE_K, TYPE, 0, 0, typ as i32));
    }
    if rule.access != ACC_ALL {
        block.push(Insn::new(ALU32_MOV_X, R1, ACCESS, 0, 0));
        block.push(Insn::new(ALU32_AND_K, R1, 0, 0, rule.access as i32));
        skips.push(block.len());
        if rule.allow {
            // Allowed only if every requested bit is allowed.
            block.push(Insn::new(JNE_X, R1, ACCESS, 0, 0));
        } else {
            // Denied if any requested bit is denied.
            block.push(Insn::new(JEQ_K, R1, 0, 0, 0));
        }
    }
    if let Some(major) = rule.major {
        skips.push(block.len());
        block.push(Insn::new(JNE_K, MAJOR, 0, 0, major as i32));
    }
    if let Some(minor) = rule.minor {
        skips.push(block.len());
        block.push(Insn::new(JNE_K, MINOR, 0, 0, minor as i32));
    }
    let unconditional = skips.is_empty();
    block.push(Insn::new(ALU64_MOV_K, R0, 0, 0, i32::from(rule.allow)));
    block.push(Insn::new(EXIT, 0, 0, 0, 0));
    let end = block.len();
    for at in skips {
        // A jump lands at pc + 1 + off; blocks are a handful of instructions.
        block[at].off = (end - at - 1) as i16;
    }
    Some((block, unconditional))
}

/// The program for `rules`, in the order the spec lists them.
pub fn compile(rules: &[LinuxDeviceCgroup]) -> Result<Vec<Insn>, DeviceProgramError> {
    let parsed = rules
        .iter()
        .enumerate()
        .map(|(index, rule)| parse_rule(index, rule))
        .collect::<Result<Vec<_>, _>>()?;
    let mut program = vec![
        // r2 = type (low 16 bits), r3 = access (high 16 bits).
        Insn::new(LDX_MEM_W, TYPE, R1, ACCESS_TYPE_OFFSET, 0),
        Insn::new(ALU32_AND_K, TYPE, 0, 0, 0xffff),
        Insn::new(LDX_MEM_W, ACCESS, R1, ACCESS_TYPE_OFFSET, 0),
        Insn::new(ALU32_RSH_K, ACCESS, 0, 0, 16),
        Insn::new(LDX_MEM_W, MAJOR, R1, MAJOR_OFFSET, 0),
        Insn::new(LDX_MEM_W, MINOR, R1, MINOR_OFFSET, 0),
    ];
    // Last rule first: the first block that matches is the last rule that does.
    for rule in parsed.iter().rev() {
        if let Some((block, unconditional)) = rule_block(rule) {
            program.extend(block);
            if unconditional {
                // The verifier refuses unreachable instructions, and nothing
                // after a rule that matches everything can run.
                return Ok(program);
            }
        }
    }
    // No rule matched: deny.
    program.push(Insn::new(ALU64_MOV_K, R0, 0, 0, 0));
    program.push(Insn::new(EXIT, 0, 0, 0, 0));
    Ok(program)
}

/// The BPF_PROG_LOAD part of union bpf_attr, up to expected_attach_type;
/// the kernel takes a shorter attr than its own and zeroes the rest.
#[repr(C)]
#[derive(Default)]
struct ProgLoadAttr {
    prog_type: u32,
    insn_cnt: u32,
    insns: u64,
    license: u64,
    log_level: u32,
    log_size: u32,
    log_buf: u64,
    kern_version: u32,
    prog_flags: u32,
    prog_name: [u8; 16],
    prog_ifindex: u32,
    expected_attach_type: u32,
}

const _: () = assert!(std::mem::size_of::<ProgLoadAttr>() == 72);

/// The BPF_PROG_ATTACH part of union bpf_attr, up to replace_bpf_fd.
#[repr(C)]
struct ProgAttachAttr {
    target_fd: u32,
    attach_bpf_fd: u32,
    attach_type: u32,
    attach_flags: u32,
    replace_bpf_fd: u32,
}

const LICENSE: &[u8] = b"Apache-2.0\0";
/// Shown by `bpftool prog`; at most 15 bytes and a NUL.
const PROG_NAME: &[u8] = b"vroot_devices";
const LOG_SIZE: usize = 64 * 1024;

/// Hands `program` to the kernel's verifier; the fd names the loaded program.
pub fn load(program: &[Insn]) -> Result<OwnedFd, DeviceProgramError> {
    match load_with_log(program, None) {
        Ok(fd) => Ok(fd),
        Err(source) => {
            // Again with a log, so that the error can say what the verifier
            // disliked. Not the first time: the log costs the kernel time
            // and memory, and is empty when all goes well.
            let mut log = vec![0u8; LOG_SIZE];
            match load_with_log(program, Some(&mut log)) {
                Ok(fd) => Ok(fd),
                Err(_) => Err(DeviceProgramError::Load {
                    source,
                    verifier_log: last_lines(&log, 3),
                }),
            }
        }
    }
}

fn load_with_log(program: &[Insn], log: Option<&mut [u8]>) -> Result<OwnedFd, std::io::Error> {
    let mut attr = ProgLoadAttr {
        prog_type: BPF_PROG_TYPE_CGROUP_DEVICE,
        insn_cnt: program.len() as u32,
        insns: program.as_ptr() as u64,
        license: LICENSE.as_ptr() as u64,
        expected_attach_type: BPF_CGROUP_DEVICE,
        ..Default::default()
    };
    attr.prog_name[..PROG_NAME.len()].copy_from_slice(PROG_NAME);
    if let Some(log) = log {
        attr.log_level = 1;
        attr.log_size = log.len() as u32;
        attr.log_buf = log.as_mut_ptr() as u64;
    }
    // The verifier answers EAGAIN when a signal interrupts it; libbpf
    // retries too.
    let mut attempts = 0;
    loop {
        // SAFETY: bpf(BPF_PROG_LOAD) reads `attr` (its size is passed) and
        // the instructions, license and log buffer it points at, all alive
        // and unmoved for the call; it writes only into the log buffer,
        // within log_size.
        let fd = unsafe {
            libc::syscall(
                libc::SYS_bpf,
                BPF_PROG_LOAD,
                &attr as *const ProgLoadAttr,
                std::mem::size_of::<ProgLoadAttr>() as libc::c_uint,
            )
        };
        if fd >= 0 {
            // SAFETY: the kernel just returned this fd to us; nothing else owns it.
            return Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) });
        }
        let error = std::io::Error::last_os_error();
        attempts += 1;
        if error.raw_os_error() != Some(libc::EAGAIN) || attempts >= 5 {
            return Err(error);
        }
    }
}

/// The last `count` lines of a NUL-terminated verifier log, joined into one:
/// the verifier ends with its complaint, then its statistics, left out.
fn last_lines(log: &[u8], count: usize) -> String {
    let end = log.iter().position(|&b| b == 0).unwrap_or(log.len());
    let text = String::from_utf8_lossy(&log[..end]);
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| {
            !l.is_empty() && !l.starts_with("processed ") && !l.starts_with("verification time")
        })
        .collect();
    lines[lines.len().saturating_sub(count)..].join(" / ")
}

/// Attaches a loaded program to the cgroup2 directory `cgroup`. The kernel
/// keeps it attached after `program` is closed, until the cgroup is removed.
pub fn attach(program: &OwnedFd, cgroup: &Path) -> Result<(), DeviceProgramError> {
    let dir = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECTORY)
        .open(cgroup)
        .map_err(|source| DeviceProgramError::OpenCgroup {
            path: cgroup.to_path_buf(),
            source,
        })?;
    let attr = ProgAttachAttr {
        target_fd: dir.as_raw_fd() as u32,
        attach_bpf_fd: program.as_raw_fd() as u32,
        attach_type: BPF_CGROUP_DEVICE,
        attach_flags: BPF_F_ALLOW_MULTI,
        replace_bpf_fd: 0,
    };
    // SAFETY: bpf(BPF_PROG_ATTACH) only reads `attr`, alive for the call;
    // both fds in it are open (`dir` and `program` outlive the call).
    let result = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            BPF_PROG_ATTACH,
            &attr as *const ProgAttachAttr,
            std::mem::size_of::<ProgAttachAttr>() as libc::c_uint,
        )
    };
    if result != 0 {
        return Err(DeviceProgramError::Attach {
            path: cgroup.to_path_buf(),
            source: std::io::Error::last_os_error(),
        });
    }
    Ok(())
}

/// Compiles `rules`, loads the program and attaches it to `cgroup`.
pub fn confine(rules: &[LinuxDeviceCgroup], cgroup: &Path) -> Result<(), DeviceProgramError> {
    let program = load(&compile(rules)?)?;
    attach(&program, cgroup)
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::LinuxDeviceCgroupBuilder;

    fn rule(
        allow: bool,
        typ: LinuxDeviceType,
        major: Option<i64>,
        minor: Option<i64>,
        access: &str,
    ) -> LinuxDeviceCgroup {
        let mut builder = LinuxDeviceCgroupBuilder::default()
            .allow(allow)
            .typ(typ)
            .access(access);
        if let Some(major) = major {
            builder = builder.major(major);
        }
        if let Some(minor) = minor {
            builder = builder.minor(minor);
        }
        builder.build().unwrap()
    }

    fn deny_all() -> LinuxDeviceCgroup {
        rule(false, LinuxDeviceType::A, None, None, "rwm")
    }

    fn allow_char(major: i64, minor: Option<i64>, access: &str) -> LinuxDeviceCgroup {
        rule(true, LinuxDeviceType::C, Some(major), minor, access)
    }

    /// The rules' meaning, written directly: the last matching rule decides,
    /// none matching denies.
    fn expected(
        rules: &[LinuxDeviceCgroup],
        typ: u32,
        major: u32,
        minor: u32,
        access: u32,
    ) -> bool {
        let mut verdict = false;
        for rule in rules {
            let rule_type = rule.typ().unwrap_or_default();
            let type_matches = match rule_type {
                LinuxDeviceType::A => true,
                LinuxDeviceType::B => typ == DEV_BLOCK,
                _ => typ == DEV_CHAR,
            };
            let rule_access = rule
                .access()
                .as_deref()
                .unwrap_or("rwm")
                .chars()
                .map(|c| match c {
                    'r' => ACC_READ,
                    'w' => ACC_WRITE,
                    _ => ACC_MKNOD,
                })
                .fold(0, |a, b| a | b);
            let access_matches = if rule.allow() {
                access & !rule_access == 0
            } else {
                access & rule_access != 0
            };
            if type_matches
                && access_matches
                && !matches!(rule.major(), Some(m) if m != i64::from(major))
                && !matches!(rule.minor(), Some(m) if m != i64::from(minor))
            {
                verdict = rule.allow();
            }
        }
        verdict
    }

    /// Runs the program on one request, as the kernel would, and checks on
    /// the way what the verifier would: known instructions only, jumps
    /// within the program, no unreachable instruction, an exit at the end.
    fn run(program: &[Insn], typ: u32, major: u32, minor: u32, access: u32) -> bool {
        check_shape(program);
        let context = [(access << 16) | typ, major, minor];
        let mut regs = [0u64; 11];
        // r1 holds the context pointer on entry: a marker, so that a load
        // through a clobbered r1 is caught.
        regs[1] = u64::MAX;
        let mut pc = 0usize;
        let mut steps = 0;
        loop {
            steps += 1;
            assert!(steps < 10_000, "the program loops");
            let insn = program[pc];
            let (dst, src) = (insn.dst() as usize, insn.src() as usize);
            pc += 1;
            let jump = |taken: bool, pc: usize| {
                if taken {
                    (pc as isize + insn.off as isize) as usize
                } else {
                    pc
                }
            };
            match insn.code {
                LDX_MEM_W => {
                    assert_eq!(src, R1 as usize, "loads only from the context");
                    assert_eq!(regs[src], u64::MAX, "the context pointer is gone");
                    regs[dst] = u64::from(context[insn.off as usize / 4]);
                }
                ALU32_AND_K => regs[dst] = u64::from(regs[dst] as u32 & insn.imm as u32),
                ALU32_RSH_K => regs[dst] = u64::from((regs[dst] as u32) >> insn.imm),
                ALU32_MOV_X => regs[dst] = u64::from(regs[src] as u32),
                // A 64-bit move sign-extends the immediate.
                ALU64_MOV_K => regs[dst] = i64::from(insn.imm) as u64,
                JEQ_K => pc = jump(regs[dst] == i64::from(insn.imm) as u64, pc),
                JNE_K => pc = jump(regs[dst] != i64::from(insn.imm) as u64, pc),
                JNE_X => pc = jump(regs[dst] != regs[src], pc),
                EXIT => {
                    let r0 = regs[0];
                    assert!(r0 == 0 || r0 == 1, "returns {r0}");
                    return r0 == 1;
                }
                other => panic!("unknown opcode {other:#x}"),
            }
        }
    }

    fn check_shape(program: &[Insn]) {
        assert!(program.len() < 4096);
        assert_eq!(program.last().unwrap().code, EXIT);
        let mut reached = vec![false; program.len()];
        let mut work = vec![0usize];
        while let Some(pc) = work.pop() {
            if reached[pc] {
                continue;
            }
            reached[pc] = true;
            let insn = program[pc];
            match insn.code {
                EXIT => {}
                JEQ_K | JNE_K | JNE_X => {
                    assert!(insn.off >= 0, "a backward jump at {pc}");
                    let target = pc + 1 + insn.off as usize;
                    assert!(target < program.len(), "a jump out of the program at {pc}");
                    work.push(target);
                    work.push(pc + 1);
                }
                _ => work.push(pc + 1),
            }
        }
        let unreachable: Vec<usize> = (0..program.len()).filter(|&i| !reached[i]).collect();
        assert!(
            unreachable.is_empty(),
            "unreachable instructions {unreachable:?}"
        );
    }

    /// Compares program and meaning on a grid of requests.
    fn agree(rules: &[LinuxDeviceCgroup]) {
        let program = compile(rules).unwrap();
        for typ in [DEV_BLOCK, DEV_CHAR] {
            for major in [0, 1, 5, 136, 254] {
                for minor in [0, 1, 2, 3, 7, 9] {
                    for access in 1..=ACC_ALL {
                        assert_eq!(
                            run(&program, typ, major, minor, access),
                            expected(rules, typ, major, minor, access),
                            "type {typ} {major}:{minor} access {access} with {:?}",
                            rules
                                .iter()
                                .map(super::super::v1_device_rule)
                                .collect::<Vec<_>>()
                        );
                    }
                }
            }
        }
    }

    fn request(rules: &[LinuxDeviceCgroup], typ: u32, major: u32, minor: u32, access: u32) -> bool {
        run(&compile(rules).unwrap(), typ, major, minor, access)
    }

    #[test]
    fn encodes_instructions_as_the_kernel_reads_them() {
        let insn = Insn::new(JNE_X, 1, 3, 2, 0);
        // SAFETY: Insn is repr(C), 8 bytes, with no padding.
        let bytes: [u8; 8] = unsafe { std::mem::transmute(insn) };
        assert_eq!(bytes, [0x5d, 0x31, 2, 0, 0, 0, 0, 0]);
        let insn = Insn::new(ALU64_MOV_K, 0, 0, 0, -2);
        // SAFETY: as above.
        let bytes: [u8; 8] = unsafe { std::mem::transmute(insn) };
        assert_eq!(bytes, [0xb7, 0x00, 0, 0, 0xfe, 0xff, 0xff, 0xff]);
    }

    #[test]
    fn no_rules_deny_everything() {
        assert!(!request(&[], DEV_CHAR, 1, 3, ACC_READ));
        agree(&[]);
    }

    #[test]
    fn the_containers_list_allows_only_its_own_nodes() {
        let rules = [
            deny_all(),
            allow_char(1, Some(3), "rwm"),
            allow_char(5, Some(1), "rwm"),
            allow_char(136, None, "rwm"),
        ];
        assert!(request(&rules, DEV_CHAR, 1, 3, ACC_READ | ACC_WRITE));
        assert!(request(&rules, DEV_CHAR, 1, 3, ACC_MKNOD));
        assert!(!request(&rules, DEV_CHAR, 1, 7, ACC_READ));
        assert!(!request(&rules, DEV_BLOCK, 1, 3, ACC_READ));
        assert!(!request(&rules, DEV_BLOCK, 254, 0, ACC_MKNOD));
        // A missing minor is any minor.
        assert!(request(&rules, DEV_CHAR, 136, 9, ACC_WRITE));
        assert!(!request(&rules, DEV_CHAR, 137, 9, ACC_WRITE));
        agree(&rules);
    }

    #[test]
    fn the_last_matching_rule_wins() {
        let rules = [
            deny_all(),
            allow_char(1, None, "rwm"),
            rule(false, LinuxDeviceType::C, Some(1), Some(7), "rwm"),
        ];
        assert!(request(&rules, DEV_CHAR, 1, 3, ACC_READ));
        assert!(!request(&rules, DEV_CHAR, 1, 7, ACC_READ));
        agree(&rules);
        // The same rules the other way round: the wide allow comes last.
        let rules = [
            deny_all(),
            rule(false, LinuxDeviceType::C, Some(1), Some(7), "rwm"),
            allow_char(1, None, "rwm"),
        ];
        assert!(request(&rules, DEV_CHAR, 1, 7, ACC_READ));
        agree(&rules);
    }

    #[test]
    fn an_allow_covers_subsets_of_its_access_only() {
        let rules = [deny_all(), allow_char(1, Some(3), "r")];
        assert!(request(&rules, DEV_CHAR, 1, 3, ACC_READ));
        assert!(!request(&rules, DEV_CHAR, 1, 3, ACC_READ | ACC_WRITE));
        assert!(!request(&rules, DEV_CHAR, 1, 3, ACC_MKNOD));
        agree(&rules);
        let rules = [deny_all(), allow_char(1, Some(3), "rw")];
        assert!(request(&rules, DEV_CHAR, 1, 3, ACC_READ | ACC_WRITE));
        assert!(!request(&rules, DEV_CHAR, 1, 3, ACC_READ | ACC_MKNOD));
        agree(&rules);
    }

    #[test]
    fn a_deny_refuses_any_overlap_with_its_access() {
        let rules = [
            rule(true, LinuxDeviceType::A, None, None, "rwm"),
            rule(false, LinuxDeviceType::C, Some(1), Some(3), "w"),
        ];
        assert!(request(&rules, DEV_CHAR, 1, 3, ACC_READ));
        assert!(!request(&rules, DEV_CHAR, 1, 3, ACC_WRITE));
        assert!(!request(&rules, DEV_CHAR, 1, 3, ACC_READ | ACC_WRITE));
        assert!(request(&rules, DEV_CHAR, 1, 7, ACC_WRITE));
        assert!(request(&rules, DEV_BLOCK, 1, 3, ACC_WRITE));
        agree(&rules);
    }

    #[test]
    fn type_a_matches_both_types_and_missing_numbers_any() {
        let rules = [
            deny_all(),
            rule(true, LinuxDeviceType::A, Some(5), None, "rw"),
        ];
        assert!(request(&rules, DEV_BLOCK, 5, 9, ACC_READ));
        assert!(request(&rules, DEV_CHAR, 5, 0, ACC_WRITE));
        assert!(!request(&rules, DEV_CHAR, 5, 0, ACC_MKNOD));
        assert!(!request(&rules, DEV_CHAR, 1, 0, ACC_READ));
        agree(&rules);
        let rules = [
            deny_all(),
            rule(true, LinuxDeviceType::B, None, Some(0), "rwm"),
        ];
        assert!(request(&rules, DEV_BLOCK, 254, 0, ACC_READ));
        assert!(!request(&rules, DEV_CHAR, 254, 0, ACC_READ));
        agree(&rules);
    }

    #[test]
    fn a_rule_matching_everything_ends_the_program() {
        // Anything the verifier would call unreachable is left out (run()
        // checks that every instruction is reachable).
        let rules = [allow_char(1, Some(3), "rwm"), deny_all()];
        let program = compile(&rules).unwrap();
        assert_eq!(program.len(), 6 + 2);
        assert!(!request(&rules, DEV_CHAR, 1, 3, ACC_READ));
        agree(&rules);
        let rules = [
            deny_all(),
            rule(true, LinuxDeviceType::A, None, None, "rwm"),
        ];
        assert!(request(&rules, DEV_BLOCK, 8, 0, ACC_MKNOD));
        agree(&rules);
    }

    #[test]
    fn rules_with_no_access_match_nothing() {
        let rules = [
            deny_all(),
            allow_char(1, Some(3), "rwm"),
            allow_char(1, Some(3), ""),
        ];
        assert!(request(&rules, DEV_CHAR, 1, 3, ACC_READ));
        agree(&rules);
    }

    #[test]
    fn a_missing_access_means_rwm() {
        let mut open = allow_char(1, Some(3), "rwm");
        open.set_access(None);
        let rules = [deny_all(), open];
        assert!(request(&rules, DEV_CHAR, 1, 3, ACC_ALL));
        agree(&rules);
    }

    #[test]
    fn agrees_with_the_rules_on_generated_lists() {
        // A small linear congruential generator: varied lists, the same on
        // every run.
        let mut seed: u64 = 0x5eed;
        let mut next = |bound: u64| {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (seed >> 33) % bound
        };
        let types = [LinuxDeviceType::A, LinuxDeviceType::B, LinuxDeviceType::C];
        let numbers = [None, Some(0), Some(1), Some(3), Some(5), Some(254)];
        let accesses = ["r", "w", "m", "rw", "rm", "wm", "rwm"];
        for _ in 0..300 {
            let rules: Vec<LinuxDeviceCgroup> = (0..next(6))
                .map(|_| {
                    rule(
                        next(2) == 0,
                        types[next(3) as usize],
                        numbers[next(6) as usize],
                        numbers[next(6) as usize],
                        accesses[next(7) as usize],
                    )
                })
                .collect();
            agree(&rules);
        }
    }

    #[test]
    fn refuses_rules_it_cannot_enforce() {
        let fifo = rule(true, LinuxDeviceType::P, Some(1), Some(1), "rwm");
        assert!(matches!(
            compile(&[deny_all(), fifo]),
            Err(DeviceProgramError::InvalidRule { index: 1, .. })
        ));
        let negative = allow_char(-1, None, "rwm");
        assert!(compile(&[negative]).is_err());
        let huge = allow_char(1 << 32, None, "rwm");
        assert!(compile(&[huge]).is_err());
        let error = compile(&[allow_char(1, Some(3), "rwx")]).unwrap_err();
        assert_eq!(
            error.to_string(),
            "device rule 0 (`c 1:3 rwx`) cannot be enforced: an access other than r, w and m"
        );
    }

    #[test]
    fn the_verifier_log_keeps_its_last_lines() {
        let mut log = b"0: (61) r2 = *(u32 *)(r1 +0)\n\nunreachable insn 7\n\
            processed 0 insns (limit 1000000) max_states_per_insn 0\n\0garbage"
            .to_vec();
        log.resize(64, 0);
        assert_eq!(
            last_lines(&log, 3),
            "0: (61) r2 = *(u32 *)(r1 +0) / unreachable insn 7"
        );
    }

    // -- With the kernel (root only) --

    fn is_root() -> bool {
        // SAFETY: geteuid has no arguments and cannot fail.
        unsafe { libc::geteuid() == 0 }
    }

    fn errno() -> i32 {
        // SAFETY: reading the calling thread's errno right after a call.
        unsafe { *libc::__errno_location() }
    }

    fn cgroup2_mount() -> PathBuf {
        super::super::CgroupLayout::read_host()
            .and_then(|layout| layout.v2_mount().cloned())
            .expect("no cgroup2 hierarchy on this host")
    }

    /// A cgroup2 directory and a scratch directory, removed on drop.
    struct Scratch {
        cgroup: PathBuf,
        dir: PathBuf,
    }

    impl Scratch {
        fn new(what: &str) -> Self {
            let name = format!("vroot-test-{what}-{}", std::process::id());
            let cgroup = cgroup2_mount().join(&name);
            let _ = std::fs::remove_dir(&cgroup);
            std::fs::create_dir(&cgroup).unwrap();
            let dir = std::env::temp_dir().join(&name);
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir(&dir).unwrap();
            Scratch { cgroup, dir }
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.dir);
            // A reaped child's cgroup can stay busy for a moment.
            for _ in 0..200 {
                match std::fs::remove_dir(&self.cgroup) {
                    Err(e) if e.raw_os_error() == Some(libc::EBUSY) => {
                        std::thread::sleep(std::time::Duration::from_millis(5))
                    }
                    _ => break,
                }
            }
        }
    }

    #[test]
    fn the_kernel_accepts_the_generated_programs() {
        if !is_root() {
            return;
        }
        let lists = [
            vec![],
            vec![
                deny_all(),
                allow_char(1, Some(3), "rwm"),
                allow_char(5, Some(2), "rwm"),
                allow_char(136, None, "rwm"),
            ],
            vec![
                deny_all(),
                rule(true, LinuxDeviceType::A, None, None, "rwm"),
            ],
            vec![
                rule(true, LinuxDeviceType::A, None, None, "rwm"),
                rule(false, LinuxDeviceType::B, Some(254), None, "w"),
                allow_char(1, Some(3), "r"),
            ],
        ];
        for rules in lists {
            let program = compile(&rules).unwrap();
            if let Err(error) = load(&program) {
                panic!("{error} ({}) for {program:?}", error.fix());
            }
        }
    }

    /// The verdicts of the checks a child made: a bit for each that failed.
    const NULL_OPENS: i32 = 1;
    const FULL_REFUSED: i32 = 2;
    const NULL_NODE_MADE: i32 = 4;
    const FULL_NODE_REFUSED: i32 = 8;
    const BLOCK_NODE_REFUSED: i32 = 16;

    #[test]
    fn an_attached_program_confines_a_process_in_the_cgroup() {
        if !is_root() {
            return;
        }
        let scratch = Scratch::new("devices");
        let rules = [deny_all(), allow_char(1, Some(3), "rwm")];
        confine(&rules, &scratch.cgroup).unwrap_or_else(|e| panic!("{e} ({})", e.fix()));

        let path = |name: &str| {
            std::ffi::CString::new(scratch.dir.join(name).into_os_string().into_encoded_bytes())
                .unwrap()
        };
        let (null_node, full_node, block_node) = (path("null"), path("full"), path("blk"));
        let control = path("control");
        let dev_null = c"/dev/null";
        let dev_full = c"/dev/full";

        // Outside the cgroup, root opens /dev/full and makes a block node:
        // a refusal inside is the program's.
        // SAFETY: open and mknod with NUL-terminated paths alive for the calls.
        unsafe {
            let fd = libc::open(dev_full.as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC);
            assert!(
                fd >= 0,
                "root cannot open /dev/full here: errno {}",
                errno()
            );
            libc::close(fd);
            assert_eq!(
                libc::mknod(control.as_ptr(), libc::S_IFBLK | 0o600, libc::makedev(7, 0)),
                0,
                "root cannot make a block node in {}: errno {}",
                scratch.dir.display(),
                errno()
            );
        }

        let mut pipe = [0i32; 2];
        // SAFETY: pipe2 writes two fds into the array.
        assert_eq!(
            unsafe { libc::pipe2(pipe.as_mut_ptr(), libc::O_CLOEXEC) },
            0
        );
        let [read_end, write_end] = pipe;

        // SAFETY: the child makes only raw system calls (the test harness
        // has other threads, whose locks the child must not touch) and
        // leaves with _exit.
        let child = unsafe { libc::fork() };
        if child == 0 {
            // SAFETY: raw system calls on NUL-terminated paths and our fds.
            unsafe {
                // Wait until the parent has moved us into the cgroup (EOF,
                // once our own write end is closed, if it could not).
                libc::close(write_end);
                let mut byte = 0u8;
                if libc::read(read_end, (&mut byte as *mut u8).cast(), 1) != 1 {
                    libc::_exit(100);
                }
                let mut failed = 0;
                let fd = libc::open(dev_null.as_ptr(), libc::O_RDWR);
                if fd < 0 {
                    failed |= NULL_OPENS;
                }
                if libc::open(dev_full.as_ptr(), libc::O_RDONLY) != -1 || errno() != libc::EPERM {
                    failed |= FULL_REFUSED;
                }
                if libc::mknod(
                    null_node.as_ptr(),
                    libc::S_IFCHR | 0o600,
                    libc::makedev(1, 3),
                ) != 0
                {
                    failed |= NULL_NODE_MADE;
                }
                if libc::mknod(
                    full_node.as_ptr(),
                    libc::S_IFCHR | 0o600,
                    libc::makedev(1, 7),
                ) != -1
                    || errno() != libc::EPERM
                {
                    failed |= FULL_NODE_REFUSED;
                }
                if libc::mknod(
                    block_node.as_ptr(),
                    libc::S_IFBLK | 0o600,
                    libc::makedev(7, 0),
                ) != -1
                    || errno() != libc::EPERM
                {
                    failed |= BLOCK_NODE_REFUSED;
                }
                libc::_exit(failed);
            }
        }
        assert!(child > 0, "fork: errno {}", errno());
        // SAFETY: our own copy of the read end, not used again here.
        unsafe { libc::close(read_end) };
        let moved = std::fs::write(scratch.cgroup.join("cgroup.procs"), child.to_string());
        if moved.is_ok() {
            // SAFETY: one byte from a live buffer to our pipe.
            unsafe { libc::write(write_end, [1u8].as_ptr().cast(), 1) };
        }
        // SAFETY: closing our write end; if the child was not moved, it
        // reads EOF and leaves.
        unsafe { libc::close(write_end) };
        let mut status = 0;
        // SAFETY: waitpid on our own child.
        assert_eq!(unsafe { libc::waitpid(child, &mut status, 0) }, child);
        moved.expect("cannot move the child into the test cgroup");
        assert!(
            libc::WIFEXITED(status),
            "the child died: status {status:#x}"
        );
        let failed = libc::WEXITSTATUS(status);
        let names = [
            (NULL_OPENS, "/dev/null (1:3, allowed) did not open"),
            (
                FULL_REFUSED,
                "/dev/full (1:7) opened, or failed otherwise than EPERM",
            ),
            (NULL_NODE_MADE, "mknod c 1:3 (allowed) failed"),
            (FULL_NODE_REFUSED, "mknod c 1:7 was not refused with EPERM"),
            (BLOCK_NODE_REFUSED, "mknod b 7:0 was not refused with EPERM"),
        ];
        let broken: Vec<&str> = names
            .iter()
            .filter(|(bit, _)| failed & bit != 0)
            .map(|(_, what)| *what)
            .collect();
        assert!(
            broken.is_empty(),
            "in the cgroup (exit {failed}): {broken:?}"
        );
    }

    /// The attr of BPF_PROG_QUERY, up to prog_cnt and its padding.
    #[repr(C)]
    #[derive(Default)]
    struct QueryAttr {
        target_fd: u32,
        attach_type: u32,
        query_flags: u32,
        attach_flags: u32,
        prog_ids: u64,
        prog_cnt: u32,
        _pad: u32,
    }

    /// How many device programs apply to the cgroup (with its ancestors').
    fn effective_programs(cgroup: &Path) -> u32 {
        const BPF_PROG_QUERY: c_long = 16;
        const BPF_F_QUERY_EFFECTIVE: u32 = 1;
        let dir = std::fs::File::open(cgroup).unwrap();
        let mut attr = QueryAttr {
            target_fd: dir.as_raw_fd() as u32,
            attach_type: BPF_CGROUP_DEVICE,
            query_flags: BPF_F_QUERY_EFFECTIVE,
            ..Default::default()
        };
        // SAFETY: bpf(BPF_PROG_QUERY) with no id buffer writes only the
        // counts into `attr`, alive for the call.
        let result = unsafe {
            libc::syscall(
                libc::SYS_bpf,
                BPF_PROG_QUERY,
                &mut attr as *mut QueryAttr,
                std::mem::size_of::<QueryAttr>() as libc::c_uint,
            )
        };
        assert_eq!(result, 0, "BPF_PROG_QUERY: errno {}", errno());
        attr.prog_cnt
    }

    #[test]
    fn a_container_cgroup_and_its_payload_get_the_program() {
        if !is_root() {
            return;
        }
        let cgroup = super::super::ContainerCgroup::on_host(&format!(
            "vroot-test-create-{}/c",
            std::process::id()
        ))
        .unwrap();
        let mount = cgroup2_mount();
        let baseline = effective_programs(&mount);
        let limits = super::super::ResourceLimits {
            devices: vec![deny_all(), allow_char(1, Some(3), "rwm")],
            ..Default::default()
        };
        let created = cgroup.create(&limits);
        let own = mount.join(cgroup.relative_path());
        let counts = created
            .as_ref()
            .map(|()| {
                (
                    effective_programs(&own),
                    effective_programs(&own.join(super::super::PAYLOAD)),
                )
            })
            .ok();
        cgroup.remove(std::time::Duration::from_secs(2)).unwrap();
        created.unwrap();
        assert_eq!(counts, Some((baseline + 1, baseline + 1)));
    }
}
