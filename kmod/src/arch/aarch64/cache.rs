//! Making written instructions visible to instruction fetch (arm-probes.md §1.15, §1.16).
//!
//! The I-cache of an Armv8 core does not snoop data writes: an instruction written with a
//! store reaches instruction fetch only after the sequence of the Arm ARM's "Concurrent
//! modification and execution of instructions" / "Instruction cache maintenance" rules
//! (DDI 0487 B2.2.5 and D7.5.9 "Ordering and completion of data and instruction cache
//! instructions"), which Linux implements in `caches_clean_inval_pou`:
//!
//! 1. `DC CVAU` for every data cache line of the range: the new instruction leaves the data
//!    cache for the point of unification, where instruction fetch looks. Skipped when
//!    CTR_EL0.IDC = 1 (cleaning is not needed for coherence), leaving only `DSB ISHST`.
//! 2. `DSB ISH`: the cleans complete before the invalidations start. Without it the I-cache
//!    may refill from the PoU before the line arrives there.
//! 3. `IC IVAU` for every instruction cache line of the range: drops stale copies from every
//!    core's I-cache (broadcast in the inner shareable domain). Skipped when CTR_EL0.DIC = 1.
//!    Forgetting this step is the bug that made an XOL slot execute the previous probe's
//!    instruction (the stale `stp` of test scenario 1).
//! 4. `DSB ISH`: the invalidations complete.
//! 5. `ISB`: this core's pipeline drops instructions fetched before; kept even with DIC (as
//!    Linux does). Other cores need their own context synchronization event before they run
//!    the new instruction: an exception return (a kprobe's BRK, a task's return to user) or
//!    the `ISB` of the stop-all-CPUs protocol (`patch.rs`).
//!
//! Line sizes come from CTR_EL0 (DminLine bits 19:16, IminLine bits 3:0, log2 of words) and
//! the loops step by them, aligning the start down, so a range that straddles lines touches
//! each of them once.
//!
//! *Which alias.* The data cache behaves as physically indexed and tagged (Arm ARM D7.2.2), so
//! `DC CVAU` through any virtual alias of the memory cleans the same lines. Instruction caches
//! may be VIPT or ASID-tagged (CTR_EL0.L1Ip): `IC IVAU` must then name the address the
//! instruction *will be fetched through*, in the address space it will be fetched in — the
//! executable alias of kernel text, the user address of a user page — not the writable
//! alias the store went through. When the fetching address space is not the current one (a
//! uprobe armed in another process) and the I-cache is not PIPT, no by-address invalidation
//! can name the right line, so the whole I-cache is invalidated (`IC IALLUIS`), as Linux's
//! `sync_icache_aliases()` does for aliasing I-caches.

use super::cpu::{Barrier, Cpu};

/// The fields of CTR_EL0 the maintenance sequence uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CacheType {
    /// Smallest data cache line, in bytes (4 << DminLine).
    pub d_line: u64,
    /// Smallest instruction cache line, in bytes (4 << IminLine).
    pub i_line: u64,
    /// CTR_EL0.IDC: data cache clean to the PoU not required for I/D coherence.
    pub idc: bool,
    /// CTR_EL0.DIC: instruction cache invalidation to the PoU not required.
    pub dic: bool,
    /// CTR_EL0.L1Ip = 0b11: the level 1 instruction cache is PIPT.
    pub pipt: bool,
}

impl CacheType {
    /// Decodes CTR_EL0 (Arm ARM D19.2.34).
    pub const fn from_ctr(ctr: u64) -> CacheType {
        CacheType {
            d_line: 4 << ((ctr >> 16) & 0xf),
            i_line: 4 << (ctr & 0xf),
            idc: ctr >> 28 & 1 != 0,
            dic: ctr >> 29 & 1 != 0,
            pipt: (ctr >> 14) & 0b11 == 0b11,
        }
    }
}

/// Where the instructions being synchronised will be fetched from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fetch {
    /// Through `va` in the current translation regime (kernel text, or a user address of the
    /// current task's process); `va` also serves for the data-side clean.
    Here(u64),
    /// In another address space; `alias` is an address of the same memory in the current
    /// regime (Linux: the linear-map address of the page).
    Elsewhere { alias: u64 },
}

/// Makes `len` bytes of just-written instructions at `fetch` visible to instruction fetch,
/// with the sequence and alias rules in the module documentation.
pub fn sync_icache(cpu: &impl Cpu, fetch: Fetch, len: u64) {
    let cache = CacheType::from_ctr(cpu.ctr_el0());
    let (clean_at, invalidate_at) = match fetch {
        Fetch::Here(va) => (va, Some(va)),
        Fetch::Elsewhere { alias } => (alias, cache.pipt.then_some(alias)),
    };
    if cache.idc {
        cpu.dsb(Barrier::IshSt);
    } else {
        for_each_line(clean_at, len, cache.d_line, |line| cpu.dc_cvau(line));
        cpu.dsb(Barrier::Ish);
    }
    if cache.dic {
        cpu.isb();
        return;
    }
    match invalidate_at {
        Some(va) => for_each_line(va, len, cache.i_line, |line| cpu.ic_ivau(line)),
        None => cpu.ic_ialluis(),
    }
    cpu.dsb(Barrier::Ish);
    cpu.isb();
}

/// Calls `op` with the start of every `line`-byte line overlapping `[start, start + len)`.
fn for_each_line(start: u64, len: u64, line: u64, mut op: impl FnMut(u64)) {
    let end = start.saturating_add(len);
    let mut at = start & !(line - 1);
    while at < end {
        op(at);
        at += line;
    }
}

#[cfg(test)]
mod tests {
    use core::cell::RefCell;

    use super::*;

    #[derive(Debug, PartialEq, Eq)]
    enum Op {
        DcCvau(u64),
        IcIvau(u64),
        IcIalluis,
        Dsb(Barrier),
        Isb,
    }

    struct Recorder {
        ctr: u64,
        ops: RefCell<[Option<Op>; 16]>,
        len: RefCell<usize>,
    }

    impl Recorder {
        fn new(ctr: u64) -> Self {
            Recorder {
                ctr,
                ops: RefCell::new(Default::default()),
                len: RefCell::new(0),
            }
        }
        fn push(&self, op: Op) {
            let mut len = self.len.borrow_mut();
            self.ops.borrow_mut()[*len] = Some(op);
            *len += 1;
        }
        fn ops(&self) -> [Option<Op>; 16] {
            self.ops.take()
        }
    }

    impl Cpu for Recorder {
        fn ctr_el0(&self) -> u64 {
            self.ctr
        }
        fn dc_cvau(&self, va: u64) {
            self.push(Op::DcCvau(va));
        }
        fn ic_ivau(&self, va: u64) {
            self.push(Op::IcIvau(va));
        }
        fn ic_ialluis(&self) {
            self.push(Op::IcIalluis);
        }
        fn dsb(&self, barrier: Barrier) {
            self.push(Op::Dsb(barrier));
        }
        fn isb(&self) {
            self.push(Op::Isb);
        }
        fn write_simd_reg(&self, _: u8, _: u128) {}
    }

    fn expect(ops: [Option<Op>; 16], expected: &[Op]) {
        let actual: [Option<&Op>; 16] = core::array::from_fn(|i| ops[i].as_ref());
        for (i, want) in expected.iter().enumerate() {
            assert_eq!(actual[i], Some(want), "op {i}");
        }
        assert_eq!(actual[expected.len()], None, "no more ops");
    }

    /// CTR_EL0 of a Cortex-A72: DminLine = IminLine = 4 (64 bytes), L1Ip = PIPT, no IDC/DIC.
    const A72: u64 = 0x8444_c004;

    #[test]
    fn decodes_ctr() {
        assert_eq!(
            CacheType::from_ctr(A72),
            CacheType {
                d_line: 64,
                i_line: 64,
                idc: false,
                dic: false,
                pipt: true
            }
        );
        // Cortex-A53's 0x84448004: L1Ip = VIPT.
        assert!(!CacheType::from_ctr(0x8444_8004).pipt);
    }

    #[test]
    fn a_slot_straddling_two_lines_touches_both() {
        // An 8-byte slot at 0x103c crosses the 64-byte boundary at 0x1040.
        let cpu = Recorder::new(A72);
        sync_icache(&cpu, Fetch::Here(0x103c), 8);
        expect(
            cpu.ops(),
            &[
                Op::DcCvau(0x1000),
                Op::DcCvau(0x1040),
                Op::Dsb(Barrier::Ish),
                Op::IcIvau(0x1000),
                Op::IcIvau(0x1040),
                Op::Dsb(Barrier::Ish),
                Op::Isb,
            ],
        );
    }

    #[test]
    fn different_line_sizes() {
        // DminLine = 4 (64 bytes), IminLine = 3 (32 bytes): the I side takes two steps.
        let cpu = Recorder::new(0x8444_c003);
        sync_icache(&cpu, Fetch::Here(0x2010), 40);
        expect(
            cpu.ops(),
            &[
                Op::DcCvau(0x2000),
                Op::Dsb(Barrier::Ish),
                Op::IcIvau(0x2000),
                Op::IcIvau(0x2020),
                Op::Dsb(Barrier::Ish),
                Op::Isb,
            ],
        );
    }

    #[test]
    fn idc_and_dic_shortcuts() {
        let cpu = Recorder::new(A72 | 1 << 28);
        sync_icache(&cpu, Fetch::Here(0x1000), 4);
        expect(
            cpu.ops(),
            &[
                Op::Dsb(Barrier::IshSt),
                Op::IcIvau(0x1000),
                Op::Dsb(Barrier::Ish),
                Op::Isb,
            ],
        );
        let cpu = Recorder::new(A72 | 3 << 28);
        sync_icache(&cpu, Fetch::Here(0x1000), 4);
        expect(cpu.ops(), &[Op::Dsb(Barrier::IshSt), Op::Isb]);
    }

    #[test]
    fn another_address_space() {
        // PIPT: the linear alias names the same I-cache lines.
        let cpu = Recorder::new(A72);
        sync_icache(
            &cpu,
            Fetch::Elsewhere {
                alias: 0xffff_0000_0000_1000,
            },
            4,
        );
        expect(
            cpu.ops(),
            &[
                Op::DcCvau(0xffff_0000_0000_1000),
                Op::Dsb(Barrier::Ish),
                Op::IcIvau(0xffff_0000_0000_1000),
                Op::Dsb(Barrier::Ish),
                Op::Isb,
            ],
        );
        // VIPT: it does not, so everything is invalidated.
        let cpu = Recorder::new(0x8444_8004);
        sync_icache(
            &cpu,
            Fetch::Elsewhere {
                alias: 0xffff_0000_0000_1000,
            },
            4,
        );
        expect(
            cpu.ops(),
            &[
                Op::DcCvau(0xffff_0000_0000_1000),
                Op::Dsb(Barrier::Ish),
                Op::IcIalluis,
                Op::Dsb(Barrier::Ish),
                Op::Isb,
            ],
        );
    }
}
