//! AArch64 (A64 instruction set), EL0 and EL1.
//!
//! The host plays EL1's exception handlers: taking an exception saves the interrupted
//! [`Regs`] as the frame, switches the live core to EL1h with `PSTATE.DAIF` all set and
//! `PSTATE.SS` clear (Arm ARM "Exception entry"), writes `ELR_EL1`, `SPSR_EL1`,
//! `ESR_EL1` and `FAR_EL1`, and calls the host. `VBAR_EL1` is stored but never used: no
//! simulated vector code runs.
//!
//! Debug (Arm ARM "AArch64 Self-hosted Debug"): `BRK` always traps. Software step and hardware breakpoints are
//! *debug exceptions*, generated only when enabled from the current EL: always from EL0;
//! from EL1 only when `MDSCR_EL1.KDE == 1` and `PSTATE.D == 0` (`AArch64.GenerateDebugExceptions`).
//! A pending interrupt with `PSTATE.I == 0` is taken at an instruction boundary before
//! anything else, including a pending software step (an interrupt during stepping enters the
//! interrupt handler first, as on hardware).
//! Hardware breakpoints additionally need `MDSCR_EL1.MDE == 1`. Priorities before an
//! instruction executes: a pending software step, then a misaligned PC, then an instruction
//! abort, then a breakpoint; the instruction's own exceptions (`BRK`, `SVC`, undefined,
//! data aborts) come last.

mod alu;
mod decode;
mod exception;
mod execute;
mod fp;
mod ldst;
pub mod linux;
mod sysreg;

pub use decode::{concurrent_modification_safe, encoding};
pub use exception::{Exception, ExceptionKind};

use crate::arch::{Arch, CallSetup};
use crate::config::MachineConfig;
use crate::mmu::VaLayout;
use crate::system::{CoreId, System};

/// The AArch64 address space: 48-bit VAs, `TCR_EL1` splitting on bit 55 (user
/// `0..2^48`, kernel `0xffff_0000_0000_0000..`), the linear map at
/// `0xffff_8000_0000_0000` covering 1 TiB.
pub const LAYOUT: VaLayout = VaLayout {
    user_end: 1 << 48,
    kernel_start: 0xffff_0000_0000_0000,
    va_max: u64::MAX,
    linear_base: 0xffff_8000_0000_0000,
    linear_size: 1 << 40,
};

/// PSTATE/SPSR bits (SPSR_EL1 layout, which is also what a frame's `pstate` holds).
pub mod pstate {
    pub const N: u64 = 1 << 31;
    pub const Z: u64 = 1 << 30;
    pub const C: u64 = 1 << 29;
    pub const V: u64 = 1 << 28;
    pub const NZCV: u64 = 0xf << 28;
    /// Software step (`PSTATE.SS`).
    pub const SS: u64 = 1 << 21;
    /// Illegal execution state.
    pub const IL: u64 = 1 << 20;
    /// Debug exception mask.
    pub const D: u64 = 1 << 9;
    pub const A: u64 = 1 << 8;
    pub const I: u64 = 1 << 7;
    pub const F: u64 = 1 << 6;
    pub const DAIF: u64 = D | A | I | F;
    /// `M[3:0]` for EL0 (EL0t).
    pub const EL0T: u64 = 0b0000;
    /// `M[3:0]` for EL1 using SP_EL0 (EL1t).
    pub const EL1T: u64 = 0b0100;
    /// `M[3:0]` for EL1 using SP_EL1 (EL1h).
    pub const EL1H: u64 = 0b0101;
    pub const M: u64 = 0xf;
}

/// `MDSCR_EL1` bits.
pub mod mdscr {
    /// Software step enable.
    pub const SS: u64 = 1 << 0;
    /// Debug exceptions enabled at EL1 (kernel debug enable).
    pub const KDE: u64 = 1 << 13;
    /// Breakpoint and watchpoint exceptions enabled (monitor debug enable).
    pub const MDE: u64 = 1 << 15;
}

/// `DBGBCR<n>_EL1` fields for an unlinked address-match breakpoint on A64 code.
pub mod dbgbcr {
    /// Enable.
    pub const E: u64 = 1;
    /// `PMC` = 0b01: match at EL1.
    pub const PMC_EL1: u64 = 0b01 << 1;
    /// `PMC` = 0b10: match at EL0.
    pub const PMC_EL0: u64 = 0b10 << 1;
    /// `BAS` = 0b1111 (required for A64 instructions).
    pub const BAS_A64: u64 = 0b1111 << 5;
    /// An enabled breakpoint matching at EL0 and EL1.
    pub const ANY_EL: u64 = E | PMC_EL1 | PMC_EL0 | BAS_A64;
}

/// The general-purpose register file, PC and PSTATE: what an exception saves (the frame the
/// host sees, like the kernel's `pt_regs`) and a nested call preserves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Regs {
    /// X0–X30.
    pub x: [u64; 31],
    pub sp_el0: u64,
    pub sp_el1: u64,
    pub pc: u64,
    /// PSTATE in SPSR layout (see [`pstate`]).
    pub pstate: u64,
    /// V0–V31.
    pub v: [u128; 32],
    pub fpcr: u64,
    pub fpsr: u64,
}

impl Default for Regs {
    fn default() -> Regs {
        Regs {
            x: [0; 31],
            sp_el0: 0,
            sp_el1: 0,
            pc: 0,
            pstate: pstate::EL1H | pstate::DAIF,
            v: [0; 32],
            fpcr: 0,
            fpsr: 0,
        }
    }
}

impl Regs {
    /// Current exception level (0 or 1).
    pub fn el(&self) -> u8 {
        ((self.pstate >> 2) & 3) as u8
    }

    /// The stack pointer in use: SP_EL0 at EL0 or with `SPSel == 0`, else SP_EL1.
    pub fn sp(&self) -> u64 {
        if self.pstate & 1 == 0 {
            self.sp_el0
        } else {
            self.sp_el1
        }
    }

    /// Sets the stack pointer in use.
    pub fn set_sp(&mut self, value: u64) {
        if self.pstate & 1 == 0 {
            self.sp_el0 = value;
        } else {
            self.sp_el1 = value;
        }
    }

    /// Sets PSTATE to EL0 with everything unmasked (a user thread).
    pub fn set_el0(&mut self) {
        self.pstate = (self.pstate & pstate::NZCV) | pstate::EL0T;
    }

    /// Sets PSTATE to EL1h with DAIF as given.
    pub fn set_el1(&mut self, daif: u64) {
        self.pstate = (self.pstate & pstate::NZCV) | pstate::EL1H | (daif & pstate::DAIF);
    }
}

/// The system registers the model implements (per core).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SysRegs {
    pub mdscr_el1: u64,
    pub dbgbcr: Vec<u64>,
    pub dbgbvr: Vec<u64>,
    pub tpidr_el0: u64,
    pub tpidrro_el0: u64,
    pub tpidr_el1: u64,
    pub elr_el1: u64,
    pub spsr_el1: u64,
    pub esr_el1: u64,
    pub far_el1: u64,
    pub vbar_el1: u64,
    pub sctlr_el1: u64,
    pub contextidr_el1: u64,
    /// `CTR_EL0`, read-only, from the core's [`crate::CacheType`].
    pub ctr_el0: u64,
    /// `MPIDR_EL1`, read-only: Aff0 = core number.
    pub mpidr_el1: u64,
}

/// One AArch64 core's architectural state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CoreState {
    pub regs: Regs,
    pub sys: SysRegs,
    /// Whether the last instruction executed was a load-exclusive (software step's
    /// `ESR_EL1.ISS.EX`).
    pub(crate) last_was_load_exclusive: bool,
}

impl CoreState {
    /// Whether debug exceptions are generated at the current EL
    /// (`AArch64.GenerateDebugExceptions`, without the OS lock and secure state).
    pub fn debug_exceptions_enabled(&self) -> bool {
        debug_enabled_at(self.regs.el(), self.regs.pstate, self.sys.mdscr_el1)
    }
}

fn debug_enabled_at(el: u8, pstate_bits: u64, mdscr_el1: u64) -> bool {
    el == 0 || (mdscr_el1 & mdscr::KDE != 0 && pstate_bits & pstate::D == 0)
}

/// The A64 instruction set.
#[derive(Debug, Clone, Copy)]
pub struct Aarch64;

/// A machine of AArch64 cores.
pub type A64Machine = crate::Machine<Aarch64>;

impl Arch for Aarch64 {
    type State = CoreState;
    type Frame = Regs;
    type Exception = Exception;

    const NAME: &'static str = "AArch64";
    const LAYOUT: VaLayout = LAYOUT;
    const ELF_MACHINE: u16 = object::elf::EM_AARCH64.0;
    const MAX_CALL_ARGS: usize = 8;

    fn reset(core: CoreId, config: &MachineConfig) -> CoreState {
        CoreState {
            regs: Regs::default(),
            sys: SysRegs {
                mdscr_el1: 0,
                dbgbcr: vec![0; config.breakpoints],
                dbgbvr: vec![0; config.breakpoints],
                tpidr_el0: 0,
                tpidrro_el0: 0,
                tpidr_el1: 0,
                elr_el1: 0,
                spsr_el1: 0,
                esr_el1: 0,
                far_el1: 0,
                vbar_el1: 0,
                sctlr_el1: 0,
                contextidr_el1: 0,
                ctr_el0: sysreg::ctr_el0(&config.cache_type(core)),
                mpidr_el1: (1 << 31) | core as u64,
            },
            last_was_load_exclusive: false,
        }
    }

    #[inline]
    fn step(state: &mut CoreState, sys: &mut System, core: CoreId) -> Option<Exception> {
        execute::step(state, sys, core)
    }

    fn pc(state: &CoreState) -> u64 {
        state.regs.pc
    }

    fn enter_exception(state: &mut CoreState, exc: &Exception) -> Regs {
        let frame = state.regs.clone();
        state.sys.elr_el1 = frame.pc;
        state.sys.spsr_el1 = frame.pstate;
        if exc.kind != ExceptionKind::Irq {
            state.sys.esr_el1 = exc.esr();
        }
        if let Some(far) = exc.far() {
            state.sys.far_el1 = far;
        }
        state.regs.pstate = (frame.pstate & pstate::NZCV) | pstate::EL1H | pstate::DAIF;
        frame
    }

    fn exception_return(state: &mut CoreState, mut frame: Regs) {
        // DebugExceptionReturnSS: the host runs with debug exceptions disabled (EL1, D set),
        // so PSTATE.SS comes from the frame iff stepping is enabled at the destination.
        let enabled_at_dest = debug_enabled_at(
            ((frame.pstate >> 2) & 3) as u8,
            frame.pstate,
            state.sys.mdscr_el1,
        );
        if state.sys.mdscr_el1 & mdscr::SS == 0 || !enabled_at_dest {
            frame.pstate &= !pstate::SS;
        }
        state.regs = frame;
    }

    fn save(state: &CoreState) -> Regs {
        state.regs.clone()
    }

    fn restore(state: &mut CoreState, frame: Regs) {
        state.regs = frame;
    }

    fn setup_call(state: &mut CoreState, call: &CallSetup) {
        for (i, &arg) in call.args.iter().enumerate() {
            state.regs.x[i] = arg;
        }
        state.regs.x[30] = call.return_to;
        if let Some(sp) = call.sp {
            state.regs.set_sp(sp);
        }
        state.regs.pc = call.entry;
    }

    fn call_result(state: &CoreState) -> u64 {
        state.regs.x[0]
    }

    fn concurrent_modification_safe(old: u32, new: u32) -> bool {
        concurrent_modification_safe(old, new)
    }
}
