//! The classic-BPF program of a container's filter. Small enough to write
//! out: check the architecture (x86_64, or the i386 compat table a 64-bit
//! process reaches through `int 0x80`; x32 calls are refused outright),
//! then compare the call number with each denied one, and for calls denied
//! only with some arguments, compare the argument too. Everything else is
//! allowed.

use super::table::{ArgumentMatch, Syscall};

const BPF_LD_W_ABS: u16 = 0x20;
const BPF_JEQ_K: u16 = 0x15;
const BPF_JGE_K: u16 = 0x35;
const BPF_JSET_K: u16 = 0x45;
const BPF_RET_K: u16 = 0x06;

const SECCOMP_RET_ALLOW: u32 = 0x7fff_0000;
const SECCOMP_RET_ERRNO: u32 = 0x0005_0000;

const AUDIT_ARCH_X86_64: u32 = 0xc000_003e;
const AUDIT_ARCH_I386: u32 = 0x4000_0003;
/// x32 calls share x86_64's audit arch and set this bit in the number.
const X32_SYSCALL_BIT: u32 = 0x4000_0000;

// Offsets in struct seccomp_data.
const NR_OFFSET: u32 = 0;
const ARCH_OFFSET: u32 = 4;
const ARGS_OFFSET: u32 = 16;

fn statement(code: u16, k: u32) -> libc::sock_filter {
    libc::sock_filter {
        code,
        jt: 0,
        jf: 0,
        k,
    }
}

fn jump(code: u16, k: u32, jt: u8, jf: u8) -> libc::sock_filter {
    libc::sock_filter { code, jt, jf, k }
}

fn load_argument(index: u8) -> libc::sock_filter {
    statement(BPF_LD_W_ABS, ARGS_OFFSET + 8 * u32::from(index))
}

fn deny(errno: i32) -> libc::sock_filter {
    statement(BPF_RET_K, SECCOMP_RET_ERRNO | (errno as u32 & 0xffff))
}

/// The comparisons of one architecture's table, ending in "allow".
fn block(
    denied: &[&Syscall],
    number: impl Fn(&Syscall) -> Vec<u32>,
    x32_check: bool,
) -> Vec<libc::sock_filter> {
    let mut program = vec![statement(BPF_LD_W_ABS, NR_OFFSET)];
    if x32_check {
        program.push(jump(BPF_JGE_K, X32_SYSCALL_BIT, 0, 1));
        program.push(deny(libc::ENOSYS));
    }
    for syscall in denied {
        for nr in number(syscall) {
            match &syscall.only {
                None => {
                    program.push(jump(BPF_JEQ_K, nr, 0, 1));
                    program.push(deny(syscall.errno));
                }
                Some(ArgumentMatch::OneOf { index, values }) => {
                    let count = values.len() as u8;
                    // Not this call: skip the argument load, the value
                    // comparisons, the denial and the reload of the number.
                    program.push(jump(BPF_JEQ_K, nr, 0, count + 3));
                    program.push(load_argument(*index));
                    for (position, value) in values.iter().enumerate() {
                        let after = count - 1 - position as u8;
                        let last = after == 0;
                        program.push(jump(BPF_JEQ_K, *value, after, u8::from(last)));
                    }
                    program.push(deny(syscall.errno));
                    program.push(statement(BPF_LD_W_ABS, NR_OFFSET));
                }
                Some(ArgumentMatch::BitWithout { index, set, clear }) => {
                    // JSET tests "any of these bits": one bit each.
                    debug_assert!(set.is_power_of_two() && clear.is_power_of_two());
                    program.push(jump(BPF_JEQ_K, nr, 0, 5));
                    program.push(load_argument(*index));
                    // Without `set`: on to the reload. With `clear`: the same.
                    program.push(jump(BPF_JSET_K, *set, 0, 2));
                    program.push(jump(BPF_JSET_K, *clear, 1, 0));
                    program.push(deny(syscall.errno));
                    program.push(statement(BPF_LD_W_ABS, NR_OFFSET));
                }
            }
        }
    }
    program.push(statement(BPF_RET_K, SECCOMP_RET_ALLOW));
    program
}

/// The whole program for `denied`.
pub fn program(denied: &[&Syscall]) -> Vec<libc::sock_filter> {
    let native = block(denied, |s| s.x86_64.into_iter().collect(), true);
    let compat = block(denied, |s| s.i386.to_vec(), false);
    // Jump offsets are 8 bits: the native block must stay within reach.
    assert!(native.len() < 255, "the native block outgrew a BPF jump");
    let mut program = vec![
        statement(BPF_LD_W_ABS, ARCH_OFFSET),
        jump(BPF_JEQ_K, AUDIT_ARCH_X86_64, 2, 0),
        jump(BPF_JEQ_K, AUDIT_ARCH_I386, native.len() as u8 + 1, 0),
        deny(libc::ENOSYS),
    ];
    program.extend(native);
    program.extend(compat);
    program
}
