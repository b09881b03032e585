//! The instruction-set architectures the machine can run, and the interface between an ISA
//! and the architecture-independent machine.
//!
//! An ISA owns its cores' architectural state (registers, system registers, PSTATE) and
//! its exception model; everything below the architectural state — memory, translation,
//! caches, prefetch, exclusive monitors, maintenance, the cross-modification checker — is
//! the [`System`], shared by all ISAs, and everything above it — the scheduler, the host
//! hooks, nested calls — is the [`crate::Machine`].

use std::fmt::Debug;

use crate::config::MachineConfig;
use crate::mmu::VaLayout;
use crate::system::{CoreId, System};

pub mod aarch64;

/// How the host wants a nested call ([`crate::Machine::call`]) set up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallSetup {
    /// Address of the function.
    pub entry: u64,
    /// Integer arguments, in the ISA's argument registers (at most [`Arch::MAX_CALL_ARGS`]).
    pub args: Vec<u64>,
    /// Address the function returns to; the call ends when the PC reaches it. It is never
    /// fetched, so it need not be mapped.
    pub return_to: u64,
    /// Stack pointer for the call; `None` keeps the core's current one.
    pub sp: Option<u64>,
}

/// An instruction-set architecture.
pub trait Arch: Sized + 'static {
    /// A core's whole architectural state.
    type State: Clone + Debug;
    /// What an exception saves and an exception return restores: the general-purpose
    /// register file, PC and PSTATE (the kernel's `pt_regs`).
    type Frame: Clone + Debug;
    /// A synchronous exception, with its syndrome.
    type Exception: Clone + Debug;

    /// Architecture name, for messages.
    const NAME: &'static str;

    /// How virtual addresses split between user and kernel, and where the linear map is.
    const LAYOUT: VaLayout;

    /// `e_machine` of the ELF files [`crate::load_elf`] accepts.
    const ELF_MACHINE: u16;

    /// Most arguments [`Arch::setup_call`] passes in registers.
    const MAX_CALL_ARGS: usize;

    /// State of `core` out of reset.
    fn reset(core: CoreId, config: &MachineConfig) -> Self::State;

    /// Executes one instruction on `core`, or detects the exception that prevents it.
    /// The exception has not been taken yet: the machine takes it with
    /// [`Arch::enter_exception`].
    fn step(state: &mut Self::State, sys: &mut System, core: CoreId) -> Option<Self::Exception>;

    /// The program counter.
    fn pc(state: &Self::State) -> u64;

    /// Takes `exc`: returns the frame of the interrupted context and switches the live state
    /// to the handler's context (the host plays the handler).
    fn enter_exception(state: &mut Self::State, exc: &Self::Exception) -> Self::Frame;

    /// Returns from an exception to `frame`.
    fn exception_return(state: &mut Self::State, frame: Self::Frame);

    /// Saves the registers a nested call clobbers.
    fn save(state: &Self::State) -> Self::Frame;

    /// Restores what [`Arch::save`] saved.
    fn restore(state: &mut Self::State, frame: Self::Frame);

    /// Sets up the registers for a function call.
    fn setup_call(state: &mut Self::State, call: &CallSetup);

    /// The return value of a function call that just returned.
    fn call_result(state: &Self::State) -> u64;

    /// Whether the instruction word `old` may be replaced by `new` while another core
    /// executes it (rule `concurrent-modification`).
    fn concurrent_modification_safe(old: u32, new: u32) -> bool;
}
