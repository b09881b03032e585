//! The engine's state machines on the test double (`support/double.rs`): kprobe, kretprobe,
//! uprobe and uretprobe hits, re-entry, "not mine", removal races, batching, slot reuse and
//! the cache maintenance seen through per-CPU instruction caches. The test plays each CPU:
//! it fetches words through the double's I-caches and calls the handlers a trapping CPU
//! would. Expected values are hand-derived from arm-probes.md §1.7–§1.12, §2, §4.

#[path = "support/double.rs"]
mod double;

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use double::{CTR_A72, Double, Event};
use rtap_kmod::arch::Breakpoint;
use rtap_kmod::arch::aarch64::insn::{brk, brk_imm};
use rtap_kmod::arch::aarch64::regs::{PtRegs, pstate};
use rtap_kmod::arch::aarch64::{Aarch64, SlotEntry};
use rtap_kmod::error::ProbeError;
use rtap_kmod::hit::{Fatal, Hit, Outcome, ReturnHit};
use rtap_kmod::instance::Instance;
use rtap_kmod::kprobe::{
    Handler, Kprobe, KprobeCpu, KprobeHandler, KprobeSpec, Kprobes, Status, cpu_state,
};
use rtap_kmod::kretprobe::KretprobeHandler;
use rtap_kmod::platform::{Platform, ProcessId, Space, Task, ThreadId};
use rtap_kmod::reject::RejectReason;
use rtap_kmod::table::Entry;
use rtap_kmod::uprobe::{ThreadState, Uprobe, UprobeHandler, UprobeSpec, Uprobes};
use rtap_kmod::xol::{SlotBlock, XolArea};

type A = Aarch64;

/// Kernel text used by the kprobe tests: a function prologue, a NOP, a `b.eq`, `ret`.
const K: u64 = 0xffff_0000_0800_0000;
const STP: u32 = 0xa9bf_7bfd; // stp x29, x30, [sp, #-16]!
const MOV_FP: u32 = 0x9100_03fd; // mov x29, sp
const NOP: u32 = 0xd503_201f;
const B_EQ_8: u32 = 0x5400_0040; // b.eq .+8
const RET: u32 = 0xd65f_03c0;
const KTEXT: [u32; 5] = [STP, MOV_FP, NOP, B_EQ_8, RET];

fn kernel_task() -> Task {
    Task {
        process: ProcessId(0),
        thread: ThreadId(500),
    }
}

#[derive(Default)]
struct Counter {
    pre: AtomicU32,
    post: AtomicU32,
    changes_path: bool,
}

impl KprobeHandler<Double, A> for Counter {
    fn pre(&self, _hit: &mut Hit<'_, Double, A>) -> bool {
        self.pre.fetch_add(1, Ordering::Relaxed);
        self.changes_path
    }
    fn post(&self, _hit: &mut Hit<'_, Double, A>) {
        self.post.fetch_add(1, Ordering::Relaxed);
    }
}

struct KStore<'a> {
    entries: [Entry<Kprobe<'a, Double, A>>; 8],
    cpus: Vec<KprobeCpu<SlotEntry>>,
    blocks: [SlotBlock; 2],
    instances: [Instance; 8],
}

impl KStore<'_> {
    fn new(cpus: usize) -> Self {
        KStore {
            entries: Default::default(),
            cpus: (0..cpus).map(|_| cpu_state(SlotEntry::default())).collect(),
            blocks: Default::default(),
            instances: Default::default(),
        }
    }
}

fn kprobes<'a>(store: &'a KStore<'a>) -> Kprobes<'a, Double, A> {
    Kprobes::new(&store.entries, &store.cpus, &store.blocks, &store.instances)
}

fn machine() -> Double {
    let p = Double::new(4, CTR_A72);
    p.load_text(Space::Kernel, K, &KTEXT);
    p.on(0, kernel_task());
    p
}

fn regs_at(pc: u64) -> PtRegs {
    // EL1h with interrupts unmasked.
    PtRegs {
        pc,
        sp: 0xffff_0000_1000_0000,
        pstate: 0x5,
        ..PtRegs::default()
    }
}

fn spec<'a>(addr: u64, handler: &'a Counter) -> KprobeSpec<'a, Double, A> {
    KprobeSpec {
        addr,
        function_start: Some(K),
        handler: Handler::Kprobe(handler),
    }
}

#[test]
fn kprobe_steps_its_instruction_out_of_line() {
    let p = machine();
    let store = KStore::new(4);
    let kprobes = kprobes(&store);
    let counter = Counter::default();
    // CPU 2 has the probed line in its I-cache before the probe is armed.
    assert_eq!(p.fetch(2, Space::Kernel, K), STP);
    let probe = kprobes.register(&p, spec(K, &counter)).unwrap();
    kprobes.arm(&p, &[probe]).unwrap();
    assert_eq!(p.stops(), 1, "arming an stp needs a stop (Arm ARM B2.2.5)");
    assert_eq!(
        p.fetch(2, Space::Kernel, K),
        brk(brk_imm::KPROBE),
        "CPU 2 fetches the breakpoint"
    );

    let mut regs = regs_at(K);
    assert_eq!(
        kprobes.handle(&p, Breakpoint::Kprobe, &mut regs),
        Outcome::Handled
    );
    let slot = regs.pc;
    assert_ne!(slot, K);
    assert_eq!(
        regs.pstate & pstate::DAIF,
        pstate::DAIF,
        "the slot runs with DAIF masked"
    );
    assert_eq!(kprobes.status(0), Some(Status::Stepping));
    assert_eq!(p.fetch(0, Space::Kernel, slot), STP);
    assert_eq!(p.fetch(0, Space::Kernel, slot + 4), brk(brk_imm::KPROBE_SS));

    // The CPU executes the slot's stp, then its BRK.
    regs.pc = slot + 4;
    assert_eq!(
        kprobes.handle(&p, Breakpoint::KprobeStep, &mut regs),
        Outcome::Handled
    );
    assert_eq!((regs.pc, regs.pstate), (K + 4, 0x5));
    assert_eq!(
        (
            counter.pre.load(Ordering::Relaxed),
            counter.post.load(Ordering::Relaxed)
        ),
        (1, 1)
    );
    assert_eq!(kprobes.status(0), Some(Status::Idle));

    kprobes.unregister(&p, &[probe]).unwrap();
    assert_eq!(p.read_insn(Space::Kernel, K), Ok(STP));
    assert_eq!(p.fetch(2, Space::Kernel, K), STP);
}

#[test]
fn simulated_instructions_and_path_changes() {
    let p = machine();
    let store = KStore::new(4);
    let kprobes = kprobes(&store);
    let on_b_eq = Counter::default();
    let takes_over = Counter {
        changes_path: true,
        ..Counter::default()
    };
    let b_eq = kprobes.register(&p, spec(K + 12, &on_b_eq)).unwrap();
    let nop = kprobes.register(&p, spec(K + 8, &takes_over)).unwrap();
    kprobes.arm(&p, &[b_eq, nop]).unwrap();
    assert_eq!(p.stops(), 1, "one stop for the whole batch");

    let mut regs = regs_at(K + 12);
    regs.pstate |= 0b0100 << 28; // Z set: the branch is taken.
    assert_eq!(
        kprobes.handle(&p, Breakpoint::Kprobe, &mut regs),
        Outcome::Handled
    );
    assert_eq!(regs.pc, K + 20, "b.eq simulated at the probed address");
    assert_eq!(on_b_eq.post.load(Ordering::Relaxed), 1);

    let mut regs = regs_at(K + 8);
    assert_eq!(
        kprobes.handle(&p, Breakpoint::Kprobe, &mut regs),
        Outcome::Handled
    );
    assert_eq!(
        regs.pc,
        K + 8,
        "a pre-handler that changes the path skips the instruction"
    );
    assert_eq!(takes_over.post.load(Ordering::Relaxed), 0);
}

#[test]
fn nop_and_branch_probes_are_patched_without_a_stop() {
    let p = machine();
    let store = KStore::new(4);
    let kprobes = kprobes(&store);
    let counter = Counter::default();
    let nop = kprobes.register(&p, spec(K + 8, &counter)).unwrap();
    kprobes.arm(&p, &[nop]).unwrap();
    kprobes.disarm(&p, &[nop]).unwrap();
    assert_eq!(p.stops(), 0, "NOP <-> BRK is on the B2.2.5 list");
    assert_eq!(p.read_insn(Space::Kernel, K + 8), Ok(NOP));
}

/// A kprobe hit inside another kprobe's pre-handler (arm-probes.md §1.9): counted as
/// missed, no handler runs, its instruction is still carried out, and the outer probe then
/// completes normally.
#[test]
fn reentered_probe_is_missed_but_executed() {
    struct Nesting<'k> {
        kprobes: &'k Kprobes<'k, Double, A>,
        pre: AtomicU32,
        nested_pc: AtomicU64,
    }
    impl KprobeHandler<Double, A> for Nesting<'_> {
        fn pre(&self, hit: &mut Hit<'_, Double, A>) -> bool {
            self.pre.fetch_add(1, Ordering::Relaxed);
            // The handler calls a function whose first instruction (the stp at K) is probed.
            let p = hit.platform;
            let mut regs = regs_at(K);
            regs.pstate |= pstate::DAIF; // handlers run with interrupts masked
            assert_eq!(
                self.kprobes.handle(p, Breakpoint::Kprobe, &mut regs),
                Outcome::Handled
            );
            assert_eq!(self.kprobes.status(p.cpu()), Some(Status::Reenter));
            let slot = regs.pc;
            assert_eq!(p.fetch(p.cpu(), Space::Kernel, slot), STP);
            regs.pc = slot + 4;
            assert_eq!(
                self.kprobes.handle(p, Breakpoint::KprobeStep, &mut regs),
                Outcome::Handled
            );
            self.nested_pc.store(regs.pc, Ordering::Relaxed);
            assert_eq!(
                self.kprobes.status(p.cpu()),
                Some(Status::Active),
                "back to the outer level"
            );
            false
        }
    }
    let p = machine();
    let store = KStore::new(4);
    let kprobes = kprobes(&store);
    let inner = Counter::default();
    let outer = Nesting {
        kprobes: &kprobes,
        pre: AtomicU32::new(0),
        nested_pc: AtomicU64::new(0),
    };
    let inner_probe = kprobes.register(&p, spec(K, &inner)).unwrap();
    let outer_probe = kprobes
        .register(
            &p,
            KprobeSpec {
                addr: K + 4,
                function_start: Some(K),
                handler: Handler::Kprobe(&outer),
            },
        )
        .unwrap();
    kprobes.arm(&p, &[inner_probe, outer_probe]).unwrap();

    p.on(1, kernel_task());
    let mut regs = regs_at(K + 4);
    assert_eq!(
        kprobes.handle(&p, Breakpoint::Kprobe, &mut regs),
        Outcome::Handled
    );
    assert_eq!(
        outer.nested_pc.load(Ordering::Relaxed),
        K + 4,
        "the nested stp completed"
    );
    assert_eq!(
        inner.pre.load(Ordering::Relaxed),
        0,
        "no handler for the nested hit"
    );
    assert_eq!(kprobes.nmissed(inner_probe), Some(1));
    assert_eq!(
        p.fetch(1, Space::Kernel, regs.pc),
        MOV_FP,
        "outer slot holds mov x29, sp"
    );
    regs.pc += 4;
    assert_eq!(
        kprobes.handle(&p, Breakpoint::KprobeStep, &mut regs),
        Outcome::Handled
    );
    assert_eq!(regs.pc, K + 8);
    assert_eq!(outer.pre.load(Ordering::Relaxed), 1);
    assert_eq!(kprobes.status(1), Some(Status::Idle));
}

#[test]
fn hit_while_stepping_is_fatal_and_foreign_breakpoints_are_not_mine() {
    let p = machine();
    let store = KStore::new(4);
    let kprobes = kprobes(&store);
    let counter = Counter::default();
    let stp = kprobes.register(&p, spec(K, &counter)).unwrap();
    let mov = kprobes.register(&p, spec(K + 4, &counter)).unwrap();
    kprobes.arm(&p, &[stp, mov]).unwrap();

    // A completion breakpoint nobody is stepping: not ours.
    let mut regs = regs_at(K + 0x100);
    assert_eq!(
        kprobes.handle(&p, Breakpoint::KprobeStep, &mut regs),
        Outcome::NotMine
    );
    // Our immediate compiled into kernel text where no probe is: not ours either.
    p.load_text(Space::Kernel, K + 0x200, &[brk(brk_imm::KPROBE)]);
    let mut regs = regs_at(K + 0x200);
    assert_eq!(
        kprobes.handle(&p, Breakpoint::Kprobe, &mut regs),
        Outcome::NotMine
    );

    let mut regs = regs_at(K);
    assert_eq!(
        kprobes.handle(&p, Breakpoint::Kprobe, &mut regs),
        Outcome::Handled
    );
    let slot = regs.pc;
    // A wrong completion address (someone else's BRK #KPROBE_SS) is refused.
    let mut elsewhere = regs_at(slot + 0x40);
    assert_eq!(
        kprobes.handle(&p, Breakpoint::KprobeStep, &mut elsewhere),
        Outcome::NotMine
    );
    // A probe hit while this CPU steps cannot be recovered.
    let mut nested = regs_at(K + 4);
    assert_eq!(
        kprobes.handle(&p, Breakpoint::Kprobe, &mut nested),
        Outcome::Fatal(Fatal::HitWhileStepping {
            addr: K + 4,
            stepping: K
        })
    );
}

#[test]
fn a_probe_removed_between_trap_and_lookup_restarts_the_instruction() {
    let p = machine();
    let store = KStore::new(4);
    let kprobes = kprobes(&store);
    let counter = Counter::default();
    let nop = kprobes.register(&p, spec(K + 8, &counter)).unwrap();
    kprobes.arm(&p, &[nop]).unwrap();
    // CPU 3 took the BRK; before its handler looks the probe up, CPU 0 removes it (a NOP
    // probe is disarmed without a stop, so this interleaving is possible).
    p.on(0, kernel_task());
    kprobes.unregister(&p, &[nop]).unwrap();
    p.on(3, kernel_task());
    let mut regs = regs_at(K + 8);
    assert_eq!(
        kprobes.handle(&p, Breakpoint::Kprobe, &mut regs),
        Outcome::Handled
    );
    assert_eq!(
        regs.pc,
        K + 8,
        "re-executed: the word there is the NOP again"
    );
    assert_eq!(counter.pre.load(Ordering::Relaxed), 0);
}

#[test]
fn registration_rejects_and_faults() {
    let p = machine();
    p.load_text(
        Space::Kernel,
        K + 0x40,
        &[0xc85f_fc20, 0x9100_0400, 0xc802_fc20],
    ); // ldaxr; add; stlxr
    let store = KStore::new(4);
    let kprobes = kprobes(&store);
    let counter = Counter::default();
    let err = kprobes.register(&p, spec(K + 0x44, &counter)).unwrap_err();
    assert_eq!(
        err,
        ProbeError::Rejected {
            addr: K + 0x44,
            reason: RejectReason::InExclusiveSequence
        }
    );
    let err = kprobes.register(&p, spec(K + 0x40, &counter)).unwrap_err();
    assert_eq!(
        err,
        ProbeError::Rejected {
            addr: K + 0x40,
            reason: RejectReason::Exclusive
        }
    );
    assert_eq!(
        kprobes.register(&p, spec(K + 2, &counter)).unwrap_err(),
        ProbeError::Platform(rtap_kmod::platform::PlatformError::Fault(K + 2))
    );

    // A fault raised by the slot's instruction puts the context back at the probe.
    let stp = kprobes.register(&p, spec(K, &counter)).unwrap();
    kprobes.arm(&p, &[stp]).unwrap();
    let mut regs = regs_at(K);
    kprobes.handle(&p, Breakpoint::Kprobe, &mut regs);
    assert!(kprobes.fault(&p, &mut regs));
    assert_eq!((regs.pc, regs.pstate), (K, 0x5));
    assert_eq!(kprobes.status(0), Some(Status::Idle));
    assert!(
        !kprobes.fault(&p, &mut regs),
        "no step in progress any more"
    );
}

#[derive(Default)]
struct Returns {
    entries: AtomicU32,
    returns: AtomicU64,
}

impl KretprobeHandler<Double, A> for Returns {
    fn entry(&self, _hit: &mut Hit<'_, Double, A>) -> bool {
        self.entries.fetch_add(1, Ordering::Relaxed);
        true
    }
    fn ret(&self, hit: &mut ReturnHit<'_, Double, A>) {
        assert_eq!(hit.regs.pc, hit.return_address);
        self.returns.store(hit.return_address, Ordering::Relaxed);
    }
}

#[test]
fn kretprobe_returns_through_the_trampoline() {
    let p = machine();
    let store = KStore::new(4);
    let kprobes = kprobes(&store);
    kprobes.init(&p).unwrap();
    let returns = Returns::default();
    let probe = kprobes
        .register(
            &p,
            KprobeSpec {
                addr: K,
                function_start: Some(K),
                handler: Handler::Kretprobe(&returns),
            },
        )
        .unwrap();
    kprobes.arm(&p, &[probe]).unwrap();
    let mut regs = regs_at(K);
    regs.regs[30] = 0xffff_0000_0900_0010;
    kprobes.handle(&p, Breakpoint::Kprobe, &mut regs);
    let trampoline = regs.lr();
    assert_ne!(trampoline, 0xffff_0000_0900_0010);
    assert_eq!(
        p.fetch(0, Space::Kernel, trampoline),
        brk(brk_imm::KRETPROBE)
    );
    regs.pc += 4;
    kprobes.handle(&p, Breakpoint::KprobeStep, &mut regs);
    // ... the function runs and returns (sp back to its entry value) to the trampoline.
    regs.pc = trampoline;
    assert_eq!(
        kprobes.handle(&p, Breakpoint::Kretprobe, &mut regs),
        Outcome::Handled
    );
    assert_eq!(
        (regs.pc, regs.lr()),
        (0xffff_0000_0900_0010, 0xffff_0000_0900_0010)
    );
    assert_eq!(
        returns.returns.load(Ordering::Relaxed),
        0xffff_0000_0900_0010
    );
    assert_eq!(returns.entries.load(Ordering::Relaxed), 1);
    // A second trampoline hit has nothing recorded.
    regs.pc = trampoline;
    assert_eq!(
        kprobes.handle(&p, Breakpoint::Kretprobe, &mut regs),
        Outcome::Fatal(Fatal::NoReturnRecorded)
    );
}

// --------------------------------------------------------------------------------------
// Uprobes
// --------------------------------------------------------------------------------------

const PROCESS: ProcessId = ProcessId(100);
const U: u64 = 0x40_0000;
const UTEXT: [u32; 6] = [STP, MOV_FP, 0x5800_0040, NOP, brk(brk_imm::UPROBE), RET]; // ..., ldr x0, .+8, ...

struct UStore<'a> {
    entries: [Entry<Uprobe<'a, Double, A>>; 8],
    threads: [ThreadState<SlotEntry>; 4],
    areas: [XolArea; 2],
    instances: [Instance; 80],
}

impl UStore<'_> {
    fn new() -> Self {
        UStore {
            entries: Default::default(),
            threads: Default::default(),
            areas: Default::default(),
            instances: std::array::from_fn(|_| Instance::new()),
        }
    }
}

fn thread(n: u32) -> Task {
    Task {
        process: PROCESS,
        thread: ThreadId(n),
    }
}

#[derive(Default)]
struct UCounter {
    hits: AtomicU32,
    returns: AtomicU32,
}

impl UprobeHandler<Double, A> for UCounter {
    fn hit(&self, _hit: &mut Hit<'_, Double, A>) {
        self.hits.fetch_add(1, Ordering::Relaxed);
    }
    fn ret(&self, _hit: &mut ReturnHit<'_, Double, A>) {
        self.returns.fetch_add(1, Ordering::Relaxed);
    }
}

fn user_regs(pc: u64) -> PtRegs {
    PtRegs {
        pc,
        sp: 0x7fff_f000,
        pstate: 0,
        ..PtRegs::default()
    }
}

fn uspec<'a>(addr: u64, handler: &'a UCounter, ret: bool) -> UprobeSpec<'a, Double, A> {
    UprobeSpec {
        process: PROCESS,
        addr,
        function_start: Some(U),
        handler,
        ret,
    }
}

#[test]
fn xol_area_is_written_and_synchronised_when_created_from_another_process() {
    // A Cortex-A53-like CTR_EL0: VIPT I-cache, so the tracer cannot name the target's lines.
    let p = Double::new(2, 0x8444_8004);
    p.load_text(Space::User(PROCESS), U, &UTEXT);
    p.on(
        0,
        Task {
            process: ProcessId(1),
            thread: ThreadId(1),
        },
    ); // the tracer
    let store = UStore::new();
    let uprobes = Uprobes::new(
        &store.entries,
        &store.threads,
        &store.areas,
        &store.instances,
    );
    let counter = UCounter::default();
    uprobes.register(&p, uspec(U, &counter, false)).unwrap();
    let area = uprobes.xol_area(PROCESS).unwrap();
    assert!(
        p.events().contains(&Event::IcIalluis),
        "VIPT and another address space: invalidate all"
    );
    let space = Space::User(PROCESS);
    assert_eq!(
        p.fetch(1, space, area),
        brk(brk_imm::URETPROBE),
        "slot 0 is the trampoline"
    );
    for word in 1..1024 {
        assert_eq!(
            p.fetch(1, space, area + 4 * word),
            0,
            "word {word} holds UDF #0, not stale data"
        );
    }
}

#[test]
fn two_threads_step_the_same_probe_in_two_slots_and_slots_are_reused() {
    let p = Double::new(2, CTR_A72);
    let space = Space::User(PROCESS);
    p.load_text(space, U, &UTEXT);
    p.on(0, thread(1));
    let store = UStore::new();
    let uprobes = Uprobes::new(
        &store.entries,
        &store.threads,
        &store.areas,
        &store.instances,
    );
    let counter = UCounter::default();
    let stp = uprobes.register(&p, uspec(U, &counter, false)).unwrap();
    let mov = uprobes.register(&p, uspec(U + 4, &counter, false)).unwrap();
    uprobes.arm(&p, &[stp, mov]).unwrap();

    // Threads 1 and 2 hit the stp on CPUs 0 and 1 at the same time.
    let mut t1 = user_regs(U);
    let mut t2 = user_regs(U);
    p.on(0, thread(1));
    assert_eq!(
        uprobes.handle(&p, Breakpoint::Uprobe, &mut t1),
        Outcome::Handled
    );
    p.on(1, thread(2));
    assert_eq!(
        uprobes.handle(&p, Breakpoint::Uprobe, &mut t2),
        Outcome::Handled
    );
    assert_ne!(t1.pc, t2.pc, "each thread has its own slot");
    assert!(uprobes.stepping(ThreadId(1)) && uprobes.stepping(ThreadId(2)));
    assert_eq!(p.fetch(0, space, t1.pc), STP);
    assert_eq!(p.fetch(1, space, t2.pc), STP);
    let first_slot = t1.pc;

    // Thread 2's BRK at thread 1's slot end is not thread 2's completion.
    let mut wrong = user_regs(first_slot + 4);
    assert_eq!(
        uprobes.handle(&p, Breakpoint::UprobeStep, &mut wrong),
        Outcome::NotMine
    );
    t2.pc += 4;
    assert_eq!(
        uprobes.handle(&p, Breakpoint::UprobeStep, &mut t2),
        Outcome::Handled
    );
    assert_eq!(t2.pc, U + 4);
    p.on(0, thread(1));
    t1.pc += 4;
    assert_eq!(
        uprobes.handle(&p, Breakpoint::UprobeStep, &mut t1),
        Outcome::Handled
    );
    assert_eq!(t1.pc, U + 4);

    // Thread 1 goes on to the next probe: the lowest free slot, i.e. the stp's old slot, is
    // rewritten; CPU 0 still holds the stp there in its I-cache, and must not fetch it.
    assert_eq!(
        uprobes.handle(&p, Breakpoint::Uprobe, &mut t1),
        Outcome::Handled
    );
    assert_eq!(t1.pc, first_slot);
    assert_eq!(p.fetch(0, space, first_slot), MOV_FP);
    t1.pc += 4;
    uprobes.handle(&p, Breakpoint::UprobeStep, &mut t1);
    assert_eq!(counter.hits.load(Ordering::Relaxed), 3);
    assert!(!uprobes.stepping(ThreadId(1)));
}

#[test]
fn user_breakpoints_simulation_and_faults() {
    let p = Double::new(2, CTR_A72);
    let space = Space::User(PROCESS);
    p.load_text(space, U, &UTEXT);
    p.load_text(space, U + 0x10, &[0x1122_3344, 0x5566_7788]); // ldr x0, .+8's literal at U + 16
    p.on(0, thread(7));
    let store = UStore::new();
    let uprobes = Uprobes::new(
        &store.entries,
        &store.threads,
        &store.areas,
        &store.instances,
    );
    let counter = UCounter::default();
    let ldr = uprobes.register(&p, uspec(U + 8, &counter, false)).unwrap();
    let stp = uprobes.register(&p, uspec(U, &counter, false)).unwrap();
    uprobes.arm(&p, &[ldr, stp]).unwrap();

    // The program's own BRK #UPROBE (at U + 16 originally) is not ours: SIGTRAP.
    p.load_text(space, U + 0x20, &[brk(brk_imm::UPROBE)]);
    let mut regs = user_regs(U + 0x20);
    assert_eq!(
        uprobes.handle(&p, Breakpoint::Uprobe, &mut regs),
        Outcome::NotMine
    );
    // Another process's hit at the same address: no probe there for it.
    p.on(
        0,
        Task {
            process: ProcessId(101),
            thread: ThreadId(9),
        },
    );
    p.load_text(Space::User(ProcessId(101)), U, &UTEXT);
    let mut regs = user_regs(U);
    assert_eq!(
        uprobes.handle(&p, Breakpoint::Uprobe, &mut regs),
        Outcome::Handled,
        "restart: not a BRK there"
    );
    assert_eq!(regs.pc, U);

    // ldr x0, .+8 is simulated through the user-memory accessor.
    p.on(0, thread(7));
    let mut regs = user_regs(U + 8);
    assert_eq!(
        uprobes.handle(&p, Breakpoint::Uprobe, &mut regs),
        Outcome::Handled
    );
    assert_eq!((regs.pc, regs.regs[0]), (U + 12, 0x5566_7788_1122_3344));

    // A fault in the slot puts the thread back at the probed instruction.
    let mut regs = user_regs(U);
    uprobes.handle(&p, Breakpoint::Uprobe, &mut regs);
    assert!(uprobes.fault(&p, &mut regs));
    assert_eq!(regs.pc, U);
    assert!(!uprobes.stepping(ThreadId(7)));
}

#[test]
fn uretprobe_returns_through_slot_zero() {
    let p = Double::new(2, CTR_A72);
    let space = Space::User(PROCESS);
    p.load_text(space, U, &UTEXT);
    p.on(0, thread(3));
    let store = UStore::new();
    let uprobes = Uprobes::new(
        &store.entries,
        &store.threads,
        &store.areas,
        &store.instances,
    );
    let counter = UCounter::default();
    let probe = uprobes.register(&p, uspec(U, &counter, true)).unwrap();
    uprobes.arm(&p, &[probe]).unwrap();
    let mut regs = user_regs(U);
    regs.regs[30] = U + 0x1000;
    uprobes.handle(&p, Breakpoint::Uprobe, &mut regs);
    let area = uprobes.xol_area(PROCESS).unwrap();
    assert_eq!(regs.lr(), area, "LR now points at slot 0");
    regs.pc += 4;
    uprobes.handle(&p, Breakpoint::UprobeStep, &mut regs);
    regs.pc = area;
    assert_eq!(
        uprobes.handle(&p, Breakpoint::Uretprobe, &mut regs),
        Outcome::Handled
    );
    assert_eq!(regs.pc, U + 0x1000);
    assert_eq!(
        (
            counter.hits.load(Ordering::Relaxed),
            counter.returns.load(Ordering::Relaxed)
        ),
        (1, 1)
    );
    // Another thread jumping to slot 0 has nothing recorded.
    p.on(1, thread(4));
    regs.pc = area;
    assert_eq!(
        uprobes.handle(&p, Breakpoint::Uretprobe, &mut regs),
        Outcome::Fatal(Fatal::NoReturnRecorded)
    );
}

/// The engine's entry point: it claims exactly its six breakpoints, and a breakpoint of the
/// wrong mode (a user program executing the kprobe BRK) never reaches kernel probe state.
#[test]
fn engine_claims_its_breakpoints_and_separates_modes() {
    use rtap_kmod::engine::Engine;
    let p = machine();
    let kstore = KStore::new(4);
    let ustore = UStore::new();
    let engine = Engine::new(
        kprobes(&kstore),
        Uprobes::new(
            &ustore.entries,
            &ustore.threads,
            &ustore.areas,
            &ustore.instances,
        ),
    );
    engine.init(&p).unwrap();
    let expected: std::collections::BTreeSet<u32> = (0xa0..=0xa5).map(brk).collect();
    assert_eq!(p.claimed(), expected);
    let counter = Counter::default();
    let probe = engine.kprobes.register(&p, spec(K, &counter)).unwrap();
    engine.kprobes.arm(&p, &[probe]).unwrap();
    let mut regs = user_regs(K);
    assert_eq!(
        engine.handle(&p, Breakpoint::Kprobe, true, &mut regs),
        Outcome::NotMine
    );
    assert_eq!(counter.pre.load(Ordering::Relaxed), 0);
    let mut regs = regs_at(K);
    assert_eq!(
        engine.handle(&p, Breakpoint::Kprobe, false, &mut regs),
        Outcome::Handled
    );
    engine.kprobes.unregister(&p, &[probe]).unwrap();
    engine.shutdown(&p);
    assert!(p.claimed().is_empty());
}

/// Recursion through a uretprobe is recorded 64 levels deep (Linux `MAX_URETPROBE_DEPTH`);
/// deeper calls run their entry handler but return normally and count as missed.
#[test]
fn uretprobe_recursion_depth_is_limited() {
    let p = Double::new(1, CTR_A72);
    p.load_text(Space::User(PROCESS), U, &UTEXT);
    p.on(0, thread(5));
    let store = UStore::new();
    let uprobes = Uprobes::new(
        &store.entries,
        &store.threads,
        &store.areas,
        &store.instances,
    );
    let counter = UCounter::default();
    let probe = uprobes.register(&p, uspec(U, &counter, true)).unwrap();
    uprobes.arm(&p, &[probe]).unwrap();
    let area = uprobes.xol_area(PROCESS).unwrap();
    for depth in 0..65u64 {
        let mut regs = user_regs(U);
        regs.sp -= 64 * depth;
        regs.regs[30] = U + 0x100 + depth;
        uprobes.handle(&p, Breakpoint::Uprobe, &mut regs);
        let hijacked = regs.lr() == area;
        assert_eq!(hijacked, depth < 64, "depth {depth}");
        regs.pc += 4;
        uprobes.handle(&p, Breakpoint::UprobeStep, &mut regs);
    }
    assert_eq!(uprobes.nmissed(probe), Some(1));
    assert_eq!(counter.hits.load(Ordering::Relaxed), 65);
}

#[test]
fn per_cpu_state_must_cover_every_cpu() {
    let p = machine(); // 4 CPUs
    let store = KStore::new(2);
    let kprobes = kprobes(&store);
    assert_eq!(
        kprobes.init(&p),
        Err(ProbeError::TooFewCpus { have: 2, need: 4 })
    );
}
