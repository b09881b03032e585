//! A64 loads and stores: single registers (general and SIMD&FP) with unscaled, pre-/post-
//! indexed, unprivileged, unsigned-offset and register-offset addressing; pairs; literal
//! loads; load/store exclusive (with the per-core monitor of [`crate::System`]) and
//! load-acquire/store-release. Atomic memory operations (LSE) and SIMD structure loads are
//! not implemented: they raise an undefined-instruction exception.

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
        (false, pair) => {
            if pair && size < 2 {
                return cpu.undefined();
            }
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
                // Arm ARM B2.9: the store happens only if the monitor still covers the address;
                // the status is 0 for success, 1 for failure; the monitor is cleared either way.
                let success = cpu.sys.take_monitor(cpu.core, Some(pa));
                if success {
                    cpu.store(va, &bytes[..total as usize])?;
                }
                cpu.set_x(rs, u64::from(!success));
            }
        }
        // CAS and friends (LSE).
        (true, true) => return cpu.undefined(),
    }
    Ok(Next::Seq)
}
