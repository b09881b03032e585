//! Property tests on the simulator: a probed instruction has the same architectural effect as
//! the instruction executed in place.
//!
//! - Stepped instructions: executing the instruction out of line, in an XOL slot, gives the
//!   same registers, flags, SIMD registers, memory and exception as executing it at its own
//!   address.
//! - Simulated instructions: the engine's simulation gives the same result as the simulator
//!   executing the instruction.
//!
//! Each case runs the same machine twice from the same state: once with the word at `X`,
//! once with a kprobe armed at `X`.

#[path = "support/sim.rs"]
mod sim;

use proptest::prelude::*;
use rtap_armsim::aarch64::pstate;
use rtap_armsim::{MachineConfig, Perms, RunExit};
use rtap_kmod::arch::aarch64::decode::{Context, Decision, classify, decode};
use rtap_kmod::hit::Hit;
use rtap_kmod::kprobe::{Handler, KprobeHandler, KprobeSpec};
use rtap_kmod::platform::{ProcessId, Task, ThreadId};
use sim::{Event, SimPlatform, World};

/// A 2 MiB read-write-execute region: data below, the probed word at its middle, so every
/// literal load (±1 MiB) reads mapped memory.
const REGION: u64 = 0xffff_0000_1000_0000;
const REGION_SIZE: u64 = 2 << 20;
const X: u64 = REGION + (1 << 20);
/// The part of the region the registers point into (plus the reach of immediate offsets).
const DATA: std::ops::Range<u64> = 0x1000..0x9_0000;
/// Bytes of random data on each side of `X`.
const NEAR: u64 = 0x8000;

struct Quiet;

impl KprobeHandler<SimPlatform, rtap_kmod::arch::aarch64::Aarch64> for Quiet {
    fn pre(&self, _hit: &mut Hit<'_, SimPlatform, rtap_kmod::arch::aarch64::Aarch64>) -> bool {
        false
    }
}

/// The architectural state compared between the two runs.
#[derive(Debug, PartialEq, Eq)]
struct Outcome {
    exit: RunExit,
    x: [u64; 31],
    sp: u64,
    pc: u64,
    /// PSTATE without BTYPE: the simulator does not model PSTATE.BTYPE, which the engine
    /// sets for a simulated `BR`/`BLR` as hardware does.
    pstate: u64,
    v: [u128; 32],
    memory_hash: u64,
    events: Vec<Event>,
}

/// Deterministic filler.
fn filler(seed: u64, len: usize) -> Vec<u8> {
    let mut state = seed | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect()
}

fn run(word: u32, regs: &[u64; 31], v: &[u128; 32], flags: u64, seed: u64, probe: bool) -> Outcome {
    let mut world = World::new(MachineConfig {
        cores: 1,
        seed: 1,
        ..MachineConfig::default()
    });
    let kernel = world.m.kernel_space();
    let pa = world
        .m
        .map_new(kernel, REGION, REGION_SIZE, Perms::RWX)
        .unwrap();
    // Random data where the registers point and around `X`, where most literals are; the
    // rest of the region reads as zero.
    world
        .m
        .write_phys_clean(
            pa + DATA.start,
            &filler(seed, (DATA.end - DATA.start) as usize),
        )
        .unwrap();
    let near = (X - REGION) - NEAR;
    world
        .m
        .write_phys_clean(pa + near, &filler(!seed, 2 * NEAR as usize))
        .unwrap();
    let mut text = word.to_le_bytes().to_vec();
    text.extend(0xd43e_0000u32.to_le_bytes()); // brk #0xf00: the end
    world.m.write_phys_clean(pa + (X - REGION), &text).unwrap();
    world.start_kernel(
        0,
        X,
        Task {
            process: ProcessId(0),
            thread: ThreadId(1),
        },
    );
    {
        let core = &mut world.m.core_mut(0).regs;
        core.x = *regs;
        core.sp_el1 = REGION + 0x8_0000;
        core.v = *v;
        core.pstate = (core.pstate & !(pstate::NZCV | pstate::DAIF)) | flags;
    }
    if probe {
        world.with(0, |env| {
            let spec = KprobeSpec {
                addr: X,
                function_start: Some(X),
                handler: Handler::Kprobe(&Quiet),
            };
            let probe = env
                .engine
                .kprobes
                .register(&env.platform, spec)
                .expect("register");
            env.engine
                .kprobes
                .arm(&env.platform, &[probe])
                .expect("arm");
        });
    }
    let slots = sim::KBLOCKS..sim::LINEAR;
    let exit = world.run_until(50, |m| {
        let pc = m.core(0).regs.pc;
        pc != X && !slots.contains(&pc)
    });
    let core = world.m.core(0).regs.clone();
    let mut memory = vec![0; (DATA.end - DATA.start) as usize];
    world.m.read_phys(pa + DATA.start, &mut memory).unwrap();
    let memory_hash = memory.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x100_0000_01b3)
    });
    Outcome {
        exit,
        x: core.x,
        sp: core.sp_el1,
        pc: core.pc,
        pstate: core.pstate & !(0b11 << 10),
        v: core.v,
        memory_hash,
        events: world.env.events(),
    }
}

/// General-purpose registers pointing into the data half of the region (so most loads and
/// stores hit memory), with a few arbitrary values.
fn registers() -> impl Strategy<Value = [u64; 31]> {
    prop::array::uniform31(prop_oneof![
        4 => (0x1000u64..0x7_0000).prop_map(|off| REGION + (off & !7)),
        1 => any::<u64>(),
        1 => 0u64..64,
    ])
}

fn simd_registers() -> impl Strategy<Value = [u128; 32]> {
    prop::array::uniform32(any::<u128>())
}

/// NZCV and DAIF.
fn flags() -> impl Strategy<Value = u64> {
    (0u64..16, 0u64..16).prop_map(|(nzcv, daif)| (nzcv << 28) | (daif << 6))
}

/// Words from the groups a kernel's code is made of, and any word at all.
fn any_group_word() -> impl Strategy<Value = u32> {
    (any::<u32>(), 0usize..6).prop_map(|(r, group)| {
        // Bits 28:25: data processing immediate (100x), register (x101), loads and stores
        // (x1x0), SIMD&FP (x111), or left alone.
        let op0 = [0b1000, 0b1001, 0b0101, 0b0100, 0b1100, 0b0111];
        if group < op0.len() {
            (r & !(0xf << 25)) | (op0[group] << 25)
        } else {
            r
        }
    })
}

/// Words of the simulated classes: every PC-relative form, NOP, `MRS Xt, DAIF`.
fn simulated_word() -> impl Strategy<Value = u32> {
    let templates: [(u32, u32); 14] = [
        (0xfc00_0000, 0x1400_0000), // B
        (0xfc00_0000, 0x9400_0000), // BL
        // B.cond only: the simulator does not implement FEAT_HBC's BC.cond (bit 4 set), which
        // the engine simulates like B.cond; the decoder cross-check covers its decoding.
        (0xff00_0010, 0x5400_0000), // B.cond
        (0x7e00_0000, 0x3400_0000), // CBZ, CBNZ
        (0x7e00_0000, 0x3600_0000), // TBZ, TBNZ
        (0xffff_fc1f, 0xd61f_0000), // BR
        (0xffff_fc1f, 0xd63f_0000), // BLR
        (0xffff_fc1f, 0xd65f_0000), // RET
        (0x9f00_0000, 0x1000_0000), // ADR
        (0x9f00_0000, 0x9000_0000), // ADRP
        (0x3b00_0000, 0x1800_0000), // LDR/LDRSW/PRFM (literal), GP and SIMD&FP
        (0xffff_ffff, 0xd503_201f), // NOP
        (0xffff_ffe0, 0xd53b_4220), // MRS Xt, DAIF
        (0xbf00_0000, 0x1c00_0000), // LDR (literal, SIMD&FP) S/D
    ];
    (any::<u32>(), 0..templates.len()).prop_map(move |(r, i)| {
        let (mask, value) = templates[i];
        (r & !mask) | value
    })
}

proptest! {
    // Each case builds two machines; release builds run more cases.
    #![proptest_config(ProptestConfig {
        cases: if cfg!(debug_assertions) { 64 } else { 400 },
        ..ProptestConfig::default()
    })]

    #[test]
    fn stepping_out_of_line_equals_executing_in_place(
        word in any_group_word().prop_filter("stepped", |w| classify(decode(*w), Context::Kernel) == Decision::Step),
        regs in registers(),
        v in simd_registers(),
        flags in flags(),
        seed in any::<u64>(),
    ) {
        let in_place = run(word, &regs, &v, flags, seed, false);
        let stepped = run(word, &regs, &v, flags, seed, true);
        prop_assert_eq!(in_place, stepped, "word {:#010x}", word);
    }

    #[test]
    fn simulation_equals_execution(
        word in simulated_word().prop_filter("simulated", |w| matches!(classify(decode(*w), Context::Kernel), Decision::Simulate(_))),
        regs in registers(),
        v in simd_registers(),
        flags in flags(),
        seed in any::<u64>(),
    ) {
        let executed = run(word, &regs, &v, flags, seed, false);
        let simulated = run(word, &regs, &v, flags, seed, true);
        prop_assert_eq!(executed, simulated, "word {:#010x}", word);
    }
}
