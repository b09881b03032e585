//! Debug exceptions: BRK syndromes, software step, hardware breakpoints, their masking by
//! PSTATE.D, their priorities, and exceptions taken inside the host's handlers.

use rtap_armsim::aarch64::{Exception, ExceptionKind, Regs, dbgbcr, mdscr, pstate};
use rtap_armsim::{A64Machine, CallSetup, MachineConfig, Perms, Resume, RunExit};

use crate::harness::{Rig, STACK_SIZE, STACKS, TEXT, assemble, el1_rig, first_exception};

const USER_TEXT: u64 = 0x40_0000;
const USER_STACK: u64 = 0x80_0000;

/// Loads `source` at EL0 in a user address space on core 0.
fn user_rig(source: &str) -> Option<Rig> {
    let words = assemble(source)?;
    let mut rig = Rig::new(MachineConfig {
        cores: 1,
        ..MachineConfig::default()
    });
    let space = rig.m.new_address_space();
    let pa = rig
        .m
        .map_new(space, USER_TEXT, 4096, Perms::RX.user())
        .unwrap();
    rig.m
        .map_new(space, USER_STACK - 4096, 4096, Perms::RW.user())
        .unwrap();
    let bytes: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
    rig.m.write_phys_clean(pa, &bytes).unwrap();
    rig.m.set_user_space(0, Some(space));
    let regs = &mut rig.m.core_mut(0).regs;
    regs.set_el0();
    regs.sp_el0 = USER_STACK;
    regs.pc = USER_TEXT;
    rig.m.start(0);
    Some(rig)
}

/// Every exception the host saw: kind, frame PC, frame PSTATE.
type Log = Vec<(ExceptionKind, u64, u64)>;

#[test]
fn brk_syndrome_and_frame() {
    let Some(mut rig) = el1_rig("nop\nbrk #0x1234", 0, 0) else {
        return;
    };
    let mut seen = None;
    let mut host = |m: &mut A64Machine, core: usize, exc: &Exception, frame: &mut Regs| {
        let live = &m.core(core).regs;
        assert_eq!(
            live.pstate & pstate::DAIF,
            pstate::DAIF,
            "exception entry masks DAIF"
        );
        assert_eq!(live.el(), 1);
        let sys = &m.core(core).sys;
        seen = Some((exc.kind, exc.esr(), frame.pc, sys.elr_el1, sys.esr_el1));
        Resume::Halt
    };
    rig.m.run(&mut host, 100);
    let brk_at = TEXT + 4;
    assert_eq!(
        seen,
        Some((
            ExceptionKind::Brk { imm: 0x1234 },
            0xf200_1234,
            brk_at,
            brk_at,
            0xf200_1234
        ))
    );
}

#[test]
fn software_step_traps_after_exactly_one_instruction() {
    let Some(mut rig) = user_rig("brk #5\nadd x0, x0, #1\nadd x0, x0, #2\nbrk #0xf00") else {
        return;
    };
    let mut log: Log = Vec::new();
    let mut host = |m: &mut A64Machine, core: usize, exc: &Exception, frame: &mut Regs| {
        log.push((exc.kind, frame.pc, frame.pstate));
        match exc.kind {
            ExceptionKind::Brk { imm: 5 } => {
                // user_enable_single_step: MDSCR_EL1.SS and SPSR.SS (arm-probes.md §2.3).
                m.core_mut(core).sys.mdscr_el1 |= mdscr::SS;
                frame.pstate |= pstate::SS;
                frame.pc += 4;
                Resume::Return
            }
            ExceptionKind::SoftwareStep { .. } => {
                m.core_mut(core).sys.mdscr_el1 &= !mdscr::SS;
                Resume::Return
            }
            _ => Resume::Halt,
        }
    };
    rig.m.run(&mut host, 100);
    assert_eq!(log.len(), 3, "{log:?}");
    assert_eq!(log[1].0, ExceptionKind::SoftwareStep { ex: false });
    assert_eq!(
        log[1].1,
        USER_TEXT + 8,
        "step completes after the first add"
    );
    assert_eq!(log[1].2 & pstate::SS, 0, "SPSR.SS = 0: active-pending");
    assert_eq!(log[2].0, ExceptionKind::Brk { imm: 0xf00 });
    assert_eq!(rig.m.core(0).regs.x[0], 3);
    let step = Exception {
        kind: log[1].0,
        pc: log[1].1,
        from_el: 0,
    };
    assert_eq!(step.esr() >> 26, 0x32, "software step from a lower EL");
}

#[test]
fn stepping_an_svc_and_a_brk() {
    let Some(mut rig) = user_rig("brk #5\nsvc #0\nbrk #7\nnop\nbrk #0xf00") else {
        return;
    };
    let mut log: Log = Vec::new();
    let mut host = |m: &mut A64Machine, core: usize, exc: &Exception, frame: &mut Regs| {
        log.push((exc.kind, frame.pc, frame.pstate));
        match exc.kind {
            ExceptionKind::Brk { imm: 5 } => {
                m.core_mut(core).sys.mdscr_el1 |= mdscr::SS;
                frame.pstate |= pstate::SS;
                frame.pc += 4;
            }
            ExceptionKind::Svc { .. } => {}
            ExceptionKind::SoftwareStep { .. } => frame.pstate |= pstate::SS,
            ExceptionKind::Brk { imm: 7 } => {
                frame.pc += 4;
                m.core_mut(core).sys.mdscr_el1 &= !mdscr::SS;
            }
            _ => return Resume::Halt,
        }
        Resume::Return
    };
    rig.m.run(&mut host, 100);
    let kinds: Vec<_> = log.iter().map(|e| e.0).collect();
    assert_eq!(
        kinds,
        [
            ExceptionKind::Brk { imm: 5 },
            ExceptionKind::Svc { imm: 0 },
            ExceptionKind::SoftwareStep { ex: false },
            ExceptionKind::Brk { imm: 7 },
            ExceptionKind::Brk { imm: 0xf00 },
        ]
    );
    // The SVC completed the step (SSAdvance before the call): SPSR.SS = 0, so the step
    // exception comes right after the return, before the BRK.
    assert_eq!((log[1].1, log[1].2 & pstate::SS), (USER_TEXT + 8, 0));
    assert_eq!(log[2].1, USER_TEXT + 8);
    // A stepped BRK does not complete: SPSR.SS stays 1.
    assert_eq!(log[3].2 & pstate::SS, pstate::SS);
}

#[test]
fn kernel_step_is_masked_by_pstate_d_and_pending_when_ss_is_clear() {
    // With MDSCR_EL1.{SS,KDE} set, EL1 code with D = 1 is not stepped; with D = 0 and
    // PSTATE.SS = 0 the step exception is taken at once: the "Unexpected kernel single-step
    // exception at EL1" of arm-probes.md §1.11.
    let Some(words) = assemble("nop\nnop\nbrk #0xf00") else {
        return;
    };
    for (daif, expect_step) in [(pstate::D, false), (0, true)] {
        let mut rig = Rig::default_machine();
        rig.load(0, &words);
        rig.start_el1(0, 0);
        rig.m.core_mut(0).regs.set_el1(daif);
        rig.m.core_mut(0).sys.mdscr_el1 = mdscr::SS | mdscr::KDE;
        let first = first_exception(&mut rig.m, 100).map(|e| e.kind);
        let stepped = first == Some(ExceptionKind::SoftwareStep { ex: false });
        assert_eq!(stepped, expect_step, "daif {daif:#x}: {first:?}");
    }
}

#[test]
fn hardware_breakpoint_precedes_the_brk_at_the_same_address() {
    // Background scenario 3: a hardware breakpoint and a kprobe BRK on one address.
    let Some(mut rig) = el1_rig("nop\nbrk #4\nbrk #0xf00", 0, 0) else {
        return;
    };
    let core = rig.m.core_mut(0);
    core.sys.mdscr_el1 = mdscr::MDE | mdscr::KDE;
    core.sys.dbgbvr[2] = TEXT + 4;
    core.sys.dbgbcr[2] = dbgbcr::ANY_EL;
    let mut log: Log = Vec::new();
    let mut host = |m: &mut A64Machine, core: usize, exc: &Exception, frame: &mut Regs| {
        log.push((exc.kind, frame.pc, 0));
        match exc.kind {
            ExceptionKind::Breakpoint { index } => {
                m.core_mut(core).sys.dbgbcr[index] = 0;
                Resume::Return
            }
            ExceptionKind::Brk { imm: 4 } => {
                frame.pc += 4;
                Resume::Return
            }
            _ => Resume::Halt,
        }
    };
    rig.m.run(&mut host, 100);
    let kinds: Vec<_> = log.iter().map(|e| (e.0, e.1)).collect();
    assert_eq!(
        kinds,
        [
            (ExceptionKind::Breakpoint { index: 2 }, TEXT + 4),
            (ExceptionKind::Brk { imm: 4 }, TEXT + 4),
            (ExceptionKind::Brk { imm: 0xf00 }, TEXT + 8),
        ]
    );
}

#[test]
fn brk_in_a_handler_reenters_the_host_but_breakpoints_are_masked() {
    // The handler for BRK #4 calls `g` (simulated), whose first instruction carries a
    // hardware breakpoint (masked: the handler runs with PSTATE.D = 1) and which executes
    // BRK #5 (taken: BRK ignores PSTATE.D) — a probe hit inside a probe handler.
    let Some(main) = assemble("brk #4\nbrk #0xf00") else {
        return;
    };
    let Some(g) = assemble("nop\nbrk #5\nmov x0, #42\nret") else {
        return;
    };
    let mut rig = Rig::default_machine();
    rig.load(0, &main);
    rig.load(0x200, &g);
    rig.start_el1(0, 0);
    let core = rig.m.core_mut(0);
    core.sys.mdscr_el1 = mdscr::MDE | mdscr::KDE;
    core.sys.dbgbvr[0] = TEXT + 0x200;
    core.sys.dbgbcr[0] = dbgbcr::ANY_EL;
    struct Probe {
        log: Vec<ExceptionKind>,
        result: Option<u64>,
    }
    impl rtap_armsim::Host<rtap_armsim::Aarch64> for Probe {
        fn on_exception(
            &mut self,
            m: &mut A64Machine,
            core: usize,
            exc: &Exception,
            frame: &mut Regs,
        ) -> Resume {
            self.log.push(exc.kind);
            match exc.kind {
                ExceptionKind::Brk { imm: 4 } => {
                    let setup = CallSetup {
                        entry: TEXT + 0x200,
                        args: vec![],
                        return_to: 0xffff_ffff_ffff_0000,
                        sp: Some(STACKS + STACK_SIZE - 256),
                    };
                    self.result = m.call(self, core, &setup, 100).ok();
                    frame.pc += 4;
                    Resume::Return
                }
                ExceptionKind::Brk { imm: 5 } => {
                    frame.pc += 4;
                    Resume::Return
                }
                _ => Resume::Halt,
            }
        }
    }
    let mut probe = Probe {
        log: Vec::new(),
        result: None,
    };
    assert_eq!(rig.m.run(&mut probe, 100), RunExit::Idle);
    assert_eq!(
        probe.log,
        [
            ExceptionKind::Brk { imm: 4 },
            ExceptionKind::Brk { imm: 5 },
            ExceptionKind::Brk { imm: 0xf00 }
        ]
    );
    assert_eq!(probe.result, Some(42));
    assert_eq!(
        rig.m.core(0).regs.pc,
        TEXT + 4,
        "registers restored after the nested call"
    );
}

#[test]
fn breakpoints_match_only_their_exception_levels() {
    let Some(mut rig) = user_rig("nop\nbrk #0xf00") else {
        return;
    };
    let core = rig.m.core_mut(0);
    core.sys.mdscr_el1 = mdscr::MDE;
    core.sys.dbgbvr[0] = USER_TEXT;
    core.sys.dbgbcr[0] = dbgbcr::E | dbgbcr::PMC_EL1 | dbgbcr::BAS_A64;
    let first = first_exception(&mut rig.m, 100).map(|e| e.kind);
    assert_eq!(
        first,
        Some(ExceptionKind::Brk { imm: 0xf00 }),
        "an EL1-only breakpoint ignores EL0"
    );
}

#[test]
fn undefined_and_aborts_reach_the_host_with_syndromes() {
    let Some(mut rig) = user_rig("ldr x0, =0x123456789000\nldr x1, [x0]") else {
        return;
    };
    let first = first_exception(&mut rig.m, 100);
    let exc = first.unwrap();
    assert_eq!(exc.far(), Some(0x1234_5678_9000));
    assert_eq!(
        exc.esr(),
        (0x24 << 26) | (1 << 25) | 0b000111,
        "data abort from EL0, translation fault L3"
    );
    let Some(mut rig) = user_rig(".inst 0x00000000") else {
        return;
    };
    let first = first_exception(&mut rig.m, 100).map(|e| e.kind);
    assert_eq!(first, Some(ExceptionKind::Undefined { encoding: 0 }));
    // Kernel-only system registers are undefined at EL0.
    let Some(mut rig) = user_rig("mrs x0, mdscr_el1") else {
        return;
    };
    let first = first_exception(&mut rig.m, 100).map(|e| e.kind);
    assert!(matches!(first, Some(ExceptionKind::Undefined { .. })));
}

#[test]
fn eret_to_el0_arms_the_step_from_spsr_ss() {
    // Simulated kernel code returns to user space with SPSR.SS = 1 and MDSCR_EL1.SS = 1
    // (DebugExceptionReturnSS: stepping is disabled at the source, EL1 with D = 1, and
    // enabled at EL0), so exactly one user instruction runs before the step exception.
    let Some(mut rig) = user_rig("add x0, x0, #1\nadd x0, x0, #2\nbrk #0xf00") else {
        return;
    };
    let Some(kernel) = assemble(&format!(
        "msr daifset, #0xf\nmov x0, #1\nmsr mdscr_el1, x0\nldr x1, ={USER_TEXT:#x}\nmsr elr_el1, x1\n\
         mov x2, #(1 << 21)\nmsr spsr_el1, x2\nmov x0, #10\neret"
    )) else {
        return;
    };
    rig.load(0, &kernel);
    let regs = &mut rig.m.core_mut(0).regs;
    regs.set_el1(0);
    regs.pc = TEXT;
    let first = first_exception(&mut rig.m, 100).unwrap();
    assert_eq!(first.kind, ExceptionKind::SoftwareStep { ex: false });
    assert_eq!((first.from_el, first.pc), (0, USER_TEXT + 4));
    assert_eq!(rig.m.core(0).regs.x[0], 11);
}
