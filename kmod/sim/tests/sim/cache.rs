//! The cache model makes each historical bug visible: every test patches `mov x0, #1; ret`
//! into `mov x0, #2; ret` through the writable alias and checks which one the core executes.

use rtap_armsim::aarch64::{Exception, ExceptionKind, Regs, encoding};
use rtap_armsim::{
    A64Machine, BarrierKind, CacheType, CallSetup, DcOp, MachineConfig, Perms, Resume,
};

use crate::harness::{ALIAS, Rig, STACK_SIZE, STACKS, TEXT};

const F: u64 = 0x100;
const RETURN: u64 = 0xffff_ffff_ffff_0000;

fn panic_host(_: &mut A64Machine, _: usize, exc: &Exception, _: &mut Regs) -> Resume {
    panic!("unexpected exception {exc:?}");
}

fn call(m: &mut A64Machine, core: usize, entry: u64) -> u64 {
    let setup = CallSetup {
        entry,
        args: vec![],
        return_to: RETURN,
        sp: Some(STACKS + STACK_SIZE * (core as u64 + 1)),
    };
    m.call(&mut panic_host, core, &setup, 1000).unwrap()
}

/// A rig with `f` = `mov x0, #1; ret` at `TEXT + F`, already executed once by every core
/// (so every I-cache holds it), every prefetch window flushed.
fn rig_with(config: MachineConfig) -> Rig {
    let mut rig = Rig::new(config);
    rig.load(F, &[encoding::movz_x(0, 1), encoding::RET]);
    for core in 0..rig.m.cores() {
        rig.start_el1(core, 0);
        rig.m.halt(core);
        assert_eq!(call(&mut rig.m, core, TEXT + F), 1);
        rig.m.isb(core);
    }
    rig
}

fn rig() -> Rig {
    rig_with(MachineConfig::default())
}

fn patch(m: &mut A64Machine) {
    m.write_u32(0, ALIAS + F, encoding::movz_x(0, 2)).unwrap();
}

fn full_sequence(m: &mut A64Machine, core: usize, isb: bool) {
    m.dc(core, DcOp::Cvau, TEXT + F).unwrap();
    m.dsb(core, BarrierKind::Full);
    m.ic_ivau(core, TEXT + F).unwrap();
    m.dsb(core, BarrierKind::Full);
    if isb {
        m.isb(core);
    }
}

#[test]
fn data_write_alone_leaves_the_old_instruction_in_the_icache() {
    let mut rig = rig();
    patch(&mut rig.m);
    rig.m.isb(0);
    assert_eq!(call(&mut rig.m, 0, TEXT + F), 1, "rule icache-no-snoop");
    assert!(rig.m.uarch(0).icache().holds(rig.text_pa + F));
}

#[test]
fn the_kernel_sequence_makes_the_new_instruction_visible_on_every_core() {
    let mut rig = rig();
    patch(&mut rig.m);
    full_sequence(&mut rig.m, 0, true);
    assert_eq!(call(&mut rig.m, 0, TEXT + F), 2);
    // IC IVAU is broadcast; the other core still needs its own context synchronization.
    assert_eq!(call(&mut rig.m, 1, TEXT + F), 2);
}

#[test]
fn dcache_clean_only_is_stale() {
    // arm-probes.md background: "only the D-cache was flushed".
    let mut rig = rig();
    patch(&mut rig.m);
    rig.m.dc(0, DcOp::Cvau, TEXT + F).unwrap();
    rig.m.dsb(0, BarrierKind::Full);
    rig.m.isb(0);
    assert_eq!(call(&mut rig.m, 0, TEXT + F), 1);
}

#[test]
fn icache_invalidate_without_clean_is_stale_when_idc_is_0() {
    let mut rig = rig();
    patch(&mut rig.m);
    rig.m.ic_ivau(0, TEXT + F).unwrap();
    rig.m.dsb(0, BarrierKind::Full);
    rig.m.isb(0);
    assert_eq!(call(&mut rig.m, 0, TEXT + F), 1, "rule pou-shadow");
    // Rule speculative-refill: cleaning afterwards does not help, the stale line came back.
    rig.m.dc(0, DcOp::Cvau, TEXT + F).unwrap();
    rig.m.dsb(0, BarrierKind::Full);
    rig.m.isb(0);
    assert_eq!(call(&mut rig.m, 0, TEXT + F), 1, "rule speculative-refill");
}

#[test]
fn icache_invalidate_alone_suffices_when_idc_is_1() {
    let coherent_d = CacheType {
        idc: true,
        ..CacheType::default()
    };
    let mut rig = rig_with(MachineConfig {
        cache_types: vec![coherent_d; 4],
        ..MachineConfig::default()
    });
    patch(&mut rig.m);
    rig.m.ic_ivau(0, TEXT + F).unwrap();
    rig.m.dsb(0, BarrierKind::Full);
    rig.m.isb(0);
    assert_eq!(call(&mut rig.m, 0, TEXT + F), 2);
}

#[test]
fn clean_and_invalidate_under_one_dsb_is_stale() {
    let mut rig = rig();
    patch(&mut rig.m);
    rig.m.dc(0, DcOp::Cvau, TEXT + F).unwrap();
    rig.m.ic_ivau(0, TEXT + F).unwrap();
    rig.m.dsb(0, BarrierKind::Full);
    rig.m.isb(0);
    assert_eq!(
        call(&mut rig.m, 0, TEXT + F),
        1,
        "rule maintenance-completion-order"
    );
}

#[test]
fn maintenance_without_dsb_never_completes() {
    let mut rig = rig();
    patch(&mut rig.m);
    rig.m.dc(0, DcOp::Cvau, TEXT + F).unwrap();
    rig.m.dsb(0, BarrierKind::Loads);
    rig.m.ic_ivau(0, TEXT + F).unwrap();
    rig.m.dsb(0, BarrierKind::Stores);
    rig.m.isb(0);
    assert_eq!(
        call(&mut rig.m, 0, TEXT + F),
        1,
        "rule maintenance-completes-at-dsb"
    );
    assert_eq!(
        rig.m.uarch(0).pending_maintenance().len(),
        1,
        "DSB ST completed the DC, not the IC"
    );
}

#[test]
fn missing_isb_executes_the_prefetched_instruction() {
    let mut rig = rig();
    assert_eq!(call(&mut rig.m, 0, TEXT + F), 1); // `f` is now in core 0's prefetch window
    patch(&mut rig.m);
    full_sequence(&mut rig.m, 0, false);
    assert_eq!(call(&mut rig.m, 0, TEXT + F), 1, "rule prefetch-window");
    rig.m.isb(0);
    assert_eq!(call(&mut rig.m, 0, TEXT + F), 2);
}

#[test]
fn dic_and_idc_need_only_the_isb() {
    let coherent = CacheType {
        idc: true,
        dic: true,
        ..CacheType::default()
    };
    let mut rig = rig_with(MachineConfig {
        cache_types: vec![coherent; 4],
        ..MachineConfig::default()
    });
    assert_eq!(call(&mut rig.m, 0, TEXT + F), 1);
    patch(&mut rig.m);
    assert_eq!(
        call(&mut rig.m, 0, TEXT + F),
        1,
        "the prefetch window still needs an ISB"
    );
    rig.m.isb(0);
    assert_eq!(call(&mut rig.m, 0, TEXT + F), 2, "rule dic-snoop");
}

#[test]
fn local_icache_invalidate_leaves_other_cores_stale() {
    let mut rig = rig();
    patch(&mut rig.m);
    rig.m.dc(0, DcOp::Cvau, TEXT + F).unwrap();
    rig.m.dsb(0, BarrierKind::Full);
    rig.m.ic_iallu(0);
    rig.m.dsb(0, BarrierKind::Full);
    rig.m.isb(0);
    rig.m.isb(1);
    assert_eq!(call(&mut rig.m, 0, TEXT + F), 2);
    assert_eq!(call(&mut rig.m, 1, TEXT + F), 1);
}

#[test]
fn fresh_xol_page_written_without_maintenance_executes_old_bytes() {
    // Background (b): an XOL area created and slot 0 written, no flush: the PoU still holds
    // the zeroed page, so the core fetches 0x00000000 (UDF).
    let mut rig = rig();
    let kernel = rig.m.kernel_space();
    let (xol, xol_alias) = (0xffff_0000_0050_0000, 0xffff_0000_0060_0000);
    let pa = rig.m.map_new(kernel, xol, 4096, Perms::RX).unwrap();
    rig.m.map(kernel, xol_alias, pa, 4096, Perms::RW).unwrap();
    rig.m
        .write_u32(0, xol_alias, encoding::movz_x(0, 3))
        .unwrap();
    rig.m.write_u32(0, xol_alias + 4, encoding::RET).unwrap();
    let mut seen = None;
    let mut host = |_: &mut A64Machine, _: usize, exc: &Exception, _: &mut Regs| {
        seen = Some(exc.kind);
        Resume::Halt
    };
    let setup = CallSetup {
        entry: xol,
        args: vec![],
        return_to: RETURN,
        sp: Some(STACKS + STACK_SIZE),
    };
    assert!(rig.m.call(&mut host, 0, &setup, 100).is_err());
    assert_eq!(seen, Some(ExceptionKind::Undefined { encoding: 0 }));
    // With the maintenance on the executable alias (arm-probes.md §7) it works.
    rig.m.dc(0, DcOp::Cvau, xol).unwrap();
    rig.m.dsb(0, BarrierKind::Full);
    rig.m.ic_ivau(0, xol).unwrap();
    rig.m.dsb(0, BarrierKind::Full);
    rig.m.isb(0);
    assert_eq!(call(&mut rig.m, 0, xol), 3);
}

#[test]
fn mismatched_line_sizes_skip_lines_when_striding_by_the_big_line() {
    // arm-probes.md §6 #8: software that strides by another core's larger line misses lines.
    let little = CacheType {
        icache_line: 32,
        dcache_line: 32,
        ..CacheType::default()
    };
    let big = CacheType {
        icache_line: 64,
        dcache_line: 64,
        ..CacheType::default()
    };
    let mut rig = rig_with(MachineConfig {
        cache_types: vec![little, big, big, big],
        ..MachineConfig::default()
    });
    // Patch the word at F + 32 (second 32-byte line of the 64-byte block) via `g` there.
    let g = F + 32;
    rig.load(g, &[encoding::movz_x(0, 5), encoding::RET]);
    // Core 0 (32-byte lines) cleans/invalidates with a 64-byte stride starting at F: it only
    // covers F..F+32.
    rig.m.isb(0);
    assert_eq!(call(&mut rig.m, 0, TEXT + g), 5);
    rig.m
        .write_u32(0, ALIAS + g, encoding::movz_x(0, 6))
        .unwrap();
    rig.m.dc(0, DcOp::Cvau, TEXT + F).unwrap();
    rig.m.dsb(0, BarrierKind::Full);
    rig.m.ic_ivau(0, TEXT + F).unwrap();
    rig.m.dsb(0, BarrierKind::Full);
    rig.m.isb(0);
    assert_eq!(
        call(&mut rig.m, 0, TEXT + g),
        5,
        "line F+32 was never maintained"
    );
}

#[test]
fn simulated_code_runs_the_sequence_itself() {
    let Some(with) = patcher(true) else { return };
    assert_eq!(with, 2);
    assert_eq!(patcher(false), Some(1));
}

/// Core 0 executes `f`, patches it through the alias with simulated instructions (with or
/// without `IC IVAU`), and calls it again; returns what it returned.
fn patcher(invalidate: bool) -> Option<u64> {
    let ic = if invalidate { "ic ivau, x2" } else { "nop" };
    let source = format!(
        "mov x19, x30\n\
         ldr x1, ={alias:#x}\nldr x2, ={text:#x}\n\
         blr x2\n\
         ldr w3, ={new:#x}\n\
         str w3, [x1]\n\
         dc cvau, x2\ndsb ish\n{ic}\ndsb ish\nisb\n\
         blr x2\n\
         ret x19",
        alias = ALIAS + F,
        text = TEXT + F,
        new = encoding::movz_x(0, 2),
    );
    let words = crate::harness::assemble(&source)?;
    let mut rig = Rig::default_machine();
    rig.load(F, &[encoding::movz_x(0, 1), encoding::RET]);
    rig.load(0x400, &words);
    rig.start_el1(0, 0);
    rig.m.halt(0);
    Some(call(&mut rig.m, 0, TEXT + 0x400))
}

#[test]
fn user_text_is_patched_through_the_linear_map_and_maintained_on_the_user_alias() {
    // A uprobe-style patch: the kernel writes the user page through its linear-map alias,
    // then cleans/invalidates by the user VA on the core running the process.
    let mut rig = Rig::default_machine();
    let space = rig.m.new_address_space();
    let user_text = 0x40_0000;
    let pa = rig
        .m
        .map_new(space, user_text, 4096, Perms::RX.user())
        .unwrap();
    rig.m
        .write_phys_clean(
            pa,
            &[encoding::movz_x(0, 1), encoding::RET]
                .map(u32::to_le_bytes)
                .concat(),
        )
        .unwrap();
    rig.m.set_user_space(0, Some(space));
    rig.start_el1(0, 0);
    rig.m.halt(0);
    rig.m.core_mut(0).regs.set_el0();
    rig.m.core_mut(0).regs.sp_el0 = 0;
    let setup = CallSetup {
        entry: user_text,
        args: vec![],
        return_to: RETURN,
        sp: None,
    };
    assert_eq!(rig.m.call(&mut panic_host, 0, &setup, 100), Ok(1));
    let alias = rig.m.linear_alias(pa);
    assert!(
        rig.m.write_u32(0, user_text, 0).is_err(),
        "user text is not writable from EL1"
    );
    assert!(
        rig.m.read_u32(0, alias + 4096 * 1000).is_err(),
        "the linear map covers allocated frames only"
    );
    rig.m.write_u32(0, alias, encoding::movz_x(0, 2)).unwrap();
    rig.m.dc(0, DcOp::Cvau, user_text).unwrap();
    rig.m.dsb(0, BarrierKind::Full);
    rig.m.ic_ivau(0, user_text).unwrap();
    rig.m.dsb(0, BarrierKind::Full);
    rig.m.isb(0);
    assert_eq!(rig.m.call(&mut panic_host, 0, &setup, 100), Ok(2));
}

/// One maintenance step of a strategy, as the core that patched executes it.
fn apply(m: &mut A64Machine, step: &str) {
    match step {
        "dc" => m.dc(0, DcOp::Cvau, TEXT + F).unwrap(),
        "ic" => m.ic_ivau(0, TEXT + F).unwrap(),
        "dsb" => m.dsb(0, BarrierKind::Full),
        "dsbst" => m.dsb(0, BarrierKind::Stores),
        "isb" => m.isb(0),
        _ => panic!("unknown step {step}"),
    }
}

#[test]
fn maintenance_strategies_against_every_ctr_configuration() {
    // Expectations derived from the rules by hand (rows: strategy; columns: IDC/DIC = 00,
    // 10, 01, 11); `true` = the new instruction runs. The function was executed just before
    // the patch, so its line is in the I-cache and the prefetch window.
    #[rustfmt::skip]
    let matrix: [(&str, [bool; 4]); 9] = [
        ("",                       [false, false, false, false]),
        ("dc dsb",                 [false, false, false, false]),
        ("ic dsb isb",             [false, true,  false, true ]),
        ("dc ic dsb isb",          [false, true,  true,  true ]),
        ("dc dsb ic dsb",          [false, false, false, false]),
        ("dc dsb ic dsb isb",      [true,  true,  true,  true ]),
        ("dsbst isb",              [false, false, false, true ]), // Linux, IDC and DIC
        ("dsbst ic dsb isb",       [false, true,  false, true ]), // Linux, IDC only
        ("dc dsb isb",             [false, false, true,  true ]), // Linux, DIC only
    ];
    for (strategy, expected) in matrix {
        for (column, (idc, dic)) in [(false, false), (true, false), (false, true), (true, true)]
            .into_iter()
            .enumerate()
        {
            let ct = CacheType {
                idc,
                dic,
                ..CacheType::default()
            };
            let mut rig = rig_with(MachineConfig {
                cache_types: vec![ct; 4],
                ..MachineConfig::default()
            });
            assert_eq!(call(&mut rig.m, 0, TEXT + F), 1);
            patch(&mut rig.m);
            for step in strategy.split_whitespace() {
                apply(&mut rig.m, step);
            }
            let new = call(&mut rig.m, 0, TEXT + F) == 2;
            assert_eq!(
                new, expected[column],
                "strategy `{strategy}` with IDC={idc} DIC={dic}"
            );
        }
    }
}
