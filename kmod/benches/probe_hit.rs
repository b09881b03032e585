//! Cost of a probe hit, in simulated instructions and exceptions, next to Linux's sequence
//! for the same probe, and the simulator's speed. Run with
//! `cargo bench -p rtap-kmod --bench probe_hit`.
//!
//! Each probe kind runs a loop of `ITERATIONS` calls twice on one simulated core: without
//! the probe (the baseline) and with it. The differences in steps (instructions executed or
//! exceptions taken) and exceptions, divided by the hits, are the engine's cost on the
//! probed core. The engine's handlers run on the host (the simulator's host hooks play EL1),
//! so their own instructions are not simulated: their cost is reported as host time.
//!
//! Linux's column is derived from arm-probes.md, counting the instructions the probed CPU
//! fetches (a trapping BRK included) beyond the unprobed instruction, and the traps:
//! §1.8 kprobe on a stepped instruction: `BRK #4`, the slot's copy, `BRK #6` = 3 instructions
//! for 1, so +2, and 2 traps; §1.6 a simulated instruction: the `BRK #4` replaces it, +0, 1
//! trap; §1.12 kretprobe since 2024: the entry kprobe (+2, 2 traps) and the trampoline's
//! `BRK #7` (+1, 1 trap); §2.4 uprobe: `BRK #5` and the slot's copy, +1, then a hardware-step
//! exception that is not an instruction: 2 traps; a uretprobe adds slot 0's `BRK #5` on
//! return (+1, 1 trap). Linux's handlers run on the CPU (exception entry/exit saving and
//! restoring `pt_regs`, the break-hook walk, the hash lookup); their instruction counts depend
//! on the kernel build and are not derivable from the reference.

#[path = "../tests/support/asm.rs"]
mod asm;
#[path = "../tests/support/sim.rs"]
mod sim;

use std::time::{Duration, Instant};

use rtap_armsim::MachineConfig;
use rtap_kmod::arch::aarch64::Aarch64;
use rtap_kmod::hit::{Hit, ReturnHit};
use rtap_kmod::kprobe::{Handler, KprobeHandler, KprobeSpec};
use rtap_kmod::kretprobe::KretprobeHandler;
use rtap_kmod::platform::{ProcessId, Task, ThreadId};
use rtap_kmod::uprobe::{UprobeHandler, UprobeSpec};
use sim::{SimPlatform, World};

const ITERATIONS: u64 = 20_000;

/// The kernel loop: `ITERATIONS` (in x22) calls of `kfunc`, then `BRK #0xf00`.
const KERNEL: &str = "
kmain:
    mov x19, #0
1:  bl kfunc
    add x19, x19, #1
    cmp x19, x22
    b.ne 1b
    brk #0xf00
kfunc:
    stp x29, x30, [sp, #-16]!
    mov x29, sp
    add x0, x0, #1
    ldp x29, x30, [sp], #16
    ret
";
const CALL_SITE: u64 = sim::KTEXT + 4; // bl kfunc: simulated
const KFUNC: u64 = sim::KTEXT + 6 * 4; // stp: stepped

/// The same loop as a user program.
const USER: &str = "
    .global _start
_start:
    mov x19, #0
    movz x22, #(20000 & 0xffff)
1:  bl func
    add x19, x19, #1
    cmp x19, x22
    b.ne 1b
    mov x0, #0
    mov x8, #94
    svc #0
    .global func
func:
    stp x29, x30, [sp, #-16]!
    mov x29, sp
    add x0, x0, #1
    ldp x29, x30, [sp], #16
    ret
";

struct Nothing;

impl KprobeHandler<SimPlatform, Aarch64> for Nothing {}
impl KretprobeHandler<SimPlatform, Aarch64> for Nothing {
    fn ret(&self, _hit: &mut ReturnHit<'_, SimPlatform, Aarch64>) {}
}
impl UprobeHandler<SimPlatform, Aarch64> for Nothing {
    fn hit(&self, _hit: &mut Hit<'_, SimPlatform, Aarch64>) {}
}

#[derive(Clone, Copy)]
enum Probe {
    /// The kernel loop without probes.
    None,
    /// The user program without probes.
    UserNone,
    Kprobe(u64),
    Kretprobe,
    Uprobe,
    Uretprobe,
}

struct Measured {
    steps: u64,
    exceptions: u64,
    time: Duration,
}

fn measure(probe: Probe) -> Measured {
    let user = matches!(probe, Probe::UserNone | Probe::Uprobe | Probe::Uretprobe);
    let mut world = World::new(MachineConfig {
        cores: 1,
        seed: 1,
        ..MachineConfig::default()
    });
    if user {
        let image = world.spawn(0, &asm::link_static(USER), ProcessId(1), ThreadId(1));
        let func = image.symbol("func").expect("func");
        if !matches!(probe, Probe::UserNone) {
            world.with(0, |env| {
                let spec = UprobeSpec {
                    process: ProcessId(1),
                    addr: func,
                    function_start: Some(func),
                    handler: &Nothing,
                    ret: matches!(probe, Probe::Uretprobe),
                };
                let handle = env
                    .engine
                    .uprobes
                    .register(&env.platform, spec)
                    .expect("register");
                env.engine
                    .uprobes
                    .arm(&env.platform, &[handle])
                    .expect("arm");
            });
        }
    } else {
        world.load_kernel(&asm::assemble(KERNEL));
        world.start_kernel(
            0,
            sim::KTEXT,
            Task {
                process: ProcessId(0),
                thread: ThreadId(1),
            },
        );
        world.m.core_mut(0).regs.x[22] = ITERATIONS;
        let spec = match probe {
            Probe::Kprobe(addr) => Some(KprobeSpec {
                addr,
                function_start: None,
                handler: Handler::Kprobe(&Nothing),
            }),
            Probe::Kretprobe => Some(KprobeSpec {
                addr: KFUNC,
                function_start: None,
                handler: Handler::Kretprobe(&Nothing),
            }),
            _ => None,
        };
        if let Some(spec) = spec {
            world.with(0, |env| {
                let handle = env
                    .engine
                    .kprobes
                    .register(&env.platform, spec)
                    .expect("register");
                env.engine
                    .kprobes
                    .arm(&env.platform, &[handle])
                    .expect("arm");
            });
        }
    }
    let (steps, exceptions) = (world.m.steps(0), world.m.exceptions(0));
    let start = Instant::now();
    world.run(u64::MAX);
    let time = start.elapsed();
    assert!(
        world
            .env
            .events()
            .iter()
            .all(|e| matches!(e, sim::Event::Done { .. })),
        "{:?}",
        world.env.events()
    );
    Measured {
        steps: world.m.steps(0) - steps,
        exceptions: world.m.exceptions(0) - exceptions,
        time,
    }
}

fn main() {
    let kernel = measure(Probe::None);
    let user = measure(Probe::UserNone);
    let speed = kernel.steps as f64 / kernel.time.as_secs_f64();
    println!(
        "simulator: {} steps in {:.1} ms = {:.2} M simulated instructions/s",
        kernel.steps,
        kernel.time.as_secs_f64() * 1e3,
        speed / 1e6
    );
    println!();
    println!(
        "per hit, on the probed core ({ITERATIONS} hits each)     rtap: traps, extra insns, host time | Linux: traps, extra insns"
    );
    let rows: [(&str, Probe, &Measured, (u64, u64)); 5] = [
        (
            "kprobe on a stepped instruction (stp)",
            Probe::Kprobe(KFUNC),
            &kernel,
            (2, 2),
        ),
        (
            "kprobe on a simulated instruction (bl)",
            Probe::Kprobe(CALL_SITE),
            &kernel,
            (1, 0),
        ),
        (
            "kretprobe (entry stepped, return trap)",
            Probe::Kretprobe,
            &kernel,
            (3, 3),
        ),
        (
            "uprobe on a stepped instruction (stp)",
            Probe::Uprobe,
            &user,
            (2, 1),
        ),
        (
            "uretprobe (entry stepped, return trap)",
            Probe::Uretprobe,
            &user,
            (3, 2),
        ),
    ];
    for (name, probe, baseline, (linux_traps, linux_insns)) in rows {
        let m = measure(probe);
        let traps = (m.exceptions - baseline.exceptions) as f64 / ITERATIONS as f64;
        // Every engine trap is a BRK, one step like any instruction.
        let extra = (m.steps - baseline.steps) as f64 / ITERATIONS as f64;
        let host = m.time.saturating_sub(baseline.time).as_secs_f64() / ITERATIONS as f64;
        println!(
            "  {name:<40} {traps:>5.2} {extra:>6.2} {:>8.0} ns   | {linux_traps:>5} {linux_insns:>6}",
            host * 1e9
        );
    }
    println!();
    println!(
        "extra insns: instructions the probed core executes beyond the unprobed run, the trapping"
    );
    println!(
        "BRKs included (rtap's uprobe completion is a BRK in the slot, Linux's a hardware step,"
    );
    println!(
        "which is not an instruction). Host time includes the simulator's own cost of the steps."
    );
}
