//! AArch64 synchronous exceptions and their syndromes (`ESR_EL1`, Arm ARM register description "ESR_EL1, Exception Syndrome Register (EL1)").

use crate::mmu::{FaultKind, MemFault};

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExceptionKind {
    /// `BRK #imm` (EC 0x3C, ISS = imm16). Taken whatever `PSTATE.D`.
    Brk { imm: u16 },
    /// `SVC #imm` (EC 0x15, ISS = imm16). The frame's PC is the next instruction.
    Svc { imm: u16 },
    /// An unallocated or unimplemented encoding (EC 0x00).
    Undefined { encoding: u32 },
    /// Software step completed (EC 0x32/0x33). `ex`: the stepped instruction was a
    /// load-exclusive (`ISS.EX`).
    SoftwareStep { ex: bool },
    /// Hardware breakpoint `index` matched the PC (EC 0x30/0x31).
    Breakpoint { index: usize },
    /// Fetch failed (EC 0x20/0x21).
    InstructionAbort { fault: MemFault },
    /// Load, store or cache maintenance by VA failed (EC 0x24/0x25).
    DataAbort {
        fault: MemFault,
        cache_maintenance: bool,
    },
    /// The PC is not 4-byte aligned (EC 0x22).
    PcAlignment,
    /// An interrupt ([`crate::Machine::raise_irq`]): asynchronous, taken before the
    /// instruction at the frame's PC executes; it has no syndrome (`ESR_EL1` is left alone).
    Irq,
}

/// A synchronous exception about to be taken to EL1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exception {
    pub kind: ExceptionKind,
    /// Address of the instruction concerned (for `SVC`, the `SVC` itself; the preferred
    /// return address is the next one).
    pub pc: u64,
    /// Exception level the exception was taken from.
    pub from_el: u8,
}

/// Fault status codes (`DFSC`/`IFSC`), level 3 where a level applies.
fn fault_status(kind: FaultKind) -> u64 {
    match kind {
        FaultKind::Translation => 0b000111,
        FaultKind::Permission => 0b001111,
        FaultKind::Alignment => 0b100001,
        FaultKind::External => 0b010000,
    }
}

impl Exception {
    /// Exception class (`ESR_EL1.EC`).
    pub fn ec(&self) -> u8 {
        let lower = u8::from(self.from_el == 0);
        match self.kind {
            ExceptionKind::Undefined { .. } => 0x00,
            ExceptionKind::Svc { .. } => 0x15,
            ExceptionKind::InstructionAbort { .. } => 0x21 - lower,
            ExceptionKind::PcAlignment => 0x22,
            ExceptionKind::DataAbort { .. } => 0x25 - lower,
            ExceptionKind::Breakpoint { .. } => 0x31 - lower,
            ExceptionKind::SoftwareStep { .. } => 0x33 - lower,
            ExceptionKind::Brk { .. } => 0x3c,
            ExceptionKind::Irq => 0,
        }
    }

    /// Instruction-specific syndrome (`ESR_EL1.ISS`).
    pub fn iss(&self) -> u64 {
        match self.kind {
            ExceptionKind::Brk { imm } | ExceptionKind::Svc { imm } => u64::from(imm),
            ExceptionKind::Undefined { .. } | ExceptionKind::PcAlignment | ExceptionKind::Irq => 0,
            // ISV (bit 24) = 1, EX (bit 6), IFSC = 0b100010 (debug exception).
            ExceptionKind::SoftwareStep { ex } => (1 << 24) | (u64::from(ex) << 6) | 0b100010,
            ExceptionKind::Breakpoint { .. } => 0b100010,
            ExceptionKind::InstructionAbort { fault } => fault_status(fault.kind),
            ExceptionKind::DataAbort {
                fault,
                cache_maintenance,
            } => {
                // CM (bit 8): cache maintenance; WnR (bit 6): write (a maintenance fault reports 1).
                let write = cache_maintenance || fault.access == crate::mmu::Access::Write;
                (u64::from(cache_maintenance) << 8)
                    | (u64::from(write) << 6)
                    | fault_status(fault.kind)
            }
        }
    }

    /// The whole syndrome (`ESR_EL1`): EC, IL = 1 (32-bit instructions), ISS; 0 for an
    /// interrupt.
    pub fn esr(&self) -> u64 {
        if self.kind == ExceptionKind::Irq {
            return 0;
        }
        (u64::from(self.ec()) << 26) | (1 << 25) | self.iss()
    }

    /// The faulting address (`FAR_EL1`), for aborts and PC alignment faults.
    pub fn far(&self) -> Option<u64> {
        match self.kind {
            ExceptionKind::InstructionAbort { fault } | ExceptionKind::DataAbort { fault, .. } => {
                Some(fault.va)
            }
            ExceptionKind::PcAlignment => Some(self.pc),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn brk_syndrome_matches_the_kernel_macros() {
        // arm-probes.md §1.1: EC = BRK64 (0x3C), comment in ISS[15:0]; `esr_brk_comment`.
        let exc = Exception {
            kind: ExceptionKind::Brk { imm: 4 },
            pc: 0,
            from_el: 1,
        };
        assert_eq!(exc.esr(), 0xf200_0004);
        let svc = Exception {
            kind: ExceptionKind::Svc { imm: 0 },
            pc: 0,
            from_el: 0,
        };
        assert_eq!(svc.esr(), 0x5600_0000);
    }

    #[test]
    fn step_syndrome_distinguishes_lower_and_same_el() {
        let from_el0 = Exception {
            kind: ExceptionKind::SoftwareStep { ex: false },
            pc: 0,
            from_el: 0,
        };
        let from_el1 = Exception {
            kind: ExceptionKind::SoftwareStep { ex: true },
            pc: 0,
            from_el: 1,
        };
        assert_eq!(from_el0.ec(), 0x32);
        assert_eq!(from_el1.ec(), 0x33);
        assert_eq!(from_el1.iss(), 0x100_0062);
    }
}
