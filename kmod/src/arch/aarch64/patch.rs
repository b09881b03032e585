//! Which instruction changes may race with execution (arm-probes.md §1.14, §1.15).

/// Whether `old` may be replaced by `new` while other cores may be executing it.
///
/// Arm ARM B2.2.5 "Concurrent modification and execution of instructions": modifying an
/// instruction another PE may be executing gives CONSTRAINED UNPREDICTABLE behaviour "except
/// where the instruction before modification and the instruction after modification is a B,
/// BL, BRK, HVC, ISB, NOP, SMC, or SVC instruction". Both words must be on the list; even
/// then each other PE is guaranteed to see the new word only after a context synchronization
/// event. Arming a kprobe replaces an arbitrary instruction with `BRK`, so it needs all other
/// CPUs stopped (Linux dropped its `aarch64_insn_hotpatch_safe()` shortcut in 693350a79980
/// and uses `stop_machine()` for every kprobe arm and disarm); probing a `NOP`, `B` or `BL`
/// does not.
pub fn concurrent_modification_safe(old: u32, new: u32) -> bool {
    on_b225_list(old) && on_b225_list(new)
}

fn on_b225_list(insn: u32) -> bool {
    const B: (u32, u32) = (0x7c00_0000, 0x1400_0000); // B and BL
    const EXCEPTION: (u32, u32) = (0xffe0_001f, 0xd400_0000); // + LL: SVC 01, HVC 10, SMC 11; BRK: opc 001
    const BRK: (u32, u32) = (0xffe0_001f, 0xd420_0000);
    const ISB: (u32, u32) = (0xffff_f0ff, 0xd503_30df);
    const NOP: u32 = 0xd503_201f;
    let svc_hvc_smc = insn & EXCEPTION.0 & !0b11 == EXCEPTION.1 && insn & 0b11 != 0;
    insn & B.0 == B.1
        || insn & BRK.0 == BRK.1
        || svc_hvc_smc
        || insn & ISB.0 == ISB.1
        || insn == NOP
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_b225_list() {
        // Words from GNU as: b .+8, bl .+8, brk #0xa0, hvc #0, isb, nop, smc #0, svc #0.
        let listed = [
            0x1400_0002,
            0x9400_0002,
            0xd420_1400,
            0xd400_0002,
            0xd503_3fdf,
            0xd503_201f,
            0xd400_0003,
            0xd400_0001,
        ];
        for old in listed {
            for new in listed {
                assert!(
                    concurrent_modification_safe(old, new),
                    "{old:#x} -> {new:#x}"
                );
            }
        }
        // stp x29, x30, [sp, #-16]!; b.eq .+8; hlt #0; dmb ish; yield; udf #0; brk-shaped
        // encodings with non-zero LL.
        for other in [
            0xa9bf_7bfd,
            0x5400_0040,
            0xd440_0000,
            0xd503_3bbf,
            0xd503_203f,
            0,
            0xd420_0001,
        ] {
            assert!(
                !concurrent_modification_safe(other, 0xd420_1400),
                "{other:#x}"
            );
            assert!(
                !concurrent_modification_safe(0x1400_0002, other),
                "{other:#x}"
            );
        }
    }
}
