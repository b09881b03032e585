//! The SIMD&FP data-processing instructions compiled integer code uses: register moves
//! between general and SIMD&FP registers (`FMOV` general, `DUP`, `INS`, `UMOV`), `FMOV`
//! (register), `MOVI`/`MVNI`/`ORR`/`BIC` (vector, immediate), the vector bitwise
//! operations, and `CNT`/`ADDV`/`UADDLV`/`SADDLV` (GCC's population count).
//! Floating-point arithmetic is not implemented (undefined-instruction exception).

use super::decode::{bit, bits};
use super::execute::{Cpu, Exec, Next};

pub(super) fn execute(cpu: &mut Cpu, insn: u32) -> Exec {
    let (rd, rn) = (bits(insn, 4, 0) as usize, bits(insn, 9, 5));
    let q = bit(insn, 30);
    let lanes_mask = if q { u128::MAX } else { u128::from(u64::MAX) };
    if insn & 0x7f20_fc00 == 0x1e20_0000 {
        return fmov_general(cpu, insn);
    }
    if insn & 0xff3f_fc00 == 0x1e20_4000 {
        // FMOV Sd, Sn / FMOV Dd, Dn
        let value = cpu.s.regs.v[rn as usize];
        cpu.s.regs.v[rd] = match bits(insn, 23, 22) {
            0 => value & 0xffff_ffff,
            1 => value & u128::from(u64::MAX),
            _ => return cpu.undefined(),
        };
        return Ok(Next::Seq);
    }
    if insn & 0x9ff8_0400 == 0x0f00_0400 {
        return modified_immediate(cpu, insn);
    }
    if insn & 0x9f20_fc00 == 0x0e20_1c00 {
        // AND/BIC/ORR/ORN/EOR/BSL/BIT/BIF (vector)
        let (a, b, d) = (
            cpu.s.regs.v[rn as usize],
            cpu.s.regs.v[bits(insn, 20, 16) as usize],
            cpu.s.regs.v[rd],
        );
        let result = match (bit(insn, 29), bits(insn, 23, 22)) {
            (false, 0) => a & b,
            (false, 1) => a & !b,
            (false, 2) => a | b,
            (false, _) => a | !b,
            (true, 0) => a ^ b,
            (true, 1) => (d & a) | (!d & b),
            (true, 2) => (a & b) | (d & !b),
            (true, _) => (d & b) | (a & !b),
        };
        cpu.s.regs.v[rd] = result & lanes_mask;
        return Ok(Next::Seq);
    }
    if insn & 0xbf3f_fc00 == 0x0e20_5800 {
        // CNT Vd.8B/16B, Vn: population count per byte.
        let value = cpu.s.regs.v[rn as usize] & lanes_mask;
        let counted = value.to_le_bytes().map(|b| b.count_ones() as u8);
        cpu.s.regs.v[rd] = u128::from_le_bytes(counted) & lanes_mask;
        return Ok(Next::Seq);
    }
    if insn & 0x9f3f_fc00 == 0x0e31_b800 || insn & 0x9f3f_fc00 == 0x0e30_3800 {
        // ADDV (U = 0, opcode 11011) / UADDLV (U = 1, opcode 00011) / SADDLV (U = 0,
        // opcode 00011): the sum of all elements, into a scalar (widened for the L forms).
        let size = bits(insn, 23, 22);
        let long = bits(insn, 16, 12) == 0b00011;
        let signed = long && !bit(insn, 29);
        if size == 3 || (size == 2 && !q) || (!long && bit(insn, 29)) {
            return cpu.undefined();
        }
        let esize = 8u32 << size;
        let lanes = if q { 128 / esize } else { 64 / esize };
        let value = cpu.s.regs.v[rn as usize];
        let emask = (1u128 << esize) - 1;
        let sum = (0..lanes).fold(0u128, |acc, i| {
            let elem = (value >> (i * esize)) & emask;
            let elem = if signed && elem >> (esize - 1) & 1 != 0 {
                elem | !emask
            } else {
                elem
            };
            acc.wrapping_add(elem)
        });
        let out_bits = if long { 2 * esize } else { esize };
        cpu.s.regs.v[rd] = sum & ((1u128 << out_bits) - 1);
        return Ok(Next::Seq);
    }
    let imm5 = bits(insn, 20, 16);
    let esize_log2 = imm5.trailing_zeros();
    if insn & 0x9fe0_8400 == 0x0e00_0400 && esize_log2 <= 3 {
        let esize = 8u32 << esize_log2;
        let emask = if esize == 64 {
            u128::from(u64::MAX)
        } else {
            (1u128 << esize) - 1
        };
        let index = imm5 >> (esize_log2 + 1);
        match (bit(insn, 29), bits(insn, 14, 11)) {
            // DUP Vd.T, Rn
            (false, 0b0001) if esize != 64 || q => {
                let elem = u128::from(cpu.x(rn)) & emask;
                let mut value = 0u128;
                let mut at = 0;
                while at < 128 {
                    value |= elem << at;
                    at += esize;
                }
                cpu.s.regs.v[rd] = value & lanes_mask;
                return Ok(Next::Seq);
            }
            // INS Vd.Ts[i], Rn
            (false, 0b0011) if q => {
                let shift = index * esize;
                let old = cpu.s.regs.v[rd] & !(emask << shift);
                cpu.s.regs.v[rd] = old | ((u128::from(cpu.x(rn)) & emask) << shift);
                return Ok(Next::Seq);
            }
            // UMOV Rd, Vn.Ts[i] (Q selects a 64-bit destination for D elements)
            (false, 0b0111) if q == (esize == 64) => {
                let value = (cpu.s.regs.v[rn as usize] >> (index * esize)) & emask;
                cpu.set_x(rd as u32, value as u64);
                return Ok(Next::Seq);
            }
            _ => {}
        }
    }
    cpu.undefined()
}

/// `FMOV` between a general register and a SIMD&FP register (bit pattern, no conversion).
fn fmov_general(cpu: &mut Cpu, insn: u32) -> Exec {
    let (rd, rn) = (bits(insn, 4, 0), bits(insn, 9, 5));
    let (sf, ftype, rmode, opcode) = (
        bit(insn, 31),
        bits(insn, 23, 22),
        bits(insn, 20, 19),
        bits(insn, 18, 16),
    );
    match (sf, ftype, rmode, opcode) {
        (false, 0, 0, 6) => cpu.set_x(rd, cpu.s.regs.v[rn as usize] as u32 as u64),
        (false, 0, 0, 7) => cpu.s.regs.v[rd as usize] = u128::from(cpu.x(rn) as u32),
        (true, 1, 0, 6) => cpu.set_x(rd, cpu.s.regs.v[rn as usize] as u64),
        (true, 1, 0, 7) => cpu.s.regs.v[rd as usize] = u128::from(cpu.x(rn)),
        (true, 2, 1, 6) => cpu.set_x(rd, (cpu.s.regs.v[rn as usize] >> 64) as u64),
        (true, 2, 1, 7) => {
            let low = cpu.s.regs.v[rd as usize] & u128::from(u64::MAX);
            cpu.s.regs.v[rd as usize] = low | (u128::from(cpu.x(rn)) << 64);
        }
        _ => return cpu.undefined(),
    }
    Ok(Next::Seq)
}

/// `AdvSIMDExpandImm(op, cmode, imm8)` for the integer forms; `None` for the FMOV forms.
fn expand_immediate(op: bool, cmode: u32, imm8: u64) -> Option<u64> {
    let rep32 = |v: u64| v | (v << 32);
    let rep16 = |v: u64| {
        let v = v & 0xffff;
        v | (v << 16) | (v << 32) | (v << 48)
    };
    Some(match cmode >> 1 {
        0..=3 => rep32(imm8 << (8 * (cmode >> 1))),
        4 | 5 => rep16(imm8 << (8 * ((cmode >> 1) & 1))),
        6 if cmode & 1 == 0 => rep32((imm8 << 8) | 0xff),
        6 => rep32((imm8 << 16) | 0xffff),
        _ if cmode & 1 == 0 && !op => u64::from_le_bytes([imm8 as u8; 8]),
        _ if cmode & 1 == 0 => (0..8).fold(0, |acc, i| {
            if imm8 & (1 << i) != 0 {
                acc | (0xff << (8 * i))
            } else {
                acc
            }
        }),
        _ => return None,
    })
}

/// MOVI/MVNI/ORR/BIC (vector, immediate).
fn modified_immediate(cpu: &mut Cpu, insn: u32) -> Exec {
    let rd = bits(insn, 4, 0) as usize;
    let (q, op, cmode) = (bit(insn, 30), bit(insn, 29), bits(insn, 15, 12));
    if bit(insn, 11) {
        return cpu.undefined();
    }
    let imm8 = u64::from((bits(insn, 18, 16) << 5) | bits(insn, 9, 5));
    let Some(imm64) = expand_immediate(op, cmode, imm8) else {
        return cpu.undefined();
    };
    let imm = u128::from(imm64) | (u128::from(imm64) << 64);
    let lanes_mask = if q { u128::MAX } else { u128::from(u64::MAX) };
    // cmode<0> = 1 with cmode < 12 selects ORR (op = 0) or BIC (op = 1); otherwise MOVI/MVNI.
    let is_logical = cmode < 12 && cmode & 1 == 1;
    let old = cpu.s.regs.v[rd];
    let result = match (is_logical, op) {
        (true, false) => old | imm,
        (true, true) => old & !imm,
        // MOVI (op = 0, or op = 1 with cmode 1110: the 64-bit byte-mask forms).
        (false, false) => imm,
        (false, true) if cmode == 0b1110 => imm,
        (false, true) => !imm,
    };
    cpu.s.regs.v[rd] = result & lanes_mask;
    Ok(Next::Seq)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn immediates_by_hand() {
        assert_eq!(
            expand_immediate(false, 0b0000, 0xab),
            Some(0x0000_00ab_0000_00ab)
        );
        assert_eq!(
            expand_immediate(false, 0b0110, 0xab),
            Some(0xab00_0000_ab00_0000)
        );
        assert_eq!(
            expand_immediate(false, 0b1010, 0x12),
            Some(0x1200_1200_1200_1200)
        );
        assert_eq!(
            expand_immediate(false, 0b1100, 0x12),
            Some(0x0000_12ff_0000_12ff)
        );
        assert_eq!(
            expand_immediate(false, 0b1110, 0x7f),
            Some(0x7f7f_7f7f_7f7f_7f7f)
        );
        assert_eq!(
            expand_immediate(true, 0b1110, 0b1000_0001),
            Some(0xff00_0000_0000_00ff)
        );
        assert_eq!(expand_immediate(false, 0b1111, 0x70), None);
    }
}
