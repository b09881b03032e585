//! A64 decoding and probe classification (arm-probes.md §1.2–§1.5).
//!
//! [`decode`] sorts a 32-bit word into the instruction groups that matter to a probe engine —
//! anything that reads the PC, branches, exclusive (LL/SC) accesses, system instructions —
//! following the encoding tables of the Arm ARM (DDI 0487, C4.1 "A64 instruction set
//! encoding"). Everything else is [`Insn::Other`]: a PC-independent instruction that completes
//! by falling through to the next word, which is exactly what may run in an XOL slot.
//! [`classify`] then decides, per probe kind, whether the instruction is stepped out of line,
//! simulated in the breakpoint handler, or rejected with a reason.
//!
//! Where rtap departs from Linux (`arch/arm64/kernel/probes/decode-insn.c`) it says so at the
//! rule; the departures are all cases where Linux executes a PC-dependent instruction at the
//! slot address or rejects something it could simulate.

use super::insn::{bit, bits, sign_extend};
pub use crate::reject::RejectReason;

/// What a probe engine needs to know about one A64 instruction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Insn {
    /// `B`, `BL` (±128 MiB).
    BranchImm { link: bool, offset: i64 },
    /// `B.cond`, and `BC.cond` (FEAT_HBC, `consistent`), which differs only as a hint.
    BranchCond {
        cond: u8,
        consistent: bool,
        offset: i64,
    },
    /// `CBZ`, `CBNZ`.
    CompareBranch {
        nonzero: bool,
        wide: bool,
        rt: u8,
        offset: i64,
    },
    /// `TBZ`, `TBNZ`.
    TestBranch {
        nonzero: bool,
        bit: u8,
        rt: u8,
        offset: i64,
    },
    /// `CB<cc>`, `CBB<cc>`, `CBH<cc>` (FEAT_CMPBR): PC-relative compare-and-branch.
    CompareBranchExtended,
    /// `BR`, `BLR`, `RET`.
    BranchReg { kind: BranchRegKind, rn: u8 },
    /// `BRAA`, `BLRAAZ`, `RETAB`, … (FEAT_PAuth): branches that authenticate their target.
    BranchRegAuth,
    /// `RETAASPPC <label>`, `RETABSPPC <label>`, and their register forms (FEAT_PAuth_LR).
    ReturnAuthPc,
    /// `ERET`, `ERETAA`, `ERETAB`, `DRPS`.
    ExceptionReturn,
    /// `SVC`, `HVC`, `SMC`, `BRK`, `HLT`, `DCPS1-3`.
    Exception { kind: ExceptionKind, imm: u16 },
    /// `UDF #imm`: permanently undefined.
    Udf,
    /// `HINT #op` and its named forms (`NOP`, `YIELD`, `PACIASP`, `BTI`, …); `op` is CRm:op2.
    Hint { op: u8 },
    /// `DSB`, `DMB`, `ISB`, `SB`, `CLREX`, `SSBB`, `PSSBB`, `DSB nXS`.
    Barrier,
    /// `WFET`, `WFIT` (FEAT_WFxT).
    WaitWithTimeout,
    /// `MSR <pstatefield>, #imm`, `CFINV`, `XAFLAG`, `AXFLAG`, `SMSTART`, `SMSTOP`.
    PstateWrite,
    /// `MRS Xt, <sysreg>`; `sysreg` is o0:op1:CRn:CRm:op2 with the leading 1 (bits 20:5), the
    /// form Linux's `aarch64_insn_extract_system_reg()` returns (DAIF is 0xda11).
    SysRegRead { sysreg: u16, rt: u8 },
    /// `MSR <sysreg>, Xt`.
    SysRegWrite { sysreg: u16 },
    /// `SYS`, `SYSL`, `SYSP` and their aliases (`DC`, `IC`, `AT`, `TLBI`, …).
    SysInsn,
    /// `MRRS`, `MSRR` (FEAT_SYSREG128).
    SysRegPair,
    /// `TSTART`, `TTEST`, `TCOMMIT`, `TCANCEL` (FEAT_TME).
    Transaction,
    /// `ADR`, `ADRP`.
    PcRelAddr { page: bool, rd: u8, offset: i64 },
    /// `LDR (literal)`, `LDRSW (literal)`, `PRFM (literal)`, `LDR (literal, SIMD&FP)`.
    LoadLiteral {
        kind: LiteralKind,
        rt: u8,
        offset: i64,
    },
    /// `PACIASPPC`, `PACIBSPPC`, `PACNBIASPPC`, `PACNBIBSPPC`, `AUTIASPPC <label>`,
    /// `AUTIBSPPC <label>` (FEAT_PAuth_LR): use the instruction's own address as a modifier.
    PacWithPc,
    /// `LDXR`, `LDAXR`, `STXR`, `STLXR` (all sizes) and the pair forms.
    Exclusive { load: bool, pair: bool },
    /// `CPYP`/`CPYM`/`CPYE`, `SETP`/…, (FEAT_MOPS): one operation split over three
    /// consecutive instructions.
    MemCopySet,
    /// Any other allocated or not-decoded-here instruction: independent of the PC, falls
    /// through to the next word.
    Other,
    /// Unallocated in a group this decoder covers completely.
    Unallocated,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BranchRegKind {
    Br,
    Blr,
    Ret,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExceptionKind {
    Svc,
    Hvc,
    Smc,
    Brk,
    Hlt,
    Dcps,
}

/// The destination and width of a literal load.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LiteralKind {
    /// `LDR Wt`: 32 bits, zero-extended.
    W,
    /// `LDR Xt`: 64 bits.
    X,
    /// `LDRSW Xt`: 32 bits, sign-extended.
    Sw,
    /// `PRFM`: a prefetch hint, no architectural effect.
    Prfm,
    /// `LDR St`, `LDR Dt`, `LDR Qt`: 4, 8 or 16 bytes into a SIMD&FP register.
    Simd { bytes: u8 },
}

/// Decodes one A64 instruction word.
pub fn decode(insn: u32) -> Insn {
    match bits(insn, 28, 25) {
        0b0000 => decode_reserved(insn),
        0b0001 | 0b0011 => Insn::Unallocated,
        0b0010 => Insn::Other, // SVE: no PC-relative forms.
        0b1000 | 0b1001 => decode_data_processing_imm(insn),
        0b1010 | 0b1011 => decode_branch_system(insn),
        op0 if op0 & 0b0101 == 0b0100 => decode_load_store(insn),
        op0 if op0 & 0b0111 == 0b0101 => decode_data_processing_reg(insn),
        _ => Insn::Other, // x111: SIMD and floating point.
    }
}

/// op0 = 0000: `UDF` when bits 31:16 are zero; SME when bit 31 is set.
fn decode_reserved(insn: u32) -> Insn {
    if bit(insn, 31) {
        Insn::Other
    } else if bits(insn, 31, 16) == 0 {
        Insn::Udf
    } else {
        Insn::Unallocated
    }
}

fn decode_data_processing_imm(insn: u32) -> Insn {
    match bits(insn, 25, 23) {
        0b000 | 0b001 => {
            let page = bit(insn, 31);
            let imm = (bits(insn, 23, 5) << 2) | bits(insn, 30, 29);
            let imm = sign_extend(u64::from(imm), 21);
            Insn::PcRelAddr {
                page,
                rd: bits(insn, 4, 0) as u8,
                offset: if page { imm << 12 } else { imm },
            }
        }
        // Extract: `sf op21 100111 N o0 Rm imms Rn Rd`; op21 = 11 holds FEAT_PAuth_LR's
        // `AUTIASPPC`/`AUTIBSPPC <label>` (`1 11 100111 0 x imm16 11111`).
        0b111 if bits(insn, 30, 29) != 0 => {
            if bits(insn, 31, 29) == 0b111 && !bit(insn, 22) && bits(insn, 4, 0) == 0b11111 {
                Insn::PacWithPc
            } else {
                Insn::Unallocated
            }
        }
        _ => Insn::Other,
    }
}

fn decode_data_processing_reg(insn: u32) -> Insn {
    // Data-processing (1 source), `sf 1 S 11010110 opcode2 opcode Rn Rd`, holds FEAT_PAuth_LR's
    // PC-modified signing instructions: opcode2 = 00001, opcode = 10x00x, Rn = 31, Rd = 30.
    if insn & 0xffff_dbff == 0xdac1_83fe {
        Insn::PacWithPc
    } else {
        Insn::Other
    }
}

/// Branches, exception generating and system instructions (bits 28:26 = 101).
fn decode_branch_system(insn: u32) -> Insn {
    match bits(insn, 31, 29) {
        0b000 | 0b100 => {
            let offset = sign_extend(u64::from(bits(insn, 25, 0)) << 2, 28);
            Insn::BranchImm {
                link: bit(insn, 31),
                offset,
            }
        }
        0b001 | 0b101 => {
            let rt = bits(insn, 4, 0) as u8;
            let nonzero = bit(insn, 24);
            if bit(insn, 25) {
                let offset = sign_extend(u64::from(bits(insn, 18, 5)) << 2, 16);
                let bit = ((bits(insn, 31, 31) << 5) | bits(insn, 23, 19)) as u8;
                Insn::TestBranch {
                    nonzero,
                    bit,
                    rt,
                    offset,
                }
            } else {
                let offset = sign_extend(u64::from(bits(insn, 23, 5)) << 2, 21);
                Insn::CompareBranch {
                    nonzero,
                    wide: bit(insn, 31),
                    rt,
                    offset,
                }
            }
        }
        0b010 => match bits(insn, 25, 24) {
            0b00 => {
                let offset = sign_extend(u64::from(bits(insn, 23, 5)) << 2, 21);
                Insn::BranchCond {
                    cond: bits(insn, 3, 0) as u8,
                    consistent: bit(insn, 4),
                    offset,
                }
            }
            // Miscellaneous branch (immediate): `RETAASPPC`/`RETABSPPC <label>`
            // (`01010101 00 x imm16 11111`).
            0b01 if bits(insn, 23, 22) == 0 && bits(insn, 4, 0) == 0b11111 => Insn::ReturnAuthPc,
            _ => Insn::Unallocated,
        },
        0b110 => match bits(insn, 25, 24) {
            0b00 => decode_exception(insn),
            0b01 => decode_system(insn),
            _ => decode_branch_reg(insn),
        },
        // op0 = x11: compare-and-branch of FEAT_CMPBR (`CB<cc>` register and immediate,
        // `CBB<cc>`, `CBH<cc>`).
        _ => Insn::CompareBranchExtended,
    }
}

/// Exception generation: `11010100 opc imm16 op2 LL`.
fn decode_exception(insn: u32) -> Insn {
    let imm = bits(insn, 20, 5) as u16;
    if bits(insn, 4, 2) != 0 {
        return Insn::Unallocated;
    }
    let kind = match (bits(insn, 23, 21), bits(insn, 1, 0)) {
        (0b000, 0b01) => ExceptionKind::Svc,
        (0b000, 0b10) => ExceptionKind::Hvc,
        (0b000, 0b11) => ExceptionKind::Smc,
        (0b001, 0b00) => ExceptionKind::Brk,
        (0b010, 0b00) => ExceptionKind::Hlt,
        (0b011, 0b00) => return Insn::Transaction, // TCANCEL
        (0b101, 0b01..=0b11) => ExceptionKind::Dcps,
        _ => return Insn::Unallocated,
    };
    Insn::Exception { kind, imm }
}

/// System instructions: `1101010100 L op0 op1 CRn CRm op2 Rt` (and the pair forms with bit
/// 22 set).
fn decode_system(insn: u32) -> Insn {
    let l = bit(insn, 21);
    let op0 = bits(insn, 20, 19);
    let op1 = bits(insn, 18, 16);
    let crn = bits(insn, 15, 12);
    let crm = bits(insn, 11, 8);
    let op2 = bits(insn, 7, 5);
    let rt = bits(insn, 4, 0);
    match bits(insn, 23, 22) {
        0b00 => {}
        // System pair instructions (FEAT_SYSINSTR128, FEAT_SYSREG128).
        0b01 => {
            return match (l, op0) {
                (false, 0b01) => Insn::SysInsn, // SYSP
                (_, 0b10 | 0b11) => Insn::SysRegPair,
                _ => Insn::Unallocated,
            };
        }
        _ => return Insn::Unallocated,
    }
    match op0 {
        0b00 if l => {
            // System instructions with result: TSTART, TTEST.
            if op1 == 0b011 && crn == 0b0011 && op2 == 0b011 && crm <= 1 {
                Insn::Transaction
            } else {
                Insn::Unallocated
            }
        }
        0b00 => match (op1, crn) {
            (_, 0b0100) if rt == 0b11111 => Insn::PstateWrite,
            (0b011, 0b0001) if crm == 0 && op2 <= 1 => Insn::WaitWithTimeout,
            (0b011, 0b0010) if rt == 0b11111 => Insn::Hint {
                op: ((crm << 3) | op2) as u8,
            },
            (0b011, 0b0011) if rt == 0b11111 => decode_barrier(crm, op2),
            _ => Insn::Unallocated,
        },
        0b01 => Insn::SysInsn,
        _ => {
            let sysreg = bits(insn, 20, 5) as u16;
            if l {
                Insn::SysRegRead {
                    sysreg,
                    rt: rt as u8,
                }
            } else {
                Insn::SysRegWrite { sysreg }
            }
        }
    }
}

/// Barriers: `d503 3 CRm op2 11111`.
fn decode_barrier(crm: u32, op2: u32) -> Insn {
    match op2 {
        0b001 if crm & 0b11 == 0b10 => Insn::Barrier, // DSB nXS
        0b010 | 0b100 | 0b101 | 0b110 => Insn::Barrier, // CLREX, DSB/SSBB/PSSBB, DMB, ISB
        0b011 if crm == 0 => Insn::Transaction,       // TCOMMIT
        0b111 => Insn::Barrier, // SB; CRm is should-be-zero, not part of the opcode
        _ => Insn::Unallocated,
    }
}

/// Unconditional branch (register): `1101011 opc op2 op3 Rn op4`.
fn decode_branch_reg(insn: u32) -> Insn {
    let opc = bits(insn, 24, 21);
    let op3 = bits(insn, 15, 10);
    let rn = bits(insn, 9, 5) as u8;
    let op4 = bits(insn, 4, 0);
    if bits(insn, 20, 16) != 0b11111 {
        return Insn::Unallocated;
    }
    let auth = op3 & !1 == 0b000010;
    match opc {
        0b0000..=0b0010 if op3 == 0 && op4 == 0 => {
            let kind = match opc {
                0b0000 => BranchRegKind::Br,
                0b0001 => BranchRegKind::Blr,
                _ => BranchRegKind::Ret,
            };
            Insn::BranchReg { kind, rn }
        }
        0b0000 | 0b0001 if auth && op4 == 0b11111 => Insn::BranchRegAuth, // BRAAZ, BLRAAZ, …
        0b0010 if auth && rn == 0b11111 && op4 == 0b11111 => Insn::BranchRegAuth, // RETAA, RETAB
        0b0100 if op3 == 0 && rn == 0b11111 && op4 == 0 => Insn::ExceptionReturn, // ERET
        0b0100 if auth && rn == 0b11111 && op4 == 0b11111 => Insn::ExceptionReturn, // ERETAA, …
        0b0101 if op3 == 0 && rn == 0b11111 && op4 == 0 => Insn::ExceptionReturn, // DRPS
        0b1000 | 0b1001 if auth => Insn::BranchRegAuth,                   // BRAA, BLRAA, …
        _ => Insn::Unallocated,
    }
}

/// Loads and stores (op0 = x1x0).
fn decode_load_store(insn: u32) -> Insn {
    let group = bits(insn, 29, 24);
    if group == 0b001000 {
        // Load/store exclusive, ordered, compare-and-swap:
        // `size 001000 o2 L o1 Rs o0 Rt2 Rn Rt`.
        let o2 = bit(insn, 23);
        let load = bit(insn, 22);
        let o1 = bit(insn, 21);
        return match (o2, o1) {
            (false, false) => Insn::Exclusive { load, pair: false },
            // size = 1x: LDXP/STXP/LDAXP/STLXP; size = 0x: CASP (a single atomic instruction).
            (false, true) if bit(insn, 31) => Insn::Exclusive { load, pair: true },
            _ => Insn::Other, // CASP, LDAR/STLR/LDLAR/STLLR, CAS.
        };
    }
    if group & 0b111011 == 0b011000 {
        // Load register (literal): `opc 011 V 00 imm19 Rt`.
        let offset = sign_extend(u64::from(bits(insn, 23, 5)) << 2, 21);
        let rt = bits(insn, 4, 0) as u8;
        let kind = match (bit(insn, 26), bits(insn, 31, 30)) {
            (false, 0b00) => LiteralKind::W,
            (false, 0b01) => LiteralKind::X,
            (false, 0b10) => LiteralKind::Sw,
            (false, _) => LiteralKind::Prfm,
            (true, 0b00) => LiteralKind::Simd { bytes: 4 },
            (true, 0b01) => LiteralKind::Simd { bytes: 8 },
            (true, 0b10) => LiteralKind::Simd { bytes: 16 },
            (true, _) => return Insn::Unallocated,
        };
        return Insn::LoadLiteral { kind, rt, offset };
    }
    if group & 0b111011 == 0b011001 && !bit(insn, 21) && bits(insn, 11, 10) == 0b01 {
        // Memory copy and memory set: `sz 011 o0 01 op1 0 Rs op2 01 Rn Rd`.
        return Insn::MemCopySet;
    }
    Insn::Other
}

// ---------------------------------------------------------------------------------------
// Classification
// ---------------------------------------------------------------------------------------

/// Where the probed instruction runs; a few decisions differ.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Context {
    /// A kprobe: the instruction runs at EL1 and is stepped with DAIF masked.
    Kernel,
    /// A uprobe: the instruction runs at EL0 with the task's own PSTATE.
    User,
}

/// How a probed instruction is carried out after the handler has run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Copy it to an XOL slot followed by a completion BRK and return to the slot.
    Step,
    /// Carry out its effect on the saved registers in the breakpoint handler.
    Simulate(SimOp),
    /// It cannot be probed.
    Reject(RejectReason),
}

/// The operations `simulate.rs` carries out; each is the architectural effect of one
/// instruction executed at the probed address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SimOp {
    /// `NOP`, `PRFM (literal)`: PC += 4.
    Nop,
    /// `B`, `BL`.
    Branch { link: bool, offset: i64 },
    /// `B.cond`, `BC.cond`.
    BranchCond { cond: u8, offset: i64 },
    /// `CBZ`, `CBNZ`.
    CompareBranch {
        nonzero: bool,
        wide: bool,
        rt: u8,
        offset: i64,
    },
    /// `TBZ`, `TBNZ`.
    TestBranch {
        nonzero: bool,
        bit: u8,
        rt: u8,
        offset: i64,
    },
    /// `BR`, `BLR`, `RET`.
    BranchReg { link: bool, ret: bool, rn: u8 },
    /// `ADR`, `ADRP`.
    PcRelAddr { page: bool, rd: u8, offset: i64 },
    /// `LDR (literal)` into a general-purpose register.
    LoadLiteral {
        rt: u8,
        bytes: u8,
        signed: bool,
        offset: i64,
    },
    /// `LDR (literal, SIMD&FP)`: the value goes to `Vt` through the platform.
    LoadLiteralSimd { rt: u8, bytes: u8, offset: i64 },
    /// `MRS Xt, DAIF` in a kprobe: the value the interrupted context had.
    ReadDaif { rt: u8 },
}

/// `DAIF` as returned by [`Insn::SysRegRead`]'s `sysreg` (Linux: `AARCH64_INSN_SPCLREG_DAIF`).
pub const SYSREG_DAIF: u16 = 0xda11;

/// The exception-syndrome registers a BRK exception itself writes (SPSR, ELR, ESR; FAR
/// becomes UNKNOWN), at EL1 and, for a VHE kernel, EL2. An MRS of one of them in an XOL slot
/// would read the probe's values, not the interrupted code's; Linux steps them.
const EXCEPTION_SYSREGS: [u16; 8] = [
    sysreg(3, 0, 4, 0, 0), // SPSR_EL1
    sysreg(3, 0, 4, 0, 1), // ELR_EL1
    sysreg(3, 0, 5, 2, 0), // ESR_EL1
    sysreg(3, 0, 6, 0, 0), // FAR_EL1
    sysreg(3, 4, 4, 0, 0), // SPSR_EL2
    sysreg(3, 4, 4, 0, 1), // ELR_EL2
    sysreg(3, 4, 5, 2, 0), // ESR_EL2
    sysreg(3, 4, 6, 0, 0), // FAR_EL2
];

/// The `sysreg` value of `S<op0>_<op1>_C<n>_C<m>_<op2>` (op0 is 2 or 3).
pub const fn sysreg(op0: u16, op1: u16, crn: u16, crm: u16, op2: u16) -> u16 {
    (1 << 15) | ((op0 - 2) << 14) | (op1 << 11) | (crn << 7) | (crm << 3) | op2
}

/// The hints Linux's `aarch64_insn_is_steppable_hint()` allows (CRm:op2 values): `NOP`,
/// `XPACLRI`, `PACIA1716`, `PACIB1716`, `PACIAZ`, `PACIASP`, `PACIBZ`, `PACIBSP`, and the
/// four `BTI` forms. Every other hint is rejected: an unrecognised hint may be given a
/// meaning by a later architecture version (Linux commit "arm64: insn: Don't assume
/// unrecognized HINTs are skippable"), and the `AUT*` hints may fault with FEAT_FPAC.
const STEPPABLE_HINTS: [u8; 11] = [
    0x07, 0x08, 0x0a, 0x18, 0x19, 0x1a, 0x1b, 0x20, 0x22, 0x24, 0x26,
];

/// Decides how a probe at an instruction is carried out.
///
/// This is the instruction's own verdict; a kprobe or uprobe must also pass
/// [`in_exclusive_sequence`] for its surroundings.
pub fn classify(insn: Insn, context: Context) -> Decision {
    use Decision::{Reject, Simulate, Step};
    match insn {
        Insn::Other | Insn::Barrier | Insn::SysInsn => Step,
        Insn::Hint { op: 0 } => Simulate(SimOp::Nop),
        Insn::Hint { op } if STEPPABLE_HINTS.contains(&op) => Step,
        Insn::Hint { .. } => Reject(RejectReason::Hint),
        Insn::BranchImm { link, offset } => Simulate(SimOp::Branch { link, offset }),
        // BC.cond is a B.cond with a prediction hint. Linux's `bcond` mask does not match it and
        // its class check then calls it steppable, which branches relative to the slot.
        Insn::BranchCond { cond, offset, .. } => Simulate(SimOp::BranchCond { cond, offset }),
        Insn::CompareBranch {
            nonzero,
            wide,
            rt,
            offset,
        } => Simulate(SimOp::CompareBranch {
            nonzero,
            wide,
            rt,
            offset,
        }),
        Insn::TestBranch {
            nonzero,
            bit,
            rt,
            offset,
        } => Simulate(SimOp::TestBranch {
            nonzero,
            bit,
            rt,
            offset,
        }),
        Insn::BranchReg { kind, rn } => Simulate(SimOp::BranchReg {
            link: kind == BranchRegKind::Blr,
            ret: kind == BranchRegKind::Ret,
            rn,
        }),
        Insn::PcRelAddr { page, rd, offset } => Simulate(SimOp::PcRelAddr { page, rd, offset }),
        // Linux simulates only the general-purpose forms, and since 2024 only for kprobes
        // (arm-probes.md §6 #15); it steps the SIMD&FP form, which then loads from the slot's
        // neighbourhood. rtap simulates all of them, for both probe kinds, reading through the
        // platform (user memory accessors for uprobes).
        Insn::LoadLiteral { kind, rt, offset } => Simulate(match kind {
            LiteralKind::Prfm => SimOp::Nop,
            LiteralKind::W => SimOp::LoadLiteral {
                rt,
                bytes: 4,
                signed: false,
                offset,
            },
            LiteralKind::X => SimOp::LoadLiteral {
                rt,
                bytes: 8,
                signed: false,
                offset,
            },
            LiteralKind::Sw => SimOp::LoadLiteral {
                rt,
                bytes: 4,
                signed: true,
                offset,
            },
            LiteralKind::Simd { bytes } => SimOp::LoadLiteralSimd { rt, bytes, offset },
        }),
        // A kprobe steps with DAIF masked (Linux's reason to reject MRS DAIF); the value the
        // probed code must see is in the saved PSTATE, so rtap simulates it. A uprobe steps
        // with the task's own PSTATE, so the instruction can run in the slot.
        Insn::SysRegRead {
            sysreg: SYSREG_DAIF,
            rt,
        } if context == Context::Kernel => Simulate(SimOp::ReadDaif { rt }),
        Insn::SysRegRead { sysreg, .. } if EXCEPTION_SYSREGS.contains(&sysreg) => {
            Reject(RejectReason::ExceptionRegisterRead)
        }
        Insn::SysRegRead { .. } => Step,
        Insn::SysRegWrite { .. } | Insn::PstateWrite | Insn::SysRegPair => {
            Reject(RejectReason::StateWrite)
        }
        Insn::Exception {
            kind: ExceptionKind::Brk,
            ..
        } => Reject(RejectReason::Breakpoint),
        Insn::Exception { .. } => Reject(RejectReason::Exception),
        Insn::Udf | Insn::Unallocated => Reject(RejectReason::Undefined),
        Insn::ExceptionReturn => Reject(RejectReason::ExceptionReturn),
        Insn::BranchRegAuth | Insn::ReturnAuthPc => Reject(RejectReason::AuthenticatedBranch),
        Insn::CompareBranchExtended => Reject(RejectReason::CompareBranchExtended),
        Insn::PacWithPc => Reject(RejectReason::PacWithPc),
        Insn::WaitWithTimeout => Reject(RejectReason::Wait),
        Insn::Transaction => Reject(RejectReason::Transaction),
        Insn::Exclusive { .. } => Reject(RejectReason::Exclusive),
        Insn::MemCopySet => Reject(RejectReason::MemCopySet),
    }
}

/// The longest load-exclusive/store-exclusive sequence looked through: "ARM strongly
/// recommends a limit of 128 bytes between LoadExcl and StoreExcl" (Linux's
/// `MAX_ATOMIC_CONTEXT_SIZE`).
pub const MAX_EXCLUSIVE_SEQUENCE: u64 = 128;

/// Whether the instruction at `addr` lies between a load-exclusive and its store-exclusive.
///
/// Stepping any instruction there takes an exception, whose return clears the exclusive
/// monitor, so the store-exclusive always fails and the loop never ends. Walks backwards
/// from the previous word to `max(scan_start, addr - 128)`: a store-exclusive first means
/// "outside", a load-exclusive first means "inside" (Linux `is_probed_address_atomic()`).
/// `scan_start` is the containing function's start when known. Linux does this only for
/// kprobes; rtap applies it to uprobes too. A word that cannot be read ends the walk.
pub fn in_exclusive_sequence(
    addr: u64,
    scan_start: Option<u64>,
    mut read: impl FnMut(u64) -> Option<u32>,
) -> bool {
    let limit = addr.saturating_sub(MAX_EXCLUSIVE_SEQUENCE);
    let end = scan_start.map_or(limit, |start| start.max(limit));
    let mut at = addr;
    while at >= end + 4 {
        at -= 4;
        match read(at).map(decode) {
            Some(Insn::Exclusive { load: false, .. }) | None => return false,
            Some(Insn::Exclusive { load: true, .. }) => return true,
            Some(_) => {}
        }
    }
    false
}
