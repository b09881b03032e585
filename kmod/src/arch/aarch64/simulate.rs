//! Simulation of the instructions that cannot run in an XOL slot (arm-probes.md §1.6): the
//! breakpoint handler applies the instruction's architectural effect, as if executed at the
//! probed address, to the saved registers.

use super::decode::SimOp;
use super::regs::{PtRegs, pstate};

/// What simulation needs besides the saved registers: memory and state the register frame
/// does not hold.
pub trait SimAccess {
    /// One single-copy-atomic load of 4 bytes from `addr`, in the context's data endianness
    /// (Linux `READ_ONCE()` of a `u32`). For a user context it goes through the user-memory
    /// accessors, never a plain kernel load (the bug that removed Linux's LDR-literal uprobe
    /// support, arm-probes.md §6 #15).
    fn load_u32(&mut self, addr: u64) -> Result<u32, SimFault>;
    /// As [`load_u32`](Self::load_u32) for 8 bytes.
    fn load_u64(&mut self, addr: u64) -> Result<u64, SimFault>;
    /// As [`load_u32`](Self::load_u32) for 16 bytes (two 8-byte loads are allowed: a 16-byte
    /// literal load is not single-copy atomic either).
    fn load_u128(&mut self, addr: u64) -> Result<u128, SimFault>;
    /// Writes SIMD&FP register `Vn` of the interrupted context, all 128 bits (and zeroes the
    /// bits above 128 of the SVE register `Zn`, as an `LDR (literal, SIMD&FP)` does).
    fn write_simd(&mut self, n: u8, value: u128);
    /// For an EL0 context with the Guarded Control Stack enabled, pushes the return address
    /// a simulated `BL`/`BLR` records (Linux `push_user_gcs()`); a no-op otherwise.
    fn gcs_push(&mut self, _return_address: u64) -> Result<(), SimFault> {
        Ok(())
    }
    /// For an EL0 context with the Guarded Control Stack enabled, pops the GCS and checks it
    /// against the target of a simulated `RET` (Linux `pop_user_gcs()`); a no-op otherwise.
    fn gcs_pop_check(&mut self, _target: u64) -> Result<(), SimFault> {
        Ok(())
    }
}

/// A simulated instruction that would have faulted where it stood; the caller reports the
/// fault at the probed address, where the instruction would have raised it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SimFault {
    #[error("memory at {0:#x} cannot be read")]
    Memory(u64),
    #[error("guarded control stack check failed")]
    GuardedControlStack,
}

/// PSTATE.BTYPE values an instruction leaves behind (Arm ARM D8.4.2 "PSTATE.BTYPE").
mod btype {
    /// Every instruction but an indirect branch leaves BTYPE = 00.
    pub const NONE: u64 = 0b00;
    /// `BR` (from an unguarded page, or through X16/X17).
    pub const JUMP: u64 = 0b01;
    /// `BLR`.
    pub const CALL: u64 = 0b10;
}

/// Applies `op`, the instruction at `addr`, to `regs`. On success the PC is the next one the
/// instruction would have produced; on a fault `regs` is unchanged.
///
/// Unlike Linux, a simulated `BR`/`BLR` sets PSTATE.BTYPE as the real instruction would, so a
/// branch-target check at a guarded target still happens (Linux leaves BTYPE = 00). A `BR`
/// sets 01, the value for an unguarded source page: the probed page's guard bit is not known
/// here, and 01 is the stricter choice for all but `BTI j`-less `BTI c` landing pads.
pub fn simulate(
    op: SimOp,
    addr: u64,
    regs: &mut PtRegs,
    access: &mut impl SimAccess,
) -> Result<(), SimFault> {
    let next = addr.wrapping_add(4);
    let relative = |offset: i64| addr.wrapping_add_signed(offset);
    let mut btype = btype::NONE;
    let pc = match op {
        SimOp::Nop => next,
        SimOp::Branch { link, offset } => {
            if link {
                access.gcs_push(next)?;
                regs.regs[30] = next;
            }
            relative(offset)
        }
        SimOp::BranchCond { cond, offset } => {
            if regs.condition_holds(cond) {
                relative(offset)
            } else {
                next
            }
        }
        SimOp::CompareBranch {
            nonzero,
            wide,
            rt,
            offset,
        } => {
            let value = if wide {
                regs.x(rt)
            } else {
                regs.x(rt) & 0xffff_ffff
            };
            if (value != 0) == nonzero {
                relative(offset)
            } else {
                next
            }
        }
        SimOp::TestBranch {
            nonzero,
            bit,
            rt,
            offset,
        } => {
            let set = regs.x(rt) >> bit & 1 != 0;
            if set == nonzero {
                relative(offset)
            } else {
                next
            }
        }
        SimOp::BranchReg { link, ret, rn } => {
            // Read the target before writing LR, so `blr x30` branches to the old LR.
            let target = regs.x(rn);
            if ret {
                access.gcs_pop_check(target)?;
            } else if link {
                access.gcs_push(next)?;
                regs.regs[30] = next;
                btype = btype::CALL;
            } else {
                btype = btype::JUMP;
            }
            target
        }
        SimOp::PcRelAddr { page, rd, offset } => {
            let base = if page { addr & !0xfff } else { addr };
            regs.set_x(rd, base.wrapping_add_signed(offset));
            next
        }
        SimOp::LoadLiteral {
            rt,
            bytes,
            signed,
            offset,
        } => {
            let at = relative(offset);
            let value = match (bytes, signed) {
                (4, false) => u64::from(access.load_u32(at)?),
                (4, true) => access.load_u32(at)? as i32 as i64 as u64,
                _ => access.load_u64(at)?,
            };
            regs.set_x(rt, value);
            next
        }
        SimOp::LoadLiteralSimd { rt, bytes, offset } => {
            let at = relative(offset);
            let value = match bytes {
                4 => u128::from(access.load_u32(at)?),
                8 => u128::from(access.load_u64(at)?),
                _ => access.load_u128(at)?,
            };
            access.write_simd(rt, value);
            next
        }
        SimOp::ReadDaif { rt } => {
            regs.set_x(rt, regs.pstate & pstate::DAIF);
            next
        }
    };
    regs.pc = pc;
    regs.pstate = (regs.pstate & !pstate::BTYPE) | (btype << 10);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arch::aarch64::decode::{Context, Decision, classify, decode};

    /// Memory holding one literal pool at 0x2000.
    #[derive(Debug, Default)]
    struct Pool {
        simd: Option<(u8, u128)>,
    }

    impl SimAccess for Pool {
        fn load_u32(&mut self, addr: u64) -> Result<u32, SimFault> {
            Ok(self.load_u128(addr)? as u32)
        }
        fn load_u64(&mut self, addr: u64) -> Result<u64, SimFault> {
            Ok(self.load_u128(addr)? as u64)
        }
        fn load_u128(&mut self, addr: u64) -> Result<u128, SimFault> {
            match addr {
                0x2000 => Ok(0x0123_4567_89ab_cdef_8765_4321_fedc_ba98),
                _ => Err(SimFault::Memory(addr)),
            }
        }
        fn write_simd(&mut self, n: u8, value: u128) {
            self.simd = Some((n, value));
        }
    }

    /// Simulates `word` at `addr`; expected values below are hand-computed from the Arm ARM
    /// pseudocode of each instruction.
    fn run(word: u32, addr: u64, regs: &mut PtRegs) -> Result<Pool, SimFault> {
        let Decision::Simulate(op) = classify(decode(word), Context::Kernel) else {
            panic!("{word:#x} is not simulated");
        };
        let mut pool = Pool::default();
        simulate(op, addr, regs, &mut pool).map(|()| pool)
    }

    #[test]
    fn branches() {
        let mut regs = PtRegs::default();
        run(0x9400_0010, 0x1000, &mut regs).unwrap(); // bl .+64
        assert_eq!((regs.pc, regs.lr()), (0x1040, 0x1004));
        run(0x17ff_fff0, 0x1000, &mut regs).unwrap(); // b .-64
        assert_eq!(regs.pc, 0xfc0);
        regs.pstate = 0b0100 << 28; // Z
        run(0x5400_0040, 0x1000, &mut regs).unwrap(); // b.eq .+8
        assert_eq!(regs.pc, 0x1008);
        run(0x5400_0041, 0x1000, &mut regs).unwrap(); // b.ne .+8
        assert_eq!(regs.pc, 0x1004);
        regs.regs[3] = 0x1_0000_0000;
        run(0x3400_0063, 0x1000, &mut regs).unwrap(); // cbz w3, .+12: W3 is zero
        assert_eq!(regs.pc, 0x100c);
        run(0xb400_0063, 0x1000, &mut regs).unwrap(); // cbz x3, .+12: X3 is not
        assert_eq!(regs.pc, 0x1004);
        regs.regs[5] = 1 << 40;
        run(0xb740_0105, 0x1000, &mut regs).unwrap(); // tbnz x5, #40, .+32
        assert_eq!(regs.pc, 0x1020);
        run(0x361f_ff05, 0x1000, &mut regs).unwrap(); // tbz w5, #3, .-32
        assert_eq!(regs.pc, 0xfe0);
    }

    #[test]
    fn register_branches_and_btype() {
        let mut regs = PtRegs {
            pstate: 0b11 << 10,
            ..PtRegs::default()
        };
        regs.regs[30] = 0x5000;
        run(0xd63f_03c0, 0x1000, &mut regs).unwrap(); // blr x30: target read before LR written
        assert_eq!(
            (regs.pc, regs.lr(), regs.pstate & pstate::BTYPE),
            (0x5000, 0x1004, 0b10 << 10)
        );
        regs.regs[16] = 0x7000;
        run(0xd61f_0200, 0x1000, &mut regs).unwrap(); // br x16
        assert_eq!((regs.pc, regs.pstate & pstate::BTYPE), (0x7000, 0b01 << 10));
        run(0xd65f_03c0, 0x1000, &mut regs).unwrap(); // ret
        assert_eq!((regs.pc, regs.pstate & pstate::BTYPE), (0x1004, 0));
    }

    #[test]
    fn addresses_and_literals() {
        let mut regs = PtRegs::default();
        run(0x1000_0320, 0x1234, &mut regs).unwrap(); // adr x0, .+100
        assert_eq!((regs.x(0), regs.pc), (0x1298, 0x1238));
        run(0xb000_0021, 0x1234, &mut regs).unwrap(); // adrp x1, .+0x5000 (immhi:immlo = 5)
        assert_eq!(regs.x(1), 0x6000);
        run(0x5800_0800, 0x1f00, &mut regs).unwrap(); // ldr x0, .+256
        assert_eq!(regs.x(0), 0x8765_4321_fedc_ba98);
        run(0x1800_0800, 0x1f00, &mut regs).unwrap(); // ldr w0, .+256
        assert_eq!(regs.x(0), 0xfedc_ba98);
        run(0x9800_0800, 0x1f00, &mut regs).unwrap(); // ldrsw x0, .+256
        assert_eq!(regs.x(0), 0xffff_ffff_fedc_ba98);
        let pool = run(0x9c00_0802, 0x1f00, &mut regs).unwrap(); // ldr q2, .+256
        assert_eq!(
            pool.simd,
            Some((2, 0x0123_4567_89ab_cdef_8765_4321_fedc_ba98))
        );
        let pool = run(0x1c00_0803, 0x1f00, &mut regs).unwrap(); // ldr s3, .+256
        assert_eq!(pool.simd, Some((3, 0xfedc_ba98)));
        let before = regs;
        assert_eq!(
            run(0x5800_0800, 0x1000, &mut regs).unwrap_err(),
            SimFault::Memory(0x1100)
        );
        assert_eq!(
            regs, before,
            "a faulting simulation leaves the registers alone"
        );
    }

    #[test]
    fn daif_and_nop() {
        let mut regs = PtRegs {
            pstate: 0x3c5,
            ..PtRegs::default()
        };
        run(0xd53b_4220, 0x1000, &mut regs).unwrap(); // mrs x0, daif
        assert_eq!((regs.x(0), regs.pc), (0x3c0, 0x1004));
        run(0xd503_201f, 0x1000, &mut regs).unwrap(); // nop
        assert_eq!(regs.pc, 0x1004);
    }
}
