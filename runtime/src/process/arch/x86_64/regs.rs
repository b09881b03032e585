//! The user register file as the kernel's `user_regs_struct` lays it out.

/// A thread's general registers at an event.
#[derive(Clone, Copy)]
pub struct Registers(pub libc::user_regs_struct);

impl std::fmt::Debug for Registers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let r = &self.0;
        write!(
            f,
            "rip={:#x} rsp={:#x} rax={:#x} rdi={:#x} rsi={:#x} rdx={:#x}",
            r.rip, r.rsp, r.rax, r.rdi, r.rsi, r.rdx
        )
    }
}

use crate::debuginfo::registers::x86_64::{ARGS, FS_BASE, GS_BASE, RFLAGS, RIP};
use crate::debuginfo::{Arch, RegisterSet};

impl Registers {
    pub fn zeroed() -> Self {
        // SAFETY: user_regs_struct is plain integers; all-zero is a valid value.
        Registers(unsafe { std::mem::zeroed() })
    }

    pub fn pc(&self) -> u64 {
        self.0.rip
    }

    pub fn set_pc(&mut self, pc: u64) {
        self.0.rip = pc;
    }

    pub fn sp(&self) -> u64 {
        self.0.rsp
    }

    pub fn set_sp(&mut self, sp: u64) {
        self.0.rsp = sp;
    }

    /// The function return value register (`$return`).
    pub fn return_value(&self) -> u64 {
        self.0.rax
    }

    /// Integer argument `n` (1-based, as `int_arg(n)`), for n ≤ 6; later ones are on the stack.
    pub fn arg(&self, n: usize) -> Option<u64> {
        ARGS.get(n.checked_sub(1)?).and_then(|&r| self.dwarf(r))
    }

    /// The registers by DWARF number, for target variables and `register()`.
    pub fn register_set(&self) -> RegisterSet {
        let mut set = RegisterSet::new(Arch::X86_64);
        for regno in 0..=RIP {
            set.set(
                regno,
                self.dwarf(regno).expect("0..=16 are general registers"),
            );
        }
        set.set(RFLAGS, self.0.eflags);
        set.set(FS_BASE, self.0.fs_base);
        set.set(GS_BASE, self.0.gs_base);
        set
    }

    /// A register by its DWARF number (System V AMD64 ABI, figure 3.36): 0 rax, 1 rdx, 2 rcx,
    /// 3 rbx, 4 rsi, 5 rdi, 6 rbp, 7 rsp, 8–15 r8–r15, 16 return address (rip).
    pub fn dwarf(&self, regno: u16) -> Option<u64> {
        let r = &self.0;
        Some(match regno {
            0 => r.rax,
            1 => r.rdx,
            2 => r.rcx,
            3 => r.rbx,
            4 => r.rsi,
            5 => r.rdi,
            6 => r.rbp,
            7 => r.rsp,
            8 => r.r8,
            9 => r.r9,
            10 => r.r10,
            11 => r.r11,
            12 => r.r12,
            13 => r.r13,
            14 => r.r14,
            15 => r.r15,
            16 => r.rip,
            _ => return None,
        })
    }

    /// The registers `perf_event_open` samples (`PERF_SAMPLE_REGS_USER`), as a bit mask over
    /// `enum perf_event_x86_regs` (arch/x86/include/uapi/asm/perf_regs.h).
    pub const PERF_SAMPLE_MASK: u64 = {
        let mut mask = 0u64;
        let mut i = 0;
        while i < PERF_REGS.len() {
            mask |= 1 << PERF_REGS[i] as u64;
            i += 1;
        }
        mask
    };

    /// Builds registers from a perf sample: `values` in ascending bit order of
    /// [`Self::PERF_SAMPLE_MASK`], as the kernel writes them.
    pub fn from_perf(values: &[u64]) -> Self {
        let mut regs = Registers::zeroed();
        let r = &mut regs.0;
        for (&idx, &v) in PERF_REGS.iter().zip(values) {
            let slot = match idx {
                PERF_REG_AX => &mut r.rax,
                PERF_REG_BX => &mut r.rbx,
                PERF_REG_CX => &mut r.rcx,
                PERF_REG_DX => &mut r.rdx,
                PERF_REG_SI => &mut r.rsi,
                PERF_REG_DI => &mut r.rdi,
                PERF_REG_BP => &mut r.rbp,
                PERF_REG_SP => &mut r.rsp,
                PERF_REG_IP => &mut r.rip,
                PERF_REG_FLAGS => &mut r.eflags,
                n @ PERF_REG_R8..=PERF_REG_R15 => match n - PERF_REG_R8 {
                    0 => &mut r.r8,
                    1 => &mut r.r9,
                    2 => &mut r.r10,
                    3 => &mut r.r11,
                    4 => &mut r.r12,
                    5 => &mut r.r13,
                    6 => &mut r.r14,
                    _ => &mut r.r15,
                },
                _ => continue,
            };
            *slot = v;
        }
        regs
    }
}

const PERF_REG_AX: u32 = 0;
const PERF_REG_BX: u32 = 1;
const PERF_REG_CX: u32 = 2;
const PERF_REG_DX: u32 = 3;
const PERF_REG_SI: u32 = 4;
const PERF_REG_DI: u32 = 5;
const PERF_REG_BP: u32 = 6;
const PERF_REG_SP: u32 = 7;
const PERF_REG_IP: u32 = 8;
const PERF_REG_FLAGS: u32 = 9;
const PERF_REG_R8: u32 = 16;
const PERF_REG_R15: u32 = 23;

/// Sampled registers in ascending `perf_event_x86_regs` order (segment registers left out:
/// flat in 64-bit mode).
const PERF_REGS: [u32; 18] = [
    PERF_REG_AX,
    PERF_REG_BX,
    PERF_REG_CX,
    PERF_REG_DX,
    PERF_REG_SI,
    PERF_REG_DI,
    PERF_REG_BP,
    PERF_REG_SP,
    PERF_REG_IP,
    PERF_REG_FLAGS,
    16,
    17,
    18,
    19,
    20,
    21,
    22,
    PERF_REG_R15,
];

/// Number of `u64` register values in one perf sample.
pub const PERF_SAMPLE_REG_COUNT: usize = PERF_REGS.len();

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn perf_values_land_in_their_registers() {
        let values: Vec<u64> = (100..100 + PERF_SAMPLE_REG_COUNT as u64).collect();
        let regs = Registers::from_perf(&values);
        // perf order: ax bx cx dx si di bp sp ip flags r8..r15
        assert_eq!(regs.0.rax, 100);
        assert_eq!(regs.0.rdi, 105);
        assert_eq!(regs.sp(), 107);
        assert_eq!(regs.pc(), 108);
        assert_eq!(regs.0.r8, 110);
        assert_eq!(regs.0.r15, 117);
        assert_eq!(regs.arg(1), Some(105));
        assert_eq!(regs.arg(5), Some(110));
        assert_eq!(
            Registers::PERF_SAMPLE_MASK.count_ones() as usize,
            PERF_SAMPLE_REG_COUNT
        );
    }
}
