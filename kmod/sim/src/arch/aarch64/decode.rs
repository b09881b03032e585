//! A64 encoding helpers: field extraction, immediate decoding, and the Arm ARM B2.2.5
//! concurrent-modification list.

/// Bits `hi..=lo` of `insn`.
#[inline]
pub(super) fn bits(insn: u32, hi: u32, lo: u32) -> u32 {
    (insn >> lo) & ((1 << (hi - lo + 1)) - 1)
}

/// Bit `n` of `insn`.
#[inline]
pub(super) fn bit(insn: u32, n: u32) -> bool {
    insn & (1 << n) != 0
}

/// Sign-extends the low `width` bits of `value`.
#[inline]
pub(super) fn sext(value: u64, width: u32) -> i64 {
    let shift = 64 - width;
    ((value << shift) as i64) >> shift
}

/// A mask of the low `n` bits (`n` ≤ 64).
#[inline]
pub(super) fn ones(n: u32) -> u64 {
    if n >= 64 { u64::MAX } else { (1u64 << n) - 1 }
}

/// Rotates the low `width` bits of `value` right by `amount`.
pub(super) fn ror(value: u64, amount: u32, width: u32) -> u64 {
    let value = value & ones(width);
    let amount = amount % width;
    if amount == 0 {
        value
    } else {
        ((value >> amount) | (value << (width - amount))) & ones(width)
    }
}

/// Repeats the low `esize` bits of `value` across `width` bits.
fn replicate(value: u64, esize: u32, width: u32) -> u64 {
    let mut out = 0;
    let mut at = 0;
    while at < width {
        out |= (value & ones(esize)) << at;
        at += esize;
    }
    out
}

/// `DecodeBitMasks(N, imms, immr, immediate, M)` (Arm ARM shared pseudocode): the
/// `(wmask, tmask)` pair of logical-immediate and bitfield instructions; `None` for the
/// reserved encodings.
pub(super) fn decode_bit_masks(
    n: u32,
    imms: u32,
    immr: u32,
    immediate: bool,
    width: u32,
) -> Option<(u64, u64)> {
    let combined = (n << 6) | (!imms & 0x3f);
    if combined == 0 {
        return None;
    }
    let len = 31 - combined.leading_zeros();
    if len < 1 || (1 << len) > width {
        return None;
    }
    let levels = (1u32 << len) - 1;
    if immediate && imms & levels == levels {
        return None;
    }
    let s = imms & levels;
    let r = immr & levels;
    let diff = s.wrapping_sub(r) & levels;
    let esize = 1 << len;
    let welem = ones(s + 1);
    let telem = ones(diff + 1);
    let wmask = replicate(ror(welem, r, esize), esize, width);
    let tmask = replicate(telem, esize, width);
    Some((wmask, tmask))
}

/// Whether the Arm ARM B2.2.5 list holds `insn`: B, BL, BRK, HVC, ISB, NOP, SMC, SVC
/// (arm-probes.md §1.15; the masks are the kernel's `aarch64_insn_is_*`, §1.4).
pub fn is_concurrent_modification_safe(insn: u32) -> bool {
    insn & 0x7c00_0000 == 0x1400_0000 // B, BL
        || insn & 0xffe0_001f == 0xd420_0000 // BRK
        || insn & 0xffe0_001f == 0xd400_0001 // SVC
        || insn & 0xffe0_001f == 0xd400_0002 // HVC
        || insn & 0xffe0_001f == 0xd400_0003 // SMC
        || insn & 0xffff_f0ff == 0xd503_30df // ISB
        || insn == 0xd503_201f // NOP
}

/// Rule `concurrent-modification`: `old` may become `new` under a running core iff both are
/// on the B2.2.5 list.
pub fn concurrent_modification_safe(old: u32, new: u32) -> bool {
    is_concurrent_modification_safe(old) && is_concurrent_modification_safe(new)
}

/// Encoders for the instructions tests and hosts write into memory.
pub mod encoding {
    /// `NOP`.
    pub const NOP: u32 = 0xd503_201f;
    /// `ISB`.
    pub const ISB: u32 = 0xd503_3fdf;
    /// `DSB ISH`.
    pub const DSB_ISH: u32 = 0xd503_3b9f;
    /// `RET` (X30).
    pub const RET: u32 = 0xd65f_03c0;

    /// `BRK #imm`.
    pub const fn brk(imm: u16) -> u32 {
        0xd420_0000 | ((imm as u32) << 5)
    }

    /// `SVC #imm`.
    pub const fn svc(imm: u16) -> u32 {
        0xd400_0001 | ((imm as u32) << 5)
    }

    /// `B` by `offset` bytes (a multiple of 4 within ±128 MiB).
    pub const fn b(offset: i64) -> u32 {
        0x1400_0000 | (((offset >> 2) as u32) & 0x03ff_ffff)
    }

    /// `BL` by `offset` bytes.
    pub const fn bl(offset: i64) -> u32 {
        0x9400_0000 | (((offset >> 2) as u32) & 0x03ff_ffff)
    }

    /// `MOVZ Xd, #imm16`.
    pub const fn movz_x(rd: u32, imm16: u16) -> u32 {
        0xd280_0000 | ((imm16 as u32) << 5) | rd
    }

    /// `ADD Xd, Xn, #imm12`.
    pub const fn add_x_imm(rd: u32, rn: u32, imm12: u32) -> u32 {
        0x9100_0000 | ((imm12 & 0xfff) << 10) | (rn << 5) | rd
    }

    /// `STP Xt1, Xt2, [Xn, #offset]!` (pre-index; `offset` a multiple of 8 in -512..=504).
    pub const fn stp_x_pre(rt1: u32, rt2: u32, rn: u32, offset: i32) -> u32 {
        0xa980_0000 | ((((offset / 8) as u32) & 0x7f) << 15) | (rt2 << 10) | (rn << 5) | rt1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bit_masks_match_hand_computed_logical_immediates() {
        // `and x0, x0, #0xff` is N=1 immr=0 imms=7.
        assert_eq!(decode_bit_masks(1, 7, 0, true, 64).unwrap().0, 0xff);
        // `orr w0, w0, #0x80000001`: N=0 immr=1 imms=1 -> two ones rotated right by one.
        assert_eq!(decode_bit_masks(0, 1, 1, true, 32).unwrap().0, 0x8000_0001);
        // `mov x0, #0x5555555555555555`: element size 2, one bit set: N=0 imms=0b111100.
        assert_eq!(
            decode_bit_masks(0, 0b111100, 0, true, 64).unwrap().0,
            0x5555_5555_5555_5555
        );
        // All-ones is reserved for logical immediates.
        assert_eq!(decode_bit_masks(1, 63, 0, true, 64), None);
        // `lsl x0, x1, #4` = UBFM immr=60 imms=59: wmask ones(60) rotated right by 60 = low... high.
        let (wmask, tmask) = decode_bit_masks(1, 59, 60, false, 64).unwrap();
        assert_eq!(wmask, 0xffff_ffff_ffff_fff0);
        assert_eq!(tmask, ones(64));
    }

    #[test]
    fn b2_2_5_list() {
        use encoding::*;
        for insn in [
            NOP,
            ISB,
            brk(4),
            brk(0x800),
            svc(0),
            b(-8),
            bl(1 << 20),
            0xd400_0002,
            0xd400_0003,
        ] {
            assert!(is_concurrent_modification_safe(insn), "{insn:#x}");
        }
        // STP x29, x30, [sp, #-16]!, RET, B.EQ, CBZ, DSB, HINT #1 (YIELD) are not on the list.
        for insn in [
            0xa9bf_7bfd,
            RET,
            0x5400_0040,
            0xb400_0040,
            DSB_ISH,
            0xd503_203f,
        ] {
            assert!(!is_concurrent_modification_safe(insn), "{insn:#x}");
        }
        assert!(concurrent_modification_safe(NOP, b(16)));
        assert!(!concurrent_modification_safe(0xa9bf_7bfd, brk(4)));
    }
}
