//! The background scenarios of issue 7 on the simulated machine (`rtap-armsim`), each run
//! twice: with a deliberately flawed strategy — the bug the ARM kernel developers hit — where
//! it must fail observably, and with the engine, where it must pass.

#[path = "support/asm.rs"]
mod asm;
#[path = "support/sim.rs"]
mod sim;

use std::sync::atomic::{AtomicU32, Ordering};

use rtap_armsim::{MachineConfig, RunExit};
use rtap_kmod::arch::aarch64::Aarch64;
use rtap_kmod::hit::Hit;
use rtap_kmod::platform::{ProcessId, ThreadId};
use rtap_kmod::table::Handle;
use rtap_kmod::uprobe::{UprobeHandler, UprobeSpec};
use sim::{Event, Flaws, SimPlatform, World};

const PROCESS: ProcessId = ProcessId(100);

/// Counts hits.
#[derive(Default)]
struct Count(AtomicU32);

impl Count {
    fn leak() -> &'static Count {
        Box::leak(Box::default())
    }
    fn get(&self) -> u32 {
        self.0.load(Ordering::Relaxed)
    }
}

impl UprobeHandler<SimPlatform, Aarch64> for Count {
    fn hit(&self, _hit: &mut Hit<'_, SimPlatform, Aarch64>) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
}

fn machine(cores: usize, seed: u64) -> MachineConfig {
    MachineConfig {
        cores,
        seed,
        ..MachineConfig::default()
    }
}

/// Registers and arms uprobes on `process` at `addrs` (one stop for all), from core 0.
fn uprobes(
    world: &mut World,
    process: ProcessId,
    addrs: &[u64],
    handler: &'static Count,
) -> Vec<Handle> {
    world.with(0, |env| {
        let p = &env.platform;
        let handles: Vec<Handle> = addrs
            .iter()
            .map(|&addr| {
                let spec = UprobeSpec {
                    process,
                    addr,
                    function_start: None,
                    handler,
                    ret: false,
                };
                env.engine.uprobes.register(p, spec).expect("register")
            })
            .collect();
        env.engine.uprobes.arm(p, &handles).expect("arm");
        handles
    })
}

// ---------------------------------------------------------------------------------------
// Scenario 4: the program's own BRK with no probe at that address reaches the program as
// SIGTRAP.
// ---------------------------------------------------------------------------------------

const OWN_BRK: &str = "
    .global _start
_start:
    mov x19, #0
loop:
    add x19, x19, #1
    cmp x19, #5
    b.ne loop
own_brk:
    brk #0xa3
    mov x0, #0
    mov x8, #94
    svc #0
";

/// Runs the program with a uprobe on the loop's `add`; returns the events and hit count.
fn own_brk_run(flaws: Flaws) -> (RunExit, Vec<Event>, u32, u64) {
    let elf = asm::link_static(OWN_BRK);
    let mut world = World::new(machine(1, 4));
    world.env.platform.flaws.set(flaws);
    let image = world.spawn(0, &elf, PROCESS, ThreadId(1));
    let count = Count::leak();
    uprobes(&mut world, PROCESS, &[image.symbol("loop").unwrap()], count);
    let exit = world.run(20_000);
    (
        exit,
        world.env.events(),
        count.get(),
        image.symbol("own_brk").unwrap(),
    )
}

#[test]
fn scenario4_programs_own_brk_reaches_it_as_sigtrap() {
    let (exit, events, hits, own_brk) = own_brk_run(Flaws::default());
    assert_eq!(hits, 5, "the probe on the loop's add");
    assert!(matches!(exit, RunExit::Idle), "{exit:?}");
    assert_eq!(events.len(), 1, "{events:?}");
    assert!(
        matches!(events[0], Event::Signal { signal: 5, pc, .. } if pc == own_brk),
        "{events:?}"
    );
}

#[test]
fn scenario4_flawed_handler_claiming_every_brk_swallows_it() {
    let (exit, events, hits, _) = own_brk_run(Flaws {
        claim_every_brk: true,
        ..Flaws::default()
    });
    assert_eq!(hits, 5);
    assert_eq!(exit, RunExit::StepLimit, "the BRK is re-executed forever");
    assert!(events.is_empty(), "no SIGTRAP: {events:?}");
}

// ---------------------------------------------------------------------------------------
// Scenario 1: many uprobes in one function sharing an XOL slot. Each hit takes the lowest
// free slot, so the probes of `func` step one after the other through the same slot. If the
// slot write only cleans the D-cache, the core's I-cache still holds the first probe's
// `stp x29, x30, [sp, #-32]!` and executes it again for every later probe: the stack grows.
// ---------------------------------------------------------------------------------------

const SHARED_SLOT: &str = "
    .global _start
_start:
    mov x20, sp
    mov x19, #0
1:  bl func
    add x19, x19, #1
    cmp x19, #10
    b.ne 1b
    mov x1, sp
    sub x0, x20, x1        // the exit code: 0 if the stack is balanced
    mov x8, #94
    svc #0
    .global func
func:
    stp x29, x30, [sp, #-32]!
    mov x29, sp
    str x19, [sp, #16]
    ldr x0, [sp, #16]
    ldp x29, x30, [sp], #32
    ret
";

/// Returns the exit code (stack imbalance in bytes) and the probe hits.
fn shared_slot_run(flaws: Flaws) -> (Option<i32>, u32, Vec<Event>) {
    let elf = asm::link_static(SHARED_SLOT);
    let mut world = World::new(machine(1, 11));
    let image = world.spawn(0, &elf, PROCESS, ThreadId(1));
    let func = image.symbol("func").unwrap();
    let count = Count::leak();
    uprobes(
        &mut world,
        PROCESS,
        &[func, func + 4, func + 8, func + 12],
        count,
    );
    world.env.platform.flaws.set(flaws);
    world.run(100_000);
    (
        world.user(0, |u| u.exit_code),
        count.get(),
        world.env.events(),
    )
}

#[test]
fn scenario1_uprobes_sharing_an_xol_slot_keep_the_stack_balanced() {
    let (exit, hits, events) = shared_slot_run(Flaws::default());
    assert_eq!(hits, 40);
    assert!(events.is_empty(), "{events:?}");
    assert_eq!(exit, Some(0), "stack balanced");
}

#[test]
fn scenario1_flawed_d_cache_clean_only_reexecutes_the_stale_stp() {
    let (exit, hits, events) = shared_slot_run(Flaws {
        no_icache_invalidate: true,
        ..Flaws::default()
    });
    assert_eq!(hits, 40);
    assert!(events.is_empty(), "{events:?}");
    // Each call's three later probes run the stale `stp` instead of their own instruction:
    // 10 calls x 3 x 32 bytes of stack never popped.
    assert_eq!(exit, Some(960));
}

// ---------------------------------------------------------------------------------------
// Scenario 2: the XOL area is created, and its slot 0 (the uretprobe trampoline) written,
// before first use. Its frame is recycled memory a core has executed from, so that core's
// I-cache still holds the old code; without maintenance at creation, a return through the
// trampoline runs the old code instead of the trampoline's BRK. (The probed first
// instruction is a NOP, which is simulated: a stepped one would take slot 1, and that slot's
// own maintenance would cover slot 0's cache line by accident.)
// ---------------------------------------------------------------------------------------

const STALE_AREA: &str = "
    .global _start
_start:
    bl hot                 // fills the I-cache with the hot page's code
    .global after_hot
after_hot:
    mov x19, #0
    mov x20, #0
1:  bl func
    add x20, x20, x0
    add x19, x19, #1
    cmp x19, #3
    b.ne 1b
    mov x0, x20            // the exit code: 3 x 42
    mov x8, #94
    svc #0
    .global func
func:
    nop                    // simulated: no step slot is written, so nothing else maintains
    mov x0, #42            // the area's first cache line
    ret
    .balign 4096
    .global hot
hot:
    mov x0, #7
    ret
";

/// Counts hits and returns.
#[derive(Default)]
struct Returns {
    hits: AtomicU32,
    returns: AtomicU32,
}

impl UprobeHandler<SimPlatform, Aarch64> for Returns {
    fn hit(&self, _hit: &mut Hit<'_, SimPlatform, Aarch64>) {
        self.hits.fetch_add(1, Ordering::Relaxed);
    }
    fn ret(&self, hit: &mut rtap_kmod::hit::ReturnHit<'_, SimPlatform, Aarch64>) {
        assert_eq!(hit.regs.regs[0], 42, "the return value");
        self.returns.fetch_add(1, Ordering::Relaxed);
    }
}

fn stale_area_run(flaws: Flaws) -> (RunExit, Option<i32>, u32, u32, Vec<Event>) {
    let elf = asm::link_static(STALE_AREA);
    let mut world = World::new(machine(1, 5));
    let image = world.spawn(0, &elf, PROCESS, ThreadId(1));
    let after_hot = image.symbol("after_hot").unwrap();
    assert_eq!(
        world.run_until(1_000, |m| m.core(0).regs.pc == after_hot),
        RunExit::Predicate
    );
    // The hot page goes away (munmap); its frame is the next one the kernel hands out.
    let hot = image.symbol("hot").unwrap();
    let space = world.m.user_space(0).unwrap();
    let frame = world.m.lookup(space, hot).unwrap().pa;
    world.m.unmap(space, hot, 4096).unwrap();
    world.env.platform.recycled.borrow_mut().push(frame);

    let returns: &'static Returns = Box::leak(Box::default());
    world.with(0, |env| {
        let p = &env.platform;
        let spec = UprobeSpec {
            process: PROCESS,
            addr: image.symbol("func").unwrap(),
            function_start: None,
            handler: returns,
            ret: true,
        };
        // Registration creates the XOL area (with the flaw: without maintenance); arming is
        // done right in both runs.
        p.flaws.set(flaws);
        let probe = env.engine.uprobes.register(p, spec).unwrap();
        p.flaws.set(Flaws::default());
        env.engine.uprobes.arm(p, &[probe]).unwrap();
        assert_eq!(
            env.engine
                .uprobes
                .xol_area(PROCESS)
                .map(|a| world_pa(env, a)),
            Some(frame),
            "the area reuses the hot frame"
        );
    });
    let exit = world.run(20_000);
    let code = world.user(0, |u| u.exit_code);
    (
        exit,
        code,
        returns.hits.load(Ordering::Relaxed),
        returns.returns.load(Ordering::Relaxed),
        world.env.events(),
    )
}

/// The physical frame of a user address of `PROCESS`.
fn world_pa(env: &sim::Env, va: u64) -> u64 {
    use rtap_kmod::platform::{Platform, Space};
    let alias = env.platform.linear_alias(Space::User(PROCESS), va).unwrap();
    alias - sim::LINEAR
}

#[test]
fn scenario2_xol_area_synchronised_at_creation() {
    let (exit, code, hits, returns, events) = stale_area_run(Flaws::default());
    assert_eq!(exit, RunExit::Stopped, "exit_group");
    assert!(events.is_empty(), "{events:?}");
    assert_eq!((hits, returns, code), (3, 3, Some(126)));
}

#[test]
fn scenario2_flawed_area_without_flush_runs_stale_code_as_the_trampoline() {
    let (exit, code, hits, returns, _events) = stale_area_run(Flaws {
        no_maintenance: true,
        ..Flaws::default()
    });
    assert_eq!(hits, 1);
    // The return lands in slot 0, whose stale line is the hot page's `mov x0, #7; ret`, and
    // `ret` goes back to slot 0 (LR still points there): the thread spins forever.
    assert_eq!(returns, 0);
    assert_eq!((exit, code), (RunExit::StepLimit, None));
}

// ---------------------------------------------------------------------------------------
// Scenario 5: two threads of one process hit uprobes at the same time; slots are reused.
// Step state must be per thread: with one state for the whole process (the flaw), a thread
// hitting a probe while the other steps finds the state taken, or completes the other's
// step.
// ---------------------------------------------------------------------------------------

const TWO_THREADS: &str = "
    .global _start
_start:
    mov x21, #0
    b body
    .global thread2
thread2:
    mov x21, #1
body:
    mov x19, #0
    mov x20, #0
1:  mov x0, x19
    bl func                // 2 * i + 1
    add x20, x20, x0
    add x19, x19, #1
    cmp x19, #50
    b.ne 1b
    adrp x1, results
    add x1, x1, :lo12:results
    str x20, [x1, x21, lsl #3]
    mov x0, #0
    mov x8, #93            // exit: this thread only
    svc #0
    .global func
func:
    stp x29, x30, [sp, #-16]!
    mov x29, sp
    lsl x0, x0, #1
    add x0, x0, #1
    ldp x29, x30, [sp], #16
    ret
    .data
    .global results
results:
    .quad 0, 0
";

/// Counts hits, and hits that happened while the other thread was stepping.
struct Overlap {
    engine: &'static sim::SimEngine,
    hits: AtomicU32,
    overlapping: AtomicU32,
}

impl UprobeHandler<SimPlatform, Aarch64> for Overlap {
    fn hit(&self, hit: &mut Hit<'_, SimPlatform, Aarch64>) {
        use rtap_kmod::platform::Platform;
        self.hits.fetch_add(1, Ordering::Relaxed);
        let other = if hit.platform.task().thread == ThreadId(1) {
            ThreadId(2)
        } else {
            ThreadId(1)
        };
        if self.engine.uprobes.stepping(other) {
            self.overlapping.fetch_add(1, Ordering::Relaxed);
        }
    }
}

fn two_threads_run(flaws: Flaws) -> ([u64; 2], u32, u32, Vec<Event>) {
    let elf = asm::link_static(TWO_THREADS);
    let mut world = World::new(MachineConfig {
        cores: 2,
        seed: 77,
        max_quantum: 3,
        ..MachineConfig::default()
    });
    world.env.platform.flaws.set(flaws);
    let image = world.spawn(0, &elf, PROCESS, ThreadId(1));
    let stack2 = rtap_armsim::aarch64::linux::STACK_TOP - 64 * 1024;
    world.start_thread(1, 0, image.symbol("thread2").unwrap(), stack2, ThreadId(2));
    let func = image.symbol("func").unwrap();
    let handler: &'static Overlap = Box::leak(Box::new(Overlap {
        engine: &world.env.engine,
        hits: AtomicU32::new(0),
        overlapping: AtomicU32::new(0),
    }));
    world.with(0, |env| {
        let p = &env.platform;
        let probes: Vec<Handle> = (0..4)
            .map(|i| {
                let spec = UprobeSpec {
                    process: PROCESS,
                    addr: func + 4 * i,
                    function_start: Some(func),
                    handler,
                    ret: false,
                };
                env.engine.uprobes.register(p, spec).unwrap()
            })
            .collect();
        env.engine.uprobes.arm(p, &probes).unwrap();
    });
    world.run(200_000);
    let results = image.symbol("results").unwrap();
    let sums = [0, 1].map(|i| world.m.read_u64(0, results + 8 * i).unwrap());
    (
        sums,
        handler.hits.load(Ordering::Relaxed),
        handler.overlapping.load(Ordering::Relaxed),
        world.env.events(),
    )
}

#[test]
fn scenario5_two_threads_step_concurrently_in_their_own_slots() {
    let (sums, hits, overlapping, events) = two_threads_run(Flaws::default());
    assert!(events.is_empty(), "{events:?}");
    // Sum over i < 50 of 2i + 1.
    assert_eq!(sums, [2500, 2500]);
    assert_eq!(hits, 400);
    assert!(
        overlapping > 10,
        "the threads really stepped at the same time ({overlapping} overlaps)"
    );
}

#[test]
fn scenario5_flawed_step_state_shared_between_threads() {
    let (sums, _hits, _overlapping, events) = two_threads_run(Flaws {
        shared_thread_state: true,
        ..Flaws::default()
    });
    // The second thread's hit finds "its" state stepping (the first thread's step): the
    // engine reports it, where Linux's shared state would have corrupted a thread.
    assert!(
        matches!(events[..], [Event::Fatal { ref what, .. }] if what.contains("while the thread steps")),
        "{events:?}"
    );
    assert_ne!(sums, [2500, 2500]);
}

// ---------------------------------------------------------------------------------------
// Scenario 6: probes armed and disarmed while every core runs the probed kernel function.
// Replacing `stp` (or `add`) by `BRK` is not on the Arm ARM B2.2.5 list, so it needs the
// other cores stopped; without the stop the simulator's cross-modification checker flags the
// writes.
// ---------------------------------------------------------------------------------------

/// Each core calls `kfunc(i)` forever, checks it returns `i + 1` (else `BRK #0xbad`) and
/// stores its iteration count at `KDATA + 8 * core`.
const KERNEL_LOOP: &str = "
kmain:
    mov x21, #0
1:  mov x0, x21
    bl kfunc
    add x21, x21, #1
    cmp x0, x21
    b.ne 2f
    str x21, [x20, x19]
    b 1b
2:  brk #0xbad
kfunc:
    stp x29, x30, [sp, #-16]!
    mov x29, sp
    add x0, x0, #1
    ldp x29, x30, [sp], #16
    ret
";

/// `kfunc`'s offset in [`KERNEL_LOOP`].
const KFUNC: u64 = 9 * 4;

#[derive(Default)]
struct KCount(AtomicU32);

impl rtap_kmod::kprobe::KprobeHandler<SimPlatform, Aarch64> for KCount {
    fn pre(&self, _hit: &mut Hit<'_, SimPlatform, Aarch64>) -> bool {
        self.0.fetch_add(1, Ordering::Relaxed);
        false
    }
}

fn kernel_task(core: usize) -> rtap_kmod::platform::Task {
    rtap_kmod::platform::Task {
        process: ProcessId(0),
        thread: ThreadId(1000 + core as u32),
    }
}

/// Starts every core on [`KERNEL_LOOP`].
fn kernel_world(cores: usize, seed: u64) -> World {
    let mut world = World::new(MachineConfig {
        cores,
        seed,
        max_quantum: 16,
        ..MachineConfig::default()
    });
    world.load_kernel(&asm::assemble(KERNEL_LOOP));
    for core in 0..cores {
        world.start_kernel(core, sim::KTEXT, kernel_task(core));
        let regs = &mut world.m.core_mut(core).regs;
        regs.x[19] = 8 * core as u64;
        regs.x[20] = sim::KDATA;
    }
    world
}

fn arming_run(
    flaws: Flaws,
) -> (
    Vec<rtap_armsim::CrossModification>,
    u32,
    Vec<u64>,
    Vec<Event>,
) {
    let mut world = kernel_world(4, 21);
    let count: &'static KCount = Box::leak(Box::default());
    let kfunc = sim::KTEXT + KFUNC;
    let probes = world.with(0, |env| {
        (0..3)
            .map(|i| {
                let spec = rtap_kmod::kprobe::KprobeSpec {
                    addr: kfunc + 4 * i,
                    function_start: Some(kfunc),
                    handler: rtap_kmod::kprobe::Handler::Kprobe(count),
                };
                env.engine.kprobes.register(&env.platform, spec).unwrap()
            })
            .collect::<Vec<_>>()
    });
    world.env.platform.flaws.set(flaws);
    for round in 0..20 {
        world.run(3_000);
        world.quiesce();
        world
            .with(round % 4, |env| {
                let kprobes = &env.engine.kprobes;
                if round % 2 == 0 {
                    kprobes.arm(&env.platform, &probes)
                } else {
                    kprobes.disarm(&env.platform, &probes)
                }
            })
            .unwrap();
    }
    world.run(3_000);
    let progress = (0..4).map(|core| world.kdata(8 * core)).collect();
    (
        world.m.take_cross_modifications(),
        count.0.load(Ordering::Relaxed),
        progress,
        world.env.events(),
    )
}

#[test]
fn scenario6_arming_and_disarming_under_running_cores() {
    let (flagged, hits, progress, events) = arming_run(Flaws::default());
    assert!(
        flagged.is_empty(),
        "{}",
        flagged
            .iter()
            .map(|f| f.to_string())
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert!(events.is_empty(), "{events:?}");
    assert!(hits > 100, "{hits} probe hits");
    assert!(
        progress.iter().all(|&n| n > 50),
        "every core kept calling kfunc correctly: {progress:?}"
    );
}

#[test]
fn scenario6_flawed_patching_without_a_stop_is_flagged() {
    let (flagged, _hits, _progress, _events) = arming_run(Flaws {
        no_stop: true,
        ..Flaws::default()
    });
    assert!(
        !flagged.is_empty(),
        "the checker flags BRK written over a running stp/mov/add"
    );
    assert!(
        flagged.iter().all(|f| f.va >= sim::LINEAR),
        "written through the linear alias"
    );
}

// ---------------------------------------------------------------------------------------
// Scenario 3: a hardware breakpoint and a kprobe on the same address, and a kprobe hit from
// inside the first kprobe's pre-handler. No lock-up; each hit exactly once.
//
// The hardware-breakpoint handler is the kernel's step-over (Linux `hw_breakpoint.c`):
// disable the breakpoint, single-step the instruction, re-enable it on the step exception.
// The flawed strategy is Linux's kprobe stepping before 7ee31a3aa8f4 (v5.10): the slot holds
// only the instruction and completion is a hardware single-step, which needs PSTATE.D clear
// (forgotten for a re-entered probe before 7419333fa15e) and shares the step exception with
// the breakpoint step-over, which claims it first (`reinstall_suspended_bps()`).
// ---------------------------------------------------------------------------------------

const HW_BREAKPOINT: &str = "
kmain:
    mov x19, #0
1:  bl target
    add x19, x19, #1
    cmp x19, #3
    b.ne 1b
    brk #0xf00
target:
    stp x29, x30, [sp, #-16]!
    mov x29, sp
    ldp x29, x30, [sp], #16
    ret
helper:
    ldr x1, [x20]
    add x1, x1, #1
    str x1, [x20]
    ret
";
const TARGET: u64 = sim::KTEXT + 6 * 4;
const HELPER: u64 = sim::KTEXT + 10 * 4;

/// The hardware-breakpoint step-over's state and counts.
#[derive(Default)]
struct StepOver {
    suspended: std::cell::Cell<bool>,
    breakpoints: std::cell::Cell<u32>,
    steps: std::cell::Cell<u32>,
}

impl StepOver {
    /// Breakpoint exception: suspend the breakpoint and step the instruction.
    fn breakpoint(
        &self,
        m: &mut rtap_armsim::A64Machine,
        core: usize,
        frame: &mut rtap_armsim::aarch64::Regs,
    ) {
        use rtap_armsim::aarch64::{dbgbcr, mdscr, pstate};
        self.breakpoints.set(self.breakpoints.get() + 1);
        self.suspended.set(true);
        let sys = &mut m.core_mut(core).sys;
        sys.dbgbcr[0] &= !dbgbcr::E;
        sys.mdscr_el1 |= mdscr::SS;
        frame.pstate |= pstate::SS;
    }

    /// Step exception: if a breakpoint is suspended, reinstall it and claim the step.
    fn step(&self, m: &mut rtap_armsim::A64Machine, core: usize) -> bool {
        use rtap_armsim::aarch64::{dbgbcr, mdscr};
        if !self.suspended.replace(false) {
            return false;
        }
        self.steps.set(self.steps.get() + 1);
        let sys = &mut m.core_mut(core).sys;
        sys.dbgbcr[0] |= dbgbcr::E;
        sys.mdscr_el1 &= !mdscr::SS;
        true
    }
}

/// Sets a hardware breakpoint on `addr` and enables kernel debug on `core`.
fn hardware_breakpoint(m: &mut rtap_armsim::A64Machine, core: usize, addr: u64) {
    use rtap_armsim::aarch64::{dbgbcr, mdscr};
    let sys = &mut m.core_mut(core).sys;
    sys.dbgbvr[0] = addr;
    sys.dbgbcr[0] = dbgbcr::ANY_EL;
    sys.mdscr_el1 |= mdscr::MDE | mdscr::KDE;
}

/// Kprobe A's pre-handler: counts, then calls `helper`, whose first instruction is kprobe B.
struct CallsHelper(AtomicU32);

impl rtap_kmod::kprobe::KprobeHandler<SimPlatform, Aarch64> for CallsHelper {
    fn pre(&self, hit: &mut Hit<'_, SimPlatform, Aarch64>) -> bool {
        self.0.fetch_add(1, Ordering::Relaxed);
        hit.platform.call(HELPER, &[]);
        false
    }
}

#[test]
fn scenario3_hardware_breakpoint_kprobe_and_nested_kprobe_each_hit_once() {
    let mut world = World::new(machine(1, 3));
    world.load_kernel(&asm::assemble(HW_BREAKPOINT));
    world.start_kernel(0, sim::KTEXT, kernel_task(0));
    world.m.core_mut(0).regs.x[20] = sim::KDATA;
    hardware_breakpoint(&mut world.m, 0, TARGET);
    let step_over: &'static StepOver = Box::leak(Box::default());
    *world.env.debug.borrow_mut() = Some(Box::new(|p: &SimPlatform, core, exc, frame| {
        p.machine(|m| match exc.kind {
            rtap_armsim::aarch64::ExceptionKind::Breakpoint { .. } => {
                step_over.breakpoint(m, core, frame)
            }
            _ => assert!(
                step_over.step(m, core),
                "unexpected kernel single-step exception at {:#x}",
                frame.pc
            ),
        });
        rtap_armsim::Resume::Return
    }));
    let outer: &'static CallsHelper = Box::leak(Box::new(CallsHelper(AtomicU32::new(0))));
    let inner: &'static KCount = Box::leak(Box::default());
    let (a, b) = world.with(0, |env| {
        let kprobes = &env.engine.kprobes;
        let p = &env.platform;
        use rtap_kmod::kprobe::{Handler, KprobeSpec};
        let a = kprobes.register(
            p,
            KprobeSpec {
                addr: TARGET,
                function_start: Some(TARGET),
                handler: Handler::Kprobe(outer),
            },
        );
        let b = kprobes.register(
            p,
            KprobeSpec {
                addr: HELPER,
                function_start: Some(HELPER),
                handler: Handler::Kprobe(inner),
            },
        );
        let (a, b) = (a.unwrap(), b.unwrap());
        kprobes.arm(p, &[a, b]).unwrap();
        (a, b)
    });
    assert_eq!(
        world.run(10_000),
        RunExit::Idle,
        "the routine ran to its end"
    );
    assert_eq!(world.env.events(), vec![Event::Done { core: 0 }]);
    assert_eq!(
        step_over.breakpoints.get(),
        3,
        "one breakpoint hit per call"
    );
    assert_eq!(
        step_over.steps.get(),
        3,
        "one step-over per call, ending right after the probed stp"
    );
    assert_eq!(
        outer.0.load(Ordering::Relaxed),
        3,
        "kprobe A's pre-handler once per call"
    );
    assert_eq!(
        inner.0.load(Ordering::Relaxed),
        0,
        "kprobe B's handler never runs inside A's"
    );
    let nmissed = world.with(0, |env| {
        (env.engine.kprobes.nmissed(a), env.engine.kprobes.nmissed(b))
    });
    assert_eq!(nmissed, (Some(0), Some(3)));
    assert_eq!(
        world.kdata(0),
        3,
        "helper ran once per call, its probed ldr included"
    );
}

/// Linux's pre-v5.11 kprobes, reduced to what the scenario exercises: BRK #0xa0 at the probed
/// addresses, one-word slots `{insn}` followed by `UDF #0`, completion by hardware step.
struct HwStepKprobes {
    step_over: StepOver,
    /// (probed address, slot) of kprobes A and B.
    probes: [(u64, u64); 2],
    /// Per-CPU state: the probe being stepped and whether this is a re-entry.
    stepping: std::cell::Cell<Option<(u64, bool)>>,
    active: std::cell::Cell<bool>,
    pre_a: std::cell::Cell<u32>,
    oopses: std::cell::RefCell<Vec<String>>,
}

#[derive(Clone, Copy)]
struct HwStepHost(&'static HwStepKprobes);

impl rtap_armsim::Host<rtap_armsim::Aarch64> for HwStepHost {
    fn on_exception(
        &mut self,
        m: &mut rtap_armsim::A64Machine,
        core: usize,
        exc: &rtap_armsim::aarch64::Exception,
        frame: &mut rtap_armsim::aarch64::Regs,
    ) -> rtap_armsim::Resume {
        use rtap_armsim::Resume;
        use rtap_armsim::aarch64::{ExceptionKind, mdscr, pstate};
        let k = self.0;
        match exc.kind {
            ExceptionKind::Brk { imm: 0xf00 } => Resume::Halt,
            ExceptionKind::Brk { imm: 0xa0 } => {
                let Some(&(addr, slot)) = k.probes.iter().find(|(addr, _)| *addr == frame.pc)
                else {
                    k.oopses
                        .borrow_mut()
                        .push(format!("unexpected BRK at {:#x}", frame.pc));
                    return Resume::Stop;
                };
                let reenter = k.active.get();
                if !reenter {
                    k.active.set(true);
                    if addr == TARGET {
                        k.pre_a.set(k.pre_a.get() + 1);
                        let call = rtap_armsim::CallSetup {
                            entry: HELPER,
                            args: vec![],
                            return_to: 0xffff_0000_0fff_0000,
                            sp: None,
                        };
                        if m.call(&mut HwStepHost(k), core, &call, 10_000).is_err() {
                            k.oopses
                                .borrow_mut()
                                .push("the pre-handler's call never returned".into());
                            return Resume::Stop;
                        }
                    }
                }
                // setup_singlestep(): step the slot with hardware single-step and IRQs masked;
                // PSTATE.D is cleared only for the first level (the pre-7419333fa15e bug).
                k.stepping.set(Some((addr, reenter)));
                m.core_mut(core).sys.mdscr_el1 |= mdscr::SS | mdscr::KDE;
                frame.pstate |= pstate::SS | pstate::I;
                if !reenter {
                    frame.pstate &= !pstate::D;
                }
                frame.pc = slot;
                Resume::Return
            }
            ExceptionKind::Breakpoint { .. } => {
                k.step_over.breakpoint(m, core, frame);
                Resume::Return
            }
            ExceptionKind::SoftwareStep { .. } => {
                // single_step_handler(): the breakpoint step-over is asked first.
                if k.step_over.step(m, core) {
                    return Resume::Return;
                }
                match k.stepping.take() {
                    Some((addr, reenter))
                        if frame.pc == k.probes.iter().find(|p| p.0 == addr).unwrap().1 + 4 =>
                    {
                        frame.pc = addr + 4;
                        frame.pstate &= !(pstate::SS | pstate::I);
                        if !reenter {
                            k.active.set(false);
                            m.core_mut(core).sys.mdscr_el1 &= !mdscr::SS;
                        }
                        Resume::Return
                    }
                    _ => {
                        k.oopses.borrow_mut().push(format!(
                            "unexpected kernel single-step exception at {:#x}",
                            frame.pc
                        ));
                        Resume::Stop
                    }
                }
            }
            other => {
                k.oopses
                    .borrow_mut()
                    .push(format!("{other:?} at {:#x}", frame.pc));
                Resume::Stop
            }
        }
    }
}

#[test]
fn scenario3_flawed_hardware_step_kprobes_crash_or_lock_up() {
    let words = asm::assemble(HW_BREAKPOINT);
    let mut m = rtap_armsim::A64Machine::new(machine(1, 3)).unwrap();
    let kernel = m.kernel_space();
    let text_pa = m
        .map_new(kernel, sim::KTEXT, 4096, rtap_armsim::Perms::RX)
        .unwrap();
    m.map_new(kernel, sim::KDATA, 4096, rtap_armsim::Perms::RW)
        .unwrap();
    m.map_new(kernel, sim::KSTACKS, 4096, rtap_armsim::Perms::RW)
        .unwrap();
    let slots = 0xffff_0000_4000_0000;
    let slot_pa = m
        .map_new(kernel, slots, 4096, rtap_armsim::Perms::RX)
        .unwrap();
    // Slots: {stp} at +0, {ldr} at +8, each followed by UDF #0 (zeroed memory).
    let mut text = words.clone();
    let (a, b) = (
        ((TARGET - sim::KTEXT) / 4) as usize,
        ((HELPER - sim::KTEXT) / 4) as usize,
    );
    let slot_words = [words[a], 0, words[b], 0];
    text[a] = 0xd420_1400; // brk #0xa0
    text[b] = 0xd420_1400;
    m.write_phys_clean(
        text_pa,
        &text
            .iter()
            .flat_map(|w| w.to_le_bytes())
            .collect::<Vec<_>>(),
    )
    .unwrap();
    m.write_phys_clean(
        slot_pa,
        &slot_words
            .iter()
            .flat_map(|w| w.to_le_bytes())
            .collect::<Vec<_>>(),
    )
    .unwrap();
    {
        let regs = &mut m.core_mut(0).regs;
        regs.set_el1(0);
        regs.sp_el1 = sim::KSTACKS + 4096;
        regs.pc = sim::KTEXT;
        regs.x[20] = sim::KDATA;
    }
    m.start(0);
    hardware_breakpoint(&mut m, 0, TARGET);
    let k: &'static HwStepKprobes = Box::leak(Box::new(HwStepKprobes {
        step_over: StepOver::default(),
        probes: [(TARGET, slots), (HELPER, slots + 8)],
        stepping: std::cell::Cell::new(None),
        active: std::cell::Cell::new(false),
        pre_a: std::cell::Cell::new(0),
        oopses: std::cell::RefCell::new(Vec::new()),
    }));
    let exit = m.run(&mut HwStepHost(k), 10_000);
    // The re-entered probe B is stepped with PSTATE.D still set (the handler's context), so no
    // step exception comes after its slot instruction: the CPU runs on into the word after
    // the slot and the kernel dies (Linux: "Unexpected kernel single-step exception at EL1",
    // or whatever follows the slot).
    assert_eq!(exit, RunExit::Stopped);
    let oopses = k.oopses.borrow();
    assert_eq!(
        oopses.first().map(String::as_str),
        Some("Undefined { encoding: 0 } at 0xffff00004000000c")
    );
    assert_eq!(
        m.read_u64(0, sim::KDATA).unwrap(),
        0,
        "helper never completed"
    );
}
