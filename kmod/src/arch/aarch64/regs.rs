//! The interrupted context as the exception entry saved it.

/// The saved registers of an exception, laid out as the first members of Linux's
/// `struct pt_regs` / `struct user_pt_regs` (x0–x30, sp, pc, pstate), so the kernel glue can
/// pass its `pt_regs` pointer straight through.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PtRegs {
    pub regs: [u64; 31],
    pub sp: u64,
    pub pc: u64,
    /// The saved PSTATE (SPSR_ELx layout).
    pub pstate: u64,
}

/// PSTATE bits in the SPSR_ELx layout (Arm ARM C5.2.18).
pub mod pstate {
    /// N, Z, C, V.
    pub const NZCV: u64 = 0xf << 28;
    /// PSTATE.SS: software step is active-not-pending on return.
    pub const SS: u64 = 1 << 21;
    /// PSTATE.BTYPE (bits 11:10).
    pub const BTYPE: u64 = 0b11 << 10;
    /// D: debug exceptions masked.
    pub const D: u64 = 1 << 9;
    /// D, A, I, F.
    pub const DAIF: u64 = 0xf << 6;
    /// M[3:0]: the exception level and stack pointer the context ran with.
    pub const MODE: u64 = 0xf;
    /// M[3:0] for EL0t.
    pub const MODE_EL0T: u64 = 0;
}

impl PtRegs {
    /// Reads `Xn`; register 31 reads as zero (XZR), as in every instruction simulated here.
    pub fn x(&self, n: u8) -> u64 {
        self.regs.get(usize::from(n)).copied().unwrap_or(0)
    }

    /// Writes `Xn`; a write to register 31 (XZR) is discarded.
    pub fn set_x(&mut self, n: u8, value: u64) {
        if let Some(reg) = self.regs.get_mut(usize::from(n)) {
            *reg = value;
        }
    }

    /// The link register, X30.
    pub fn lr(&self) -> u64 {
        self.regs[30]
    }

    /// The frame pointer, X29.
    pub fn fp(&self) -> u64 {
        self.regs[29]
    }

    /// Whether the context ran at EL0.
    pub fn user_mode(&self) -> bool {
        self.pstate & pstate::MODE == pstate::MODE_EL0T
    }

    /// Whether the A64 condition `cond` holds for the saved NZCV (Arm ARM C1.2.4,
    /// `ConditionHolds()`).
    pub fn condition_holds(&self, cond: u8) -> bool {
        let n = self.pstate >> 31 & 1 != 0;
        let z = self.pstate >> 30 & 1 != 0;
        let c = self.pstate >> 29 & 1 != 0;
        let v = self.pstate >> 28 & 1 != 0;
        let result = match cond >> 1 {
            0b000 => z,
            0b001 => c,
            0b010 => n,
            0b011 => v,
            0b100 => c && !z,
            0b101 => n == v,
            0b110 => n == v && !z,
            _ => true,
        };
        // cond<0> inverts the result, except for 0b1111 ("NV"), which is also "always".
        if cond & 1 == 1 && cond != 0b1111 {
            !result
        } else {
            result
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_flags(nzcv: u64) -> PtRegs {
        PtRegs {
            pstate: nzcv << 28,
            ..PtRegs::default()
        }
    }

    #[test]
    fn conditions() {
        // Values from the Arm ARM's condition table (C1.2.4).
        let z = with_flags(0b0100);
        assert!(z.condition_holds(0x0) && !z.condition_holds(0x1)); // EQ, NE
        let c = with_flags(0b0010);
        assert!(c.condition_holds(0x2) && c.condition_holds(0x8)); // CS, HI (C && !Z)
        assert!(!with_flags(0b0110).condition_holds(0x8)); // HI fails with Z
        let nv = with_flags(0b1001);
        assert!(nv.condition_holds(0xa) && !nv.condition_holds(0xb)); // GE (N == V), LT
        assert!(!with_flags(0b1101).condition_holds(0xc)); // GT fails with Z
        assert!(with_flags(0).condition_holds(0xe) && with_flags(0).condition_holds(0xf));
    }

    #[test]
    fn zero_register() {
        let mut regs = PtRegs::default();
        regs.set_x(31, 5);
        assert_eq!(regs.x(31), 0);
        regs.set_x(3, 7);
        assert_eq!(regs.x(3), 7);
    }
}
