//! Making a stopped thread execute one system call for the tracer (to map the XOL area).

use super::Registers;

/// The `syscall` instruction.
pub const SYSCALL_INSN: [u8; 2] = [0x0f, 0x05];

pub const SYS_MMAP: u64 = libc::SYS_mmap as u64;
pub const SYS_MUNMAP: u64 = libc::SYS_munmap as u64;

/// Registers that make the thread execute system call `nr` with `args` from a `syscall`
/// instruction at `at`.
pub fn prepare(saved: &Registers, at: u64, nr: u64, args: [u64; 6]) -> Registers {
    let mut regs = *saved;
    let r = &mut regs.0;
    r.rax = nr;
    // x86_64 syscall argument registers: rdi, rsi, rdx, r10, r8, r9.
    [r.rdi, r.rsi, r.rdx, r.r10, r.r8, r.r9] = args;
    r.rip = at;
    // Not inside a system call: keeps the kernel's restart logic (which looks at orig_rax
    // when a stop ends) away from the injected call. The saved value comes back on restore.
    r.orig_rax = u64::MAX;
    regs
}

/// The PC after the injected `syscall` has executed.
pub fn pc_after(at: u64) -> u64 {
    at + SYSCALL_INSN.len() as u64
}

/// The injected call's result: a value, or `-errno`.
pub fn result(regs: &Registers) -> i64 {
    regs.0.rax as i64
}
