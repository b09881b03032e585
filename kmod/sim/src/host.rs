//! The host: whoever handles the machine's exceptions — the kernel of the simulated world.
//!
//! Every synchronous exception a core takes goes to [`Host::on_exception`], with the
//! interrupted context's [`crate::Arch::Frame`] (the kernel's `pt_regs`): the host reads and
//! changes it — PC, PSTATE, registers — and says how the core goes on. The host runs *on*
//! the core that took the exception: it may read and write memory, perform cache
//! maintenance and barriers as that core, and call simulated functions on it
//! ([`crate::Machine::call`]); an exception those raise comes back into
//! `on_exception`, re-entrantly, as a nested exception would on hardware.

use crate::arch::Arch;
use crate::machine::Machine;
use crate::system::CoreId;

/// How a core continues after the host handled its exception.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resume {
    /// Exception return to the frame (a context synchronization event; clears the core's
    /// exclusive monitor).
    Return,
    /// The core stops running (its thread exited); the frame is kept for inspection.
    Halt,
    /// The whole run stops (e.g. `exit_group`, or a fatal error the host wants to report);
    /// the frame is kept for inspection.
    Stop,
}

/// Handles exceptions.
pub trait Host<A: Arch> {
    /// Handles `exc` taken by `core`; `frame` is the interrupted context.
    fn on_exception(
        &mut self,
        m: &mut Machine<A>,
        core: CoreId,
        exc: &A::Exception,
        frame: &mut A::Frame,
    ) -> Resume;
}

impl<A: Arch, F> Host<A> for F
where
    F: FnMut(&mut Machine<A>, CoreId, &A::Exception, &mut A::Frame) -> Resume,
{
    fn on_exception(
        &mut self,
        m: &mut Machine<A>,
        core: CoreId,
        exc: &A::Exception,
        frame: &mut A::Frame,
    ) -> Resume {
        self(m, core, exc, frame)
    }
}
