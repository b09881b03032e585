//! The cross-modification checker (rule `concurrent-modification`, Arm ARM B2.2.5).

use rtap_armsim::aarch64::{Exception, Regs, encoding};
use rtap_armsim::{A64Machine, Exposure, Resume};

use crate::harness::{ALIAS, Rig, assemble, el1_rig};

const LOOP: u64 = 0x200;

fn no_exceptions(_: &mut A64Machine, _: usize, exc: &Exception, _: &mut Regs) -> Resume {
    panic!("unexpected exception {exc:?}");
}

/// Core 1 spins in `1: nop; add x0, x0, #1; b 1b` at `TEXT + LOOP`; core 0 is halted.
fn spinning() -> Option<Rig> {
    let words = assemble("1: nop\nadd x0, x0, #1\nb 1b")?;
    let mut rig = Rig::default_machine();
    rig.load(LOOP, &words);
    rig.start_el1(1, LOOP);
    rig.start_el1(0, 0);
    rig.m.halt(0);
    rig.m.run(&mut no_exceptions, 50);
    assert!(rig.m.steps(1) > 0);
    Some(rig)
}

#[test]
fn patching_a_non_b225_instruction_under_a_running_core_is_flagged() {
    let Some(mut rig) = spinning() else { return };
    let sub = 0xd100_0400; // sub x0, x0, #1
    rig.m.write_u32(0, ALIAS + LOOP + 4, sub).unwrap();
    let found = rig.m.take_cross_modifications();
    assert_eq!(found.len(), 1, "{found:?}");
    let f = found[0];
    assert_eq!(
        (f.writer, f.executor, f.va, f.pa),
        (0, 1, ALIAS + LOOP + 4, rig.text_pa + LOOP + 4)
    );
    assert_eq!((f.old, f.new), (0x9100_0400, sub));
    assert!(matches!(f.exposure, Exposure::Prefetch | Exposure::ICache));
}

#[test]
fn nop_to_branch_and_back_is_allowed() {
    let Some(mut rig) = spinning() else { return };
    rig.m.write_u32(0, ALIAS + LOOP, encoding::b(8)).unwrap();
    rig.m.write_u32(0, ALIAS + LOOP, encoding::NOP).unwrap();
    rig.m.write_u32(0, ALIAS + LOOP, encoding::brk(4)).unwrap();
    assert_eq!(rig.m.cross_modifications(), &[]);
    // BRK -> the original ADD is not (kprobe disarm of a non-B2.2.5 instruction).
    rig.m.write_u32(0, ALIAS + LOOP, 0x9100_0400).unwrap();
    assert_eq!(rig.m.cross_modifications().len(), 1);
}

#[test]
fn parked_cores_do_not_count() {
    let Some(mut rig) = spinning() else { return };
    assert_eq!(rig.m.park_others(0), vec![1, 2, 3]);
    rig.m.write_u32(0, ALIAS + LOOP + 4, 0xd100_0400).unwrap();
    for core in 1..4 {
        rig.m.unpark(core);
    }
    assert_eq!(rig.m.cross_modifications(), &[]);
}

#[test]
fn a_core_about_to_execute_a_line_it_never_fetched_counts() {
    let Some(mut rig) = el1_rig("nop\nnop", 2, 0x800) else {
        return;
    };
    rig.m.write_u32(0, ALIAS + 0x804, 0xd100_0400).unwrap();
    let found = rig.m.take_cross_modifications();
    assert_eq!(found.len(), 1);
    assert_eq!(
        (found[0].executor, found[0].exposure),
        (2, Exposure::ProgramCounter)
    );
}

#[test]
fn simulated_stores_are_checked_too() {
    let Some(mut rig) = spinning() else { return };
    let store = |insn: u32| {
        assemble(&format!(
            "ldr x1, ={:#x}\nldr w2, ={insn:#x}\nstr w2, [x1]\nbrk #0xf00",
            ALIAS + LOOP + 4
        ))
    };
    let (Some(to_sub), Some(to_add)) = (store(0xd100_0400), store(0x9100_0400)) else {
        return;
    };
    rig.load(0x1000, &to_sub);
    rig.load(0x1100, &to_add);
    let mut halt = |_: &mut A64Machine, _: usize, _: &Exception, _: &mut Regs| Resume::Halt;
    // Core 1 halted while core 3 stores: nothing flagged.
    rig.m.halt(1);
    rig.start_el1(3, 0x1000);
    rig.m.run(&mut halt, 100);
    assert_eq!(rig.m.cross_modifications(), &[]);
    // Core 1 running: flagged, with the storing core as the writer.
    rig.m.start(1);
    rig.start_el1(3, 0x1100);
    rig.m.run_until(&mut halt, 10_000, |m| !m.is_running(3));
    assert!(
        rig.m
            .cross_modifications()
            .iter()
            .any(|f| f.writer == 3 && f.executor == 1),
        "{:?}",
        rig.m.cross_modifications()
    );
}

/// A host that patches the spinning loop from a BRK handler on core 0 with an IPI-based
/// stop-all-CPUs protocol: interrupt the others, let them run until each took the IPI and
/// parked, patch and maintain, `ISB` on each, unpark.
struct StopMachine {
    parked_at: Vec<(usize, u64)>,
}

impl rtap_armsim::Host<rtap_armsim::Aarch64> for StopMachine {
    fn on_exception(
        &mut self,
        m: &mut A64Machine,
        core: usize,
        exc: &Exception,
        frame: &mut Regs,
    ) -> Resume {
        use rtap_armsim::aarch64::ExceptionKind;
        use rtap_armsim::{BarrierKind, DcOp};
        match exc.kind {
            ExceptionKind::Irq => {
                m.park(core);
                self.parked_at.push((core, frame.pc));
                Resume::Return
            }
            ExceptionKind::Brk { imm: 4 } => {
                for other in 1..4 {
                    m.raise_irq(other);
                }
                let exit = m.run_until(self, 100_000, |m| (1..4).all(|c| m.is_parked(c)));
                assert_eq!(exit, rtap_armsim::RunExit::Predicate);
                let text = crate::harness::TEXT + LOOP + 4;
                m.write_u32(core, ALIAS + LOOP + 4, 0xd100_0400).unwrap(); // sub x0, x0, #1
                m.dc(core, DcOp::Cvau, text).unwrap();
                m.dsb(core, BarrierKind::Full);
                m.ic_ivau(core, text).unwrap();
                m.dsb(core, BarrierKind::Full);
                for other in 1..4 {
                    m.isb(other);
                    m.unpark(other);
                }
                frame.pc += 4;
                Resume::Return
            }
            _ => Resume::Halt,
        }
    }
}

#[test]
fn stop_machine_by_ipi_waits_for_cores_with_interrupts_masked() {
    let Some(spin) = assemble("1: nop\nadd x0, x0, #1\nb 1b") else {
        return;
    };
    let Some(masked) = assemble(
        "msr daifset, #2\nmov x1, #200\n2: subs x1, x1, #1\nb.ne 2b\nmsr daifclr, #2\n3: add x2, x2, #1\nb 3b",
    ) else {
        return;
    };
    let Some(patcher) = assemble("mov x1, #30\n1: subs x1, x1, #1\nb.ne 1b\nbrk #4\nbrk #0xf00")
    else {
        return;
    };
    let mut rig = Rig::default_machine();
    rig.load(LOOP, &spin);
    rig.load(0x600, &masked);
    rig.load(0x800, &patcher);
    rig.start_el1(0, 0x800);
    for core in 1..3 {
        rig.start_el1(core, LOOP);
    }
    rig.start_el1(3, 0x600);
    let mut host = StopMachine {
        parked_at: Vec::new(),
    };
    rig.m.run_until(&mut host, 100_000, |m| !m.is_running(0));
    assert_eq!(
        rig.m.cross_modifications(),
        &[],
        "the others were parked during the patch"
    );
    let (_, core3_pc) = host
        .parked_at
        .iter()
        .copied()
        .find(|&(c, _)| c == 3)
        .unwrap();
    let unmask = crate::harness::TEXT + 0x600 + 16;
    assert!(
        core3_pc > unmask,
        "core 3 took the IPI only after unmasking ({core3_pc:#x})"
    );
    // The cores run the patched loop now: X0 goes down.
    let before = rig.m.core(1).regs.x[0];
    rig.m.run(&mut host, 2_000);
    let after = rig.m.core(1).regs.x[0];
    assert!(
        (after as i64) < (before as i64),
        "x0 {before} -> {after}, pc {:#x}, parked {:?}",
        rig.m.core(1).regs.pc,
        host.parked_at
    );
}

#[test]
fn pipeline_scope_ignores_lines_only_cached() {
    // Core 1 ran the code at 0x800 once and moved on to the loop: the line stays in its
    // I-cache. Rewriting it counts under the default scope, not under `Pipeline`.
    let Some(once) = assemble(&format!("nop\nnop\nb .+{}", LOOP as i64 - 0x808)) else {
        return;
    };
    let Some(spin) = assemble("1: nop\nadd x0, x0, #1\nb 1b") else {
        return;
    };
    for (scope, flagged) in [
        (rtap_armsim::CheckerScope::CacheOrPipeline, 1),
        (rtap_armsim::CheckerScope::Pipeline, 0),
    ] {
        let mut rig = Rig::new(rtap_armsim::MachineConfig {
            checker_scope: scope,
            ..rtap_armsim::MachineConfig::default()
        });
        rig.load(0x800, &once);
        rig.load(LOOP, &spin);
        rig.start_el1(1, 0x800);
        rig.start_el1(0, 0);
        rig.m.halt(0);
        rig.m.run(&mut no_exceptions, 200);
        rig.m.isb(1); // an interrupt came and went: the prefetch window is gone, the I-cache not
        rig.m.write_u32(0, ALIAS + 0x804, 0xd100_0400).unwrap();
        assert_eq!(rig.m.cross_modifications().len(), flagged, "{scope:?}");
    }
}
