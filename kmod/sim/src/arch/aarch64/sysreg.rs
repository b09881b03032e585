//! A64 system instructions: hints, barriers, `CLREX`, `MSR` (immediate), cache maintenance
//! (`DC`, `IC`), TLB maintenance, `MRS`/`MSR` (register), and `ERET`.
//!
//! EL0 may use only what Linux lets user space use: `NZCV`, `FPCR`, `FPSR`, `TPIDR_EL0`,
//! `TPIDRRO_EL0` (read), `CTR_EL0` (`SCTLR_EL1.UCT`), `DCZID_EL0`, the virtual counter, and
//! `DC CVAU`/`DC CVAC`/`DC CIVAC`/`DC ZVA`/`IC IVAU` (`SCTLR_EL1.UCI`, `DZE`); anything else
//! from EL0 is undefined.

use super::decode::{bit, bits};
use super::execute::{Cpu, Exec, Next};
use super::{ExceptionKind, mdscr, pstate};
use crate::config::{CacheType, IcacheIndexing};
use crate::maintenance::{BarrierKind, DcOp};

/// `DC ZVA` block size in bytes (`DCZID_EL0.BS` = 4: 16 words).
const ZVA_BLOCK: u64 = 64;
/// `CNTFRQ_EL0`: the virtual counter counts executed instructions at a nominal 100 MHz.
const COUNTER_FREQUENCY: u64 = 100_000_000;
/// `MIDR_EL1`: Cortex-A53 r0p4, the core whose errata shaped the kernel's cache code.
const MIDR: u64 = 0x410f_d034;

/// `CTR_EL0` for a cache type (Arm ARM "CTR_EL0, Cache Type Register"): RES1 bit 31, DIC, IDC, CWG = ERG = 4
/// (64 bytes), DminLine, L1Ip, IminLine.
pub(super) fn ctr_el0(ct: &CacheType) -> u64 {
    let log2_words = |bytes: u64| u64::from((bytes / 4).trailing_zeros());
    let l1ip = match ct.indexing {
        IcacheIndexing::Pipt => 0b11,
        IcacheIndexing::AliasingVipt { .. } => 0b10,
    };
    (1 << 31)
        | (u64::from(ct.dic) << 29)
        | (u64::from(ct.idc) << 28)
        | (4 << 24)
        | (4 << 20)
        | (log2_words(ct.dcache_line) << 16)
        | (l1ip << 14)
        | log2_words(ct.icache_line)
}

/// The `op0:op1:CRn:CRm:op2` key of a system register (the kernel's `sys_reg()`).
const fn key(op0: u32, op1: u32, crn: u32, crm: u32, op2: u32) -> u32 {
    (op0 << 14) | (op1 << 11) | (crn << 7) | (crm << 3) | op2
}

const NZCV: u32 = key(3, 3, 4, 2, 0);
const DAIF: u32 = key(3, 3, 4, 2, 1);
const FPCR: u32 = key(3, 3, 4, 4, 0);
const FPSR: u32 = key(3, 3, 4, 4, 1);
const TPIDR_EL0: u32 = key(3, 3, 13, 0, 2);
const TPIDRRO_EL0: u32 = key(3, 3, 13, 0, 3);
const CTR_EL0: u32 = key(3, 3, 0, 0, 1);
const DCZID_EL0: u32 = key(3, 3, 0, 0, 7);
const CNTFRQ_EL0: u32 = key(3, 3, 14, 0, 0);
const CNTPCT_EL0: u32 = key(3, 3, 14, 0, 1);
const CNTVCT_EL0: u32 = key(3, 3, 14, 0, 2);
const CURRENT_EL: u32 = key(3, 0, 4, 2, 2);
const SPSEL: u32 = key(3, 0, 4, 2, 0);
const SP_EL0: u32 = key(3, 0, 4, 1, 0);
const SPSR_EL1: u32 = key(3, 0, 4, 0, 0);
const ELR_EL1: u32 = key(3, 0, 4, 0, 1);
const ESR_EL1: u32 = key(3, 0, 5, 2, 0);
const FAR_EL1: u32 = key(3, 0, 6, 0, 0);
const VBAR_EL1: u32 = key(3, 0, 12, 0, 0);
const SCTLR_EL1: u32 = key(3, 0, 1, 0, 0);
const CONTEXTIDR_EL1: u32 = key(3, 0, 13, 0, 1);
const TPIDR_EL1: u32 = key(3, 0, 13, 0, 4);
const MIDR_EL1: u32 = key(3, 0, 0, 0, 0);
const MPIDR_EL1: u32 = key(3, 0, 0, 0, 5);
const ID_AA64PFR0_EL1: u32 = key(3, 0, 0, 4, 0);
const ID_AA64DFR0_EL1: u32 = key(3, 0, 0, 5, 0);
const ID_AA64ISAR0_EL1: u32 = key(3, 0, 0, 6, 0);
const MDSCR_EL1: u32 = key(2, 0, 0, 2, 2);
const OSLAR_EL1: u32 = key(2, 0, 1, 0, 4);
const OSLSR_EL1: u32 = key(2, 0, 1, 1, 4);
const OSDLR_EL1: u32 = key(2, 0, 1, 3, 4);

pub(super) fn system(cpu: &mut Cpu, insn: u32) -> Exec {
    let read = bit(insn, 21);
    let (op0, op1, crn, crm, op2, rt) = (
        bits(insn, 20, 19),
        bits(insn, 18, 16),
        bits(insn, 15, 12),
        bits(insn, 11, 8),
        bits(insn, 7, 5),
        bits(insn, 4, 0),
    );
    match op0 {
        0 if !read => match (crn, rt) {
            // Hints: NOP, YIELD, WFE, WFI, SEV, SEVL, and the PAC/BTI hints, which behave as
            // NOP on a core without those features. WFE/WFI return at once.
            (2, 31) => Ok(Next::Seq),
            (3, 31) => barrier(cpu, op2, crm),
            (4, 31) => msr_immediate(cpu, op1, op2, crm),
            _ => cpu.undefined(),
        },
        1 if !read => sys(cpu, op1, crn, crm, op2, rt),
        2 | 3 => {
            let reg = key(op0, op1, crn, crm, op2);
            if read {
                let value = mrs(cpu, reg)?;
                cpu.set_x(rt, value);
            } else {
                msr(cpu, reg, cpu.x(rt))?;
            }
            Ok(Next::Seq)
        }
        _ => cpu.undefined(),
    }
}

fn barrier(cpu: &mut Cpu, op2: u32, crm: u32) -> Exec {
    match op2 {
        2 => {
            cpu.sys.take_monitor(cpu.core, None);
        }
        // DSB; CRm 0 and 4 are SSBB and PSSBB (speculation barriers).
        4 if crm != 0 && crm != 4 => cpu.sys.dsb(cpu.core, BarrierKind::from_crm(crm)),
        4 | 5 | 7 => {}
        6 => cpu.sys.context_synchronize(cpu.core),
        _ => return cpu.undefined(),
    }
    Ok(Next::Seq)
}

fn msr_immediate(cpu: &mut Cpu, op1: u32, op2: u32, crm: u32) -> Exec {
    if cpu.el == 0 {
        return cpu.undefined();
    }
    let regs = &mut cpu.s.regs;
    match (op1, op2) {
        (3, 6) => regs.pstate |= u64::from(crm) << 6,
        (3, 7) => regs.pstate &= !(u64::from(crm) << 6),
        (0, 5) => regs.pstate = (regs.pstate & !1) | u64::from(crm & 1),
        _ => return cpu.undefined(),
    }
    Ok(Next::Seq)
}

/// SYS: cache and TLB maintenance.
fn sys(cpu: &mut Cpu, op1: u32, crn: u32, crm: u32, op2: u32, rt: u32) -> Exec {
    let va = cpu.x(rt);
    let el1 = cpu.el == 1;
    let maintenance_abort = |fault| ExceptionKind::DataAbort {
        fault,
        cache_maintenance: true,
    };
    let (core, el) = (cpu.core, cpu.el);
    match (op1, crn, crm, op2) {
        (0, 7, 1, 0) if el1 => cpu.sys.ic_iall(core, true),
        (0, 7, 5, 0) if el1 => cpu.sys.ic_iall(core, false),
        (3, 7, 5, 1) => cpu.sys.ic_ivau(core, va, el).map_err(maintenance_abort)?,
        (3, 7, 4, 1) => {
            let base = va & !(ZVA_BLOCK - 1);
            cpu.store(base, &[0; ZVA_BLOCK as usize])?;
        }
        (3, 7, 10..=14, 1) | (0, 7, 6, 1) => {
            let op = match (op1, crm) {
                (0, _) if !el1 => return cpu.undefined(),
                (0, _) => DcOp::Ivac,
                (_, 10) => DcOp::Cvac,
                (_, 11) => DcOp::Cvau,
                (_, 14) => DcOp::Civac,
                _ => DcOp::Cvap,
            };
            cpu.sys.dc(core, op, va, el).map_err(maintenance_abort)?;
        }
        // DC ISW/CSW/CISW: set/way operations only make sense for power management; the model
        // has no set/way structure, so they do nothing.
        (0, 7, 6 | 10 | 14, 2) if el1 => {}
        // TLBI: translation changes take effect at once in the model (the host changes page
        // tables and the micro-TLBs are flushed), so TLB maintenance has nothing to do.
        (_, 8, _, _) if el1 => {}
        _ => return cpu.undefined(),
    }
    Ok(Next::Seq)
}

fn el0_accessible(reg: u32, read: bool) -> bool {
    match reg {
        NZCV | FPCR | FPSR | TPIDR_EL0 => true,
        TPIDRRO_EL0 | CTR_EL0 | DCZID_EL0 | CNTFRQ_EL0 | CNTPCT_EL0 | CNTVCT_EL0 => read,
        _ => false,
    }
}

/// The `n` of a `DBGBVR<n>_EL1`/`DBGBCR<n>_EL1` key, and whether it is the control register.
fn breakpoint_register(reg: u32) -> Option<(usize, bool)> {
    let (op0, op1, crn, crm, op2) = (
        reg >> 14,
        (reg >> 11) & 7,
        (reg >> 7) & 0xf,
        (reg >> 3) & 0xf,
        reg & 7,
    );
    match (op0, op1, crn, op2) {
        (2, 0, 0, 4) => Some((crm as usize, false)),
        (2, 0, 0, 5) => Some((crm as usize, true)),
        _ => None,
    }
}

fn mrs(cpu: &mut Cpu, reg: u32) -> Result<u64, ExceptionKind> {
    if cpu.el == 0 && !el0_accessible(reg, true) {
        return Err(ExceptionKind::Undefined { encoding: cpu.insn });
    }
    let s = &cpu.s;
    let brps = s.sys.dbgbcr.len() as u64;
    Ok(match reg {
        NZCV => s.regs.pstate & pstate::NZCV,
        DAIF => s.regs.pstate & pstate::DAIF,
        FPCR => s.regs.fpcr,
        FPSR => s.regs.fpsr,
        TPIDR_EL0 => s.sys.tpidr_el0,
        TPIDRRO_EL0 => s.sys.tpidrro_el0,
        TPIDR_EL1 => s.sys.tpidr_el1,
        CTR_EL0 => s.sys.ctr_el0,
        DCZID_EL0 => u64::from((ZVA_BLOCK / 4).trailing_zeros()),
        CNTFRQ_EL0 => COUNTER_FREQUENCY,
        CNTPCT_EL0 | CNTVCT_EL0 => cpu.sys.ticks(),
        CURRENT_EL => u64::from(cpu.el) << 2,
        SPSEL => s.regs.pstate & 1,
        SP_EL0 => s.regs.sp_el0,
        SPSR_EL1 => s.sys.spsr_el1,
        ELR_EL1 => s.sys.elr_el1,
        ESR_EL1 => s.sys.esr_el1,
        FAR_EL1 => s.sys.far_el1,
        VBAR_EL1 => s.sys.vbar_el1,
        SCTLR_EL1 => s.sys.sctlr_el1,
        CONTEXTIDR_EL1 => s.sys.contextidr_el1,
        MIDR_EL1 => MIDR,
        MPIDR_EL1 => s.sys.mpidr_el1,
        // EL0 and EL1 AArch64 only; FP and AdvSIMD implemented.
        ID_AA64PFR0_EL1 => 0x11,
        // BRPs = breakpoints - 1, WRPs = 0 (no watchpoints), DebugVer = ARMv8.
        ID_AA64DFR0_EL1 => ((brps - 1) << 12) | 6,
        // No AES/SHA/CRC32/atomics.
        ID_AA64ISAR0_EL1 => 0,
        MDSCR_EL1 => s.sys.mdscr_el1,
        OSLSR_EL1 => 0,
        _ => match breakpoint_register(reg) {
            Some((n, control)) if n < s.sys.dbgbcr.len() => {
                if control {
                    s.sys.dbgbcr[n]
                } else {
                    s.sys.dbgbvr[n]
                }
            }
            _ => return Err(ExceptionKind::Undefined { encoding: cpu.insn }),
        },
    })
}

fn msr(cpu: &mut Cpu, reg: u32, value: u64) -> Result<(), ExceptionKind> {
    if cpu.el == 0 && !el0_accessible(reg, false) {
        return Err(ExceptionKind::Undefined { encoding: cpu.insn });
    }
    let s = &mut cpu.s;
    match reg {
        NZCV => s.regs.pstate = (s.regs.pstate & !pstate::NZCV) | (value & pstate::NZCV),
        DAIF => s.regs.pstate = (s.regs.pstate & !pstate::DAIF) | (value & pstate::DAIF),
        FPCR => s.regs.fpcr = value,
        FPSR => s.regs.fpsr = value,
        TPIDR_EL0 => s.sys.tpidr_el0 = value,
        TPIDRRO_EL0 => s.sys.tpidrro_el0 = value,
        TPIDR_EL1 => s.sys.tpidr_el1 = value,
        SPSEL => s.regs.pstate = (s.regs.pstate & !1) | (value & 1),
        SP_EL0 => s.regs.sp_el0 = value,
        SPSR_EL1 => s.sys.spsr_el1 = value,
        ELR_EL1 => s.sys.elr_el1 = value,
        ESR_EL1 => s.sys.esr_el1 = value,
        FAR_EL1 => s.sys.far_el1 = value,
        VBAR_EL1 => s.sys.vbar_el1 = value,
        SCTLR_EL1 => s.sys.sctlr_el1 = value,
        CONTEXTIDR_EL1 => s.sys.contextidr_el1 = value,
        MDSCR_EL1 => s.sys.mdscr_el1 = value,
        OSLAR_EL1 | OSDLR_EL1 => {}
        _ => match breakpoint_register(reg) {
            Some((n, control)) if n < s.sys.dbgbcr.len() => {
                if control {
                    s.sys.dbgbcr[n] = value;
                } else {
                    s.sys.dbgbvr[n] = value;
                }
            }
            _ => return Err(ExceptionKind::Undefined { encoding: cpu.insn }),
        },
    }
    Ok(())
}

/// `ERET` at EL1: PSTATE from `SPSR_EL1` (with `DebugExceptionReturnSS`), returns the target
/// (`ELR_EL1`). A context synchronization event that clears the exclusive monitor.
pub(super) fn eret(cpu: &mut Cpu) -> u64 {
    let spsr = cpu.s.sys.spsr_el1;
    let mdscr_bits = cpu.s.sys.mdscr_el1;
    let enabled_at_source = cpu.s.debug_exceptions_enabled();
    let dest_el = ((spsr >> 2) & 3) as u8;
    let enabled_at_dest = dest_el == 0 || (mdscr_bits & mdscr::KDE != 0 && spsr & pstate::D == 0);
    let mut new_pstate = spsr & !pstate::SS;
    if mdscr_bits & mdscr::SS != 0 && !enabled_at_source && enabled_at_dest {
        new_pstate |= spsr & pstate::SS;
    }
    cpu.s.regs.pstate = new_pstate;
    cpu.sys.context_synchronize(cpu.core);
    cpu.sys.take_monitor(cpu.core, None);
    cpu.s.sys.elr_el1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ctr_el0_fields() {
        // 64-byte lines = 16 words = 2^4: IminLine = DminLine = 4; PIPT; no IDC/DIC.
        assert_eq!(ctr_el0(&CacheType::default()), 0x8444_c004);
        let coherent = CacheType {
            idc: true,
            dic: true,
            icache_line: 32,
            ..CacheType::default()
        };
        assert_eq!(ctr_el0(&coherent), 0xb444_c003);
    }
}
