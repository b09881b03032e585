//! AArch64 (A64 instruction set).

pub mod cache;
pub mod cpu;
pub mod decode;
pub mod insn;
pub mod patch;
pub mod regs;
pub mod simulate;

use self::cache::Fetch;
use self::cpu::Cpu;
use self::decode::{Context, Decision, SimOp};
use self::insn::brk_imm;
use self::regs::{PtRegs, pstate};
use self::simulate::{SimAccess, SimFault};
use super::{Arch, Breakpoint, Mode, SimulationFault, SlotWords};
use crate::platform::{Platform, PlatformError, Space};
use crate::reject::RejectReason;

/// The AArch64 architecture, for platforms that are also a [`Cpu`].
#[derive(Clone, Copy, Debug)]
pub struct Aarch64;

/// How a probed A64 instruction is carried out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Plan {
    Step,
    Simulate(SimOp),
}

/// What entering a slot saved: the interrupted PSTATE's DAIF bits (kernel mode masks them
/// while the slot runs).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SlotEntry {
    daif: u64,
}

/// The BRK immediate of each engine breakpoint.
pub const fn brk_immediate(kind: Breakpoint) -> u16 {
    match kind {
        Breakpoint::Kprobe => brk_imm::KPROBE,
        Breakpoint::KprobeStep => brk_imm::KPROBE_SS,
        Breakpoint::Kretprobe => brk_imm::KRETPROBE,
        Breakpoint::Uprobe => brk_imm::UPROBE,
        Breakpoint::UprobeStep => brk_imm::UPROBE_SS,
        Breakpoint::Uretprobe => brk_imm::URETPROBE,
    }
}

/// The engine breakpoint a BRK immediate belongs to, if any: what a platform's BRK hook
/// calls before handing the exception to the engine.
pub const fn breakpoint_kind(imm: u16) -> Option<Breakpoint> {
    match imm {
        brk_imm::KPROBE => Some(Breakpoint::Kprobe),
        brk_imm::KPROBE_SS => Some(Breakpoint::KprobeStep),
        brk_imm::KRETPROBE => Some(Breakpoint::Kretprobe),
        brk_imm::UPROBE => Some(Breakpoint::Uprobe),
        brk_imm::UPROBE_SS => Some(Breakpoint::UprobeStep),
        brk_imm::URETPROBE => Some(Breakpoint::Uretprobe),
        _ => None,
    }
}

/// Simulation's memory and extra state, through the platform.
struct Access<'p, P> {
    p: &'p P,
    space: Space,
}

impl<P: Platform + Cpu> Access<'_, P> {
    fn load<const N: usize>(&self, addr: u64) -> Result<[u8; N], SimFault> {
        let mut buf = [0; N];
        self.p
            .load(self.space, addr, &mut buf)
            .map_err(|_| SimFault::Memory(addr))?;
        Ok(buf)
    }
}

impl<P: Platform + Cpu> SimAccess for Access<'_, P> {
    fn load_u32(&mut self, addr: u64) -> Result<u32, SimFault> {
        self.load(addr).map(u32::from_ne_bytes)
    }
    fn load_u64(&mut self, addr: u64) -> Result<u64, SimFault> {
        self.load(addr).map(u64::from_ne_bytes)
    }
    fn load_u128(&mut self, addr: u64) -> Result<u128, SimFault> {
        // Two 8-byte loads in address order; the 16-byte literal load is not single-copy
        // atomic as a whole either.
        let low = self.load_u64(addr)?;
        let high = self.load_u64(addr.wrapping_add(8))?;
        let (first, second) = if cfg!(target_endian = "big") {
            (high, low)
        } else {
            (low, high)
        };
        Ok(u128::from(first) | u128::from(second) << 64)
    }
    fn write_simd(&mut self, n: u8, value: u128) {
        self.p.write_simd_reg(n, value);
    }
    fn gcs_push(&mut self, return_address: u64) -> Result<(), SimFault> {
        if self.p.gcs_push(return_address) {
            Ok(())
        } else {
            Err(SimFault::GuardedControlStack)
        }
    }
    fn gcs_pop_check(&mut self, target: u64) -> Result<(), SimFault> {
        if self.p.gcs_pop_check(target) {
            Ok(())
        } else {
            Err(SimFault::GuardedControlStack)
        }
    }
}

impl<P: Platform + Cpu> Arch<P> for Aarch64 {
    type Regs = PtRegs;
    type Plan = Plan;
    type SlotEntry = SlotEntry;

    const SLOT_BYTES: u64 = 8;

    fn concurrent_modification_safe(old: u32, new: u32) -> bool {
        patch::concurrent_modification_safe(old, new)
    }

    fn sync_icache(p: &P, space: Space, addr: u64, len: u64) -> Result<(), PlatformError> {
        let fetch = match space {
            Space::Kernel => Fetch::Here(addr),
            Space::User(process) if p.task().process == process => Fetch::Here(addr),
            Space::User(_) => Fetch::Elsewhere {
                alias: p.linear_alias(space, addr)?,
            },
        };
        cache::sync_icache(p, fetch, len);
        Ok(())
    }

    fn breakpoint(kind: Breakpoint) -> u32 {
        insn::brk(brk_immediate(kind))
    }

    fn plan(
        mode: Mode,
        addr: u64,
        word: u32,
        scan_start: Option<u64>,
        read: impl FnMut(u64) -> Option<u32>,
    ) -> Result<Plan, RejectReason> {
        if !addr.is_multiple_of(insn::INSN_SIZE) {
            return Err(RejectReason::Misaligned);
        }
        let context = match mode {
            Mode::Kernel => Context::Kernel,
            Mode::User => Context::User,
        };
        let plan = match decode::classify(decode::decode(word), context) {
            Decision::Step => Plan::Step,
            Decision::Simulate(op) => Plan::Simulate(op),
            Decision::Reject(reason) => return Err(reason),
        };
        if decode::in_exclusive_sequence(addr, scan_start, read) {
            return Err(RejectReason::InExclusiveSequence);
        }
        Ok(plan)
    }

    fn slot(plan: Plan, word: u32, mode: Mode) -> Option<SlotWords> {
        let done = match mode {
            Mode::Kernel => Breakpoint::KprobeStep,
            Mode::User => Breakpoint::UprobeStep,
        };
        matches!(plan, Plan::Step).then(|| [word, <Self as Arch<P>>::breakpoint(done)])
    }

    fn simulate(
        p: &P,
        space: Space,
        plan: Plan,
        addr: u64,
        regs: &mut PtRegs,
    ) -> Result<(), SimulationFault> {
        let Plan::Simulate(op) = plan else {
            return Ok(());
        };
        simulate::simulate(op, addr, regs, &mut Access { p, space }).map_err(|fault| match fault {
            SimFault::Memory(addr) => SimulationFault { addr },
            SimFault::GuardedControlStack => SimulationFault { addr: regs.sp },
        })
    }

    /// Kernel: "Mask all of DAIF while executing the instruction out-of-line, to keep things
    /// simple and avoid nesting exceptions. Interrupts do have to be disabled since the kprobe
    /// state is per-CPU and doesn't get migrated" (Linux `setup_singlestep()`). PSTATE.SS is
    /// cleared: with D masked no step exception can be taken in the slot anyway, and
    /// [`leave_slot`](Arch::leave_slot) decides it afresh.
    fn enter_slot(regs: &mut PtRegs, slot: u64, mode: Mode) -> SlotEntry {
        let entry = SlotEntry {
            daif: regs.pstate & pstate::DAIF,
        };
        if mode == Mode::Kernel {
            regs.pstate |= pstate::DAIF;
        }
        regs.pstate &= !pstate::SS;
        regs.pc = slot;
        entry
    }

    fn leave_slot(regs: &mut PtRegs, entry: SlotEntry, next: u64) {
        regs.pstate = (regs.pstate & !pstate::DAIF) | entry.daif;
        regs.pc = next;
        <Self as Arch<P>>::finish_in_place(regs);
    }

    /// The probed instruction has now completed. If someone was single-stepping it (a
    /// hardware-breakpoint handler stepping over its breakpoint, or a debugger), the step is
    /// complete too: clearing PSTATE.SS makes the step exception "active-pending", taken
    /// before the next instruction (Arm ARM D2.12.5), just as if the original instruction had
    /// been stepped. Leaving SS set would let one more instruction run first. Linux does this
    /// only for user mode (`user_fastforward_single_step()`).
    fn finish_in_place(regs: &mut PtRegs) {
        regs.pstate &= !pstate::SS;
    }

    fn pc(regs: &PtRegs) -> u64 {
        regs.pc
    }
    fn set_pc(regs: &mut PtRegs, pc: u64) {
        regs.pc = pc;
    }
    fn return_address(regs: &PtRegs) -> u64 {
        regs.lr()
    }
    fn set_return_address(regs: &mut PtRegs, addr: u64) {
        regs.regs[30] = addr;
    }
    fn stack_pointer(regs: &PtRegs) -> u64 {
        regs.sp
    }
}
