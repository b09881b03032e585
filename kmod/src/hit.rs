//! What a breakpoint handler reports back to the platform, and what probe handlers see.

use crate::arch::Arch;
use crate::platform::Platform;
use crate::table::Handle;

/// How the platform continues after handing a breakpoint exception to the engine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The engine handled it; return from the exception to the (possibly changed) context.
    Handled,
    /// Not a breakpoint this engine placed (wrong immediate, or no probe of ours at that
    /// address): handle it as if rtap were not there — a user task gets SIGTRAP, a kernel
    /// BRK is "Unexpected kernel BRK exception".
    NotMine,
    /// The probed instruction, simulated, could not access `addr`; the registers are as at
    /// the probe (PC = the probed address). Report the fault as the instruction would have:
    /// a user task gets SIGSEGV.
    Fault { addr: u64 },
    /// The engine's state cannot be recovered (Linux: `BUG()`).
    Fatal(Fatal),
}

/// Unrecoverable conditions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Fatal {
    /// A kprobe hit while this CPU was stepping another probe's instruction (Linux: "Failed
    /// to recover from reentered kprobes.").
    #[error("kprobe at {addr:#x} hit while stepping the probe at {stepping:#x}")]
    HitWhileStepping { addr: u64, stepping: u64 },
    /// A return trampoline hit by a task with no recorded return (Linux sends SIGILL to a
    /// user task: "handle uretprobe").
    #[error("return trampoline hit with no recorded return")]
    NoReturnRecorded,
    /// A uprobe hit by a thread that is between a uprobe's trap and its step's completion,
    /// which only a signal delivered in that window can cause.
    #[error("uprobe at {addr:#x} hit while the thread steps another")]
    UprobeWhileStepping { addr: u64 },
}

/// The context a probe handler runs with.
pub struct Hit<'h, P: Platform, A: Arch<P>> {
    pub platform: &'h P,
    /// The interrupted context; a handler may change it (returning "changed the path" from a
    /// kprobe pre-handler if it changed the PC).
    pub regs: &'h mut A::Regs,
    /// The probed address.
    pub addr: u64,
    /// The probe.
    pub probe: Handle,
}

/// The context a return handler runs with: the registers at the return (PC = the original
/// return address).
pub struct ReturnHit<'h, P: Platform, A: Arch<P>> {
    pub platform: &'h P,
    pub regs: &'h mut A::Regs,
    /// The probed function's address.
    pub function: u64,
    /// The address the function returned to.
    pub return_address: u64,
    pub probe: Handle,
}
