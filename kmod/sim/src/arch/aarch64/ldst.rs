//! A64 loads and stores: single registers (general and SIMD&FP) with unscaled, pre-/post-
//! indexed, unprivileged, unsigned-offset and register-offset addressing; pairs; literal
//! loads; load/store exclusive (with the per-core monitor of [`crate::System`]) and
//! load-acquire/store-release; the ARMv8.1 atomics (LSE: `LDADD`…`LDUMIN`, `SWP`, `CAS`,
//! `CASP`, and `LDAPR`). SIMD structure loads are not implemented: they raise an
//! undefined-instruction exception. Every instruction executes atomically in this model (no
//! core interleaves inside one), which is exactly the single-copy atomicity the atomics need.

use super::ExceptionKind;
use super::decode::{bit, bits, sext};
use super::execute::{Cpu, Exec, Next};
use crate::mmu::Access;

/// What a single-register transfer does.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Store,
    /// Load, sign-extending when `signed`, to a W register when `to_w`.
    Load {
        signed: bool,
        to_w: bool,
    },
    Prefetch,
}

/// Decodes `size:opc` (and V) of the single-register forms into (log2 bytes, kind).
fn classify(size: u32, opc: u32, simd: bool) -> Option<(u32, Kind)> {
    if simd {
        let scale = ((opc >> 1) << 2) | size;
        if scale > 4 {
            return None;
        }
        let kind = if opc & 1 == 0 {
            Kind::Store
        } else {
            Kind::Load {
                signed: false,
                to_w: false,
            }
        };
        return Some((scale, kind));
    }
    let kind = match opc {
        0 => Kind::Store,
        1 => Kind::Load {
            signed: false,
            to_w: size < 3,
        },
        2 if size == 3 => Kind::Prefetch,
        2 => Kind::Load {
            signed: true,
            to_w: false,
        },
        _ if size >= 2 => return None,
        _ => Kind::Load {
            signed: true,
            to_w: true,
        },
    };
    Some((size, kind))
}

/// Moves one register of `1 << scale` bytes between `rt` and memory at `va`, with the
/// permissions of `el` (EL0 for the unprivileged forms).
fn transfer(
    cpu: &mut Cpu,
    kind: Kind,
    scale: u32,
    simd: bool,
    rt: u32,
    va: u64,
    el: u8,
) -> Result<(), ExceptionKind> {
    let size = 1usize << scale;
    match kind {
        Kind::Prefetch => Ok(()),
        Kind::Store => {
            let bytes = if simd {
                cpu.s.regs.v[rt as usize].to_le_bytes()
            } else {
                u128::from(cpu.x(rt)).to_le_bytes()
            };
            cpu.store_as(va, &bytes[..size], el)
        }
        Kind::Load { signed, to_w } => {
            let mut buf = [0u8; 16];
            cpu.load_as(va, &mut buf[..size], el)?;
            let value = u128::from_le_bytes(buf);
            if simd {
                cpu.s.regs.v[rt as usize] = value;
            } else {
                let mut value = value as u64;
                if signed && size < 8 {
                    value = sext(value, 8 * size as u32) as u64;
                }
                cpu.set_x(rt, if to_w { value & 0xffff_ffff } else { value });
            }
            Ok(())
        }
    }
}

pub(super) fn execute(cpu: &mut Cpu, insn: u32) -> Exec {
    if insn & 0x3f00_0000 == 0x0800_0000 {
        return exclusive_or_ordered(cpu, insn);
    }
    if insn & 0x3b00_0000 == 0x1800_0000 {
        return literal(cpu, insn);
    }
    if insn & 0x3a00_0000 == 0x2800_0000 {
        return pair(cpu, insn);
    }
    if insn & 0x3f20_0c00 == 0x3820_0000 {
        return atomic_memory_operation(cpu, insn);
    }
    let (size, opc, simd) = (bits(insn, 31, 30), bits(insn, 23, 22), bit(insn, 26));
    let (rt, rn) = (bits(insn, 4, 0), bits(insn, 9, 5));
    let Some((scale, kind)) = classify(size, opc, simd) else {
        return cpu.undefined();
    };
    if insn & 0x3b00_0000 == 0x3900_0000 {
        // Unsigned offset.
        let va = cpu
            .xsp(rn)
            .wrapping_add(u64::from(bits(insn, 21, 10)) << scale);
        transfer(cpu, kind, scale, simd, rt, va, cpu.el)?;
        return Ok(Next::Seq);
    }
    if insn & 0x3b20_0c00 == 0x3820_0800 {
        // Register offset: option<1> must be 1 (UXTW, LSL, SXTW, SXTX).
        let option = bits(insn, 15, 13);
        if option & 2 == 0 {
            return cpu.undefined();
        }
        let rm = cpu.x(bits(insn, 20, 16));
        let offset = match option {
            2 => rm & 0xffff_ffff,
            6 => rm as u32 as i32 as i64 as u64,
            _ => rm,
        } << if bit(insn, 12) { scale } else { 0 };
        let va = cpu.xsp(rn).wrapping_add(offset);
        transfer(cpu, kind, scale, simd, rt, va, cpu.el)?;
        return Ok(Next::Seq);
    }
    if insn & 0x3b20_0000 == 0x3800_0000 {
        // 9-bit signed immediate: unscaled, post-index, unprivileged, pre-index.
        let imm = sext(u64::from(bits(insn, 20, 12)), 9) as u64;
        let base = cpu.xsp(rn);
        let mode = bits(insn, 11, 10);
        if mode != 0 && kind == Kind::Prefetch {
            return cpu.undefined();
        }
        let (va, writeback, el) = match mode {
            0 => (base.wrapping_add(imm), false, cpu.el),
            1 => (base, true, cpu.el),
            2 if simd => return cpu.undefined(),
            2 => (base.wrapping_add(imm), false, 0),
            _ => (base.wrapping_add(imm), true, cpu.el),
        };
        transfer(cpu, kind, scale, simd, rt, va, el)?;
        if writeback {
            cpu.set_xsp(rn, base.wrapping_add(imm));
        }
        return Ok(Next::Seq);
    }
    cpu.undefined()
}

/// LDR/LDRSW/PRFM (literal), general and SIMD&FP.
fn literal(cpu: &mut Cpu, insn: u32) -> Exec {
    let va = cpu
        .pc
        .wrapping_add(sext(u64::from(bits(insn, 23, 5)) << 2, 21) as u64);
    let rt = bits(insn, 4, 0);
    let simd = bit(insn, 26);
    let (scale, kind) = match (bits(insn, 31, 30), simd) {
        (0, false) => (
            2,
            Kind::Load {
                signed: false,
                to_w: true,
            },
        ),
        (1, false) => (
            3,
            Kind::Load {
                signed: false,
                to_w: false,
            },
        ),
        (2, false) => (
            2,
            Kind::Load {
                signed: true,
                to_w: false,
            },
        ),
        (3, false) => (2, Kind::Prefetch),
        (opc @ 0..=2, true) => (
            opc + 2,
            Kind::Load {
                signed: false,
                to_w: false,
            },
        ),
        _ => return cpu.undefined(),
    };
    transfer(cpu, kind, scale, simd, rt, va, cpu.el)?;
    Ok(Next::Seq)
}

/// LDP/STP/LDPSW/LDNP/STNP, general and SIMD&FP.
fn pair(cpu: &mut Cpu, insn: u32) -> Exec {
    let simd = bit(insn, 26);
    let load = bit(insn, 22);
    let (scale, signed) = match (bits(insn, 31, 30), simd) {
        (0, false) => (2, false),
        (1, false) if load => (2, true),
        (2, false) => (3, false),
        (opc @ 0..=2, true) => (opc + 2, false),
        _ => return cpu.undefined(),
    };
    let (rt, rt2, rn) = (bits(insn, 4, 0), bits(insn, 14, 10), bits(insn, 9, 5));
    let offset = (sext(u64::from(bits(insn, 21, 15)), 7) << scale) as u64;
    let base = cpu.xsp(rn);
    let (va, writeback) = match bits(insn, 24, 23) {
        0 | 2 => (base.wrapping_add(offset), false),
        1 => (base, true),
        _ => (base.wrapping_add(offset), true),
    };
    let size = 1u64 << scale;
    let kind = if load {
        Kind::Load {
            signed,
            to_w: !simd && scale == 2 && !signed,
        }
    } else {
        Kind::Store
    };
    transfer(cpu, kind, scale, simd, rt, va, cpu.el)?;
    transfer(cpu, kind, scale, simd, rt2, va.wrapping_add(size), cpu.el)?;
    if writeback {
        cpu.set_xsp(rn, base.wrapping_add(offset));
    }
    Ok(Next::Seq)
}

/// LDXR/STXR/LDAXR/STLXR, LDXP/STXP/LDAXP/STLXP, LDAR/STLR/LDLAR/STLLR.
fn exclusive_or_ordered(cpu: &mut Cpu, insn: u32) -> Exec {
    let size = bits(insn, 31, 30);
    let (o2, load, o1) = (bit(insn, 23), bit(insn, 22), bit(insn, 21));
    let (rs, rt2, rn, rt) = (
        bits(insn, 20, 16),
        bits(insn, 14, 10),
        bits(insn, 9, 5),
        bits(insn, 4, 0),
    );
    let va = cpu.xsp(rn);
    match (o2, o1) {
        // Load-acquire / store-release: plain accesses in this sequentially consistent model,
        // but they must be aligned.
        (true, false) => {
            let access = if load { Access::Read } else { Access::Write };
            cpu.check_alignment(va, 1 << size, access)?;
            let kind = if load {
                Kind::Load {
                    signed: false,
                    to_w: size < 3,
                }
            } else {
                Kind::Store
            };
            transfer(cpu, kind, size, false, rt, va, cpu.el)?;
        }
        (false, true) if size < 2 => return compare_and_swap_pair(cpu, insn),
        (false, pair) => {
            let elem = 1u64 << size;
            let total = if pair { 2 * elem } else { elem };
            let access = if load { Access::Read } else { Access::Write };
            cpu.check_alignment(va, total, access)?;
            if load {
                let pa = cpu.translate(va, Access::Read)?;
                let mut buf = [0u8; 16];
                cpu.load(va, &mut buf[..total as usize])?;
                let value = u128::from_le_bytes(buf);
                let mask = if elem == 8 {
                    u128::from(u64::MAX)
                } else {
                    (1u128 << (8 * elem)) - 1
                };
                cpu.set_x(rt, (value & mask) as u64);
                if pair {
                    cpu.set_x(rt2, ((value >> (8 * elem)) & mask) as u64);
                }
                cpu.sys.arm_monitor(cpu.core, pa);
            } else {
                let pa = cpu.translate(va, Access::Write)?;
                let mut bytes = u128::from(cpu.x(rt)).to_le_bytes();
                if pair {
                    let second = cpu.x(rt2).to_le_bytes();
                    bytes[elem as usize..2 * elem as usize]
                        .copy_from_slice(&second[..elem as usize]);
                }
                // Arm ARM "Exclusive access instructions": the store happens only if the monitor still covers the address;
                // the status is 0 for success, 1 for failure; the monitor is cleared either way.
                let success = cpu.sys.take_monitor(cpu.core, Some(pa));
                if success {
                    cpu.store(va, &bytes[..total as usize])?;
                }
                cpu.set_x(rs, u64::from(!success));
            }
        }
        // CAS and friends (LSE).
        (true, true) => return compare_and_swap(cpu, insn),
    }
    Ok(Next::Seq)
}

/// Reads an aligned `1 << size`-byte value for an atomic read-modify-write (the write
/// permission is checked first, as the access is a store too).
fn atomic_read(cpu: &mut Cpu, va: u64, size: u32) -> Result<u64, ExceptionKind> {
    cpu.check_alignment(va, 1 << size, Access::Write)?;
    cpu.translate(va, Access::Write)?;
    let mut buf = [0u8; 8];
    cpu.load(va, &mut buf[..1 << size])?;
    Ok(u64::from_le_bytes(buf))
}

/// `LDADD`, `LDCLR`, `LDEOR`, `LDSET`, `LDSMAX`, `LDSMIN`, `LDUMAX`, `LDUMIN`, `SWP` (all with
/// their acquire/release forms and `ST*` aliases) and `LDAPR`.
fn atomic_memory_operation(cpu: &mut Cpu, insn: u32) -> Exec {
    let size = bits(insn, 31, 30);
    let (rs, rn, rt) = (bits(insn, 20, 16), bits(insn, 9, 5), bits(insn, 4, 0));
    let (o3, opc) = (bit(insn, 15), bits(insn, 14, 12));
    if bit(insn, 26) {
        return cpu.undefined();
    }
    let va = cpu.xsp(rn);
    let width = 8 << size;
    let mask = super::decode::ones(width);
    if o3 && opc == 0b100 {
        // LDAPR: a load-acquire (RCpc); A = 1, R = 0, Rs = 31.
        if !bit(insn, 23) || bit(insn, 22) || rs != 31 {
            return cpu.undefined();
        }
        let value = atomic_read(cpu, va, size)?;
        cpu.set_x(rt, value);
        return Ok(Next::Seq);
    }
    if o3 && opc != 0 {
        return cpu.undefined();
    }
    let old = atomic_read(cpu, va, size)?;
    let operand = cpu.x(rs) & mask;
    let signed = |v: u64| sext(v, width);
    let new = match (o3, opc) {
        (true, _) => operand,
        (false, 0) => old.wrapping_add(operand),
        (false, 1) => old & !operand,
        (false, 2) => old ^ operand,
        (false, 3) => old | operand,
        (false, 4) => {
            if signed(old) >= signed(operand) {
                old
            } else {
                operand
            }
        }
        (false, 5) => {
            if signed(old) <= signed(operand) {
                old
            } else {
                operand
            }
        }
        (false, 6) => old.max(operand),
        (false, _) => old.min(operand),
    } & mask;
    cpu.store(va, &new.to_le_bytes()[..1 << size])?;
    cpu.set_x(rt, old);
    Ok(Next::Seq)
}

/// `CAS`, `CASA`, `CASL`, `CASAL` (and the byte/halfword forms): `Rs` is compared with memory,
/// `Rt` stored on equality, and `Rs` receives the old value either way.
fn compare_and_swap(cpu: &mut Cpu, insn: u32) -> Exec {
    let size = bits(insn, 31, 30);
    let (rs, rn, rt) = (bits(insn, 20, 16), bits(insn, 9, 5), bits(insn, 4, 0));
    if bits(insn, 14, 10) != 31 {
        return cpu.undefined();
    }
    let va = cpu.xsp(rn);
    let mask = super::decode::ones(8 << size);
    let old = atomic_read(cpu, va, size)?;
    if old == cpu.x(rs) & mask {
        let new = cpu.x(rt) & mask;
        cpu.store(va, &new.to_le_bytes()[..1 << size])?;
    }
    cpu.set_x(rs, old);
    Ok(Next::Seq)
}

/// `CASP` and its acquire/release forms: a pair of W or X registers (`Rs`, `Rs + 1` compared,
/// `Rt`, `Rt + 1` stored); both register numbers must be even.
fn compare_and_swap_pair(cpu: &mut Cpu, insn: u32) -> Exec {
    let size = 2 + bits(insn, 30, 30);
    let (rs, rn, rt) = (bits(insn, 20, 16), bits(insn, 9, 5), bits(insn, 4, 0));
    if bits(insn, 14, 10) != 31 || rs % 2 != 0 || rt % 2 != 0 {
        return cpu.undefined();
    }
    let va = cpu.xsp(rn);
    let elem = 1usize << size;
    let mask = super::decode::ones(8 * elem as u32);
    cpu.check_alignment(va, 2 * elem as u64, Access::Write)?;
    cpu.translate(va, Access::Write)?;
    let mut buf = [0u8; 16];
    cpu.load(va, &mut buf[..2 * elem])?;
    let first = u64::from_le_bytes(buf[..8].try_into().expect("8 bytes")) & mask;
    let second = u64::from_le_bytes(buf[elem..elem + 8].try_into().expect("8 bytes")) & mask;
    let reg = |cpu: &Cpu, r: u32| if r == 31 { 0 } else { cpu.x(r) & mask };
    if first == reg(cpu, rs) && second == reg(cpu, rs + 1) {
        let mut out = [0u8; 16];
        out[..elem].copy_from_slice(&reg(cpu, rt).to_le_bytes()[..elem]);
        out[elem..2 * elem].copy_from_slice(&reg(cpu, rt + 1).to_le_bytes()[..elem]);
        cpu.store(va, &out[..2 * elem])?;
    }
    cpu.set_x(rs, first);
    cpu.set_x(rs + 1, second);
    Ok(Next::Seq)
}
