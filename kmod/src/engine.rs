//! The engine: kprobes and uprobes behind one entry point for the platform's exception
//! hooks.

use crate::arch::{Arch, Breakpoint};
use crate::error::ProbeError;
use crate::hit::Outcome;
use crate::kprobe::Kprobes;
use crate::platform::Platform;
use crate::uprobe::Uprobes;

pub struct Engine<'a, P: Platform, A: Arch<P>> {
    pub kprobes: Kprobes<'a, P, A>,
    pub uprobes: Uprobes<'a, P, A>,
}

impl<'a, P: Platform, A: Arch<P>> Engine<'a, P, A> {
    pub const fn new(kprobes: Kprobes<'a, P, A>, uprobes: Uprobes<'a, P, A>) -> Self {
        Engine { kprobes, uprobes }
    }

    /// Claims the engine's breakpoints from the platform and creates the kretprobe
    /// trampoline.
    pub fn init(&self, p: &P) -> Result<(), ProbeError> {
        p.claim_breakpoints(&Breakpoint::ALL.map(A::breakpoint))?;
        if let Err(err) = self.kprobes.init(p) {
            p.release_breakpoints(&Breakpoint::ALL.map(A::breakpoint));
            return Err(err);
        }
        Ok(())
    }

    /// Gives the breakpoints back; call after every probe is unregistered.
    pub fn shutdown(&self, p: &P) {
        p.release_breakpoints(&Breakpoint::ALL.map(A::breakpoint));
    }

    /// Handles a breakpoint exception of kind `kind` (the platform maps the instruction or
    /// immediate with the architecture's table, e.g. `arch::aarch64::breakpoint_kind`),
    /// taken from user mode if `user`. A kernel breakpoint executed by a user program, or the
    /// reverse, is never ours: user code cannot reach kernel probe state.
    pub fn handle(&self, p: &P, kind: Breakpoint, user: bool, regs: &mut A::Regs) -> Outcome {
        match (kind.is_user(), user) {
            (false, false) => self.kprobes.handle(p, kind, regs),
            (true, true) => self.uprobes.handle(p, kind, regs),
            _ => Outcome::NotMine,
        }
    }

    /// A fault (data abort, undefined instruction, …) taken from user mode if `user`: returns
    /// whether the engine moved the context back from an XOL slot to the probed address, where
    /// the platform then reports the fault.
    pub fn fault(&self, p: &P, user: bool, regs: &mut A::Regs) -> bool {
        if user {
            self.uprobes.fault(p, regs)
        } else {
            self.kprobes.fault(p, regs)
        }
    }
}
