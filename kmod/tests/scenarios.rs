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
    MachineConfig { cores, seed, ..MachineConfig::default() }
}

/// Registers and arms uprobes on `process` at `addrs` (one stop for all), from core 0.
fn uprobes(world: &mut World, process: ProcessId, addrs: &[u64], handler: &'static Count) -> Vec<Handle> {
    world.with(0, |env| {
        let p = &env.platform;
        let handles: Vec<Handle> = addrs
            .iter()
            .map(|&addr| {
                let spec = UprobeSpec { process, addr, function_start: None, handler, ret: false };
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
    (exit, world.env.events(), count.get(), image.symbol("own_brk").unwrap())
}

#[test]
fn scenario4_programs_own_brk_reaches_it_as_sigtrap() {
    let (exit, events, hits, own_brk) = own_brk_run(Flaws::default());
    assert_eq!(hits, 5, "the probe on the loop's add");
    assert!(matches!(exit, RunExit::Idle), "{exit:?}");
    assert_eq!(events.len(), 1, "{events:?}");
    assert!(matches!(events[0], Event::Signal { signal: 5, pc, .. } if pc == own_brk), "{events:?}");
}

#[test]
fn scenario4_flawed_handler_claiming_every_brk_swallows_it() {
    let (exit, events, hits, _) = own_brk_run(Flaws { claim_every_brk: true, ..Flaws::default() });
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
    uprobes(&mut world, PROCESS, &[func, func + 4, func + 8, func + 12], count);
    world.env.platform.flaws.set(flaws);
    world.run(100_000);
    (world.user(0, |u| u.exit_code), count.get(), world.env.events())
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
    let (exit, hits, events) = shared_slot_run(Flaws { no_icache_invalidate: true, ..Flaws::default() });
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
    assert_eq!(world.run_until(1_000, |m| m.core(0).regs.pc == after_hot), RunExit::Predicate);
    // The hot page goes away (munmap); its frame is the next one the kernel hands out.
    let hot = image.symbol("hot").unwrap();
    let space = world.m.user_space(0).unwrap();
    let frame = world.m.lookup(space, hot).unwrap().pa;
    world.m.unmap(space, hot, 4096).unwrap();
    world.env.platform.recycled.borrow_mut().push(frame);

    let returns: &'static Returns = Box::leak(Box::default());
    world.with(0, |env| {
        let p = &env.platform;
        let spec = UprobeSpec { process: PROCESS, addr: image.symbol("func").unwrap(), function_start: None, handler: returns, ret: true };
        // Registration creates the XOL area (with the flaw: without maintenance); arming is
        // done right in both runs.
        p.flaws.set(flaws);
        let probe = env.engine.uprobes.register(p, spec).unwrap();
        p.flaws.set(Flaws::default());
        env.engine.uprobes.arm(p, &[probe]).unwrap();
        assert_eq!(env.engine.uprobes.xol_area(PROCESS).map(|a| world_pa(env, a)), Some(frame), "the area reuses the hot frame");
    });
    let exit = world.run(20_000);
    let code = world.user(0, |u| u.exit_code);
    (exit, code, returns.hits.load(Ordering::Relaxed), returns.returns.load(Ordering::Relaxed), world.env.events())
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
    let (exit, code, hits, returns, _events) =
        stale_area_run(Flaws { no_maintenance: true, ..Flaws::default() });
    assert_eq!(hits, 1);
    // The return lands in slot 0, whose stale line is the hot page's `mov x0, #7; ret`, and
    // `ret` goes back to slot 0 (LR still points there): the thread spins forever.
    assert_eq!(returns, 0);
    assert_eq!((exit, code), (RunExit::StepLimit, None));
}
