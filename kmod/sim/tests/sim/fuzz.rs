//! Random encodings never panic the model: everything unimplemented or unallocated is an
//! undefined-instruction exception carrying the encoding.

use rtap_armsim::aarch64::{Exception, ExceptionKind, Regs, pstate};
use rtap_armsim::{A64Machine, Resume};

use crate::harness::{DATA, Rig, STACK_SIZE, STACKS, TEXT, TEXT_SIZE};

struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[test]
fn random_encodings_execute_or_trap_without_panicking() {
    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
    let mut rig = Rig::default_machine();
    let words: Vec<u32> = (0..TEXT_SIZE / 4).map(|_| rng.next() as u32).collect();
    rig.load(0, &words);
    rig.start_el1(0, 0);
    for other in 1..rig.m.cores() {
        rig.m.halt(other);
    }
    let mut undefined = 0u64;
    let mut exceptions = 0u64;
    let mut host = |m: &mut A64Machine, core: usize, exc: &Exception, frame: &mut Regs| {
        exceptions += 1;
        if let ExceptionKind::Undefined { encoding } = exc.kind {
            undefined += 1;
            assert_eq!(
                m.read_u32(core, exc.pc).ok(),
                Some(encoding),
                "the syndrome carries the encoding"
            );
        }
        // Restart somewhere else in the random page, at EL1 with registers pointing into
        // mapped data, and debug state cleared, so most accesses and branches stay mapped.
        let seed = rng.next();
        frame.pc = TEXT + (seed % (TEXT_SIZE / 4)) * 4;
        frame.pstate = pstate::EL1H;
        for (i, x) in frame.x.iter_mut().enumerate() {
            *x = DATA + 8 * i as u64;
        }
        frame.sp_el1 = STACKS + STACK_SIZE / 2;
        m.core_mut(core).sys.mdscr_el1 = 0;
        Resume::Return
    };
    rig.m.run(&mut host, 300_000);
    assert!(
        undefined > 1000 && exceptions > undefined,
        "{undefined} undefined of {exceptions} exceptions"
    );
}
