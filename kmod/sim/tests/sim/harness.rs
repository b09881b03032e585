//! Shared set-up: assembling snippets with the cross assembler, and a kernel-mode rig with
//! an executable text mapping plus a writable alias of the same frames.

use std::path::PathBuf;
use std::process::Command;

use rtap_armsim::aarch64::{Exception, ExceptionKind, Regs, pstate};
use rtap_armsim::{A64Machine, MachineConfig, Perms, Resume};

pub const TEXT: u64 = 0xffff_0000_0010_0000;
pub const ALIAS: u64 = 0xffff_0000_0020_0000;
pub const DATA: u64 = 0xffff_0000_0030_0000;
pub const STACKS: u64 = 0xffff_0000_0040_0000;
pub const TEXT_SIZE: u64 = 0x4000;
pub const STACK_SIZE: u64 = 0x4000;
/// `BRK #0xf00` ends a snippet.
pub const DONE: u16 = 0xf00;

/// Assembles A64 source with `aarch64-linux-gnu-as`; `None` (after a loud message) when
/// the cross toolchain is missing — `tools/setup` installs it, so CI always has it.
pub fn assemble(source: &str) -> Option<Vec<u32>> {
    let dir = scratch_dir();
    let (src, obj, bin) = (dir.join("t.s"), dir.join("t.o"), dir.join("t.bin"));
    std::fs::write(&src, format!(".text\n{source}\n")).unwrap();
    let as_status = Command::new("aarch64-linux-gnu-as")
        .arg("-o")
        .arg(&obj)
        .arg(&src)
        .status();
    match as_status {
        Err(_) => {
            eprintln!("!!! SKIPPED: aarch64-linux-gnu-as not found; run tools/setup !!!");
            return None;
        }
        Ok(status) => assert!(status.success(), "assembling failed:\n{source}"),
    }
    let ok = Command::new("aarch64-linux-gnu-objcopy")
        .args(["-O", "binary", "-j", ".text"])
        .arg(&obj)
        .arg(&bin)
        .status()
        .expect("objcopy")
        .success();
    assert!(ok);
    let bytes = std::fs::read(&bin).unwrap();
    std::fs::remove_dir_all(&dir).ok();
    Some(
        bytes
            .chunks_exact(4)
            .map(|w| u32::from_le_bytes(w.try_into().unwrap()))
            .collect(),
    )
}

fn scratch_dir() -> PathBuf {
    use std::sync::atomic::{AtomicU32, Ordering};
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let dir = std::env::temp_dir().join(format!(
        "rtap-armsim-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A machine with kernel text at [`TEXT`] (RX), the same frames writable at [`ALIAS`],
/// data at [`DATA`] and one stack per core.
pub struct Rig {
    pub m: A64Machine,
    pub text_pa: u64,
}

impl Rig {
    pub fn new(config: MachineConfig) -> Rig {
        let mut m = A64Machine::new(config).unwrap();
        let kernel = m.kernel_space();
        let text_pa = m.map_new(kernel, TEXT, TEXT_SIZE, Perms::RX).unwrap();
        m.map(kernel, ALIAS, text_pa, TEXT_SIZE, Perms::RW).unwrap();
        m.map_new(kernel, DATA, 0x4000, Perms::RW).unwrap();
        let cores = m.cores() as u64;
        m.map_new(kernel, STACKS, STACK_SIZE * cores, Perms::RW)
            .unwrap();
        Rig { m, text_pa }
    }

    pub fn default_machine() -> Rig {
        Rig::new(MachineConfig::default())
    }

    /// Writes code at `TEXT + offset` through the back door (as if loaded and cleaned).
    pub fn load(&mut self, offset: u64, words: &[u32]) {
        let bytes: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
        self.m
            .write_phys_clean(self.text_pa + offset, &bytes)
            .unwrap();
    }

    /// Sets `core` up at EL1h, all of DAIF clear, PC = `TEXT + offset`, its own stack.
    pub fn start_el1(&mut self, core: usize, offset: u64) {
        let regs = &mut self.m.core_mut(core).regs;
        *regs = Regs::default();
        regs.set_el1(0);
        regs.sp_el1 = STACKS + STACK_SIZE * (core as u64 + 1);
        regs.pc = TEXT + offset;
        self.m.start(core);
    }

    /// Runs `core` alone until `BRK #DONE` and returns its registers; panics on any other
    /// exception.
    pub fn run_to_done(&mut self, core: usize) -> Regs {
        let mut host =
            |_: &mut A64Machine, _: usize, exc: &Exception, frame: &mut Regs| match exc.kind {
                ExceptionKind::Brk { imm: DONE } => {
                    frame.pc += 4;
                    Resume::Halt
                }
                _ => panic!("unexpected exception {exc:?} at {:#x}", frame.pc),
            };
        for other in 0..self.m.cores() {
            if other != core {
                self.m.halt(other);
            }
        }
        let exit = self.m.run(&mut host, 1_000_000);
        assert_eq!(exit, rtap_armsim::RunExit::Idle, "snippet did not finish");
        self.m.core(core).regs.clone()
    }
}

/// A default rig with `source` assembled at `TEXT + offset` and `core` started there at EL1;
/// `None` if the cross assembler is missing.
pub fn el1_rig(source: &str, core: usize, offset: u64) -> Option<Rig> {
    let words = assemble(source)?;
    let mut rig = Rig::default_machine();
    rig.load(offset, &words);
    rig.start_el1(core, offset);
    Some(rig)
}

/// Assembles `source`, runs it at EL1 on core 0 and returns the registers; `None` if the
/// cross assembler is missing.
pub fn run_snippet(source: &str) -> Option<Regs> {
    let mut rig = el1_rig(&format!("{source}\nbrk #{DONE}"), 0, 0)?;
    Some(rig.run_to_done(0))
}

/// NZCV of a frame as a string like "nZCv" (upper case = set).
pub fn flags(regs: &Regs) -> String {
    [
        (pstate::N, 'n'),
        (pstate::Z, 'z'),
        (pstate::C, 'c'),
        (pstate::V, 'v'),
    ]
    .iter()
    .map(|&(bit, c)| {
        if regs.pstate & bit != 0 {
            c.to_ascii_uppercase()
        } else {
            c
        }
    })
    .collect()
}

/// Runs the machine until the first exception, which halts its core; returns it.
pub fn first_exception(m: &mut A64Machine, max_steps: u64) -> Option<Exception> {
    let mut first = None;
    let mut host = |_: &mut A64Machine, _: usize, exc: &Exception, _: &mut Regs| {
        first.get_or_insert(*exc);
        Resume::Halt
    };
    m.run(&mut host, max_steps);
    first
}

/// Checks `(register, value)` pairs of `regs` after running `source`.
pub fn check_regs(regs: &Regs, source: &str, expected: &[(usize, u64)]) {
    for &(r, value) in expected {
        assert_eq!(
            regs.x[r], value,
            "x{r} after:\n{source}\n(got {:#x}, want {value:#x})",
            regs.x[r]
        );
    }
}
