//! Simulated instructions per second, one core and four cores. `cargo bench -p rtap-armsim`.
//!
//! The workload is a loop of integer, load/store and branch instructions on each core's own
//! stack — the mix of the probe engine's tests — with the scheduler's default quanta.

use std::process::Command;
use std::time::Instant;

use rtap_armsim::aarch64::{Exception, ExceptionKind, Regs, encoding};
use rtap_armsim::{A64Machine, MachineConfig, Perms, Resume, RunExit};

const TEXT: u64 = 0xffff_0000_0010_0000;
const STACKS: u64 = 0xffff_0000_0040_0000;
const ITERATIONS: u64 = 1_000_000;

/// `1: add x0, x0, #1; eor x1, x1, x0; str x1, [sp, #8]; ldr x2, [sp, #8];
///  cmp x0, x3; b.ne 1b; brk #0xf00` (encodings from the Arm ARM, checked by
/// `aarch64-linux-gnu-objdump`).
const LOOP: [u32; 7] = [
    0x9100_0400,
    0xca00_0021,
    0xf900_07e1,
    0xf940_07e2,
    0xeb03_001f,
    0x54ff_ff61,
    encoding::brk(0xf00),
];

fn measure(cores: usize) -> (u64, f64) {
    let mut m = A64Machine::new(MachineConfig {
        cores,
        ..MachineConfig::default()
    })
    .unwrap();
    let kernel = m.kernel_space();
    let pa = m.map_new(kernel, TEXT, 4096, Perms::RX).unwrap();
    let bytes: Vec<u8> = LOOP.iter().flat_map(|w| w.to_le_bytes()).collect();
    m.write_phys_clean(pa, &bytes).unwrap();
    m.map_new(kernel, STACKS, 4096 * cores as u64, Perms::RW)
        .unwrap();
    for core in 0..cores {
        let regs = &mut m.core_mut(core).regs;
        regs.set_el1(0);
        regs.pc = TEXT;
        regs.sp_el1 = STACKS + 4096 * (core as u64 + 1) - 16;
        regs.x[3] = ITERATIONS;
        m.start(core);
    }
    let mut host = |_: &mut A64Machine, _: usize, exc: &Exception, _: &mut Regs| {
        assert_eq!(exc.kind, ExceptionKind::Brk { imm: 0xf00 });
        Resume::Halt
    };
    let start = Instant::now();
    let exit = m.run(&mut host, u64::MAX);
    let elapsed = start.elapsed().as_secs_f64();
    assert_eq!(exit, RunExit::Idle);
    for core in 0..cores {
        assert_eq!(
            m.core(core).regs.x[0],
            ITERATIONS,
            "core {core} did not finish the loop"
        );
    }
    let steps: u64 = (0..cores).map(|c| m.steps(c)).sum();
    (steps, elapsed)
}

/// The same loop as a static Linux program under `qemu-aarch64` (a JIT), for scale: returns
/// its instructions per second, or `None` without the cross toolchain.
fn measure_qemu() -> Option<f64> {
    const QEMU_ITERATIONS: u64 = 100_000_000;
    let dir = std::env::temp_dir().join(format!("rtap-armsim-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).ok()?;
    let source = dir.join("loop.S");
    let binary = dir.join("loop");
    std::fs::write(
        &source,
        format!(
            ".globl _start\n_start:\nldr x3, ={QEMU_ITERATIONS}\nmov x0, #0\nmov x1, #0\nsub sp, sp, #16\n\
             1: add x0, x0, #1\neor x1, x1, x0\nstr x1, [sp, #8]\nldr x2, [sp, #8]\ncmp x0, x3\nb.ne 1b\n\
             mov x0, #0\nmov x8, #94\nsvc #0\n"
        ),
    )
    .ok()?;
    let built = Command::new("aarch64-linux-gnu-gcc")
        .args(["-static", "-nostdlib", "-o"])
        .arg(&binary)
        .arg(&source)
        .status()
        .ok()?
        .success();
    if !built {
        return None;
    }
    let start = Instant::now();
    let ran = Command::new("qemu-aarch64")
        .arg(&binary)
        .status()
        .ok()?
        .success();
    let secs = start.elapsed().as_secs_f64();
    std::fs::remove_dir_all(&dir).ok();
    ran.then(|| (6 * QEMU_ITERATIONS) as f64 / secs)
}

fn main() {
    let qemu = measure_qemu();
    for cores in [1, 4] {
        let (steps, secs) = measure(cores);
        let ips = steps as f64 / secs;
        print!(
            "armsim: {cores} core(s): {steps} instructions in {secs:.3} s = {:.1} M simulated instructions/s",
            ips / 1e6
        );
        match qemu {
            Some(q) => println!(
                " ({:.1}x slower than qemu-aarch64's {:.0} M/s on one core)",
                q / ips,
                q / 1e6
            ),
            None => println!(" (qemu-aarch64 comparison skipped: cross toolchain missing)"),
        }
    }
}
