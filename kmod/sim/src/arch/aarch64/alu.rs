//! A64 data processing (register): logical and add/sub with shifted or extended register,
//! add/sub with carry, conditional compare and select, 1- and 2-source operations
//! (bit/byte reversal, CLZ/CLS, division, variable shifts, CRC32/CRC32C) and 3-source
//! multiply.

use super::decode::{bit, bits, ones, ror};
use super::execute::{Cpu, Exec, Next, add_with_carry, flags};

/// `ShiftReg`: LSL, LSR, ASR, ROR of a `width`-bit value.
fn shift_reg(value: u64, shift_type: u32, amount: u32, width: u32) -> u64 {
    let value = value & ones(width);
    let amount = amount % width;
    match shift_type {
        0 => (value << amount) & ones(width),
        1 => value >> amount,
        2 => {
            let signed = ((value << (64 - width)) as i64) >> (64 - width);
            (signed >> amount) as u64 & ones(width)
        }
        _ => ror(value, amount, width),
    }
}

/// `ExtendReg`: UXTB..SXTX of X[rm], then shifted left.
fn extend_reg(value: u64, option: u32, shift: u32) -> u64 {
    let extended = match option {
        0 => value & 0xff,
        1 => value & 0xffff,
        2 => value & 0xffff_ffff,
        3 => value,
        4 => value as u8 as i8 as i64 as u64,
        5 => value as u16 as i16 as i64 as u64,
        6 => value as u32 as i32 as i64 as u64,
        _ => value,
    };
    extended << shift
}

pub(super) fn data_processing_register(cpu: &mut Cpu, insn: u32) -> Exec {
    let sf = bit(insn, 31);
    let width = if sf { 64 } else { 32 };
    let (rd, rn, rm) = (bits(insn, 4, 0), bits(insn, 9, 5), bits(insn, 20, 16));
    if insn & 0x1f00_0000 == 0x0a00_0000 {
        // AND/BIC/ORR/ORN/EOR/EON/ANDS/BICS (shifted register)
        let amount = bits(insn, 15, 10);
        if !sf && amount >= 32 {
            return cpu.undefined();
        }
        let mut operand = shift_reg(cpu.reg(rm, sf), bits(insn, 23, 22), amount, width);
        if bit(insn, 21) {
            operand = !operand & ones(width);
        }
        let a = cpu.reg(rn, sf);
        let opc = bits(insn, 30, 29);
        let result = match opc {
            0 | 3 => a & operand,
            1 => a | operand,
            _ => a ^ operand,
        };
        if opc == 3 {
            cpu.set_nzcv(flags(result >> (width - 1) != 0, result == 0, false, false));
        }
        cpu.set_reg(rd, sf, result);
        return Ok(Next::Seq);
    }
    if insn & 0x1f20_0000 == 0x0b00_0000 {
        // ADD/ADDS/SUB/SUBS (shifted register)
        let (shift_type, amount) = (bits(insn, 23, 22), bits(insn, 15, 10));
        if shift_type == 3 || (!sf && amount >= 32) {
            return cpu.undefined();
        }
        let operand = shift_reg(cpu.reg(rm, sf), shift_type, amount, width);
        let (result, nzcv) = add_sub(cpu.reg(rn, sf), operand, bit(insn, 30), sf);
        if bit(insn, 29) {
            cpu.set_nzcv(nzcv);
        }
        cpu.set_reg(rd, sf, result);
        return Ok(Next::Seq);
    }
    if insn & 0x1f20_0000 == 0x0b20_0000 {
        // ADD/ADDS/SUB/SUBS (extended register)
        let shift = bits(insn, 12, 10);
        if bits(insn, 23, 22) != 0 || shift > 4 {
            return cpu.undefined();
        }
        let operand = extend_reg(cpu.x(rm), bits(insn, 15, 13), shift);
        let (result, nzcv) = add_sub(cpu.xsp(rn), operand, bit(insn, 30), sf);
        if bit(insn, 29) {
            cpu.set_nzcv(nzcv);
            cpu.set_reg(rd, sf, result);
        } else {
            cpu.set_reg_sp(rd, sf, result);
        }
        return Ok(Next::Seq);
    }
    let result = match bits(insn, 28, 21) {
        // ADC/ADCS/SBC/SBCS
        0b1101_0000 => {
            if bits(insn, 15, 10) != 0 {
                return cpu.undefined();
            }
            let mut operand = cpu.reg(rm, sf);
            if bit(insn, 30) {
                operand = !operand;
            }
            let (result, nzcv) = add_with_carry(cpu.reg(rn, sf), operand, cpu.nzcv() & 2 != 0, sf);
            if bit(insn, 29) {
                cpu.set_nzcv(nzcv);
            }
            result
        }
        // CCMN/CCMP (register or immediate)
        0b1101_0010 => {
            if !bit(insn, 29) || bit(insn, 10) || bit(insn, 4) {
                return cpu.undefined();
            }
            let operand = if bit(insn, 11) {
                u64::from(rm)
            } else {
                cpu.reg(rm, sf)
            };
            let nzcv = if cpu.cond_holds(bits(insn, 15, 12)) {
                add_sub(cpu.reg(rn, sf), operand, bit(insn, 30), sf).1
            } else {
                bits(insn, 3, 0)
            };
            cpu.set_nzcv(nzcv);
            return Ok(Next::Seq);
        }
        // CSEL/CSINC/CSINV/CSNEG
        0b1101_0100 => {
            let op2 = bits(insn, 11, 10);
            if bit(insn, 29) || op2 > 1 {
                return cpu.undefined();
            }
            if cpu.cond_holds(bits(insn, 15, 12)) {
                cpu.reg(rn, sf)
            } else {
                let b = cpu.reg(rm, sf);
                match (bit(insn, 30), op2) {
                    (false, 0) => b,
                    (false, _) => b.wrapping_add(1),
                    (true, 0) => !b,
                    (true, _) => b.wrapping_neg(),
                }
            }
        }
        0b1101_0110 if bit(insn, 30) => {
            if bit(insn, 29) || bits(insn, 20, 16) != 0 {
                return cpu.undefined();
            }
            let a = cpu.reg(rn, sf);
            match bits(insn, 15, 10) {
                0 => a.reverse_bits() >> (64 - width),
                1 => {
                    let swapped =
                        ((a & 0x00ff_00ff_00ff_00ff) << 8) | ((a >> 8) & 0x00ff_00ff_00ff_00ff);
                    swapped & ones(width)
                }
                2 if sf => {
                    let lo = (a as u32).swap_bytes();
                    let hi = ((a >> 32) as u32).swap_bytes();
                    (u64::from(hi) << 32) | u64::from(lo)
                }
                2 => u64::from((a as u32).swap_bytes()),
                3 if sf => a.swap_bytes(),
                4 => u64::from(if sf {
                    a.leading_zeros()
                } else {
                    (a as u32).leading_zeros()
                }),
                5 => {
                    // CLS: leading bits equal to the sign bit, not counting the sign bit.
                    let count = if sf {
                        (a ^ (a << 1)).leading_zeros()
                    } else {
                        ((a as u32) ^ ((a as u32) << 1)).leading_zeros()
                    };
                    u64::from(count.min(width - 1))
                }
                _ => return cpu.undefined(),
            }
        }
        0b1101_0110 => {
            if bit(insn, 29) {
                return cpu.undefined();
            }
            let (a, b) = (cpu.reg(rn, sf), cpu.reg(rm, sf));
            match bits(insn, 15, 10) {
                2 => a.checked_div(b).unwrap_or(0),
                3 => {
                    if b == 0 {
                        0
                    } else if sf {
                        (a as i64).wrapping_div(b as i64) as u64
                    } else {
                        u64::from((a as u32 as i32).wrapping_div(b as u32 as i32) as u32)
                    }
                }
                op @ 8..=11 => shift_reg(a, op - 8, (b % u64::from(width)) as u32, width),
                // CRC32B/H/W/X, CRC32CB/H/W/X: sf must be set exactly for the X form.
                op @ 0b010000..=0b010111 if sf == (op & 3 == 3) => {
                    let polynomial = if op & 4 == 0 {
                        0xedb8_8320
                    } else {
                        0x82f6_3b78
                    };
                    u64::from(crc32(a as u32, cpu.x(rm), 1 << (op & 3), polynomial))
                }
                _ => return cpu.undefined(),
            }
        }
        // MADD/MSUB/SMADDL/SMSUBL/SMULH/UMADDL/UMSUBL/UMULH
        0b1101_1000..=0b1101_1111 => {
            let op31 = bits(insn, 23, 21);
            let subtract = bit(insn, 15);
            let ra = bits(insn, 14, 10);
            if bits(insn, 30, 29) != 0 || (!sf && op31 != 0) {
                return cpu.undefined();
            }
            let (a, b, acc) = (cpu.x(rn), cpu.x(rm), cpu.x(ra));
            let product = match op31 {
                0 => a.wrapping_mul(b),
                1 => (a as i32 as i64).wrapping_mul(b as i32 as i64) as u64,
                5 => u64::from(a as u32) * u64::from(b as u32),
                2 if !subtract && ra == 31 => {
                    return set(
                        cpu,
                        rd,
                        sf,
                        ((i128::from(a as i64) * i128::from(b as i64)) >> 64) as u64,
                    );
                }
                6 if !subtract && ra == 31 => {
                    return set(cpu, rd, sf, ((u128::from(a) * u128::from(b)) >> 64) as u64);
                }
                _ => return cpu.undefined(),
            };
            if subtract {
                acc.wrapping_sub(product)
            } else {
                acc.wrapping_add(product)
            }
        }
        _ => return cpu.undefined(),
    };
    set(cpu, rd, sf, result)
}

/// The bit-reflected CRC-32 update of `acc` with the low `bytes` bytes of `data`, without
/// pre- or post-inversion (Arm ARM `CRC32` pseudocode, with the reflected polynomial).
fn crc32(mut acc: u32, data: u64, bytes: u32, polynomial: u32) -> u32 {
    for byte in data.to_le_bytes().iter().take(bytes as usize) {
        acc ^= u32::from(*byte);
        for _ in 0..8 {
            acc = if acc & 1 != 0 {
                (acc >> 1) ^ polynomial
            } else {
                acc >> 1
            };
        }
    }
    acc
}

fn set(cpu: &mut Cpu, rd: u32, sf: bool, value: u64) -> Exec {
    cpu.set_reg(rd, sf, value);
    Ok(Next::Seq)
}

/// ADD (`subtract == false`) or SUB as `AddWithCarry`.
fn add_sub(a: u64, b: u64, subtract: bool, sf: bool) -> (u64, u32) {
    if subtract {
        add_with_carry(a, !b, true, sf)
    } else {
        add_with_carry(a, b, false, sf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shifts_by_hand() {
        assert_eq!(shift_reg(0x8000_0001, 2, 4, 32), 0xf800_0000);
        assert_eq!(shift_reg(0x8000_0001, 3, 1, 32), 0xc000_0000);
        assert_eq!(shift_reg(1, 0, 63, 64), 1 << 63);
        assert_eq!(shift_reg(u64::MAX, 1, 60, 64), 0xf);
    }

    #[test]
    fn extends_by_hand() {
        assert_eq!(extend_reg(0x1_ffff_ff80, 4, 0), 0xffff_ffff_ffff_ff80);
        assert_eq!(extend_reg(0x1_ffff_ff80, 2, 2), 0x3_ffff_fe00);
        assert_eq!(extend_reg(0xffff_8000, 6, 0), 0xffff_ffff_ffff_8000);
    }
}
