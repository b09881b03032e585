//! The scheduler interleaves cores deterministically by seed (rule `scheduler`).

use rtap_armsim::aarch64::{Exception, Regs};
use rtap_armsim::{A64Machine, MachineConfig, Resume, RunExit};

use crate::harness::{DATA, Rig, assemble};

/// Four cores increment one counter 500 times each without atomics; returns the final
/// counter and the steps each core took.
fn racy_counter(seed: u64) -> Option<(u64, Vec<u64>)> {
    let words = assemble(&format!(
        "ldr x9, ={DATA:#x}\nmov x2, #500\n1: ldr x1, [x9]\nadd x1, x1, #1\nstr x1, [x9]\nsubs x2, x2, #1\nb.ne 1b\nbrk #0xf00"
    ))?;
    let mut rig = Rig::new(MachineConfig {
        seed,
        max_quantum: 7,
        ..MachineConfig::default()
    });
    rig.load(0, &words);
    for core in 0..4 {
        rig.start_el1(core, 0);
    }
    let mut halt = |_: &mut A64Machine, _: usize, _: &Exception, _: &mut Regs| Resume::Halt;
    assert_eq!(rig.m.run(&mut halt, 1_000_000), RunExit::Idle);
    let counter = rig.m.read_u64(0, DATA).unwrap();
    Some((counter, (0..4).map(|c| rig.m.steps(c)).collect()))
}

#[test]
fn same_seed_same_interleaving_other_seeds_differ() {
    let Some(first) = racy_counter(3) else { return };
    assert_eq!(racy_counter(3), Some(first.clone()));
    assert!(
        first.0 < 2000,
        "the unsynchronised increments raced: {}",
        first.0
    );
    let others: Vec<u64> = (10..16).filter_map(racy_counter).map(|r| r.0).collect();
    assert!(
        others.iter().any(|&c| c != first.0),
        "{first:?} vs {others:?}"
    );
}
