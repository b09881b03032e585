//! The A64 step: debug checks, fetch, top-level decode, and the data-processing-immediate,
//! branch and exception-generating classes. Loads/stores are in `ldst.rs`, data processing
//! (register) in `alu.rs`, SIMD&FP in `fp.rs`, system instructions in `sysreg.rs`.

use super::decode::{bit, bits, decode_bit_masks, ones, ror, sext};
use super::{CoreState, Exception, ExceptionKind, alu, fp, ldst, mdscr, pstate, sysreg};
use crate::mmu::{Access, FaultKind, MemFault};
use crate::system::{CoreId, System};

/// Where execution goes after an instruction.
pub(super) enum Next {
    /// PC + 4.
    Seq,
    /// A branch (taken or not decided by the instruction: the target is absolute).
    Jump(u64),
    /// An exception return (`ERET`): PSTATE already restored, so no step advance.
    ExceptionReturn(u64),
}

pub(super) type Exec = Result<Next, ExceptionKind>;

/// An instruction executing on one core.
pub(super) struct Cpu<'a> {
    pub s: &'a mut CoreState,
    pub sys: &'a mut System,
    pub core: CoreId,
    pub pc: u64,
    pub el: u8,
    pub insn: u32,
}

impl Cpu<'_> {
    pub fn undefined(&self) -> Exec {
        Err(ExceptionKind::Undefined {
            encoding: self.insn,
        })
    }

    /// X register, with 31 reading as zero.
    #[inline]
    pub fn x(&self, r: u32) -> u64 {
        if r == 31 {
            0
        } else {
            self.s.regs.x[r as usize]
        }
    }

    /// X register, with 31 meaning SP.
    #[inline]
    pub fn xsp(&self, r: u32) -> u64 {
        if r == 31 {
            self.s.regs.sp()
        } else {
            self.s.regs.x[r as usize]
        }
    }

    /// X or W register (zero register for 31).
    #[inline]
    pub fn reg(&self, r: u32, sf: bool) -> u64 {
        if sf {
            self.x(r)
        } else {
            self.x(r) & 0xffff_ffff
        }
    }

    #[inline]
    pub fn set_x(&mut self, r: u32, value: u64) {
        if r != 31 {
            self.s.regs.x[r as usize] = value;
        }
    }

    #[inline]
    pub fn set_xsp(&mut self, r: u32, value: u64) {
        if r == 31 {
            self.s.regs.set_sp(value);
        } else {
            self.s.regs.x[r as usize] = value;
        }
    }

    /// Writes an X or W result (W results zero the upper half); 31 is the zero register.
    #[inline]
    pub fn set_reg(&mut self, r: u32, sf: bool, value: u64) {
        self.set_x(r, if sf { value } else { value & 0xffff_ffff });
    }

    /// Writes an X or W result; 31 is SP.
    #[inline]
    pub fn set_reg_sp(&mut self, r: u32, sf: bool, value: u64) {
        self.set_xsp(r, if sf { value } else { value & 0xffff_ffff });
    }

    /// NZCV as a 4-bit value.
    #[inline]
    pub fn nzcv(&self) -> u32 {
        ((self.s.regs.pstate >> 28) & 0xf) as u32
    }

    #[inline]
    pub fn set_nzcv(&mut self, flags: u32) {
        self.s.regs.pstate = (self.s.regs.pstate & !pstate::NZCV) | (u64::from(flags & 0xf) << 28);
    }

    /// `ConditionHolds(cond)`.
    pub fn cond_holds(&self, cond: u32) -> bool {
        let f = self.nzcv();
        let (n, z, c, v) = (f & 8 != 0, f & 4 != 0, f & 2 != 0, f & 1 != 0);
        let result = match cond >> 1 {
            0 => z,
            1 => c,
            2 => n,
            3 => v,
            4 => c && !z,
            5 => n == v,
            6 => n == v && !z,
            _ => true,
        };
        if cond & 1 == 1 && cond != 0xf {
            !result
        } else {
            result
        }
    }

    fn data_abort(fault: MemFault) -> ExceptionKind {
        ExceptionKind::DataAbort {
            fault,
            cache_maintenance: false,
        }
    }

    /// Loads `buf.len()` bytes at `va` with the permissions of `el`.
    pub fn load_as(&mut self, va: u64, buf: &mut [u8], el: u8) -> Result<(), ExceptionKind> {
        self.sys
            .read(self.core, va, buf, el)
            .map_err(Cpu::data_abort)
    }

    pub fn load(&mut self, va: u64, buf: &mut [u8]) -> Result<(), ExceptionKind> {
        self.load_as(va, buf, self.el)
    }

    /// Stores `bytes` at `va` with the permissions of `el`.
    pub fn store_as(&mut self, va: u64, bytes: &[u8], el: u8) -> Result<(), ExceptionKind> {
        self.sys
            .write(self.core, va, bytes, el)
            .map_err(Cpu::data_abort)
    }

    pub fn store(&mut self, va: u64, bytes: &[u8]) -> Result<(), ExceptionKind> {
        self.store_as(va, bytes, self.el)
    }

    /// Translates `va` for a data access (exclusives need the physical address).
    pub fn translate(&mut self, va: u64, access: Access) -> Result<u64, ExceptionKind> {
        self.sys
            .translate(self.core, va, access, self.el)
            .map_err(Cpu::data_abort)
    }

    /// An alignment fault unless `va` is a multiple of `align`.
    pub fn check_alignment(
        &self,
        va: u64,
        align: u64,
        access: Access,
    ) -> Result<(), ExceptionKind> {
        if va.is_multiple_of(align) {
            Ok(())
        } else {
            Err(Cpu::data_abort(MemFault {
                va,
                access,
                kind: FaultKind::Alignment,
            }))
        }
    }
}

/// The hardware breakpoint matching `pc` at `el`, if any (unlinked address match, Arm ARM
/// "Breakpoint exceptions": `DBGBCR.E`, `PMC` selects the ELs, `BT == 0`, `BAS == 0b1111`, `DBGBVR == pc`).
fn breakpoint_match(s: &CoreState, pc: u64, el: u8) -> Option<usize> {
    s.sys
        .dbgbcr
        .iter()
        .zip(&s.sys.dbgbvr)
        .position(|(&bcr, &bvr)| {
            let pmc = (bcr >> 1) & 3;
            let el_matches = if el == 0 { pmc & 2 != 0 } else { pmc & 1 != 0 };
            bcr & 1 != 0
                && el_matches
                && (bcr >> 20) & 0xf == 0
                && (bcr >> 5) & 0xf == 0xf
                && bvr & !3 == pc
        })
}

/// Whether `insn` is a load-exclusive (the kernel's `aarch64_insn_is_load_ex`).
fn is_load_exclusive(insn: u32) -> bool {
    insn & 0x3fc0_0000 == 0x0840_0000
}

/// One step of a core: see the module documentation of `aarch64` for the priorities.
pub(super) fn step(s: &mut CoreState, sys: &mut System, core: CoreId) -> Option<Exception> {
    let pc = s.regs.pc;
    let el = s.regs.el();
    let exception = |kind| {
        Some(Exception {
            kind,
            pc,
            from_el: el,
        })
    };
    if sys.irq_pending(core) && s.regs.pstate & pstate::I == 0 {
        sys.take_irq(core);
        return exception(ExceptionKind::Irq);
    }
    let mdscr_bits = s.sys.mdscr_el1;
    let debug = mdscr_bits & (mdscr::SS | mdscr::MDE) != 0 && s.debug_exceptions_enabled();
    let stepping = debug && mdscr_bits & mdscr::SS != 0;
    // Software step, active-pending state: the stepped instruction completed.
    if stepping && s.regs.pstate & pstate::SS == 0 {
        return exception(ExceptionKind::SoftwareStep {
            ex: s.last_was_load_exclusive,
        });
    }
    if pc & 3 != 0 {
        return exception(ExceptionKind::PcAlignment);
    }
    let insn = match sys.fetch(core, pc, el) {
        Ok(insn) => insn,
        Err(fault) => return exception(ExceptionKind::InstructionAbort { fault }),
    };
    if debug
        && mdscr_bits & mdscr::MDE != 0
        && let Some(index) = breakpoint_match(s, pc, el)
    {
        return exception(ExceptionKind::Breakpoint { index });
    }
    let mut cpu = Cpu {
        s,
        sys,
        core,
        pc,
        el,
        insn,
    };
    match execute(&mut cpu, insn) {
        Ok(next) => {
            let advance = !matches!(next, Next::ExceptionReturn(_));
            s.regs.pc = match next {
                Next::Seq => pc.wrapping_add(4),
                Next::Jump(target) | Next::ExceptionReturn(target) => target,
            };
            if stepping && advance {
                // SSAdvance(): active-not-pending -> active-pending.
                s.regs.pstate &= !pstate::SS;
            }
            s.last_was_load_exclusive = is_load_exclusive(insn);
            None
        }
        Err(kind) => {
            if let ExceptionKind::Svc { .. } = kind {
                // The preferred return address of SVC is the next instruction, and the
                // instruction counts as stepped (AArch64.CallSupervisor calls SSAdvance).
                s.regs.pc = pc.wrapping_add(4);
                if stepping {
                    s.regs.pstate &= !pstate::SS;
                }
            }
            exception(kind)
        }
    }
}

/// Top-level decode on `op0` = bits 28:25 (Arm ARM "A64 instruction set encoding").
fn execute(cpu: &mut Cpu, insn: u32) -> Exec {
    match bits(insn, 28, 25) {
        0b1000 | 0b1001 => data_processing_immediate(cpu, insn),
        0b1010 | 0b1011 => branch_exception_system(cpu, insn),
        0b0100 | 0b0110 | 0b1100 | 0b1110 => ldst::execute(cpu, insn),
        0b0101 | 0b1101 => alu::data_processing_register(cpu, insn),
        0b0111 | 0b1111 => fp::execute(cpu, insn),
        _ => cpu.undefined(),
    }
}

/// `AddWithCarry(x, y, carry)` on 64 or 32 bits: the result and NZCV.
pub(super) fn add_with_carry(x: u64, y: u64, carry: bool, sf: bool) -> (u64, u32) {
    if sf {
        let (partial, c1) = x.overflowing_add(y);
        let (result, c2) = partial.overflowing_add(u64::from(carry));
        let v = ((x ^ result) & (y ^ result)) >> 63;
        (
            result,
            flags(result >> 63 != 0, result == 0, c1 || c2, v != 0),
        )
    } else {
        let (x, y) = (x as u32, y as u32);
        let (partial, c1) = x.overflowing_add(y);
        let (result, c2) = partial.overflowing_add(u32::from(carry));
        let v = ((x ^ result) & (y ^ result)) >> 31;
        (
            u64::from(result),
            flags(result >> 31 != 0, result == 0, c1 || c2, v != 0),
        )
    }
}

/// NZCV from its four flags.
pub(super) fn flags(n: bool, z: bool, c: bool, v: bool) -> u32 {
    (u32::from(n) << 3) | (u32::from(z) << 2) | (u32::from(c) << 1) | u32::from(v)
}

fn data_processing_immediate(cpu: &mut Cpu, insn: u32) -> Exec {
    let rd = bits(insn, 4, 0);
    let rn = bits(insn, 9, 5);
    let sf = bit(insn, 31);
    let width = if sf { 64 } else { 32 };
    match bits(insn, 25, 23) {
        // ADR, ADRP
        0 | 1 => {
            let imm = sext(u64::from((bits(insn, 23, 5) << 2) | bits(insn, 30, 29)), 21);
            let value = if bit(insn, 31) {
                (cpu.pc & !0xfff).wrapping_add((imm << 12) as u64)
            } else {
                cpu.pc.wrapping_add(imm as u64)
            };
            cpu.set_x(rd, value);
        }
        // ADD/ADDS/SUB/SUBS (immediate)
        2 => {
            let imm = u64::from(bits(insn, 21, 10)) << if bit(insn, 22) { 12 } else { 0 };
            let a = cpu.xsp(rn);
            let (result, nzcv) = if bit(insn, 30) {
                add_with_carry(a, !imm, true, sf)
            } else {
                add_with_carry(a, imm, false, sf)
            };
            if bit(insn, 29) {
                cpu.set_nzcv(nzcv);
                cpu.set_reg(rd, sf, result);
            } else {
                cpu.set_reg_sp(rd, sf, result);
            }
        }
        // AND/ORR/EOR/ANDS (immediate)
        4 => {
            let n = bits(insn, 22, 22);
            if !sf && n == 1 {
                return cpu.undefined();
            }
            let Some((imm, _)) =
                decode_bit_masks(n, bits(insn, 15, 10), bits(insn, 21, 16), true, width)
            else {
                return cpu.undefined();
            };
            let a = cpu.reg(rn, sf);
            let result = match bits(insn, 30, 29) {
                0 | 3 => a & imm,
                1 => a | imm,
                _ => a ^ imm,
            } & ones(width);
            if bits(insn, 30, 29) == 3 {
                cpu.set_nzcv(flags(result >> (width - 1) != 0, result == 0, false, false));
                cpu.set_reg(rd, sf, result);
            } else {
                cpu.set_reg_sp(rd, sf, result);
            }
        }
        // MOVN/MOVZ/MOVK
        5 => {
            let opc = bits(insn, 30, 29);
            let hw = bits(insn, 22, 21);
            if opc == 1 || (!sf && hw >= 2) {
                return cpu.undefined();
            }
            let shift = 16 * hw;
            let imm = u64::from(bits(insn, 20, 5)) << shift;
            let value = match opc {
                0 => !imm,
                2 => imm,
                _ => (cpu.x(rd) & !(0xffff << shift)) | imm,
            };
            cpu.set_reg(rd, sf, value);
        }
        // SBFM/BFM/UBFM
        6 => {
            let opc = bits(insn, 30, 29);
            let n = bits(insn, 22, 22);
            let (immr, imms) = (bits(insn, 21, 16), bits(insn, 15, 10));
            if opc == 3 || n != u32::from(sf) || (!sf && (immr >= 32 || imms >= 32)) {
                return cpu.undefined();
            }
            let Some((wmask, tmask)) = decode_bit_masks(n, imms, immr, false, width) else {
                return cpu.undefined();
            };
            let src = cpu.reg(rn, sf);
            let dst = if opc == 1 { cpu.reg(rd, sf) } else { 0 };
            let bot = (dst & !wmask) | (ror(src, immr, width) & wmask);
            let top = if opc == 0 {
                if (src >> imms) & 1 != 0 {
                    ones(width)
                } else {
                    0
                }
            } else {
                dst
            };
            cpu.set_reg(rd, sf, ((top & !tmask) | (bot & tmask)) & ones(width));
        }
        // EXTR
        7 => {
            let lsb = bits(insn, 15, 10);
            if bits(insn, 30, 29) != 0 || bit(insn, 21) || bit(insn, 22) != sf || (!sf && lsb >= 32)
            {
                return cpu.undefined();
            }
            let (hi, lo) = (cpu.reg(rn, sf), cpu.reg(bits(insn, 20, 16), sf));
            let result = if lsb == 0 {
                lo
            } else {
                (lo >> lsb) | (hi << (width - lsb))
            };
            cpu.set_reg(rd, sf, result & ones(width));
        }
        _ => return cpu.undefined(),
    }
    Ok(Next::Seq)
}

fn branch_exception_system(cpu: &mut Cpu, insn: u32) -> Exec {
    let pc = cpu.pc;
    let rt = bits(insn, 4, 0);
    if insn & 0x7c00_0000 == 0x1400_0000 {
        // B, BL
        let offset = sext(u64::from(bits(insn, 25, 0)) << 2, 28);
        if bit(insn, 31) {
            cpu.set_x(30, pc.wrapping_add(4));
        }
        return Ok(Next::Jump(pc.wrapping_add(offset as u64)));
    }
    let offset19 = || sext(u64::from(bits(insn, 23, 5)) << 2, 21) as u64;
    let taken_or_next = |taken: bool, offset: u64| {
        Ok(Next::Jump(if taken {
            pc.wrapping_add(offset)
        } else {
            pc.wrapping_add(4)
        }))
    };
    if insn & 0x7e00_0000 == 0x3400_0000 {
        // CBZ, CBNZ
        let is_zero = cpu.reg(rt, bit(insn, 31)) == 0;
        return taken_or_next(is_zero != bit(insn, 24), offset19());
    }
    if insn & 0x7e00_0000 == 0x3600_0000 {
        // TBZ, TBNZ
        let bit_pos = (bits(insn, 31, 31) << 5) | bits(insn, 23, 19);
        let set = (cpu.x(rt) >> bit_pos) & 1 != 0;
        let offset = sext(u64::from(bits(insn, 18, 5)) << 2, 16) as u64;
        return taken_or_next(set == bit(insn, 24), offset);
    }
    if insn & 0xff00_0010 == 0x5400_0000 {
        // B.cond
        return taken_or_next(cpu.cond_holds(bits(insn, 3, 0)), offset19());
    }
    if insn & 0xff00_0000 == 0xd400_0000 {
        // Exception generation. HVC, SMC (no EL2/EL3), HLT (halting debug disabled) and DCPS
        // are undefined here.
        let imm = bits(insn, 20, 5) as u16;
        return match (bits(insn, 23, 21), bits(insn, 4, 2), bits(insn, 1, 0)) {
            (0, 0, 1) => Err(ExceptionKind::Svc { imm }),
            (1, 0, 0) => Err(ExceptionKind::Brk { imm }),
            _ => cpu.undefined(),
        };
    }
    if insn & 0xffc0_0000 == 0xd500_0000 {
        return sysreg::system(cpu, insn);
    }
    if insn & 0xfe00_0000 == 0xd600_0000 {
        // Unconditional branch (register). Pointer-authenticating forms are not implemented.
        let rn = bits(insn, 9, 5);
        if bits(insn, 20, 16) != 0x1f || bits(insn, 15, 10) != 0 || rt != 0 {
            return cpu.undefined();
        }
        return match bits(insn, 24, 21) {
            0 | 2 => Ok(Next::Jump(cpu.x(rn))),
            1 => {
                // Read the target before writing LR: `blr x30` must branch to the old X30.
                let target = cpu.x(rn);
                cpu.set_x(30, pc.wrapping_add(4));
                Ok(Next::Jump(target))
            }
            4 if rn == 31 && cpu.el == 1 => Ok(Next::ExceptionReturn(sysreg::eret(cpu))),
            _ => cpu.undefined(),
        };
    }
    cpu.undefined()
}
