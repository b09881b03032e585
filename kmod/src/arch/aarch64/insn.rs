//! A64 instruction words: field extraction, the breakpoint immediates rtap places, and the
//! encoders the engine needs (BRK, B, NOP).
//!
//! A64 instructions are always stored little-endian, whatever the data endianness
//! (Arm ARM B2.6.2 "Instruction endianness"); Linux fixed two big-endian bugs by forgetting
//! this (arm-probes.md §6 #13). The engine handles instruction *values*: the platform's
//! `read_insn`/`write_insn` convert to and from the little-endian memory representation
//! (Linux `le32_to_cpu`/`cpu_to_le32`).

/// Size of every A64 instruction in bytes.
pub const INSN_SIZE: u64 = 4;

/// `BRK #0`; the immediate occupies bits 20:5 (Arm ARM C6.2.38).
const BRK_BASE: u32 = 0xd420_0000;
/// `NOP` (`HINT #0`).
pub const NOP: u32 = 0xd503_201f;

/// The BRK immediates rtap places. They are distinct from the ones Linux uses for its own
/// kprobes (4–7), uprobes (5), kgdb (0x400), BUG (0x800), KASAN, UBSAN and kCFI
/// (arm-probes.md §1.1), from GDB's `BRK #0` and from the compilers' `__builtin_trap`
/// (`BRK #1`, `BRK #0x3e8`), so a module using this engine can sit beside the kernel's own
/// probes and a debugged program's breakpoints. Each handler claims a BRK only if the
/// immediate is its own *and* the address is one it placed there.
pub mod brk_imm {
    /// Written over a probed kernel instruction.
    pub const KPROBE: u16 = 0x0a0;
    /// Second word of a kprobe XOL slot: "the stepped instruction has completed".
    pub const KPROBE_SS: u16 = 0x0a1;
    /// Body of the kretprobe trampoline.
    pub const KRETPROBE: u16 = 0x0a2;
    /// Written over a probed user instruction.
    pub const UPROBE: u16 = 0x0a3;
    /// Second word of a uprobe XOL slot.
    pub const UPROBE_SS: u16 = 0x0a4;
    /// XOL slot 0 of every process: the uretprobe trampoline.
    pub const URETPROBE: u16 = 0x0a5;
}

/// Encodes `BRK #imm`.
pub const fn brk(imm: u16) -> u32 {
    BRK_BASE | ((imm as u32) << 5)
}

/// The immediate of a `BRK` instruction, or `None` if `insn` is not a BRK.
pub const fn brk_immediate(insn: u32) -> Option<u16> {
    if insn & 0xffe0_001f == BRK_BASE {
        Some(((insn >> 5) & 0xffff) as u16)
    } else {
        None
    }
}

/// Encodes `B <from + offset>` if the offset is in range (±128 MiB, word-aligned).
pub const fn branch(from: u64, to: u64) -> Option<u32> {
    let offset = to.wrapping_sub(from) as i64;
    if offset & 3 != 0 || offset < -(1 << 27) || offset >= (1 << 27) {
        return None;
    }
    Some(0x1400_0000 | (((offset >> 2) as u32) & 0x03ff_ffff))
}

/// Bits `hi..=lo` of `insn`, right-aligned.
#[inline]
pub(crate) const fn bits(insn: u32, hi: u32, lo: u32) -> u32 {
    (insn >> lo) & ((1u32 << (hi - lo + 1)) - 1)
}

/// Bit `n` of `insn`.
#[inline]
pub(crate) const fn bit(insn: u32, n: u32) -> bool {
    (insn >> n) & 1 != 0
}

/// Sign-extends the low `width` bits of `value`.
#[inline]
pub(crate) const fn sign_extend(value: u64, width: u32) -> i64 {
    let shift = 64 - width;
    ((value << shift) as i64) >> shift
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn brk_encoding_matches_the_arm_arm() {
        // Linux's BRK64_OPCODE_KPROBES is BRK #4 = 0xd4200080 (arm-probes.md §1.1).
        assert_eq!(brk(4), 0xd420_0080);
        assert_eq!(brk(0x800), 0xd421_0000);
        assert_eq!(brk_immediate(0xd420_00c0), Some(6));
        assert_eq!(brk_immediate(0xd420_00c1), None, "HVC-shaped LL bits");
        assert_eq!(brk_immediate(NOP), None);
    }

    #[test]
    fn branch_encoding_range() {
        // `b .+8` assembles to 0x14000002.
        assert_eq!(branch(0x1000, 0x1008), Some(0x1400_0002));
        // `b .-4` assembles to 0x17ffffff.
        assert_eq!(branch(0x1000, 0x0ffc), Some(0x17ff_ffff));
        assert_eq!(branch(0, 1 << 27), None);
        assert_eq!(branch(1 << 27, 0), Some(0x1600_0000));
        assert_eq!(branch(0, 2), None);
    }

    #[test]
    fn sign_extension() {
        assert_eq!(sign_extend(0x7ffff, 19), -1);
        assert_eq!(sign_extend(0x3ffff, 19), 0x3ffff);
    }
}
