//! Per-architecture code, laid out as the kernel's `arch/*/probes/` directories are: the same
//! file names (`decode.rs`, `simulate.rs`, `cache.rs`, `patch.rs`, …) under each architecture.
//!
//! The generic layers (`kprobe.rs`, `kretprobe.rs`, `uprobe.rs`, `uretprobe.rs`, `xol.rs`,
//! `patch.rs`) see an architecture only through [`Arch`]. An ARMv7 port adds `arch/arm/` and
//! an `Arch` implementation: its kprobes "step" by emulating in the exception (a `Plan` that
//! never needs a slot), its uprobes use `{insn, UDF}` slots, and the generic state machines
//! stay as they are.

use crate::platform::{Platform, PlatformError, Space};
use crate::reject::RejectReason;

pub mod aarch64;

/// The breakpoints the engine places; the architecture maps each to an instruction and back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Breakpoint {
    /// Over a probed kernel instruction.
    Kprobe,
    /// After the instruction in a kprobe XOL slot.
    KprobeStep,
    /// The kretprobe trampoline.
    Kretprobe,
    /// Over a probed user instruction.
    Uprobe,
    /// After the instruction in a uprobe XOL slot.
    UprobeStep,
    /// The uretprobe trampoline (XOL slot 0).
    Uretprobe,
}

impl Breakpoint {
    pub const ALL: [Breakpoint; 6] = [
        Breakpoint::Kprobe,
        Breakpoint::KprobeStep,
        Breakpoint::Kretprobe,
        Breakpoint::Uprobe,
        Breakpoint::UprobeStep,
        Breakpoint::Uretprobe,
    ];

    /// Whether the breakpoint is placed in user text (else kernel text).
    pub const fn is_user(self) -> bool {
        matches!(
            self,
            Breakpoint::Uprobe | Breakpoint::UprobeStep | Breakpoint::Uretprobe
        )
    }
}

/// Where a probed instruction runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Kernel,
    User,
}

/// An XOL slot: the instruction and the breakpoint that reports its completion.
pub type SlotWords = [u32; 2];

/// A simulated instruction faulted; it would have faulted at the probed address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SimulationFault {
    /// The address the instruction could not access.
    pub addr: u64,
}

/// What the generic layers need from an architecture, on platform `P`.
pub trait Arch<P: Platform> {
    /// The saved registers of an exception.
    type Regs;
    /// How a probed instruction is carried out.
    type Plan: Copy + core::fmt::Debug;
    /// What entering an XOL slot saved, restored when the slot reports completion.
    type SlotEntry: Copy + Default;

    /// Bytes per XOL slot.
    const SLOT_BYTES: u64;

    /// Whether `old` may become `new` while other CPUs execute it.
    fn concurrent_modification_safe(old: u32, new: u32) -> bool;
    /// Makes `len` bytes of instructions just written at `addr` in `space` visible to
    /// instruction fetch.
    fn sync_icache(p: &P, space: Space, addr: u64, len: u64) -> Result<(), PlatformError>;

    /// The instruction word of a breakpoint.
    fn breakpoint(kind: Breakpoint) -> u32;
    /// Decides how the instruction `insn` at `addr` is carried out; `read` reads other words
    /// of the same text (for the exclusive-sequence scan, which stops at `scan_start`).
    fn plan(
        mode: Mode,
        addr: u64,
        insn: u32,
        scan_start: Option<u64>,
        read: impl FnMut(u64) -> Option<u32>,
    ) -> Result<Self::Plan, RejectReason>;
    /// The slot content for `plan`, or `None` if it is simulated.
    fn slot(plan: Self::Plan, insn: u32, mode: Mode) -> Option<SlotWords>;
    /// Carries out a simulated `plan` at `addr` on `regs`.
    fn simulate(
        p: &P,
        space: Space,
        plan: Self::Plan,
        addr: u64,
        regs: &mut Self::Regs,
    ) -> Result<(), SimulationFault>;
    /// Sends the context to the slot at `slot` (kernel mode also masks interrupts, so the
    /// per-CPU state stays on this CPU) and returns what to restore afterwards.
    fn enter_slot(regs: &mut Self::Regs, slot: u64, mode: Mode) -> Self::SlotEntry;
    /// Undoes [`enter_slot`](Self::enter_slot) and continues at `next`.
    fn leave_slot(regs: &mut Self::Regs, entry: Self::SlotEntry, next: u64);
    /// Completes a probe hit that did not go through a slot (simulated, or the handler
    /// changed the PC): anything the probed instruction's completion must do beyond setting
    /// the PC, such as ending a pending software step.
    fn finish_in_place(regs: &mut Self::Regs);

    /// The PC of the context.
    fn pc(regs: &Self::Regs) -> u64;
    fn set_pc(regs: &mut Self::Regs, pc: u64);
    /// The return address at a function's entry (AArch64: LR).
    fn return_address(regs: &Self::Regs) -> u64;
    fn set_return_address(regs: &mut Self::Regs, addr: u64);
    /// The stack pointer, which is the same at a function's entry and after its return.
    fn stack_pointer(regs: &Self::Regs) -> u64;
}
